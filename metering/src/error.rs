//! Metering's answers to a request it refuses, each as RFC 9457 problem+json.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use model::Problem;

#[derive(Debug, thiserror::Error)]
pub enum MeteringError {
    /// No key, or a key that is not known or was revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// A key without the scope this route needs.
    #[error("{0}")]
    Forbidden(String),
    #[error(
        "the account is out of credits (balance {balance}); ask the operator for credits (`waymark credits grant`)"
    )]
    OutOfCredits { balance: i64 },
    #[error("this key made too many requests; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("storing metered use failed: {0}")]
    Store(#[from] store::Error),
}

impl MeteringError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "api-key-required",
                "API key required",
            ),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "api-key-scope", "Key not scoped"),
            Self::OutOfCredits { .. } => (
                StatusCode::PAYMENT_REQUIRED,
                "out-of-credits",
                "Out of credits",
            ),
            Self::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            Self::Invalid(_) => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "Invalid request",
            ),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl ResponseError for MeteringError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, slug, title) = self.parts();
        if let Self::Store(err) = self {
            tracing::error!(error = %err, "metering could not reach the store");
        }
        let mut problem = Problem::new(status.as_u16(), slug, title, self.to_string());
        if let Self::OutOfCredits { balance } = self {
            problem
                .extensions
                .insert("balance".into(), (*balance).into());
        }
        let mut response = HttpResponse::build(status);
        if let Self::RateLimited { retry_after_secs } = self {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        response
            .content_type(ContentType(
                "application/problem+json"
                    .parse()
                    .expect("a valid media type"),
            ))
            .json(problem)
    }
}
