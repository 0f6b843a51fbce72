//! Map features as consumers read them:
//!
//! - `GET /api/v1/features?bbox=&class=&status=&changed_since=&limit=&cursor=` → a GeoJSON
//!   FeatureCollection, by id, with `next` (the cursor of the following page, or null).
//!   Metered as a search.
//! - `GET /api/v1/features/{id}` → one feature with every observation: the frame (its
//!   public image and thumbnail), where the camera stood and the bearing it saw it at.
//!
//! The same GeoJSON and CSV forms serve `waymark features export`.
//!
//! Never does: compute a feature (the `features` job does) or serve an original frame.

use actix_web::{HttpRequest, HttpResponse, web};
use features::change::{status_of, week_start_ms};
use model::{ConsumedCoverage, TimestampMs, UsageKind};
use serde_json::{Value, json};
use store::{FeatureRow, ObservationRow, Store};

use crate::feature_params::{FeatureParams, feature_query};
use crate::problem::{ApiError, ApiResult};
use crate::public::MeterRoute;
use crate::search_params::decodes_to_utf8;

/// Registers the feature routes; the list goes through `meter`.
pub fn configure(config: &mut web::ServiceConfig, meter: MeterRoute) {
    config
        .route(
            "/api/v1/features",
            meter(web::get().to(list_features), UsageKind::Search),
        )
        .route("/api/v1/features/{id}", web::get().to(get_feature));
}

/// A stored feature as a GeoJSON Feature, its status as of `now_ms`.
pub fn feature_geojson(row: &FeatureRow, now_ms: i64) -> Value {
    json!({
        "type": "Feature",
        "id": row.id,
        "geometry": { "type": "Point", "coordinates": [row.lon, row.lat] },
        "properties": {
            "class": row.class,
            "status": status_of(row.gone_at_ms, row.first_seen_ms, now_ms).as_str(),
            "uncertainty_m": round(row.uncertainty_m, 2),
            "method": row.method,
            "facing_deg": row.facing_deg.map(|f| round(f, 1)),
            "first_seen": row.first_seen_ms,
            "last_seen": row.last_seen_ms,
            "observations": row.observation_count,
            "passes": row.passes,
            "misses": row.misses,
            "gone_at": row.gone_at_ms,
            "changed_at": row.changed_at_ms,
            "first_contributor": row.first_contributor_id,
            "url": format!("/api/v1/features/{}", row.id),
        },
    })
}

/// The CSV header of [`feature_csv`].
pub const CSV_HEADER: &str = "id,class,lat,lon,status,uncertainty_m,method,facing_deg,first_seen_ms,last_seen_ms,observations,passes,misses,gone_at_ms,changed_at_ms,first_contributor";

/// A stored feature as one CSV line (RFC 4180 quoting), without the line end.
pub fn feature_csv(row: &FeatureRow, now_ms: i64) -> String {
    let optional = |value: Option<String>| value.unwrap_or_default();
    [
        quoted(&row.id),
        quoted(&row.class),
        format!("{:.7}", row.lat),
        format!("{:.7}", row.lon),
        status_of(row.gone_at_ms, row.first_seen_ms, now_ms)
            .as_str()
            .to_owned(),
        format!("{:.2}", row.uncertainty_m),
        quoted(&row.method),
        optional(row.facing_deg.map(|f| format!("{f:.1}"))),
        row.first_seen_ms.to_string(),
        row.last_seen_ms.to_string(),
        row.observation_count.to_string(),
        row.passes.to_string(),
        row.misses.to_string(),
        optional(row.gone_at_ms.map(|t| t.to_string())),
        row.changed_at_ms.to_string(),
        quoted(&row.first_contributor_id),
    ]
    .join(",")
}

fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn observation_json(o: &ObservationRow) -> Value {
    let frame = format!("/api/v1/frames/{}", o.frame_sha256);
    json!({
        "frame": o.frame_sha256,
        "capture": o.capture_id,
        "sequence": o.sequence_id,
        "contributor": o.contributor_id,
        "captured_at": o.time_ms,
        "camera": { "lat": o.lat, "lon": o.lon },
        "bearing_deg": round(o.bearing_deg, 1),
        "range_m": round(o.range_m, 1),
        "heading_source": o.heading_source,
        "frame_url": frame,
        "image": format!("{frame}/image.jpg"),
        "thumbnail": format!("{frame}/thumbnail.jpg"),
    })
}

/// Map features in a box, by class, status or change date: a GeoJSON FeatureCollection.
#[utoipa::path(get, path = "/api/v1/features", tag = "public", params(FeatureParams),
    responses((status = 200, description = "GeoJSON `FeatureCollection` of features (`properties`: class, status, uncertainty_m, method, facing_deg, first_seen, last_seen, observations, passes, misses, gone_at, changed_at, first_contributor, url) with `next`, the cursor of the following page or null", content_type = "application/geo+json"),
              (status = 400, description = "A malformed parameter (problem+json)")))]
pub(crate) async fn list_features(
    store: web::Data<Store>,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    if !decodes_to_utf8(request.query_string()) {
        return Err(ApiError::Invalid(
            "the query string is not UTF-8 once percent-decoded; encode values as UTF-8".into(),
        ));
    }
    let params = web::Query::<FeatureParams>::from_query(request.query_string())
        .map_err(|err| {
            ApiError::Invalid(format!(
                "{err}; the parameters are bbox, class, status, changed_since, limit and cursor"
            ))
        })?
        .into_inner();
    let now = TimestampMs::now().as_millis();
    let query = feature_query(&params, week_start_ms(now)).map_err(ApiError::Invalid)?;
    let rows = store.db.features_page(&query).await?;
    let next = (rows.len() == query.limit as usize)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let mut response = HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(json!({
            "type": "FeatureCollection",
            "features": rows.iter().map(|row| feature_geojson(row, now)).collect::<Vec<_>>(),
            "next": next,
        }));
    response
        .extensions_mut()
        .insert(ConsumedCoverage::of_frames(
            rows.iter()
                .map(|row| (row.lat, row.lon, TimestampMs(row.last_seen_ms))),
        ));
    Ok(response)
}

/// One map feature with every observation of it (the photos that saw it).
#[utoipa::path(get, path = "/api/v1/features/{id}", tag = "public",
    params(("id" = String, Path, description = "Feature id: `ft-` and 24 hex digits")),
    responses((status = 200, description = "A GeoJSON Feature whose properties add `observations_list`: frame, capture, sequence, contributor, captured_at, camera position, bearing_deg, range_m, heading_source, image and thumbnail URLs"),
              (status = 400, description = "Not a feature id (problem+json)"),
              (status = 404, description = "No such feature (problem+json)")))]
pub(crate) async fn get_feature(
    store: web::Data<Store>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let well_formed =
        id.len() == 27 && id.starts_with("ft-") && id[3..].bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(ApiError::Invalid(
            "a feature id is `ft-` and 24 hex digits".into(),
        ));
    }
    let Some(feature) = store.db.feature(&id).await? else {
        return Err(ApiError::NotFound(format!("no feature {id}")));
    };
    let mut body = feature_geojson(&feature.row, TimestampMs::now().as_millis());
    body["properties"]["observations_list"] = feature
        .observations
        .iter()
        .map(observation_json)
        .collect::<Vec<_>>()
        .into();
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> FeatureRow {
        FeatureRow {
            id: "ft-0123456789abcdef01234567".into(),
            class: "speed limit 50, \"zone\"".into(),
            lat: 43.7384,
            lon: 7.4246,
            cell: 0,
            uncertainty_m: 1.234,
            method: "intersection".into(),
            facing_deg: Some(181.26),
            first_seen_ms: 0,
            last_seen_ms: 10,
            first_contributor_id: "c".into(),
            passes: 3,
            misses: 0,
            gone_at_ms: None,
            changed_at_ms: 0,
            observation_count: 7,
        }
    }

    #[test]
    fn csv_quotes_what_needs_it_and_has_every_column() {
        let line = feature_csv(&row(), 0);
        assert!(line.contains("\"speed limit 50, \"\"zone\"\"\""), "{line}");
        assert_eq!(
            CSV_HEADER.split(',').count(),
            line.replace("\"speed limit 50, \"\"zone\"\"\"", "x")
                .split(',')
                .count()
        );
    }

    #[test]
    fn geojson_puts_longitude_first_and_names_the_status() {
        let value = feature_geojson(&row(), 5);
        assert_eq!(value["geometry"]["coordinates"][0], 7.4246);
        assert_eq!(value["properties"]["status"], "new");
        assert_eq!(value["properties"]["facing_deg"], 181.3);
    }
}
