//! The ids that reach the server in URLs and headers (frame sha256, capture and device
//! UUIDs, device keys, signatures, payout addresses): one canonical text form each, so a
//! URL or blob key built from an id is never a path trick.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::{CaptureId, DeviceId, DevicePublicKey, DeviceSignature, FrameId, PayoutAddress};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = text.parse::<FrameId>() {
        assert_eq!(id.to_hex(), text, "one spelling per frame id");
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
    if let Ok(key) = text.parse::<DevicePublicKey>() {
        assert_eq!(key.to_hex(), text);
    }
    if let Ok(signature) = text.parse::<DeviceSignature>() {
        assert_eq!(
            signature.to_hex().parse::<DeviceSignature>().ok(),
            Some(signature)
        );
    }
    for rendered in [
        text.parse::<CaptureId>().map(|id| id.to_string()).ok(),
        text.parse::<DeviceId>().map(|id| id.to_string()).ok(),
        text.parse::<PayoutAddress>().map(|a| a.to_string()).ok(),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!rendered.contains(['/', '.', '%', '\\']), "{rendered}");
    }
});
