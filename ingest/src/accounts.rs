//! Contributor accounts and device registration:
//!
//! - `POST /api/v1/contributors` `{name, payout_address?}` → `201 {id, token}`: an account and
//!   its API token (shown once; only its sha256 is stored).
//! - `GET /api/v1/contributors/me` (bearer token) → the account and its devices.
//! - `POST /api/v1/devices` (bearer) `{public_key, label?, driver_id?, driver_share_bps?}` →
//!   `201`: registers a dashcam's ed25519 key; a fleet owner names the driver and the driver's
//!   share of the device's rewards in basis points. The split counts only once the driver
//!   accepts it: nobody is made a device's driver without their consent.
//! - `POST /api/v1/devices/{id}/driver` (bearer, the named driver) → `200`: accepts;
//!   `DELETE` → `204`: declines (or leaves), and the owner takes the whole share.
//! - `DELETE /api/v1/devices/{id}` (bearer, the owner) → `204`: revokes the device; its later
//!   uploads get `403`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use model::{ContributorId, DeviceId, DevicePublicKey, PayoutAddress, TimestampMs};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use store::{Contributor, DeviceStatus, NewContributor, NewDevice, Store};

use crate::problem::{ApiError, ApiResult};
use crate::rate_limit::SignupLimiter;
use crate::uploads::{BodyDeadline, read_limited};

const MAX_NAME_CHARS: usize = 100;
/// The largest account or device JSON body (actix's default for `web::Bytes`).
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Registers the account routes.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/api/v1/contributors", web::post().to(create_contributor))
        .route("/api/v1/contributors/me", web::get().to(me))
        .route("/api/v1/devices", web::post().to(register_device))
        .route("/api/v1/devices/{id}", web::delete().to(revoke_device))
        .route(
            "/api/v1/devices/{id}/driver",
            web::post().to(accept_driving),
        )
        .route(
            "/api/v1/devices/{id}/driver",
            web::delete().to(decline_driving),
        );
}

/// sha256 of an API token, lowercase hex: what the store keeps.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The contributor a request's `Authorization: Bearer <token>` belongs to.
pub async fn authenticate(store: &Store, request: &HttpRequest) -> ApiResult<Contributor> {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized(
            "send the API token as `Authorization: Bearer <token>`",
        ))?;
    store
        .db
        .contributor_by_token_sha256(&token_sha256(token.trim()))
        .await?
        .ok_or(ApiError::Unauthorized(
            "the API token is not known; check it or create an account",
        ))
}

/// An address as `ConnectionInfo` gives it: `192.0.2.1`, `192.0.2.1:5000`, `[2001:db8::1]:5000`
/// or `2001:db8::1`.
fn client_address(text: &str) -> Option<std::net::IpAddr> {
    text.parse::<std::net::SocketAddr>()
        .map(|addr| addr.ip())
        .or_else(|_| text.trim_matches(['[', ']']).parse())
        .ok()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAccount {
    name: String,
    #[serde(default)]
    payout_address: Option<String>,
}

/// Create a contributor account; the API token in the answer is shown only once.
#[utoipa::path(post, path = "/api/v1/contributors", tag = "accounts", request_body = NewAccount,
    responses((status = 201, description = "The account and its API token"),
              (status = 400, description = "Invalid name or payout address (problem+json)"),
              (status = 429, description = "Too many sign-ups from this address or in all; see Retry-After (problem+json)")))]
pub(crate) async fn create_contributor(
    store: web::Data<Store>,
    deadline: web::Data<BodyDeadline>,
    signups: web::Data<SignupLimiter>,
    request: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    // The client's address: the peer, or what a trusted proxy forwarded (`waymark serve`
    // drops forwarded headers from anyone else before they get here).
    let client = request
        .connection_info()
        .realip_remote_addr()
        .and_then(client_address);
    signups.check(client).map_err(ApiError::RateLimited)?;
    let body = read_limited(payload, MAX_BODY_BYTES, "the body", &deadline).await?;
    let account: NewAccount = crate::problem::json_body(&body)?;
    let name = account.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::Invalid(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    let payout_address = account
        .payout_address
        .as_deref()
        .map(str::parse::<PayoutAddress>)
        .transpose()
        .map_err(|err| ApiError::Invalid(err.to_string()))?;
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = format!("wm_{}", hex::encode(secret));
    let id = ContributorId::new();
    store
        .db
        .insert_contributor(&NewContributor {
            id,
            name: name.to_owned(),
            token_sha256: token_sha256(&token),
            payout_address,
            created_at: TimestampMs::now(),
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({
        "id": id,
        "name": name,
        "payout_address": payout_address,
        "token": token,
        "note": "keep the token: it is shown only once",
    })))
}

/// The account of the bearer token, with its devices.
#[utoipa::path(get, path = "/api/v1/contributors/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "The account and its devices"),
              (status = 401, description = "Missing or unknown token (problem+json)")))]
pub(crate) async fn me(store: web::Data<Store>, request: HttpRequest) -> ApiResult<HttpResponse> {
    let contributor = authenticate(&store, &request).await?;
    let devices = store.db.devices_of(contributor.id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": contributor.id,
        "name": contributor.name,
        "payout_address": contributor.payout_address,
        "devices": devices.iter().map(|d| json!({
            "id": d.id,
            "public_key": d.public_key,
            "label": d.label,
            "owner": d.contributor_id,
            "driver": d.driver_id,
            "driver_share_bps": d.driver_share_bps,
            "driver_accepted": d.driver_accepted_at.is_some(),
            "status": d.status.as_str(),
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeviceRegistration {
    public_key: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    driver_id: Option<String>,
    #[serde(default)]
    driver_share_bps: Option<u16>,
}

/// Register a dashcam's ed25519 public key; a fleet owner names the driver and their share.
#[utoipa::path(post, path = "/api/v1/devices", tag = "accounts", request_body = DeviceRegistration, security(("bearer" = [])),
    responses((status = 201, description = "The registered device"),
              (status = 400, description = "Invalid key, driver or share (problem+json)"),
              (status = 409, description = "The key is already registered (problem+json)")))]
pub(crate) async fn register_device(
    store: web::Data<Store>,
    deadline: web::Data<BodyDeadline>,
    request: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let owner = authenticate(&store, &request).await?;
    let body = read_limited(payload, MAX_BODY_BYTES, "the body", &deadline).await?;
    let registration: DeviceRegistration = crate::problem::json_body(&body)?;
    let public_key: DevicePublicKey = registration
        .public_key
        .parse()
        .map_err(|err: model::KeyError| ApiError::Invalid(err.to_string()))?;
    let driver = match registration.driver_id.as_deref() {
        Some(text) => {
            let id: ContributorId = text
                .parse()
                .map_err(|err: model::IdError| ApiError::Invalid(err.to_string()))?;
            store.db.contributor(id).await?.ok_or_else(|| {
                ApiError::Invalid(format!(
                    "driver {id} has no account; the driver signs up first"
                ))
            })?;
            Some(id)
        }
        None => None,
    };
    let share = match (driver, registration.driver_share_bps) {
        (Some(_), Some(bps)) if bps <= 10_000 => bps,
        (Some(_), Some(bps)) => {
            return Err(ApiError::Invalid(format!(
                "driver_share_bps {bps} is over 10000"
            )));
        }
        (Some(_), None) => {
            return Err(ApiError::Invalid(
                "a fleet device needs driver_share_bps (0 to 10000)".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::Invalid(
                "driver_share_bps needs a driver_id".into(),
            ));
        }
        (None, None) => 10_000,
    };
    if registration.label.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::Invalid(format!(
            "label must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    let id = DeviceId::new();
    let now = TimestampMs::now();
    // The owner naming themselves needs no consent; anyone else accepts first.
    let driver_accepted_at = driver.filter(|d| *d == owner.id).map(|_| now);
    store
        .db
        .insert_device(&NewDevice {
            id,
            public_key,
            contributor_id: owner.id,
            driver_id: driver,
            driver_share_bps: share,
            driver_accepted_at,
            label: registration.label.clone(),
            registered_at: now,
        })
        .await
        .map_err(|err| match err {
            store::Error::Conflict { .. } => ApiError::DeviceKeyTaken,
            other => ApiError::Store(other),
        })?;
    Ok(HttpResponse::Created().json(json!({
        "id": id,
        "public_key": public_key,
        "owner": owner.id,
        "driver": driver,
        "driver_share_bps": share,
        "driver_accepted": driver.is_none() || driver_accepted_at.is_some(),
        "status": "active",
    })))
}

fn device_id(text: &str) -> ApiResult<DeviceId> {
    text.parse()
        .map_err(|err: model::IdError| ApiError::Invalid(err.to_string()))
}

/// Accept being the driver a fleet owner named for a device: from now on the device's
/// driver share is yours.
#[utoipa::path(post, path = "/api/v1/devices/{id}/driver", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id (UUID)")),
    responses((status = 200, description = "Accepted: `{device, driver, driver_share_bps, driver_accepted: true}`"),
              (status = 401, description = "Missing or unknown token (problem+json)"),
              (status = 404, description = "No device names you as its driver (problem+json)")))]
pub(crate) async fn accept_driving(
    store: web::Data<Store>,
    request: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let driver = authenticate(&store, &request).await?;
    let id = device_id(&path)?;
    if !store
        .db
        .accept_driver(id, driver.id, TimestampMs::now())
        .await?
    {
        return Err(ApiError::NotFound(format!(
            "no device {id} names you as its driver"
        )));
    }
    let device = store
        .db
        .device(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no device {id}")))?;
    Ok(HttpResponse::Ok().json(json!({
        "device": device.id,
        "owner": device.contributor_id,
        "driver": device.driver_id,
        "driver_share_bps": device.driver_share_bps,
        "driver_accepted": device.driver_accepted_at.is_some(),
    })))
}

/// Decline (or stop) being a device's driver: the device has no driver any more and its
/// owner takes the whole share.
#[utoipa::path(delete, path = "/api/v1/devices/{id}/driver", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id (UUID)")),
    responses((status = 204, description = "You are no longer the device's driver"),
              (status = 401, description = "Missing or unknown token (problem+json)"),
              (status = 404, description = "No device names you as its driver (problem+json)")))]
pub(crate) async fn decline_driving(
    store: web::Data<Store>,
    request: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let driver = authenticate(&store, &request).await?;
    let id = device_id(&path)?;
    if !store.db.decline_driver(id, driver.id).await? {
        return Err(ApiError::NotFound(format!(
            "no device {id} names you as its driver"
        )));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Revoke one of your devices; its later uploads get 403.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id (UUID)")),
    responses((status = 204, description = "Revoked"),
              (status = 404, description = "You own no such device (problem+json)")))]
pub(crate) async fn revoke_device(
    store: web::Data<Store>,
    request: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let owner = authenticate(&store, &request).await?;
    let id = device_id(&path)?;
    let mine = store
        .db
        .devices_of(owner.id)
        .await?
        .into_iter()
        .any(|d| d.id == id && d.contributor_id == owner.id);
    if !mine {
        return Err(ApiError::NotFound(format!("you own no device {id}")));
    }
    store
        .db
        .set_device_status(id, DeviceStatus::Revoked)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
