//! The search documents: written after the rows they describe commit, by follow-up jobs
//! those commits enqueue, always rebuilt from the committed rows (so a failed write is only
//! retried, never a lost or a stale document).
//! - `index-capture`: a processed capture's accepted frames and their signs.
//! - `index-features`: the map features a capture's update touched (one document each,
//!   at the feature's estimated position, dated by its last sighting).
//!
//! A fresh index (a new data directory, a restored backup, an index rebuilt for a new
//! schema) asks for every stored row's documents once: [`queue_rebuild_if_pending`].
//!
//! Never does: decide what is accepted, position or merge features, or answer queries.

use model::{CaptureId, ContributorId, TimestampMs};
use store::{FeatureDocument, LeasedJob, NewJob, SearchDocument, SearchKind, Store, StoredFeature};

use crate::worker::{Lane, WorkerError, drain_follow_ups};

/// The job that writes a committed capture's search documents.
pub const INDEX_CAPTURE_JOB: &str = "index-capture";
/// The job that writes the search documents of some map features.
pub const INDEX_FEATURES_JOB: &str = "index-features";
/// Most features one `index-features` job names.
const FEATURES_PER_JOB: usize = 500;

#[derive(serde::Serialize, serde::Deserialize)]
struct CapturePayload {
    capture: CaptureId,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FeaturesPayload {
    features: Vec<String>,
}

/// The follow-up that indexes `capture` once its processing commits; `key` tells one
/// request from another (a replayed commit enqueues nothing new).
pub fn capture_job(capture: CaptureId, key: &str) -> Result<NewJob, store::Error> {
    Ok(NewJob::new(INDEX_CAPTURE_JOB, &CapturePayload { capture })?
        .dedup_key(format!("{key}:{capture}")))
}

/// The follow-ups that index `features` (at most [`FEATURES_PER_JOB`] each), keyed by
/// `key` and their position in the list.
pub fn features_jobs(features: &[String], key: &str) -> Result<Vec<NewJob>, store::Error> {
    features
        .chunks(FEATURES_PER_JOB)
        .enumerate()
        .map(|(i, chunk)| {
            Ok(NewJob::new(
                INDEX_FEATURES_JOB,
                &FeaturesPayload {
                    features: chunk.to_vec(),
                },
            )?
            .dedup_key(format!("{key}:{i}")))
        })
        .collect()
}

/// Writes every waiting capture's and feature's documents; returns how many jobs ran. A
/// failure gives its job back uncounted: documents can always be rebuilt from the rows.
pub async fn index_pending(store: &Store) -> Result<u32, WorkerError> {
    let captures = drain_follow_ups(store, INDEX_CAPTURE_JOB, Lane::Shared, async |job| {
        index_capture(store, job).await
    })
    .await?;
    // One at a time: two jobs naming one feature must not write its rows out of order.
    let features = drain_follow_ups(store, INDEX_FEATURES_JOB, Lane::Alone, async |job| {
        index_features(store, job).await
    })
    .await?;
    Ok(captures + features)
}

/// When the index is fresh, queues the documents of every processed capture and every
/// feature stored before it existed, then clears the request; returns how many jobs.
pub async fn queue_rebuild_if_pending(store: &Store) -> Result<usize, WorkerError> {
    let Some(why) = store.search.rebuild_pending() else {
        return Ok(0);
    };
    let key = format!("rebuild-{}", TimestampMs::now().as_millis());
    let mut jobs = Vec::new();
    for capture in store.db.done_captures().await? {
        jobs.push(capture_job(capture, &key)?);
    }
    jobs.extend(features_jobs(
        &store.db.feature_ids().await?,
        &format!("{key}:features"),
    )?);
    for job in &jobs {
        store.queue.enqueue(job).await?;
    }
    store.search.rebuild_queued()?;
    tracing::info!(
        jobs = jobs.len(),
        %why,
        "a fresh search index: every stored row queued for indexing"
    );
    Ok(jobs.len())
}

/// Replaces a capture's search documents by its committed accepted frames and signs.
async fn index_capture(store: &Store, job: &LeasedJob) -> Result<(), WorkerError> {
    let capture = job
        .payload::<CapturePayload>()
        .map_err(|err| WorkerError::Payload(err.to_string()))?
        .capture;
    let documents = match store.db.capture_search_rows(capture).await? {
        Some(rows) => capture_documents(capture, &rows),
        None => Vec::new(),
    };
    let search = store.search.clone();
    tokio::task::spawn_blocking(move || search.replace_capture(capture, &documents))
        .await
        .map_err(|err| WorkerError::Join(err.to_string()))??;
    Ok(())
}

/// Replaces the documents of the features a job names by their committed rows.
async fn index_features(store: &Store, job: &LeasedJob) -> Result<(), WorkerError> {
    let ids = job
        .payload::<FeaturesPayload>()
        .map_err(|err| WorkerError::Payload(err.to_string()))?
        .features;
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let documents: Vec<FeatureDocument> = store
        .db
        .features_by_id(&ids)
        .await?
        .iter()
        .filter_map(feature_document)
        .collect();
    let search = store.search.clone();
    tokio::task::spawn_blocking(move || search.replace_features(&documents))
        .await
        .map_err(|err| WorkerError::Join(err.to_string()))??;
    Ok(())
}

/// One frame document per accepted frame (tagged `good`: only frames vision judged good are
/// accepted) and one sign document per sign seen in it.
fn capture_documents(capture: CaptureId, rows: &store::CaptureSearchRows) -> Vec<SearchDocument> {
    let mut documents = Vec::with_capacity(rows.frames.len() + rows.signs.len());
    for &(frame, captured_at, lat, lon) in &rows.frames {
        let base = SearchDocument {
            kind: SearchKind::Frame,
            frame,
            capture,
            contributor: rows.contributor,
            device: rows.device,
            captured_at,
            lat,
            lon,
            sign_class: None,
            tags: vec!["good".into()],
        };
        documents.extend(
            rows.signs
                .iter()
                .filter(|(seen_in, _)| *seen_in == frame)
                .map(|(_, class)| SearchDocument {
                    kind: SearchKind::Sign,
                    sign_class: Some(class.clone()),
                    ..base.clone()
                }),
        );
        documents.push(base);
    }
    documents
}

/// A feature's document, its photo the newest frame that saw it; `None` for a feature
/// with no observation (never stored by the features job, but rows come from outside).
pub fn feature_document(feature: &StoredFeature) -> Option<FeatureDocument> {
    let row = &feature.row;
    let newest = feature
        .observations
        .iter()
        .max_by_key(|o| (o.time_ms, o.frame_sha256))?;
    Some(FeatureDocument {
        id: row.id.clone(),
        class: row.class.clone(),
        lat: row.lat,
        lon: row.lon,
        frame: newest.frame_sha256,
        first_contributor: row.first_contributor_id.parse::<ContributorId>().ok(),
        first_seen: TimestampMs(row.first_seen_ms),
        last_seen: TimestampMs(row.last_seen_ms),
        gone_at: row.gone_at_ms.map(TimestampMs),
    })
}
