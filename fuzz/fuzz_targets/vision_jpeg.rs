//! The Rust side of a JPEG's way through vision before OpenCV sees it
//! (`vision/src/jpeg.rs`: the header walk that refuses absurd sizes, the EXIF segment walk,
//! the splice into the public copy; `vision/src/exif.rs`: the TIFF walker that blanks
//! thumbnails and maker notes). Compiled in as they are: the vision crate links OpenCV.
#![no_main]

#[path = "../../vision/src/exif.rs"]
mod exif;
#[path = "../../vision/src/jpeg.rs"]
#[allow(dead_code)]
mod jpeg;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = jpeg::inspect(data) {
        assert!(info.width <= jpeg::MAX_SIDE && info.height <= jpeg::MAX_SIDE);
        assert!(u64::from(info.width) * u64::from(info.height) <= jpeg::MAX_PIXELS);
    }
    let mut published: Vec<Vec<u8>> = Vec::new();
    for segment in jpeg::exif_segments(data) {
        let Some(public) = exif::publishable(segment) else {
            continue; // refused whole: not published
        };
        // Sanitised in place: same size, and no picture left inside.
        assert_eq!(segment.len(), public.len());
        assert!(!public[10..].windows(3).any(|w| w == [0xFF, 0xD8, 0xFF]));
        published.push(public);
    }
    // Spliced into a freshly encoded JPEG, the published segments are exactly what a reader
    // of the public copy finds.
    let encoded = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xDA, 0xFF, 0xD9];
    let slices: Vec<&[u8]> = published.iter().map(Vec::as_slice).collect();
    let public = jpeg::with_exif(&encoded, &slices);
    assert_eq!(jpeg::exif_segments(&public), slices);
});
