//! gpsd's JSON reports as they arrive over TCP, one per line.
#![no_main]

use dashcam_agent::gps::gpsd::GpsdDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut decoder = GpsdDecoder::default();
    for line in text.lines() {
        let _ = decoder.push(line);
    }
});
