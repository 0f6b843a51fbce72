//! The search index on disk: frames and signs placed along the real Munich drive.

use h3o::{LatLng, Resolution};
use model::{CaptureId, ContributorId, DeviceId, FrameId, TimestampMs};
use store::{FeatureDocument, SearchDocument, SearchIndex, SearchKind, SearchQuery};

/// Positions of the barefoot Munich drive (first fixes), one per frame.
fn munich_positions() -> Vec<(f64, f64)> {
    #[derive(serde::Deserialize)]
    struct Sample {
        point: String,
    }
    let samples: Vec<Sample> =
        serde_json::from_slice(&crate::dataset("gps/barefoot_munich_x0001-001.json")).unwrap();
    samples
        .iter()
        .take(200)
        .map(|s| {
            let inner = s.point.trim_start_matches("POINT(").trim_end_matches(')');
            let (lon, lat) = inner.split_once(' ').unwrap();
            (lat.parse().unwrap(), lon.parse().unwrap())
        })
        .collect()
}

fn documents(capture: CaptureId, contributor: ContributorId, start_ms: i64) -> Vec<SearchDocument> {
    let device = DeviceId::new();
    munich_positions()
        .into_iter()
        .enumerate()
        .map(|(i, (lat, lon))| {
            let is_sign = i % 50 == 0;
            SearchDocument {
                kind: if is_sign {
                    SearchKind::Sign
                } else {
                    SearchKind::Frame
                },
                frame: FrameId::of_bytes(format!("{capture}-{i}").as_bytes()),
                capture,
                contributor,
                device,
                captured_at: TimestampMs(start_ms + i as i64 * 1_000),
                lat,
                lon,
                sign_class: is_sign.then(|| {
                    if i == 0 {
                        "stop".into()
                    } else {
                        "speed-limit-50".into()
                    }
                }),
                tags: vec!["sharp".into()],
            }
        })
        .collect()
}

#[test]
fn queries_by_sign_contributor_place_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open_in_dir(dir.path()).unwrap();
    let alice = ContributorId::new();
    let bob = ContributorId::new();
    let day = 86_400_000;
    let t0 = 1_410_324_847_000;
    index
        .replace_capture(CaptureId::new(), &documents(CaptureId::new(), alice, t0))
        .unwrap();
    let bobs_capture = CaptureId::new();
    index
        .replace_capture(bobs_capture, &documents(bobs_capture, bob, t0 + day))
        .unwrap();
    assert_eq!(index.len(), 400);

    let stops = index
        .search(&SearchQuery {
            text: Some("stop".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(stops.len(), 2);
    assert!(
        stops
            .iter()
            .all(|h| h.sign_class.as_deref() == Some("stop"))
    );
    assert!(stops[0].captured_at > stops[1].captured_at, "newest first");

    let limits = index
        .search(&SearchQuery {
            text: Some("speed limit".into()),
            kind: Some(SearchKind::Sign),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(limits.len(), 6);

    let bobs = index
        .search(&SearchQuery {
            contributor: Some(bob),
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(bobs.len(), 200);

    let (lat, lon) = munich_positions()[100];
    for resolution in [
        Resolution::Three,
        Resolution::Seven,
        Resolution::Ten,
        Resolution::Twelve,
        Resolution::Fifteen,
    ] {
        let cell = LatLng::new(lat, lon).unwrap().to_cell(resolution);
        let here = index
            .search(&SearchQuery {
                cell: Some(cell),
                limit: 1000,
                ..Default::default()
            })
            .unwrap();
        assert!(!here.is_empty(), "{resolution}");
        assert!(
            here.iter()
                .all(|h| LatLng::new(h.lat, h.lon).unwrap().to_cell(resolution) == cell)
        );
    }

    let first_day = index
        .search(&SearchQuery {
            after: Some(TimestampMs(t0)),
            before: Some(TimestampMs(t0 + day - 1)),
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(first_day.len(), 200);
    assert!(first_day.iter().all(|h| h.contributor == Some(alice)));

    let nothing = index
        .search(&SearchQuery {
            text: Some("AND OR ((".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert!(
        nothing.is_empty(),
        "hostile query text is lenient, not an error"
    );
}

/// Query text never reaches a recursive parser: 750 nested parentheses (which overflowed
/// tantivy's query parser's stack and killed the process) are a typed error for their
/// length, and nesting within the length limit is just punctuation.
#[test]
fn query_text_is_words_not_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open_in_dir(dir.path()).unwrap();
    let capture = CaptureId::new();
    index
        .replace_capture(capture, &documents(capture, ContributorId::new(), 0))
        .unwrap();
    let query = |text: String| {
        index.search(&SearchQuery {
            text: Some(text),
            limit: 10,
            ..Default::default()
        })
    };
    let deep = format!("{}stop{}", "(".repeat(750), ")".repeat(750));
    let err = query(deep).unwrap_err();
    assert!(matches!(err, store::Error::SearchQuery(_)), "{err}");
    assert!(err.to_string().contains("limit is 200"), "{err}");
    let nested = format!("{}stop{}", "(".repeat(90), ")".repeat(90));
    assert_eq!(
        query(nested).unwrap().len(),
        1,
        "the word inside is the query"
    );
    let words = (0..17)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(query(words).unwrap_err().to_string().contains("17 words"));
    // Every word must match: the sign's class is split into words like the index's.
    assert_eq!(query("Speed-Limit 50".into()).unwrap().len(), 3);
    assert!(query("speed limit 30".into()).unwrap().is_empty());
    assert!(
        query("stop OR speed".into()).unwrap().is_empty(),
        "no operators"
    );
    assert!(query("((( )))".into()).unwrap().is_empty());
}

#[test]
fn replaying_a_capture_replaces_its_documents_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let capture = CaptureId::new();
    let contributor = ContributorId::new();
    {
        let index = SearchIndex::open_in_dir(dir.path()).unwrap();
        index
            .replace_capture(capture, &documents(capture, contributor, 0))
            .unwrap();
        index
            .replace_capture(capture, &documents(capture, contributor, 0))
            .unwrap();
        assert_eq!(index.len(), 200);
    }
    let reopened = SearchIndex::open_in_dir(dir.path()).unwrap();
    assert_eq!(reopened.len(), 200);
}

#[test]
fn too_coarse_cells_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open_in_dir(dir.path()).unwrap();
    let coarse = LatLng::new(48.1, 11.5).unwrap().to_cell(Resolution::One);
    let err = index
        .search(&SearchQuery {
            cell: Some(coarse),
            limit: 1,
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("resolution 3 or finer"), "{err}");
}

#[test]
fn two_handles_on_one_directory_write_in_turn_and_see_each_others_commits() {
    // Two handles on one directory stand for two processes (workers) sharing the index: the
    // writer lock is a file lock, taken per write and given back after the commit.
    let dir = tempfile::tempdir().unwrap();
    let first = SearchIndex::open_in_dir(dir.path()).unwrap();
    let second = SearchIndex::open_in_dir(dir.path()).unwrap();
    for round in 0..3 {
        for index in [&first, &second] {
            let capture = CaptureId::new();
            index
                .replace_capture(capture, &documents(capture, ContributorId::new(), round))
                .unwrap();
        }
    }
    // Each handle sees all six captures: its own at once, the other's once tantivy has
    // noticed the commit (it polls the meta file).
    let all = 6 * documents(CaptureId::new(), ContributorId::new(), 0).len() as u64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while first.len() != all || second.len() != all {
        assert!(
            std::time::Instant::now() < deadline,
            "{} and {} documents",
            first.len(),
            second.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn stop_feature(id: &str, frame: FrameId, gone_at: Option<TimestampMs>) -> FeatureDocument {
    let (lat, lon) = munich_positions()[0];
    FeatureDocument {
        id: id.into(),
        class: "stop".into(),
        lat,
        lon,
        frame,
        first_contributor: Some(ContributorId::new()),
        first_seen: TimestampMs(1_000),
        last_seen: TimestampMs(9_000),
        gone_at,
    }
}

#[test]
fn a_feature_is_one_document_that_outlives_the_captures_that_saw_it() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open_in_dir(dir.path()).unwrap();
    let capture = CaptureId::new();
    let seen_in = documents(capture, ContributorId::new(), 0);
    index.replace_capture(capture, &seen_in).unwrap();
    let feature = stop_feature("ft-stop", seen_in[0].frame, None);
    index
        .replace_features(std::slice::from_ref(&feature))
        .unwrap();
    index
        .replace_features(std::slice::from_ref(&feature))
        .unwrap();
    // A replayed capture replaces its own documents, never the feature's.
    index.replace_capture(capture, &seen_in).unwrap();
    assert_eq!(index.len(), 201);

    let query = |text: &str, kind: Option<SearchKind>| {
        index
            .search(&SearchQuery {
                text: Some(text.into()),
                kind,
                limit: 10,
                ..Default::default()
            })
            .unwrap()
    };
    let features = query("stop", Some(SearchKind::Feature));
    assert_eq!(features.len(), 1);
    let hit = &features[0];
    assert_eq!(hit.kind, SearchKind::Feature);
    assert_eq!(hit.capture, None);
    assert_eq!(hit.contributor, feature.first_contributor);
    assert_eq!(hit.frame, feature.frame);
    assert_eq!(
        hit.captured_at, feature.last_seen,
        "dated by its last sighting"
    );
    let found = hit.feature.as_ref().unwrap();
    assert_eq!(
        (found.id.as_str(), found.first_seen, found.gone_at),
        ("ft-stop", TimestampMs(1_000), None)
    );
    assert_eq!(query("stop", None).len(), 2, "the sign and the feature");
    assert!(query("gone", None).is_empty());

    // Judged gone: the same document, now found by the word `gone`.
    index
        .replace_features(&[stop_feature(
            "ft-stop",
            feature.frame,
            Some(TimestampMs(20_000)),
        )])
        .unwrap();
    let gone = query("stop gone", None);
    assert_eq!(gone.len(), 1);
    assert_eq!(
        gone[0].feature.as_ref().unwrap().gone_at,
        Some(TimestampMs(20_000))
    );
    assert_eq!(index.len(), 201);
}

#[test]
fn a_fresh_index_asks_for_a_rebuild_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search");
    let index = SearchIndex::open_in_dir(&path).unwrap();
    assert_eq!(
        index.rebuild_pending().as_deref(),
        Some("the index directory was new")
    );
    // Another handle opened before the rebuild was queued sees it pending too.
    assert!(
        SearchIndex::open_in_dir(&path)
            .unwrap()
            .rebuild_pending()
            .is_some()
    );
    index.rebuild_queued().unwrap();
    assert_eq!(index.rebuild_pending(), None);
    assert_eq!(
        SearchIndex::open_in_dir(&path).unwrap().rebuild_pending(),
        None
    );
    assert_eq!(SearchIndex::in_memory().unwrap().rebuild_pending(), None);
}

/// An index written by an older Waymark (a schema without today's fields) is moved aside,
/// a fresh one takes its place and asks for a rebuild: opening never fails on an upgrade.
#[test]
fn an_index_with_an_older_schema_is_moved_aside_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search");
    let capture = CaptureId::new();
    {
        let index = SearchIndex::open_in_dir(&path).unwrap();
        index
            .replace_capture(capture, &documents(capture, ContributorId::new(), 0))
            .unwrap();
        index.rebuild_queued().unwrap();
    }
    // Drop the newest field from the schema on disk, as the index before map features had it.
    let meta_path = path.join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    let fields = meta["schema"].as_array_mut().unwrap();
    let before = fields.len();
    fields.retain(|field| field["name"] != "gone_at");
    assert_eq!(fields.len(), before - 1);
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();

    let reopened = SearchIndex::open_in_dir(&path).unwrap();
    assert_eq!(reopened.len(), 0);
    let why = reopened.rebuild_pending().unwrap();
    assert!(why.contains("another schema"), "{why}");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("search.replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "the old index is kept beside it");
}
