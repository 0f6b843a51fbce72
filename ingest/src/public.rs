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
use h3o::{CellIndex, LatLng, Resolution};
use model::{ConsumedCoverage, ContributorId, FrameId, TimestampMs, UsageKind};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{BlobKey, SearchHit, SearchKind, SearchQuery, Store};

use crate::uploads::{frame_outcome, outcome_counts};

use crate::problem::{ApiError, ApiResult};

/// A `near=lat,lon` search looks in the res-9 cell around the point (edges of about 200 m).
const NEAR_RESOLUTION: Resolution = Resolution::Nine;
const DEFAULT_SEARCH_LIMIT: usize = 50;
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

/// The query string of `GET /api/v1/search`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    /// Words: a sign class (`stop`, `yield`, `speed limit 50`) or a quality tag.
    q: Option<String>,
    /// `frame` or `sign`.
    kind: Option<String>,
    /// A contributor id (UUID).
    contributor: Option<String>,
    /// `lat,lon`: documents within about 200 m (the res-9 H3 cell around the point).
    near: Option<String>,
    /// An H3 cell (hex, resolution 3 to 15): documents inside it.
    cell: Option<String>,
    /// Captured at or after: milliseconds since the epoch or a `YYYY-MM-DD` day (UTC).
    after: Option<String>,
    /// Captured at or before: milliseconds since the epoch or a `YYYY-MM-DD` day (UTC, inclusive).
    before: Option<String>,
    /// At most this many results (1 to 1000, default 50).
    limit: Option<usize>,
    /// A map consumer's API key (`wmk_…`; also accepted as `Authorization: Bearer`). Read by
    /// the metering in front of this route, not by the search.
    #[allow(dead_code)]
    key: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Turns the query string into a store query, naming the first part that is wrong.
fn search_query(params: &SearchParams) -> ApiResult<SearchQuery> {
    let kind = match given(&params.kind) {
        None => None,
        Some("frame") => Some(SearchKind::Frame),
        Some("sign") => Some(SearchKind::Sign),
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "kind `{other}` is not known; use `frame` or `sign`"
            )));
        }
    };
    let contributor = given(&params.contributor)
        .map(|text| {
            text.parse::<ContributorId>().map_err(|err| {
                ApiError::Invalid(format!("contributor: {err}; it is the account's UUID"))
            })
        })
        .transpose()?;
    let near = given(&params.near).map(parse_near).transpose()?;
    let cell = given(&params.cell)
        .map(|text| {
            text.parse::<CellIndex>().map_err(|_| {
                ApiError::Invalid(format!(
                    "cell `{text}` is not an H3 cell index (15 hex digits, e.g. 891f8d7a49bffff)"
                ))
            })
        })
        .transpose()?;
    if near.is_some() && cell.is_some() {
        return Err(ApiError::Invalid(
            "give either near=lat,lon or cell=, not both".into(),
        ));
    }
    let after = given(&params.after)
        .map(|t| parse_time(t, "after", false))
        .transpose()?;
    let before = given(&params.before)
        .map(|t| parse_time(t, "before", true))
        .transpose()?;
    let text = given(&params.q).map(str::to_owned);
    let nothing = text.is_none()
        && kind.is_none()
        && contributor.is_none()
        && near.is_none()
        && cell.is_none()
        && after.is_none()
        && before.is_none();
    if nothing {
        return Err(ApiError::Invalid(
            "the search is empty; give q= (a sign such as `stop`), contributor=, near=lat,lon, cell=, after= or before="
                .into(),
        ));
    }
    Ok(SearchQuery {
        text,
        kind,
        contributor,
        cell: near.or(cell),
        after,
        before,
        limit: params.limit.unwrap_or(DEFAULT_SEARCH_LIMIT),
    })
}

fn parse_near(text: &str) -> ApiResult<CellIndex> {
    let bad = || {
        ApiError::Invalid(format!(
            "near `{text}` is not `lat,lon` in degrees (e.g. 48.137,11.575)"
        ))
    };
    let (lat, lon) = text.split_once(',').ok_or_else(bad)?;
    let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
    let lon: f64 = lon.trim().parse().map_err(|_| bad())?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(bad());
    }
    let position = LatLng::new(lat, lon).map_err(|_| bad())?;
    Ok(position.to_cell(NEAR_RESOLUTION))
}

const DAY_MS: i64 = 86_400_000;
/// The times a search can name: years 1 to 9999, so no day or millisecond count from a URL
/// can overflow the arithmetic below or the index's ranges.
const FIRST_YEAR: i64 = 1;
const LAST_YEAR: i64 = 9999;
/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in ms since 1970.
const MIN_SEARCH_MS: i64 = -62_135_596_800_000;
const MAX_SEARCH_MS: i64 = 253_402_300_799_999;

/// Milliseconds since the epoch, or a `YYYY-MM-DD` day (its start, or its end when
/// `end_of_day`), within years 1 to 9999.
fn parse_time(text: &str, name: &str, end_of_day: bool) -> ApiResult<TimestampMs> {
    let out_of_range = || {
        ApiError::Invalid(format!(
            "{name} `{}` is outside the years {FIRST_YEAR} to {LAST_YEAR}",
            text.chars().take(40).collect::<String>()
        ))
    };
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Milliseconds: digits with an optional leading minus.
        let ms: i64 = text.parse().map_err(|_| out_of_range())?;
        if !(MIN_SEARCH_MS..=MAX_SEARCH_MS).contains(&ms) {
            return Err(out_of_range());
        }
        return Ok(TimestampMs(ms));
    }
    let day = parse_day(text).ok_or_else(|| {
        ApiError::Invalid(format!(
            "{name} `{}` is neither a YYYY-MM-DD day (years {FIRST_YEAR} to {LAST_YEAR}) nor milliseconds since 1970",
            text.chars().take(40).collect::<String>()
        ))
    })?;
    let start = day * DAY_MS;
    Ok(TimestampMs(if end_of_day {
        start + DAY_MS - 1
    } else {
        start
    }))
}

/// Days since 1970-01-01 of a proleptic Gregorian `YYYY-MM-DD` in years 1 to 9999: four
/// digits, two, two.
fn parse_day(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let shape = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape {
        return None;
    }
    let year: i64 = text[..4].parse().ok()?;
    let month: i64 = text[5..7].parse().ok()?;
    let day: i64 = text[8..].parse().ok()?;
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Whether a query string percent-decodes (`+` as a space) to UTF-8 text: the query parser
/// would otherwise replace bad bytes silently and search for something else.
fn decodes_to_utf8(query: &str) -> bool {
    let bytes = query.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[at] {
            b'%' => match (
                bytes.get(at + 1).and_then(|b| hex(*b)),
                bytes.get(at + 2).and_then(|b| hex(*b)),
            ) {
                (Some(high), Some(low)) => {
                    decoded.push((high * 16 + low) as u8);
                    at += 3;
                }
                // A lone `%` is taken literally, as the query parser takes it.
                _ => {
                    decoded.push(b'%');
                    at += 1;
                }
            },
            b'+' => {
                decoded.push(b' ');
                at += 1;
            }
            other => {
                decoded.push(other);
                at += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

fn hit_json(hit: &SearchHit) -> Value {
    json!({
        "kind": match hit.kind { SearchKind::Frame => "frame", SearchKind::Sign => "sign" },
        "frame": hit.frame,
        "capture": hit.capture,
        "contributor": hit.contributor,
        "captured_at": hit.captured_at.as_millis(),
        "lat": hit.lat,
        "lon": hit.lon,
        "sign_class": hit.sign_class,
    })
}

/// Search frames and signs: every parameter given must match; newest first.
#[utoipa::path(get, path = "/api/v1/search", tag = "public", params(SearchParams),
    responses((status = 200, description = "`{results: [{kind, frame, capture, contributor, captured_at, lat, lon, sign_class}]}`"),
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
    let query = search_query(&params)?;
    let index = store.search.clone();
    let hits = web::block(move || index.search(&query))
        .await
        .map_err(|err| ApiError::Store(store::Error::Corrupt(err.to_string())))?
        .map_err(|err| match err {
            store::Error::SearchQuery(reason) => ApiError::Invalid(reason),
            other => ApiError::Store(other),
        })?;
    let mut response = HttpResponse::Ok().json(json!({
        "count": hits.len(),
        "results": hits.iter().map(hit_json).collect::<Vec<_>>(),
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

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("1970-01-01", 0)]
    #[case("2000-03-01", 11_017)]
    #[case("2026-11-24", 20_781)]
    fn days_are_counted_from_1970(#[case] text: &str, #[case] days: i64) {
        assert_eq!(parse_day(text), Some(days));
    }

    #[rstest]
    #[case("2026-02-29")]
    #[case("2026-13-01")]
    #[case("yesterday")]
    #[case("99999999999999999-01-01")]
    #[case("0000-01-01")]
    #[case("+2026-01-01")]
    #[case("2026-1-01")]
    #[case("2026-01-01x")]
    #[case("")]
    fn impossible_days_are_refused(#[case] text: &str) {
        assert_eq!(parse_day(text), None);
    }

    #[rstest]
    #[case("99999999999999999-01-01")]
    #[case("99999999999999999999999")]
    #[case("-99999999999999999")]
    #[case("253402300800000")]
    #[case("-")]
    #[case("1-2")]
    fn absurd_times_are_refused_not_wrapped(#[case] text: &str) {
        let err = parse_time(text, "after", false).unwrap_err();
        assert!(matches!(err, ApiError::Invalid(_)), "{err}");
    }

    #[rstest]
    #[case("q=stop", true)]
    #[case("q=speed+limit+50&kind=sign", true)]
    #[case("q=%C3%A9t%C3%A9", true)]
    #[case("q=100%", true)]
    #[case("q=%FF%FE", false)]
    #[case("q=%C3", false)]
    #[case("near=1,2&q=a%80", false)]
    fn query_strings_must_decode_to_utf8(#[case] query: &str, #[case] utf8: bool) {
        assert_eq!(decodes_to_utf8(query), utf8);
    }

    #[rstest]
    #[case("0001-01-01", false, MIN_SEARCH_MS)]
    #[case("9999-12-31", true, MAX_SEARCH_MS)]
    #[case("-1000", false, -1000)]
    #[case("1700000000000", false, 1_700_000_000_000)]
    fn the_ends_of_the_range_are_exact(
        #[case] text: &str,
        #[case] end_of_day: bool,
        #[case] ms: i64,
    ) {
        assert_eq!(
            parse_time(text, "after", end_of_day).unwrap(),
            TimestampMs(ms)
        );
    }

    #[test]
    fn an_empty_search_says_what_to_give() {
        let err = search_query(&SearchParams {
            q: Some("  ".into()),
            ..SearchParams::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("q= (a sign"), "{err}");
    }

    #[test]
    fn a_day_range_covers_both_whole_days() {
        let query = search_query(&SearchParams {
            after: Some("2026-11-24".into()),
            before: Some("2026-11-24".into()),
            ..SearchParams::default()
        })
        .unwrap();
        assert_eq!(query.after, Some(TimestampMs(20_781 * DAY_MS)));
        assert_eq!(query.before, Some(TimestampMs(20_782 * DAY_MS - 1)));
    }

    #[test]
    fn near_is_the_res_9_cell_around_the_point() {
        let query = search_query(&SearchParams {
            near: Some("48.137, 11.575".into()),
            ..SearchParams::default()
        })
        .unwrap();
        let cell = query.cell.unwrap();
        assert_eq!(cell.resolution(), Resolution::Nine);
        assert_eq!(
            cell,
            LatLng::new(48.137, 11.575)
                .unwrap()
                .to_cell(Resolution::Nine)
        );
        let bad = search_query(&SearchParams {
            near: Some("48.1;11.5".into()),
            ..SearchParams::default()
        })
        .unwrap_err();
        assert!(bad.to_string().contains("lat,lon"), "{bad}");
    }
}
