//! `GET /api/v1/search`: the query string read into a store query
//! (`ingest/src/search_params.rs`, compiled in as it is) and run against a real tantivy index
//! in memory (`store::SearchIndex`) holding a frame and a sign. No query may crash, overflow
//! or be answered with anything but hits or a typed `SearchQuery` error.
#![no_main]

#[path = "../../ingest/src/search_params.rs"]
#[allow(dead_code)]
mod search_params;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use model::{CaptureId, ContributorId, DeviceId, FrameId, TimestampMs};
use store::{SearchDocument, SearchIndex, SearchKind};

fn index() -> &'static SearchIndex {
    static INDEX: OnceLock<SearchIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let index = SearchIndex::in_memory().unwrap();
        let capture = CaptureId::new();
        let frame = SearchDocument {
            kind: SearchKind::Frame,
            frame: FrameId::of_bytes(b"frame"),
            capture,
            contributor: ContributorId::new(),
            device: DeviceId::new(),
            captured_at: TimestampMs(1_700_000_000_000),
            lat: 48.1372,
            lon: 11.5755,
            sign_class: None,
            tags: vec!["good".into()],
        };
        let sign = SearchDocument {
            kind: SearchKind::Sign,
            sign_class: Some("speed-limit-50".into()),
            ..frame.clone()
        };
        index.replace_capture(capture, &[frame, sign]).unwrap();
        index
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(query_string) = std::str::from_utf8(data) else {
        return;
    };
    if !search_params::decodes_to_utf8(query_string) {
        return;
    }
    let Ok(params) = serde_urlencoded::from_str::<search_params::SearchParams>(query_string) else {
        return;
    };
    let Ok(query) = search_params::search_query(&params) else {
        return;
    };
    // Every time the parameters let through is inside years 1 to 9999.
    for time in [query.after, query.before].into_iter().flatten() {
        assert!((-62_135_596_800_000..=253_402_300_799_999).contains(&time.as_millis()));
    }
    match index().search(&query) {
        Ok(hits) => assert!(hits.len() <= query.limit.clamp(1, 1_000)),
        Err(store::Error::SearchQuery(_)) => {}
        Err(other) => panic!("a search failed for another reason than its query: {other}"),
    }
});
