//! Every upload's pixels go through libjpeg-turbo (`vision/src/turbo.rs`, the workspace's
//! only `unsafe`: the calls into the C library). The first byte picks the scale (1, 2, 4 or
//! 8), the rest is the JPEG: whatever the header says, the decoder writes into a buffer of
//! exactly the size the module asked for, or fails with an error; what decodes encodes again.
//! Compiled in as it is: the vision crate links OpenCV.
#![no_main]

#[path = "../../vision/src/turbo.rs"]
#[allow(dead_code)]
mod turbo;

use libfuzzer_sys::fuzz_target;

/// Above this many pixels the fuzzer's 512 MB allocation limit is the only finding; vision
/// refuses such frames from their header before decoding (`jpeg::MAX_PIXELS`).
const MAX_PIXELS: usize = 16_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, jpeg)) = data.split_first() else {
        return;
    };
    let factor = [1, 2, 4, 8][usize::from(choice % 4)];
    let Ok((width, height)) = turbo::dimensions(jpeg) else {
        return;
    };
    if width.saturating_mul(height) > MAX_PIXELS {
        return;
    }
    let (columns, rows) = turbo::scaled(width, height, factor);
    let mut bgr = vec![0; columns * rows * 3];
    if turbo::decode_bgr(jpeg, factor, &mut bgr).is_ok() {
        let encoded = turbo::encode(&bgr, columns, rows, turbo::Layout::Bgr, 90).expect("encodes");
        assert_eq!(turbo::dimensions(&encoded).expect("reads back"), (columns, rows));
    }
});
