//! The agent's geotagger walks the JPEG segments of a camera frame to replace its EXIF; the
//! output must again be a JPEG whose GPS tags read back as written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::{Fix, FixType, TimestampMs};

fuzz_target!(|data: &[u8]| {
    let fix = Fix {
        time: TimestampMs(1_700_000_000_000),
        lat: 48.137,
        lon: 11.575,
        alt: Some(520.0),
        heading: Some(90.0),
        speed: Some(12.5),
        fix_type: FixType::Fix3d,
        satellites: 9,
        hdop: 0.9,
    };
    if let Ok(tagged) = dashcam_agent::geotag::tag_jpeg(data, &fix, "fuzz cam") {
        assert!(tagged.starts_with(&[0xFF, 0xD8]));
    }
});
