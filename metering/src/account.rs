//! Who is asking, for the key and usage routes: an account by its bearer token (as the
//! ingest account routes read it), or — for usage — an API key standing for its account.

use actix_web::HttpRequest;
use actix_web::http::header;
use model::ContributorId;
use sha2::{Digest, Sha256};

use crate::{Metering, MeteringError};

fn bearer(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl Metering {
    /// The account of the request's `Authorization: Bearer <account token>`.
    pub(crate) async fn account(
        &self,
        request: &HttpRequest,
    ) -> Result<ContributorId, MeteringError> {
        let token = bearer(request).ok_or_else(|| {
            MeteringError::Unauthorized(
                "send the account's API token as `Authorization: Bearer <token>` \
                 (create an account with POST /api/v1/contributors)"
                    .into(),
            )
        })?;
        if token.starts_with(crate::keys::KEY_PREFIX) {
            return Err(MeteringError::Unauthorized(
                "keys are managed with the account's token, not with a key".into(),
            ));
        }
        let sha = hex::encode(Sha256::digest(token.as_bytes()));
        self.store()
            .db
            .contributor_by_token_sha256(&sha)
            .await?
            .map(|c| c.id)
            .ok_or_else(|| MeteringError::Unauthorized("the account token is not known".into()))
    }

    /// The account of an account token or of an API key (`wmk_…`, as bearer or `?key=`).
    pub(crate) async fn account_or_key(
        &self,
        request: &HttpRequest,
    ) -> Result<ContributorId, MeteringError> {
        match crate::gate::presented_key(request.headers(), request.query_string()) {
            Some(key) => Ok(self.inner.keys.check(self.store(), key).await?.account),
            None => self.account(request).await,
        }
    }
}
