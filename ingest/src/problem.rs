//! The ingest API's errors, each answered as RFC 9457 problem+json with a stable `type`.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use model::Problem;
use serde::de::DeserializeOwned;

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(
        "this device key is already registered; each dashcam needs its own key (`waymark-agent keygen`)"
    )]
    DeviceKeyTaken,
    #[error("the body is not valid JSON for this route: {0}")]
    Json(String),
    #[error("{0}")]
    DeviceAuth(String),
    #[error("this device was revoked by its owner; register a new key to upload again")]
    DeviceRevoked,
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    TooSlow(String),
    #[error("{1}")]
    Frame(model::RejectReason, String),
    #[error(
        "the body's sha256 is {actual}, not {expected} as in the URL; the upload was corrupted or the URL is wrong"
    )]
    HashMismatch {
        expected: model::FrameId,
        actual: model::FrameId,
    },
    #[error("{0}")]
    Manifest(String),
    #[error(
        "capture {0} was already uploaded with a different manifest; a capture id names one manifest only"
    )]
    CaptureIdReused(model::CaptureId),
    #[error("{} frame(s) of this capture are not uploaded yet; PUT them, then post the manifest again", .0.len())]
    MissingBlobs(Vec<model::FrameId>),
    #[error("storage failed: {0}")]
    Store(#[from] store::Error),
    #[error("too many requests from this client; wait {} s and send again", .0.as_secs().max(1))]
    RateLimited(std::time::Duration),
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        Self::Json(err.to_string())
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::Invalid(_) => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "Invalid request",
            ),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::DeviceKeyTaken => (
                StatusCode::CONFLICT,
                "device-key-taken",
                "Device key already registered",
            ),
            Self::Json(_) => (StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON"),
            Self::DeviceAuth(_) => (
                StatusCode::UNAUTHORIZED,
                "device-unauthorized",
                "Device not authenticated",
            ),
            Self::DeviceRevoked => (StatusCode::FORBIDDEN, "device-revoked", "Device revoked"),
            Self::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Body too large",
            ),
            Self::TooSlow(_) => (
                StatusCode::REQUEST_TIMEOUT,
                "upload-too-slow",
                "Upload too slow",
            ),
            Self::Frame(reason, _) => (frame_status(*reason), reason.slug(), "Frame refused"),
            Self::HashMismatch { .. } => {
                (StatusCode::BAD_REQUEST, "hash-mismatch", "Hash mismatch")
            }
            Self::Manifest(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-manifest",
                "Invalid manifest",
            ),
            Self::CaptureIdReused(_) => (
                StatusCode::CONFLICT,
                "capture-id-reused",
                "Capture id reused",
            ),
            Self::MissingBlobs(_) => (StatusCode::CONFLICT, "missing-blobs", "Missing blobs"),
            Self::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            Self::Store(store::Error::CaseState { .. }) => {
                (StatusCode::CONFLICT, "case-state", "Case not open to this")
            }
            Self::Store(err) if err.is_storage_full() => (
                StatusCode::INSUFFICIENT_STORAGE,
                "storage-full",
                "Storage full",
            ),
            Self::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

/// When a client refused for a full disk should try again.
const STORAGE_FULL_RETRY_SECS: u64 = 60;

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, slug, title) = self.parts();
        let detail = match self {
            Self::Store(err) if err.is_storage_full() => {
                tracing::error!(error = %err, "storage full: refusing uploads until space is freed");
                "the server's storage is full, so this was not kept; nothing stored before is affected: send it again later".to_owned()
            }
            // The store's own words on a case's state, not its internals.
            Self::Store(err @ store::Error::CaseState { .. }) => err.to_string(),
            // Never leak storage internals to clients; log them instead.
            Self::Store(err) => {
                tracing::error!(error = %err, "ingest request failed in the store");
                "the server could not store or read this; try again later".to_owned()
            }
            other => other.to_string(),
        };
        let mut problem = Problem::new(status.as_u16(), slug, title, detail);
        if let Self::MissingBlobs(missing) = self {
            problem = problem.with_extension("missing", serde_json::json!(missing));
        }
        let mut response = HttpResponse::build(status);
        if let Self::RateLimited(wait) = self {
            response.insert_header(("Retry-After", wait.as_secs().max(1).to_string()));
        }
        if status == StatusCode::INSUFFICIENT_STORAGE {
            response.insert_header(("Retry-After", STORAGE_FULL_RETRY_SECS.to_string()));
        }
        response
            .insert_header(ContentType(
                "application/problem+json".parse().expect("valid mime"),
            ))
            .json(problem)
    }
}

fn frame_status(reason: model::RejectReason) -> StatusCode {
    match reason {
        model::RejectReason::FrameTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        model::RejectReason::NotJpeg => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// Parses a JSON body, answering malformed input with a problem that says where.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|err| ApiError::Json(err.to_string()))
}
