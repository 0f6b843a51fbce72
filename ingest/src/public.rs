//! The read side of ingest that the web page uses:
//!
//! - `GET /api/v1/frames/{sha256}` → an accepted frame: time, position, heading, quality,
//!   contributor, its sequence with the previous and next frame, detections with boxes.
//! - `GET /api/v1/frames/{sha256}/image.jpg` and `/thumbnail.jpg` → the public, privacy-blurred
//!   JPEG and its thumbnail.
//! - `GET /api/v1/search?q=&kind=&contributor=&near=lat,lon&cell=&after=&before=&limit=` →
//!   frames and signs from the search index, newest first.
//! - `GET /api/v1/contributors/me/captures` (bearer token) → the contributor's captures with
//!   every frame's outcome and the advice for rejects.
//!
//! Never serves an original upload (only `BlobKey::public_frame` and `BlobKey::thumbnail`),
//! and never shows a frame that is not accepted to anyone but its contributor: unknown,
//! pending and rejected frames are all the same `404`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use model::{ConsumedCoverage, FrameId, TimestampMs, UsageKind};
use serde_json::{Value, json};
use store::{BlobKey, SearchHit, Store};

use crate::search_params::{SearchParams, decodes_to_utf8, search_query};
use crate::uploads::{frame_outcome, outcome_counts};

use crate::problem::{ApiError, ApiResult};

const MAX_CAPTURES: u32 = 200;
/// Public frames are content-addressed, but may be taken down: cache for a day, not forever.
const IMAGE_CACHE_CONTROL: &str = "public, max-age=86400";

/// Wraps a route that serves metered use of `kind` (the composition root passes
/// `metering::metered`; [`open_route`] serves it to anyone).
pub type MeterRoute = fn(actix_web::Route, UsageKind) -> actix_web::Route;

/// The route wrapper that meters nothing.
pub fn open_route(route: actix_web::Route, _kind: UsageKind) -> actix_web::Route {
    route
}

/// Registers the public read routes; full-resolution images and search go through `meter`.
pub fn configure(config: &mut web::ServiceConfig, meter: MeterRoute) {
    config
        .route("/api/v1/frames/{sha256}", web::get().to(get_frame))
        .route(
            "/api/v1/frames/{sha256}/image.jpg",
            meter(web::get().to(get_image), UsageKind::Imagery),
        )
        .route(
            "/api/v1/frames/{sha256}/thumbnail.jpg",
            web::get().to(get_thumbnail),
        )
        .route(
            "/api/v1/search",
            meter(web::get().to(search), UsageKind::Search),
        )
        .route(
            "/api/v1/contributors/me/captures",
            web::get().to(my_captures),
        )
        .route(
            "/api/v1/contributors/me/coverage",
            web::get().to(my_coverage),
        );
}

fn frame_id(text: &str) -> ApiResult<FrameId> {
    text.parse().map_err(|err: model::IdError| {
        ApiError::Invalid(format!(
            "{err}; a frame id is the sha256 of its JPEG, 64 lowercase hex digits"
        ))
    })
}

fn no_frame(id: FrameId) -> ApiError {
    ApiError::NotFound(format!(
        "no accepted frame {id}; it may be unknown, still being processed or rejected"
    ))
}

/// An accepted frame with its sequence neighbours and detections.
#[utoipa::path(get, path = "/api/v1/frames/{sha256}", tag = "public",
    params(("sha256" = String, Path, description = "Frame id: the sha256 of the JPEG")),
    responses((status = 200, description = "The frame's time, position, heading, quality, contributor, sequence (previous and next frame) and detections with boxes in image pixels"),
              (status = 400, description = "Not a frame id (problem+json)"),
              (status = 404, description = "No accepted frame with that id (problem+json)")))]
pub(crate) async fn get_frame(
    store: web::Data<Store>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = frame_id(&path)?;
    let frame = store
        .db
        .public_frame(id)
        .await?
        .ok_or_else(|| no_frame(id))?;
    let detections = store.db.detections_of(id).await?;
    let base = format!("/api/v1/frames/{id}");
    Ok(HttpResponse::Ok().json(json!({
        "id": id,
        "captured_at": frame.captured_at_ms,
        "lat": frame.lat,
        "lon": frame.lon,
        "heading": frame.heading,
        "quality": frame.quality,
        "width": frame.width,
        "height": frame.height,
        "contributor": { "id": frame.contributor_id, "name": frame.contributor_name },
        "capture": frame.capture_id,
        "sequence": {
            "id": frame.sequence_id,
            "previous": frame.previous,
            "next": frame.next,
        },
        "detections": detections.iter().map(|d| json!({
            "kind": d.kind,
            "class": d.class,
            "confidence": d.confidence,
            "box": { "x": d.bbox[0], "y": d.bbox[1], "w": d.bbox[2], "h": d.bbox[3] },
        })).collect::<Vec<_>>(),
        "image": format!("{base}/image.jpg"),
        "thumbnail": format!("{base}/thumbnail.jpg"),
    })))
}

/// The public (privacy-blurred) JPEG of an accepted frame.
#[utoipa::path(get, path = "/api/v1/frames/{sha256}/image.jpg", tag = "public",
    params(("sha256" = String, Path, description = "Frame id")),
    responses((status = 200, description = "The blurred JPEG", content_type = "image/jpeg"),
              (status = 404, description = "No accepted frame with that id (problem+json)")))]
pub(crate) async fn get_image(
    store: web::Data<Store>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = frame_id(&path)?;
    public_blob(&store, id, BlobKey::public_frame(&id)).await
}

/// The thumbnail (320 px wide) of an accepted frame's public JPEG.
#[utoipa::path(get, path = "/api/v1/frames/{sha256}/thumbnail.jpg", tag = "public",
    params(("sha256" = String, Path, description = "Frame id")),
    responses((status = 200, description = "The thumbnail JPEG", content_type = "image/jpeg"),
              (status = 404, description = "No accepted frame with that id (problem+json)")))]
pub(crate) async fn get_thumbnail(
    store: web::Data<Store>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = frame_id(&path)?;
    public_blob(&store, id, BlobKey::thumbnail(&id)).await
}

/// The blob of an accepted frame; the response carries the frame's cell-week
/// ([`ConsumedCoverage`]) for metering.
async fn public_blob(store: &Store, id: FrameId, key: BlobKey) -> ApiResult<HttpResponse> {
    let Some(frame) = store.db.public_frame(id).await? else {
        return Err(no_frame(id));
    };
    let bytes = match store.blobs.get(&key).await {
        Ok(bytes) => bytes,
        Err(store::Error::BlobNotFound { .. }) => {
            return Err(ApiError::NotFound(format!(
                "frame {id} has no public image yet; try again in a moment"
            )));
        }
        Err(other) => return Err(other.into()),
    };
    let mut response = HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header((header::CACHE_CONTROL, IMAGE_CACHE_CONTROL))
        .body(bytes);
    response
        .extensions_mut()
        .insert(ConsumedCoverage::of_frames([(
            frame.lat,
            frame.lon,
            TimestampMs(frame.captured_at_ms),
        )]));
    Ok(response)
}

/// A hit as JSON; a feature's adds its id, status (as of `now_ms`), first sighting and URL.
fn hit_json(hit: &SearchHit, now_ms: i64) -> Value {
    let mut value = json!({
        "kind": hit.kind.as_str(),
        "frame": hit.frame,
        "capture": hit.capture,
        "contributor": hit.contributor,
        "captured_at": hit.captured_at.as_millis(),
        "lat": hit.lat,
        "lon": hit.lon,
        "sign_class": hit.sign_class,
    });
    if let Some(feature) = &hit.feature {
        let status = features::change::status_of(
            feature.gone_at.map(TimestampMs::as_millis),
            feature.first_seen.as_millis(),
            now_ms,
        );
        value["feature"] = json!({
            "id": feature.id,
            "status": status.as_str(),
            "first_seen": feature.first_seen.as_millis(),
            "gone_at": feature.gone_at.map(TimestampMs::as_millis),
            "url": format!("/api/v1/features/{}", feature.id),
        });
    }
    value
}

/// Search frames, signs and map features: every parameter given must match; newest first.
#[utoipa::path(get, path = "/api/v1/search", tag = "public", params(SearchParams),
    responses((status = 200, description = "`{count, results: [{kind, frame, capture, contributor, captured_at, lat, lon, sign_class, feature?}]}`. A `feature` hit is one map feature: `frame` is the newest photo of it, `capture` is null, `contributor` its first observer, `captured_at` when it was last seen, and `feature` holds its id, status, first sighting, gone_at and URL"),
              (status = 400, description = "An empty search or a malformed parameter (problem+json)")))]
pub(crate) async fn search(
    store: web::Data<Store>,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    if !decodes_to_utf8(request.query_string()) {
        return Err(ApiError::Invalid(
            "the query string is not UTF-8 once percent-decoded; encode the words as UTF-8".into(),
        ));
    }
    let params = web::Query::<SearchParams>::from_query(request.query_string())
        .map_err(|err| {
            ApiError::Invalid(format!(
                "{err}; the parameters are q, kind, contributor, near, cell, after, before and limit"
            ))
        })?
        .into_inner();
    let query = search_query(&params).map_err(ApiError::Invalid)?;
    let index = store.search.clone();
    let hits = web::block(move || index.search(&query))
        .await
        .map_err(|err| ApiError::Store(store::Error::Corrupt(err.to_string())))?
        .map_err(|err| match err {
            store::Error::SearchQuery(reason) => ApiError::Invalid(reason),
            other => ApiError::Store(other),
        })?;
    // A capture held for review is not served: its hits are left out (a page may then hold
    // fewer than `limit`).
    let captures: Vec<_> = hits.iter().filter_map(|hit| hit.capture).collect();
    let held = store.db.held_now_among(&captures).await?;
    let hits: Vec<_> = hits
        .into_iter()
        .filter(|hit| hit.capture.is_none_or(|capture| !held.contains(&capture)))
        .collect();
    let now_ms = TimestampMs::now().as_millis();
    let mut response = HttpResponse::Ok().json(json!({
        "count": hits.len(),
        "results": hits.iter().map(|hit| hit_json(hit, now_ms)).collect::<Vec<_>>(),
    }));
    response
        .extensions_mut()
        .insert(ConsumedCoverage::of_frames(
            hits.iter().map(|hit| (hit.lat, hit.lon, hit.captured_at)),
        ));
    Ok(response)
}

/// The captures of the bearer token's contributor, newest first, with every frame's outcome.
#[utoipa::path(get, path = "/api/v1/contributors/me/captures", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "`{captures: [{id, device, state, received_at, counts, frames: [{index, sha256, status, reject_reason, advice, quality}]}]}`"),
              (status = 401, description = "Missing or unknown token (problem+json)")))]
pub(crate) async fn my_captures(
    store: web::Data<Store>,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    let contributor = crate::accounts::authenticate(&store, &request).await?;
    let captures = store
        .db
        .captures_of_contributor(contributor.id, MAX_CAPTURES)
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "contributor": contributor.id,
        "captures": captures.iter().map(|capture| {
            json!({
                "id": capture.id,
                "device": capture.device_id,
                "state": capture.state,
                "received_at": capture.received_at_ms,
                "counts": outcome_counts(&capture.frames),
                "frames": capture.frames.iter().map(frame_outcome).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
    })))
}

/// The cells the bearer token's contributor mapped first, grouped by reward epoch (ISO week,
/// newest first).
#[utoipa::path(get, path = "/api/v1/contributors/me/coverage", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "`{contributor, cells, epochs: [{epoch, cells: [h3 index]}]}`: the H3 res-12 cells you were first in, per ISO-week epoch"),
              (status = 401, description = "Missing or unknown token (problem+json)")))]
pub(crate) async fn my_coverage(
    store: web::Data<Store>,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    let contributor = crate::accounts::authenticate(&store, &request).await?;
    let firsts = store.db.first_cells_of(contributor.id).await?;
    let mut epochs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (cell, first_ms) in &firsts {
        let cell = h3o::CellIndex::try_from(*cell)
            .map(|c| c.to_string())
            .unwrap_or_else(|_| format!("{cell:x}"));
        epochs
            .entry(model::iso_week(TimestampMs(*first_ms)))
            .or_default()
            .push(cell);
    }
    Ok(HttpResponse::Ok().json(json!({
        "contributor": contributor.id,
        "cells": firsts.len(),
        "epochs": epochs.iter().rev().map(|(epoch, cells)| json!({ "epoch": epoch, "cells": cells })).collect::<Vec<_>>(),
    })))
}
