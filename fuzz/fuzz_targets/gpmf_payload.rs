//! One GoPro GPMF payload (a sample of the `gpmd` track): the KLV walk and the GPS streams.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dashcam_agent::gps::gpmf::parse_klv(data, 0);
    let _ = dashcam_agent::gps::gpmf::payload_gps(data);
});
