//! The vision stage's one error type. Bad frames are not errors (they get a "broken" verdict);
//! errors are a missing, unreadable or altered model, or OpenCV or ONNX Runtime failing on a frame
//! it accepted.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("model file {path} cannot be used: {reason}; run scripts/setup-vision")]
    Model { path: PathBuf, reason: String },
    #[error(
        "sign model {path} is invalid: {reason}; rebuild it with `cargo run --release -p vision --example build_sign_model`"
    )]
    SignModel { path: PathBuf, reason: String },
    #[error(
        "detector {path} named in [[vision.detectors]] cannot be used: {reason} (its layout is in the README's vision section)"
    )]
    Detector { path: PathBuf, reason: String },
    #[error("settings key {key}: {reason}")]
    Setting { key: String, reason: String },
    #[error("opencv failed while {context}: {source}")]
    OpenCv {
        context: &'static str,
        source: opencv::Error,
    },
    #[error("libjpeg-turbo failed while {context}: {reason}")]
    Jpeg {
        context: &'static str,
        reason: String,
    },
    #[error("onnx runtime failed while {context}: {reason}")]
    Onnx {
        context: &'static str,
        reason: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("labelled set {path} is invalid: {reason}")]
    LabelledSet { path: PathBuf, reason: String },
}

/// Attaches what was being done to an OpenCV error.
pub(crate) trait CvContext<T> {
    fn context(self, context: &'static str) -> Result<T>;
}

impl<T> CvContext<T> for opencv::Result<T> {
    fn context(self, context: &'static str) -> Result<T> {
        self.map_err(|source| Error::OpenCv { context, source })
    }
}
