//! The pipeline worker: takes `process-capture` jobs from the store's queue and runs each
//! pending frame through vision (quality, privacy blur, signs) and the near-duplicate check,
//! then commits everything — outcomes, sequences, detections, coverage, dirty cells — with
//! the job's completion in one transaction. The public (blurred) JPEG and its thumbnail are
//! written first and the search index is refreshed before the commit; both are idempotent,
//! so a worker killed anywhere replays the job without double effects. Originals are
//! deleted once the commit made the public versions the only ones.

use std::sync::Arc;
use std::time::Duration;

use h3o::LatLng;
use model::{
    AnalyzedFrame, COVERAGE_RESOLUTION, CaptureId, FrameId, QualityProblem, QualityVerdict,
    RejectReason, TimestampMs,
};
use store::{
    BlobKey, FrameOutcome, LeasedJob, NewDetection, NewSequence, ProcessedCapture, ProcessedFrame,
    RetryOutcome, SearchDocument, SearchKind, Store,
};
use thumbnail::encode_thumbnail;

use crate::sequence::{SequenceConfig, split};
use crate::similarity::{Fingerprint, distance, fingerprint};
use crate::uploads::PROCESS_CAPTURE_JOB;

/// How long a worker holds a job before another may take it over.
pub const LEASE: Duration = Duration::from_secs(300);
/// Near duplicates are looked for among frames of the same cell from this far back.
pub const NEAR_DUPLICATE_WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;

/// The one seam to the vision stage: analyze a JPEG, return its report and the public
/// (privacy-blurred) copy. `waymark` plugs the OpenCV implementation in.
pub trait FrameAnalyzer: Send + Sync {
    fn analyze(&self, jpeg: &[u8]) -> Result<AnalyzedFrame, String>;
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("job payload has no capture id: {0}")]
    Payload(String),
    #[error("vision failed on frame {frame}: {reason}")]
    Vision { frame: FrameId, reason: String },
    #[error("a worker thread failed: {0}")]
    Join(String),
}

/// Processes one job if there is one, holding it for [`LEASE`]; returns the capture it
/// finished.
pub async fn process_next(
    store: &Store,
    analyzer: &Arc<dyn FrameAnalyzer>,
) -> Result<Option<CaptureId>, WorkerError> {
    process_next_with_lease(store, analyzer, LEASE).await
}

/// [`process_next`], holding the job for `lease`.
pub async fn process_next_with_lease(
    store: &Store,
    analyzer: &Arc<dyn FrameAnalyzer>,
    lease: Duration,
) -> Result<Option<CaptureId>, WorkerError> {
    let Some(job) = store.queue.lease(PROCESS_CAPTURE_JOB, lease).await? else {
        return Ok(None);
    };
    match process(store, analyzer, &job).await {
        Ok(capture) => Ok(Some(capture)),
        Err(err) => {
            let backoff = Duration::from_secs(30 * u64::from(job.attempts.min(10)));
            let outcome = store.queue.fail(&job, &err.to_string(), backoff).await?;
            if outcome == RetryOutcome::Dead {
                give_up(store, &job, &err).await?;
            } else {
                tracing::warn!(job = job.id.0, error = %err, "capture processing failed; retrying later");
            }
            Err(err)
        }
    }
}

/// A job out of attempts: reject what its capture still has pending, so nothing (an epoch
/// close, the contributor's status page) waits on it forever.
async fn give_up(store: &Store, job: &LeasedJob, err: &WorkerError) -> Result<(), WorkerError> {
    let payload: Payload =
        serde_json::from_str(&job.payload).map_err(|e| WorkerError::Payload(e.to_string()))?;
    let rejected = store
        .db
        .fail_capture(payload.capture, RejectReason::ProcessingFailed)
        .await?;
    tracing::error!(
        job = job.id.0,
        capture = %payload.capture,
        rejected,
        error = %err,
        "capture processing failed for the last time; its pending frames are rejected"
    );
    Ok(())
}

/// Runs for as long as the process: jobs back to back, each held for `lease`, a sleep of
/// `idle` when the queue is empty.
pub async fn run(store: Store, analyzer: Arc<dyn FrameAnalyzer>, idle: Duration, lease: Duration) {
    let (_keep, never) = tokio::sync::watch::channel(false);
    run_until(store, analyzer, idle, lease, never).await;
}

/// [`run`] until `stop` turns true: the capture in hand is finished first (draining), and
/// no new job is taken after.
pub async fn run_until(
    store: Store,
    analyzer: Arc<dyn FrameAnalyzer>,
    idle: Duration,
    lease: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let pause = match process_next_with_lease(&store, &analyzer, lease).await {
            Ok(Some(capture)) => {
                tracing::info!(%capture, "capture processed");
                continue;
            }
            Ok(None) => idle,
            Err(err) => {
                tracing::error!(error = %err, "pipeline job failed");
                idle
            }
        };
        // Idle until the next poll, or until told to stop.
        if let Ok(Err(_)) = tokio::time::timeout(pause, stop.changed()).await {
            // Nobody can tell this worker to stop any more: just pause.
            tokio::time::sleep(pause).await;
        }
    }
    tracing::info!("pipeline worker stopped");
}

#[derive(serde::Deserialize)]
struct Payload {
    capture: CaptureId,
}

async fn process(
    store: &Store,
    analyzer: &Arc<dyn FrameAnalyzer>,
    job: &LeasedJob,
) -> Result<CaptureId, WorkerError> {
    let capture = job
        .payload::<Payload>()
        .map_err(|err| WorkerError::Payload(err.to_string()))?
        .capture;
    let contributor =
        store.db.capture_owner(capture).await?.ok_or_else(|| {
            WorkerError::Payload(format!("capture {capture} has no device owner"))
        })?;
    let capture_row = store
        .db
        .capture(capture)
        .await?
        .ok_or_else(|| WorkerError::Payload(format!("capture {capture} is not stored")))?;
    let pending = store.db.pending_frames(capture).await?;
    let mut frames = Vec::with_capacity(pending.len());
    let mut detections = Vec::new();
    let mut documents = Vec::new();
    let mut accepted_prints: Vec<(u64, Fingerprint)> = Vec::new();
    for frame in &pending {
        let original = store
            .blobs
            .get(&BlobKey::original_frame(&frame.sha256))
            .await?;
        let analyzer = Arc::clone(analyzer);
        let bytes = original.clone();
        let analyzed = tokio::task::spawn_blocking(move || analyzer.analyze(&bytes))
            .await
            .map_err(|err| WorkerError::Join(err.to_string()))?
            .map_err(|reason| WorkerError::Vision {
                frame: frame.sha256,
                reason,
            })?;
        let report = &analyzed.report;
        let size = Some((report.width, report.height));
        let cell = LatLng::new(frame.fix.lat, frame.fix.lon)
            .map(|p| u64::from(p.to_cell(COVERAGE_RESOLUTION)))
            .unwrap_or_default();
        let mut outcome = quality_outcome(&analyzed);
        let mut print = None;
        if matches!(outcome, FrameOutcome::Accepted { .. }) {
            let jpeg = original.clone();
            let computed = tokio::task::spawn_blocking(move || fingerprint(&jpeg))
                .await
                .map_err(|err| WorkerError::Join(err.to_string()))?;
            if let Ok(computed) = computed {
                let since = frame.fix.time.saturating_add_ms(-NEAR_DUPLICATE_WINDOW_MS);
                let stored = store.db.fingerprints_in(cell, since).await?;
                let near_stored = stored
                    .iter()
                    .filter(|(sha, _)| *sha != frame.sha256)
                    .any(|(_, bytes)| is_near(&computed, bytes));
                let near_here = accepted_prints.iter().any(|(c, p)| {
                    *c == cell
                        && distance(p, &computed) < crate::similarity::NEAR_DUPLICATE_DISTANCE
                });
                if near_stored || near_here {
                    outcome = FrameOutcome::Rejected(RejectReason::NearDuplicate);
                } else {
                    accepted_prints.push((cell, computed.clone()));
                    print = Some(computed);
                }
            }
        }
        if let (FrameOutcome::Accepted { .. }, Some(public)) = (outcome, &analyzed.public_jpeg) {
            store
                .blobs
                .put(
                    &BlobKey::public_frame(&frame.sha256),
                    bytes::Bytes::from(public.clone()),
                )
                .await?;
            let public = public.clone();
            let thumbnail = tokio::task::spawn_blocking(move || encode_thumbnail(&public))
                .await
                .map_err(|err| WorkerError::Join(err.to_string()))?;
            if let Some(thumbnail) = thumbnail {
                store
                    .blobs
                    .put(
                        &BlobKey::thumbnail(&frame.sha256),
                        bytes::Bytes::from(thumbnail),
                    )
                    .await?;
            }
            for sign in &report.signs {
                detections.push(NewDetection {
                    frame: frame.sha256,
                    kind: "sign",
                    class: Some(sign.class_name.clone()),
                    confidence: f64::from(sign.confidence),
                    bbox: [sign.bbox.x, sign.bbox.y, sign.bbox.width, sign.bbox.height],
                    lat: frame.fix.lat,
                    lon: frame.fix.lon,
                });
            }
            let base = SearchDocument {
                kind: SearchKind::Frame,
                frame: frame.sha256,
                capture,
                contributor,
                device: capture_row.device_id,
                captured_at: frame.fix.time,
                lat: frame.fix.lat,
                lon: frame.fix.lon,
                sign_class: None,
                tags: vec![format!("{:?}", report.quality.verdict).to_lowercase()],
            };
            documents.extend(report.signs.iter().map(|sign| SearchDocument {
                kind: SearchKind::Sign,
                sign_class: Some(sign.class_name.clone()),
                ..base.clone()
            }));
            documents.push(base);
        } else if matches!(outcome, FrameOutcome::Accepted { .. }) {
            // Vision gave no public copy: nothing may be published, so the frame cannot count.
            outcome = FrameOutcome::Rejected(RejectReason::Broken);
        }
        frames.push(ProcessedFrame {
            index: frame.index,
            outcome,
            sequence: None,
            size,
            coverage: print.map(|p| (cell, frame.fix.time, encode_print(&p))),
            sha256: frame.sha256,
        });
    }

    // Sequences over the frames accepted in this capture.
    let entries: Vec<model::FrameEntry> = pending
        .iter()
        .map(|p| model::FrameEntry {
            sha256: p.sha256,
            fix: p.fix,
        })
        .collect();
    let accepted: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.outcome, FrameOutcome::Accepted { .. }))
        .map(|(i, _)| i)
        .collect();
    let mut sequences = Vec::new();
    for (n, sequence) in split(&entries, &accepted, &SequenceConfig::default())
        .into_iter()
        .enumerate()
    {
        let id = format!("{capture}-{n}");
        for &i in &sequence.frames {
            frames[i].sequence = Some(id.clone());
        }
        sequences.push(NewSequence {
            id,
            started_at: sequence.started_at,
            ended_at: sequence.ended_at,
            frame_count: sequence.frames.len() as u32,
            length_m: sequence.length_m,
            geometry_geojson: sequence.line_string_geojson(&entries),
        });
    }

    let search = store.search.clone();
    tokio::task::spawn_blocking(move || search.replace_capture(capture, &documents))
        .await
        .map_err(|err| WorkerError::Join(err.to_string()))??;
    let processed = ProcessedCapture {
        capture,
        contributor,
        frames,
        sequences,
        detections,
        processed_at: TimestampMs::now(),
    };
    store.db.commit_processed(&processed, job).await?;
    // Committed: the public copies are now the only versions anyone may see.
    for frame in &processed.frames {
        store
            .blobs
            .delete(&BlobKey::original_frame(&frame.sha256))
            .await?;
    }
    Ok(capture)
}

/// Accepted with vision's score, or the reject reason of its first problem.
fn quality_outcome(analyzed: &AnalyzedFrame) -> FrameOutcome {
    let quality = &analyzed.report.quality;
    match quality.verdict {
        QualityVerdict::Good => FrameOutcome::Accepted {
            quality: f64::from(quality.score),
        },
        QualityVerdict::Poor | QualityVerdict::Broken => {
            let reason = match quality.problems.first() {
                Some(QualityProblem::Blurred) => RejectReason::Blurred,
                Some(QualityProblem::TooDark) => RejectReason::TooDark,
                Some(QualityProblem::Overexposed) => RejectReason::Overexposed,
                Some(QualityProblem::Obstructed) => RejectReason::Obstructed,
                Some(QualityProblem::Oversized) => RejectReason::DimensionsTooLarge,
                _ => RejectReason::Broken,
            };
            FrameOutcome::Rejected(reason)
        }
    }
}

fn encode_print(print: &Fingerprint) -> Vec<u8> {
    print.0.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn is_near(print: &Fingerprint, stored: &[u8]) -> bool {
    let values: Vec<f32> = stored
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    values.len() == print.0.len()
        && distance(print, &Fingerprint(values)) < crate::similarity::NEAR_DUPLICATE_DISTANCE
}

mod thumbnail {
    //! The thumbnail of a public frame: 320 px wide JPEG.

    use std::io::Cursor;

    use image::codecs::jpeg::JpegEncoder;

    pub const THUMBNAIL_WIDTH: u32 = 320;

    pub fn encode_thumbnail(jpeg: &[u8]) -> Option<Vec<u8>> {
        let image = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).ok()?;
        let thumbnail = image.thumbnail(THUMBNAIL_WIDTH, THUMBNAIL_WIDTH);
        let mut out = Cursor::new(Vec::new());
        JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&thumbnail.to_rgb8())
            .ok()?;
        Some(out.into_inner())
    }
}
