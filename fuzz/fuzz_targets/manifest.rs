//! The capture manifest of the wire protocol (JSON), as ingest parses a posted body. A
//! manifest that parses survives the round trip exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::CaptureManifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = CaptureManifest::parse(data) {
        let again = CaptureManifest::parse(&manifest.to_json_bytes())
            .expect("a parsed manifest serialises to a valid one");
        assert_eq!(again, manifest);
    }
});
