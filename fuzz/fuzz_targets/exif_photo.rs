//! EXIF of a geotagged photo (`waymark-agent import` of a folder of JPEGs, kamadak-exif).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tags = dashcam_agent::photo::read_photo(data);
    if let Some(fix) = tags.fix {
        assert!(fix.lat.is_finite() && fix.lon.is_finite(), "{fix:?}");
    }
});
