//! GPX track files handed to `waymark-agent import`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dashcam_agent::gps::gpx::parse(data, "fuzz.gpx");
});
