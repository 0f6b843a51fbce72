//! Integration tests of the vision stage on real images: the frames in `datasets/images/`, the
//! face photos of the labelled set, and bad input built from them. One `Vision` is shared
//! (it is `Sync`), loaded with the CenterFace model that `scripts/setup-vision` fetches.

mod broken;
mod config;
mod eval;
mod named;
mod privacy;
mod quality;
mod signs;

use std::path::PathBuf;
use std::sync::LazyLock;

use vision::{Vision, VisionConfig};

/// The vision stage with its default models.
pub static VISION: LazyLock<Vision> = LazyLock::new(|| {
    Vision::new(VisionConfig::default()).expect("models load; run scripts/setup-vision")
});

/// A real file from `datasets/`.
pub fn dataset(relative: &str) -> Vec<u8> {
    read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../datasets")
            .join(relative),
    )
}

/// A file from the crate (labelled set, fixtures).
pub fn crate_file(relative: &str) -> Vec<u8> {
    read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative))
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}
