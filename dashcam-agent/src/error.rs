//! The agent's one error type: every way a source, the spool or the server can fail, typed,
//! with a message that says what to do.

use std::path::PathBuf;

/// Everything that can go wrong in the agent library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} line {line}: {reason}")]
    Nmea {
        what: String,
        line: usize,
        reason: String,
    },
    #[error("{0} holds no usable GPS fix; check the receiver had a lock")]
    NoFixes(String),
    #[error("GPX {path}: {reason}")]
    Gpx { path: String, reason: String },
    #[error("FIT {path}: {reason}")]
    Fit { path: String, reason: String },
    #[error("MP4 {path}: {reason}")]
    Mp4 { path: String, reason: String },
    #[error("GPMF payload at byte {offset}: {reason}")]
    Gpmf { offset: usize, reason: String },
    #[error("gpsd at {address}: {reason}")]
    Gpsd { address: String, reason: String },
    #[error("settings {}: {reason}", path.display())]
    Settings { path: PathBuf, reason: String },
    #[error("JPEG: {0}")]
    Jpeg(String),
    #[error("spool {}: {reason}", path.display())]
    Spool { path: PathBuf, reason: String },
    #[error(
        "the spool disk is full, so the frame was not spooled ({}); every frame spooled before is kept: upload or free space, then capture again",
        path.display()
    )]
    SpoolFull { path: PathBuf },
    #[error(
        "the server at {url} is unreachable after {attempts} attempts: {reason}; frames stay spooled"
    )]
    Unreachable {
        url: String,
        attempts: u32,
        reason: String,
    },
    #[error("the server answered {status} to {url} after {attempts} attempts; frames stay spooled")]
    Server {
        url: String,
        status: u16,
        attempts: u32,
    },
    #[error("the server refused {url} with {status}: {detail}")]
    Refused {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("the server refuses frame {sha256} for good ({status}): {detail}; it is dropped")]
    FrameRefused {
        sha256: model::FrameId,
        status: u16,
        detail: String,
    },
    #[error("capture {0} conflicts with a different capture of the same id on the server")]
    CaptureConflict(model::CaptureId),
    #[error("device key {}: {source}", path.display())]
    Key {
        path: PathBuf,
        source: model::KeyError,
    },
    #[cfg(feature = "capture")]
    #[error("GStreamer: {0}")]
    Capture(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An [`Error::Io`] builder: `.map_err(io("read", path))`.
pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
