//! `model::JpegHeader`, read by ingest from every uploaded frame before anything is kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use model::JpegHeader;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = JpegHeader::parse(data) {
        // The header is read from the bytes, never invented.
        assert!(data.starts_with(&[0xFF, 0xD8]));
        assert!(header.pixels() <= 65_535 * 65_535);
    }
});
