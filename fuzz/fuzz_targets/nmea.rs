//! NMEA 0183 logs as the agent reads them (serial port or file): any bytes, never a panic;
//! every fix it yields is a position on Earth.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (fixes, _stats) = dashcam_agent::gps::nmea::parse_log(data);
    for fix in fixes {
        assert!((-90.0..=90.0).contains(&fix.lat), "{fix:?}");
        assert!((-180.0..=180.0).contains(&fix.lon), "{fix:?}");
    }
});
