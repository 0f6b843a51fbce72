//! The gate on the metered routes: [`metered`] wraps each route that serves metered use,
//! with a [`Metering`] in the app data.
//!
//! Metered: coverage tiles above the free zoom (`/tiles/{z}/{x}/{y}.mvt`), full-resolution
//! frames (`/api/v1/frames/{sha256}/image.jpg`) and search (`/api/v1/search`). Such a
//! request needs a key (`Authorization: Bearer wmk_…` or `?key=wmk_…`) scoped to its kind,
//! within its rate, on an account with credits. Everything else passes untouched, and so
//! does everything when metering is off. A successful metered response is counted: a tile
//! by its address (priced at the flush), imagery and search by the cell-weeks their
//! handlers attached ([`model::ConsumedCoverage`]).
//!
//! The gate sits on the *route*, not in front of the app: it runs exactly when the router
//! chose a metered route, after actix decoded the path (`/api/v1/searc%68` is the search
//! route, `…/5680%2Emvt` a tile), so no spelling of a path can reach a metered handler
//! around it. A tile's address is read from the matched path segments, decoded as the tile
//! handler reads them.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Next, from_fn};
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

/// Puts the gate on a route that serves `kind` of metered use. The stages take this as
/// their route wrapper (`ingest::Routes::metered`, `tiles::routes::configure_metered`).
pub fn metered(route: actix_web::Route, kind: UsageKind) -> actix_web::Route {
    match kind {
        UsageKind::Tiles => route.wrap(from_fn(gate_tiles)),
        UsageKind::Imagery => route.wrap(from_fn(gate_imagery)),
        UsageKind::Search => route.wrap(from_fn(gate_search)),
    }
}

/// Whether a tile at `z/x/y` (the decoded path segments of the tile route, `y` with its
/// extension) is metered: a valid address above the free zoom. A malformed address is free
/// here: the tile route answers it with its own `400`.
pub fn metered_tile(z: &str, x: &str, y_file: &str, free_max_zoom: u8) -> Option<Metered> {
    let y = y_file
        .strip_suffix(".mvt")
        .or(y_file.strip_suffix(".pbf"))?;
    let tile = TileCoord::parse(z, x, y).ok()?;
    (tile.z > free_max_zoom).then_some(Metered::Tile(tile))
}

async fn gate_tiles(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, Error> {
    let metered = |metering: &Metering| {
        let (z, x, y) = request
            .match_info()
            .load::<(String, String, String)>()
            .ok()?;
        metered_tile(&z, &x, &y, metering.config().free_max_zoom)
    };
    let metering = request.app_data::<web::Data<Metering>>().cloned();
    let use_ = metering.as_ref().and_then(|m| metered(m));
    gate(request, next, metering, use_).await
}

async fn gate_imagery(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, Error> {
    let metering = request.app_data::<web::Data<Metering>>().cloned();
    gate(request, next, metering, Some(Metered::Imagery)).await
}

async fn gate_search(
    request: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, Error> {
    let metering = request.app_data::<web::Data<Metering>>().cloned();
    gate(request, next, metering, Some(Metered::Search)).await
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

/// Admits `metered` use (or passes the request when metering is off or the use is free),
/// then counts what was served.
async fn gate(
    request: ServiceRequest,
    next: Next<BoxBody>,
    metering: Option<web::Data<Metering>>,
    metered: Option<Metered>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, Error> {
    let (Some(metering), Some(metered)) = (metering.filter(|m| m.config().enabled), metered) else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    match metering.admit(&request, metered).await {
        Ok(grant) => {
            let response = next.call(request).await?;
            metering.count(&grant, metered, &response);
            Ok(response.map_into_left_body())
        }
        Err(refused) => Ok(request
            .into_response(refused.error_response().map_into_boxed_body())
            .map_into_right_body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_above_the_free_zoom_are_metered() {
        let tile = |z, x, y| Some(Metered::Tile(TileCoord::new(z, x, y).unwrap()));
        assert_eq!(
            metered_tile("14", "8716", "5680.mvt", 12),
            tile(14, 8716, 5680)
        );
        assert_eq!(
            metered_tile("13", "4358", "2840.pbf", 12),
            tile(13, 4358, 2840)
        );
        assert_eq!(metered_tile("12", "2179", "1420.mvt", 12), None);
        assert_eq!(metered_tile("14", "8716", "5680.png", 12), None);
        assert_eq!(metered_tile("99", "0", "0.mvt", 12), None);
        // Leading zeros name the same tile to the gate and to the tile handler.
        assert_eq!(
            metered_tile("014", "8716", "5680.mvt", 12),
            tile(14, 8716, 5680)
        );
    }
}
