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
    #[error(
        "this device key is already registered; each dashcam needs its own key (`waymark-agent keygen`)"
    )]
    DeviceKeyTaken,
    #[error("the body is not valid JSON for this route: {0}")]
    Json(String),
    #[error("storage failed: {0}")]
    Store(#[from] store::Error),
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
            Self::DeviceKeyTaken => (
                StatusCode::CONFLICT,
                "device-key-taken",
                "Device key already registered",
            ),
            Self::Json(_) => (StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON"),
            Self::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, slug, title) = self.parts();
        let detail = match self {
            // Never leak storage internals to clients; log them instead.
            Self::Store(err) => {
                tracing::error!(error = %err, "ingest request failed in the store");
                "the server could not store or read this; try again later".to_owned()
            }
            other => other.to_string(),
        };
        HttpResponse::build(status)
            .insert_header(ContentType(
                "application/problem+json".parse().expect("valid mime"),
            ))
            .json(Problem::new(status.as_u16(), slug, title, detail))
    }
}

/// Parses a JSON body, answering malformed input with a problem that says where.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|err| ApiError::Json(err.to_string()))
}
