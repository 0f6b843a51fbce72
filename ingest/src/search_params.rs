//! The parameters of `GET /api/v1/search`, read from the query string into a store query:
//! every value from outside checked and bounded here (pure: no IO, no actix), so the search
//! route and the fuzz target (`fuzz/fuzz_targets/search.rs`) run the same code.

use h3o::{CellIndex, LatLng, Resolution};
use model::{ContributorId, TimestampMs};
use serde::Deserialize;
use store::{SearchKind, SearchQuery};

/// A `near=lat,lon` search looks in the res-9 cell around the point (edges of about 200 m).
const NEAR_RESOLUTION: Resolution = Resolution::Nine;
const DEFAULT_SEARCH_LIMIT: usize = 50;

/// The query string of `GET /api/v1/search`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words: a sign class (`stop`, `yield`, `speed limit 50`) or a quality tag.
    pub q: Option<String>,
    /// `frame`, `sign` or `feature` (a map feature: one real-world sign).
    pub kind: Option<String>,
    /// A contributor id (UUID): their frames and signs, and the features they saw first.
    pub contributor: Option<String>,
    /// `lat,lon`: documents within about 200 m (the res-9 H3 cell around the point).
    pub near: Option<String>,
    /// An H3 cell (hex, resolution 3 to 15): documents inside it.
    pub cell: Option<String>,
    /// Captured (a feature: last seen) at or after: milliseconds since the epoch or a `YYYY-MM-DD` day (UTC).
    pub after: Option<String>,
    /// Captured at or before: milliseconds since the epoch or a `YYYY-MM-DD` day (UTC, inclusive).
    pub before: Option<String>,
    /// At most this many results (1 to 1000, default 50).
    pub limit: Option<usize>,
    /// A map consumer's API key (`wmk_…`; also accepted as `Authorization: Bearer`). Read by
    /// the metering in front of this route, not by the search.
    #[allow(dead_code)]
    pub key: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Turns the query string into a store query, naming the first part that is wrong.
pub fn search_query(params: &SearchParams) -> Result<SearchQuery, String> {
    let kind = given(&params.kind)
        .map(|text| {
            SearchKind::parse(text).ok_or_else(|| {
                format!("kind `{text}` is not known; use `frame`, `sign` or `feature`")
            })
        })
        .transpose()?;
    let contributor = given(&params.contributor)
        .map(|text| {
            text.parse::<ContributorId>()
                .map_err(|err| format!("contributor: {err}; it is the account's UUID"))
        })
        .transpose()?;
    let near = given(&params.near).map(parse_near).transpose()?;
    let cell = given(&params.cell)
        .map(|text| {
            text.parse::<CellIndex>().map_err(|_| {
                format!(
                    "cell `{text}` is not an H3 cell index (15 hex digits, e.g. 891f8d7a49bffff)"
                )
            })
        })
        .transpose()?;
    if near.is_some() && cell.is_some() {
        return Err("give either near=lat,lon or cell=, not both".into());
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
        return Err("the search is empty; give q= (a sign such as `stop`), contributor=, near=lat,lon, cell=, after= or before=".into());
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

fn parse_near(text: &str) -> Result<CellIndex, String> {
    let bad = || format!("near `{text}` is not `lat,lon` in degrees (e.g. 48.137,11.575)");
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
pub(crate) fn parse_time(text: &str, name: &str, end_of_day: bool) -> Result<TimestampMs, String> {
    let out_of_range = || {
        format!(
            "{name} `{}` is outside the years {FIRST_YEAR} to {LAST_YEAR}",
            text.chars().take(40).collect::<String>()
        )
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
        format!(
            "{name} `{}` is neither a YYYY-MM-DD day (years {FIRST_YEAR} to {LAST_YEAR}) nor milliseconds since 1970",
            text.chars().take(40).collect::<String>()
        )
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
pub fn decodes_to_utf8(query: &str) -> bool {
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
        assert!(err.starts_with("after `"), "{err}");
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
