//! Garmin FIT files (action cameras, activity files).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dashcam_agent::gps::fit::parse(data, "fuzz.fit");
});
