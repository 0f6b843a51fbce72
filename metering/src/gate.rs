//! The gate in front of the serving routes (`actix_web::middleware::from_fn(gate)`, with a
//! [`Metering`] in the app data).
//!
//! Metered: coverage tiles above the free zoom (`/tiles/{z}/{x}/{y}.mvt`), full-resolution
//! frames (`/api/v1/frames/{sha256}/image.jpg`) and search (`/api/v1/search`). Such a
//! request needs a key (`Authorization: Bearer wmk_…` or `?key=wmk_…`) scoped to its kind,
//! within its rate, on an account with credits. Everything else passes untouched, and so
//! does everything when metering is off. A successful metered response is counted: a tile
//! by its address (priced at the flush), imagery and search by the cell-weeks their
//! handlers attached ([`model::ConsumedCoverage`]).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use model::{ConsumedCoverage, UsageKind};
use tiles::TileCoord;

use std::sync::Arc;

use crate::keys::KeyGrant;
use crate::{Metering, MeteringError};

/// What a request is, for metering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metered {
    Tile(TileCoord),
    Imagery,
    Search,
}

impl Metered {
    pub fn kind(self) -> UsageKind {
        match self {
            Self::Tile(_) => UsageKind::Tiles,
            Self::Imagery => UsageKind::Imagery,
            Self::Search => UsageKind::Search,
        }
    }
}

/// Which metered use a `GET` of `path` is; `None` for everything free. A malformed tile
/// address is free here: the tile route answers it with its own `400`.
pub fn classify(method: &Method, path: &str, free_max_zoom: u8) -> Option<Metered> {
    if method != Method::GET {
        return None;
    }
    if path == "/api/v1/search" {
        return Some(Metered::Search);
    }
    if let Some(rest) = path.strip_prefix("/api/v1/frames/") {
        return rest.ends_with("/image.jpg").then_some(Metered::Imagery);
    }
    let mut parts = path.strip_prefix("/tiles/")?.split('/');
    let (z, x, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let y = y.strip_suffix(".mvt").or(y.strip_suffix(".pbf"))?;
    let tile = TileCoord::parse(z, x, y).ok()?;
    (tile.z > free_max_zoom).then_some(Metered::Tile(tile))
}

/// The key a request presents: `Authorization: Bearer wmk_…`, else `?key=` (a key has no
/// characters that need percent-decoding; one that does is not a key).
pub(crate) fn presented_key<'a>(headers: &'a header::HeaderMap, query: &'a str) -> Option<&'a str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|v| v.starts_with(crate::keys::KEY_PREFIX));
    bearer.or_else(|| query.split('&').find_map(|pair| pair.strip_prefix("key=")))
}

impl Metering {
    /// Admits a metered request or says why not.
    async fn admit(
        &self,
        request: &ServiceRequest,
        metered: Metered,
    ) -> Result<Arc<KeyGrant>, MeteringError> {
        let kind = metered.kind();
        let free = self.config().free_max_zoom;
        let key = presented_key(request.headers(), request.query_string()).ok_or_else(|| {
            MeteringError::Unauthorized(format!(
                "{} need an API key (`Authorization: Bearer wmk_…` or `?key=wmk_…`); \
                 without one, tiles up to z{free} are open",
                match kind {
                    UsageKind::Tiles => format!("tiles above z{free}"),
                    UsageKind::Imagery => "full-resolution frames".into(),
                    UsageKind::Search => "searches".into(),
                }
            ))
        })?;
        let grant = self.inner.keys.check(self.store(), key).await?;
        if !grant.scopes.contains(&kind) {
            return Err(MeteringError::Forbidden(format!(
                "the API key {} is not scoped to {kind}; its scopes: {}",
                grant.id(),
                grant
                    .scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        self.inner
            .limiter
            .take(grant.number)
            .map_err(|retry_after_secs| MeteringError::RateLimited { retry_after_secs })?;
        let meter = &self.inner.meter;
        match meter.spendable(grant.account) {
            Some(spendable) if spendable > 0 => return Ok(grant),
            // Unknown, or out: ask the store (a grant since the last flush counts at once).
            _ => {}
        }
        let balance = self.store().db.credit_balance(grant.account).await?;
        meter.set_balance(grant.account, balance);
        let spendable = meter.spendable(grant.account).unwrap_or(balance);
        if spendable <= 0 {
            return Err(MeteringError::OutOfCredits { balance: spendable });
        }
        Ok(grant)
    }

    /// Counts a served request.
    fn count<B>(&self, grant: &KeyGrant, metered: Metered, response: &ServiceResponse<B>) {
        // Only a served body counts: `204` (an empty tile), `304` and errors are free.
        if response.status() != actix_web::http::StatusCode::OK {
            return;
        }
        let day = crate::meter::today();
        let meter = &self.inner.meter;
        match metered {
            Metered::Tile(tile) => meter.count_tile(grant.number, grant.account, day, tile),
            Metered::Imagery | Metered::Search => {
                let kind = metered.kind();
                if let Some(consumed) = response.response().extensions().get::<ConsumedCoverage>() {
                    meter.count_coverage(
                        grant.number,
                        grant.account,
                        day,
                        kind,
                        &consumed.0,
                        self.config().prices.of(kind),
                    );
                }
            }
        }
    }
}

/// The middleware: see the module docs.
pub async fn gate(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let metering = request.app_data::<web::Data<Metering>>().cloned();
    let Some(metering) = metering.filter(|m| m.config().enabled) else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    let free = metering.config().free_max_zoom;
    let Some(metered) = classify(request.method(), request.path(), free) else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    match metering.admit(&request, metered).await {
        Ok(grant) => {
            let response = next.call(request).await?;
            metering.count(&grant, metered, &response);
            Ok(response.map_into_left_body())
        }
        Err(refused) => Ok(request
            .into_response(refused.error_response())
            .map_into_right_body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_metered() {
        let get = Method::GET;
        let tile = |z, x, y| Some(Metered::Tile(TileCoord::new(z, x, y).unwrap()));
        assert_eq!(
            classify(&get, "/tiles/14/8716/5680.mvt", 12),
            tile(14, 8716, 5680)
        );
        assert_eq!(
            classify(&get, "/tiles/13/4358/2840.pbf", 12),
            tile(13, 4358, 2840)
        );
        assert_eq!(classify(&get, "/tiles/12/2179/1420.mvt", 12), None);
        assert_eq!(classify(&get, "/tiles/14/8716/5680.png", 12), None);
        assert_eq!(classify(&get, "/tiles/99/0/0.mvt", 12), None);
        assert_eq!(classify(&get, "/basemap/14/8716/5680.mvt", 12), None);
        assert_eq!(classify(&get, "/api/v1/search", 12), Some(Metered::Search));
        let frame = format!("/api/v1/frames/{}", "a".repeat(64));
        assert_eq!(
            classify(&get, &format!("{frame}/image.jpg"), 12),
            Some(Metered::Imagery)
        );
        assert_eq!(classify(&get, &format!("{frame}/thumbnail.jpg"), 12), None);
        assert_eq!(classify(&get, &frame, 12), None);
        assert_eq!(classify(&Method::POST, "/api/v1/search", 12), None);
        assert_eq!(classify(&get, "/tiles.json", 12), None);
    }
}
