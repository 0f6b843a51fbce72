//! The map consumer's routes:
//!
//! - `POST /api/v1/keys` (account token) `{name?, scopes?}` → `201 {id, key, name, scopes}`:
//!   the key is shown once.
//! - `GET /api/v1/keys` (account token) → the account's keys, revoked ones too.
//! - `DELETE /api/v1/keys/{id}` (account token) → `204`; the key gets `401` from then on.
//! - `GET /api/v1/usage?days=` (account token or one of its keys) → the balance, and the
//!   credits spent per day and per area (H3 res-9 cell) over the last `days` (default 30).
//! - `GET /api/v1/metering` (public) → whether metering is on, the free zoom and the prices,
//!   so a client knows what needs a key before it asks.

use actix_web::{HttpRequest, HttpResponse, web};
use model::{TimestampMs, UsageKind};
use serde::Deserialize;
use serde_json::json;
use store::{ApiKeyRow, NewApiKey, UsageTotal};

use crate::keys::IssuedKey;
use crate::{Metering, MeteringError};

const MAX_NAME_CHARS: usize = 100;
const MAX_BODY_BYTES: usize = 16 * 1024;
const MAX_USAGE_DAYS: u32 = 366;

/// The OpenAPI document of these routes; `waymark serve` merges it into the one it serves.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(
    paths(create_key, list_keys, revoke_key, usage, terms),
    components(schemas(NewKey))
)]
pub struct ApiDoc;

/// Mounts the routes, with the metering they use.
pub fn configure(metering: Metering) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(metering))
            .route("/api/v1/keys", web::post().to(create_key))
            .route("/api/v1/keys", web::get().to(list_keys))
            .route("/api/v1/keys/{id}", web::delete().to(revoke_key))
            .route("/api/v1/usage", web::get().to(usage))
            .route("/api/v1/metering", web::get().to(terms));
    }
}

/// A key to create.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// A label for the owner (up to 100 characters).
    #[serde(default)]
    name: String,
    /// Any of `tiles`, `imagery`, `search` [default: all three].
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

fn key_json(key: &ApiKeyRow) -> serde_json::Value {
    json!({
        "id": key.id,
        "name": key.name,
        "scopes": key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "created_at": key.created_at.as_millis(),
        "revoked_at": key.revoked_at.map(|t| t.as_millis()),
    })
}

fn parse_new_key(body: &[u8]) -> Result<(String, Vec<UsageKind>), MeteringError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(MeteringError::Invalid(format!(
            "the body is {} bytes; a key request is at most {MAX_BODY_BYTES}",
            body.len()
        )));
    }
    let new: NewKey = if body.iter().all(u8::is_ascii_whitespace) {
        NewKey::default()
    } else {
        serde_json::from_slice(body).map_err(|err| {
            MeteringError::Invalid(format!(
                "the body is not a key request ({err}); send {{\"name\": \"…\", \"scopes\": [\"tiles\", \"imagery\", \"search\"]}}"
            ))
        })?
    };
    let name = new.name.trim().to_owned();
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(MeteringError::Invalid(format!(
            "a key's name is at most {MAX_NAME_CHARS} printable characters"
        )));
    }
    let scopes = match new.scopes {
        None => UsageKind::ALL.to_vec(),
        Some(scopes) => {
            let mut parsed: Vec<UsageKind> = scopes
                .iter()
                .map(|s| s.parse().map_err(MeteringError::Invalid))
                .collect::<Result<_, _>>()?;
            parsed.sort();
            parsed.dedup();
            if parsed.is_empty() {
                return Err(MeteringError::Invalid(
                    "a key needs at least one scope: tiles, imagery or search".into(),
                ));
            }
            parsed
        }
    };
    Ok((name, scopes))
}

/// Creates an API key for the account; the key is in this answer only.
#[utoipa::path(post, path = "/api/v1/keys", tag = "consumers", request_body = NewKey,
    security(("bearer" = [])),
    responses((status = 201, description = "`{id, key, name, scopes, created_at}`: keep `key`, it is not shown again"),
              (status = 400, description = "A malformed body or an unknown scope (problem+json)"),
              (status = 401, description = "No or an unknown account token (problem+json)")))]
async fn create_key(
    metering: web::Data<Metering>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, MeteringError> {
    let account = metering.account(&request).await?;
    let (name, scopes) = parse_new_key(&body)?;
    let issued = IssuedKey::generate();
    let created_at = TimestampMs::now();
    metering
        .store()
        .db
        .insert_api_key(&NewApiKey {
            id: issued.id.clone(),
            account,
            name: name.clone(),
            scopes: scopes.clone(),
            secret_sha256: issued.secret_sha256(),
            created_at,
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "id": issued.id,
        "key": issued.text(),
        "name": name,
        "scopes": scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "created_at": created_at.as_millis(),
    })))
}

/// The account's keys, newest first (never their secrets).
#[utoipa::path(get, path = "/api/v1/keys", tag = "consumers", security(("bearer" = [])),
    responses((status = 200, description = "`{keys: [{id, name, scopes, created_at, revoked_at}]}`"),
              (status = 401, description = "No or an unknown account token (problem+json)")))]
async fn list_keys(
    metering: web::Data<Metering>,
    request: HttpRequest,
) -> Result<HttpResponse, MeteringError> {
    let account = metering.account(&request).await?;
    let keys = metering.store().db.api_keys_of(account).await?;
    Ok(HttpResponse::Ok().json(json!({ "keys": keys.iter().map(key_json).collect::<Vec<_>>() })))
}

/// Revokes one of the account's keys: at once on this server, within seconds on others.
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "consumers", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id (the 16 hex digits after `wmk_`)")),
    responses((status = 204, description = "Revoked"),
              (status = 401, description = "No or an unknown account token (problem+json)"),
              (status = 404, description = "The account has no such active key (problem+json)")))]
async fn revoke_key(
    metering: web::Data<Metering>,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, MeteringError> {
    let account = metering.account(&request).await?;
    let id = path.into_inner();
    let revoked = metering
        .store()
        .db
        .revoke_api_key(account, &id, TimestampMs::now())
        .await?;
    metering.inner.keys.forget(&id);
    if !revoked {
        let shown: String = id.chars().take(40).collect();
        return Err(MeteringError::NotFound(format!(
            "this account has no active key `{shown}`; GET /api/v1/keys lists them"
        )));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UsageParams {
    /// Days back from today (UTC), 1 to 366 [default: 30].
    days: Option<u32>,
    /// An API key of the account, instead of the account token.
    #[allow(dead_code)]
    key: Option<String>,
}

fn totals_json(totals: &[UsageTotal], group: &str) -> Vec<serde_json::Value> {
    totals
        .iter()
        .map(|t| json!({ group: t.group, "kind": t.kind.as_str(), "cell_weeks": t.requests, "credits": t.credits }))
        .collect()
}

/// What is metered and what it costs.
#[utoipa::path(get, path = "/api/v1/metering", tag = "consumers",
    responses((status = 200, description = "`{enabled, free_max_zoom, prices: {tiles, imagery, search}}`: with metering on, coverage tiles above `free_max_zoom`, full-resolution frames and search need an API key, priced in credits per H3 res-9 cell-week they touch")))]
async fn terms(metering: web::Data<Metering>) -> HttpResponse {
    let config = metering.config();
    HttpResponse::Ok().json(json!({
        "enabled": config.enabled,
        "free_max_zoom": config.free_max_zoom,
        "prices": {
            "tiles": config.prices.tiles,
            "imagery": config.prices.imagery,
            "search": config.prices.search,
        },
    }))
}

/// The account's balance and what it spent, per day and per area.
#[utoipa::path(get, path = "/api/v1/usage", tag = "consumers", params(UsageParams),
    security(("bearer" = [])),
    responses((status = 200, description = "`{balance, since, by_day: [{day, kind, cell_weeks, credits}], by_area: [{cell, kind, cell_weeks, credits}]}`; `cell_weeks` counts each cell-week a request touched, and use of the last flush interval may not be in yet"),
              (status = 400, description = "A malformed parameter (problem+json)"),
              (status = 401, description = "No or an unknown token or key (problem+json)")))]
async fn usage(
    metering: web::Data<Metering>,
    request: HttpRequest,
) -> Result<HttpResponse, MeteringError> {
    let params = web::Query::<UsageParams>::from_query(request.query_string())
        .map_err(|err| MeteringError::Invalid(format!("{err}; the parameters are days and key")))?;
    let days = params.days.unwrap_or(30);
    if !(1..=MAX_USAGE_DAYS).contains(&days) {
        return Err(MeteringError::Invalid(format!(
            "days is {days}; give 1 to {MAX_USAGE_DAYS}"
        )));
    }
    let account = metering.account_or_key(&request).await?;
    let since =
        model::utc_day(TimestampMs::now().saturating_add_ms(-(i64::from(days) - 1) * 86_400_000));
    let db = &metering.store().db;
    let by_day = db.usage_by_day(account, &since).await?;
    let by_area = db.usage_by_cell(account, &since).await?;
    Ok(HttpResponse::Ok().json(json!({
        "account": account,
        "balance": db.credit_balance(account).await?,
        "since": since,
        "by_day": totals_json(&by_day, "day"),
        "by_area": totals_json(&by_area, "cell"),
    })))
}
