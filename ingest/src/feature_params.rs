//! The parameters of `GET /api/v1/features`, read from the query string into a store query:
//! every value from outside checked and bounded here (pure: no IO, no actix).

use serde::Deserialize;
use store::{FeatureQuery, MAX_FEATURE_PAGE, StatusFilter};

use crate::search_params::parse_time;

const DEFAULT_FEATURE_LIMIT: u32 = 100;
/// Longest class name a filter may give (the longest real one is ~40 characters).
const MAX_CLASS_CHARS: usize = 64;
/// A cursor is a feature id: `ft-` and 24 hex digits.
const CURSOR_CHARS: usize = 27;

/// The query string of `GET /api/v1/features`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeatureParams {
    /// `min_lon,min_lat,max_lon,max_lat` (WGS84 degrees): features inside.
    pub bbox: Option<String>,
    /// A class exactly as the features carry it (`stop`, `yield`, `speed limit 50`, …).
    pub class: Option<String>,
    /// `new` (first seen this epoch), `confirmed` or `gone`.
    pub status: Option<String>,
    /// Features that appeared, changed status or were seen again at or after this:
    /// milliseconds since 1970 or a `YYYY-MM-DD` day (UTC).
    pub changed_since: Option<String>,
    /// At most this many features (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page.
    pub cursor: Option<String>,
    /// A map consumer's API key (`wmk_…`; also accepted as `Authorization: Bearer`). Read by
    /// the metering in front of this route.
    #[allow(dead_code)]
    pub key: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Turns the query string into a store query, naming the first part that is wrong;
/// `epoch_start_ms` is when the current reward epoch began (what `new` means).
pub fn feature_query(params: &FeatureParams, epoch_start_ms: i64) -> Result<FeatureQuery, String> {
    let bbox = given(&params.bbox).map(parse_bbox).transpose()?;
    let class = given(&params.class)
        .map(|class| {
            if class.chars().count() > MAX_CLASS_CHARS || class.chars().any(char::is_control) {
                Err(format!(
                    "class is over {MAX_CLASS_CHARS} characters or holds control characters"
                ))
            } else {
                Ok(class.to_owned())
            }
        })
        .transpose()?;
    let status = match given(&params.status) {
        None => None,
        Some("new") => Some(StatusFilter::New {
            since_ms: epoch_start_ms,
        }),
        Some("confirmed") => Some(StatusFilter::Confirmed {
            since_ms: epoch_start_ms,
        }),
        Some("gone") => Some(StatusFilter::Gone),
        Some(other) => {
            return Err(format!(
                "status `{}` is not known; use new, confirmed or gone",
                other.chars().take(40).collect::<String>()
            ));
        }
    };
    let changed_since_ms = given(&params.changed_since)
        .map(|text| parse_time(text, "changed_since", false).map(|t| t.as_millis()))
        .transpose()?;
    let limit = params.limit.unwrap_or(DEFAULT_FEATURE_LIMIT);
    if !(1..=MAX_FEATURE_PAGE).contains(&limit) {
        return Err(format!("limit must be 1 to {MAX_FEATURE_PAGE}"));
    }
    let after_id = given(&params.cursor)
        .map(|cursor| {
            let well_formed = cursor.len() == CURSOR_CHARS
                && cursor.starts_with("ft-")
                && cursor[3..].bytes().all(|b| b.is_ascii_hexdigit());
            if well_formed {
                Ok::<_, String>(cursor.to_owned())
            } else {
                Err("cursor is not one this API gave: pass the `next` of the previous page".into())
            }
        })
        .transpose()?;
    Ok(FeatureQuery {
        bbox,
        class,
        status,
        changed_since_ms,
        after_id,
        limit,
    })
}

/// `min_lon,min_lat,max_lon,max_lat`, each finite and in range, min ≤ max.
fn parse_bbox(text: &str) -> Result<(f64, f64, f64, f64), String> {
    let wrong = || {
        format!(
            "bbox `{}` is not min_lon,min_lat,max_lon,max_lat in degrees (longitudes -180 to 180, latitudes -90 to 90, min ≤ max)",
            text.chars().take(80).collect::<String>()
        )
    };
    let parts: Vec<f64> = text
        .split(',')
        .map(|part| part.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| wrong())?;
    let [min_lon, min_lat, max_lon, max_lat] = parts[..] else {
        return Err(wrong());
    };
    let lon = -180.0..=180.0;
    let lat = -90.0..=90.0;
    let fine = lon.contains(&min_lon)
        && lon.contains(&max_lon)
        && lat.contains(&min_lat)
        && lat.contains(&max_lat)
        && min_lon <= max_lon
        && min_lat <= max_lat;
    if fine {
        Ok((min_lon, min_lat, max_lon, max_lat))
    } else {
        Err(wrong())
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn params(query: &str) -> FeatureParams {
        serde_urlencoded_like(query)
    }

    /// Builds params the way the route does (actix's `Query` is serde_urlencoded).
    fn serde_urlencoded_like(query: &str) -> FeatureParams {
        actix_web::web::Query::<FeatureParams>::from_query(query)
            .expect("parses")
            .into_inner()
    }

    #[test]
    fn every_filter_reaches_the_store_query() {
        let query = feature_query(
            &params("bbox=7.4,43.7,7.5,43.8&class=stop&status=new&changed_since=2026-11-30&limit=5&cursor=ft-0123456789abcdef01234567"),
            1_000,
        )
        .unwrap();
        assert_eq!(query.bbox, Some((7.4, 43.7, 7.5, 43.8)));
        assert_eq!(query.class.as_deref(), Some("stop"));
        assert_eq!(query.status, Some(StatusFilter::New { since_ms: 1_000 }));
        assert_eq!(query.changed_since_ms, Some(1_795_996_800_000));
        assert_eq!(query.limit, 5);
        assert_eq!(
            query.after_id.as_deref(),
            Some("ft-0123456789abcdef01234567")
        );
    }

    #[rstest]
    #[case("bbox=7.4,43.7,7.5")]
    #[case("bbox=7.5,43.7,7.4,43.8")]
    #[case("bbox=NaN,43.7,7.5,43.8")]
    #[case("bbox=inf,43.7,7.5,43.8")]
    #[case("bbox=7.4,-91,7.5,43.8")]
    #[case("bbox=1e309,0,0,0")]
    #[case("status=moved")]
    #[case("changed_since=99999999999999999-01-01")]
    #[case("changed_since=2026-13-01")]
    #[case("limit=0")]
    #[case("limit=1001")]
    #[case("cursor=ft-xyz")]
    #[case("cursor=../../etc/passwd")]
    fn bad_values_are_refused_with_what_is_wrong(#[case] query: &str) {
        let error = feature_query(&params(query), 0).unwrap_err();
        let name = query.split('=').next().unwrap();
        assert!(error.contains(name), "{error}");
    }

    #[test]
    fn a_class_with_control_characters_or_too_long_is_refused() {
        assert!(feature_query(&params("class=stop%00"), 0).is_err());
        let long = "a".repeat(65);
        assert!(feature_query(&params(&format!("class={long}")), 0).is_err());
    }
}
