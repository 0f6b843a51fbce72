//! The pipeline worker: takes `process-capture` jobs from the store's queue and runs each
//! pending frame through its own EXIF check, vision (quality, privacy blur, signs), the
//! near-duplicate check, the global footage index (`model::footage`: a capture whose frames
//! copy accepted footage, cropped or re-encoded — another device's, or its own from another
//! moment — is a `replay` wherever it is claimed) and the place consensus
//! (`model::consensus`: a capture whose pixels are unlike other devices' views of the
//! well-mapped places it claims is held for review, `unlike-place`, and its public copies
//! taken back) and the road network (`model::roads`: a capture whose moving fixes mostly lie
//! off the mapped roads is held the same way, `off-road`, and with it the device's other
//! captures of the week that lean off them), then commits everything — outcomes, sequences,
//! detections, coverage, dirty cells — with the job's completion in one transaction. The
//! public (blurred) JPEG and its thumbnail are written first (idempotent: a worker killed
//! anywhere replays the job without double effects); the search documents are written only
//! after the commit, by an `index-capture` job the commit enqueues, from the committed rows
//! ([`crate::search_index`]) — so a capture that fails never leaves documents behind, and
//! one that succeeds always gets them; a `map-features` job, enqueued the same way, turns
//! its sign detections into map features ([`crate::map_features`]). Originals are deleted
//! once the commit made the public versions the only ones. As it starts, it brings the
//! footage index up to date once ([`crate::footage_upkeep`]).
//!
//! Failures: the lease is extended while a capture is processed (a long capture is never
//! taken over by a second worker); a transient store error (the database or blob store not
//! answering, a full disk) gives the job back without using an attempt, so acknowledged
//! frames never become rejects because of an outage; any other failure uses an attempt, and
//! the last one gives the capture up — its pending frames rejected `processing-failed` in
//! the same transaction that marks the job dead. A job whose workers crashed on every
//! attempt (their leases ran out) is given up the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use h3o::LatLng;
use model::{
    AnalyzedFrame, COVERAGE_RESOLUTION, CaptureId, FrameId, QualityProblem, QualityVerdict,
    RejectReason, TimestampMs,
};
use store::{
    BlobKey, Coverage, FootageEntry, FrameOutcome, LeasedJob, NewDetection, NewSequence,
    ProcessedCapture, ProcessedFrame, Store,
};
use thumbnail::encode_thumbnail;

use crate::map_features::FeatureSettings;
use crate::sequence::{SequenceConfig, split};
use crate::similarity::{Fingerprint, FramePrints, distance, frame_prints};
use crate::uploads::PROCESS_CAPTURE_JOB;
use model::consensus::{
    ConsensusConfig, PlaceFit, VIEW_RINGS, VIEW_WINDOW_MS, View, agreement, heading_at,
};
use model::footage::{CopyConfig, capture_copies, copy_of};
use model::roads::{DEVICE_WINDOW_MS, RoadConfig, RoadIndex, device_holds, road_fit};

/// How long a worker holds a job before another may take it over, unless it extends it.
pub const LEASE: Duration = Duration::from_secs(300);
/// Near duplicates are looked for among frames of the same cell from this far back.
pub const NEAR_DUPLICATE_WINDOW_MS: i64 = 30 * 24 * 3600 * 1000;
/// The longest wait before a job given back after a transient failure runs again.
const MAX_TRANSIENT_BACKOFF: Duration = Duration::from_secs(300);

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

impl WorkerError {
    /// Whether the failure says nothing about the capture: the store did not answer (a
    /// dropped connection, a busy or rolled-back database, a blob store error other than a
    /// missing blob, a full disk) or the lease went to another worker. Such a job is given
    /// back without using an attempt.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(store::Error::LeaseLost { .. }) => true,
            Self::Store(err) => err.is_outage(),
            _ => false,
        }
    }
}

/// When the worker last showed it is alive (ms since 1970): before and after every job, and
/// at every lease extension while it works on one. `/health` reads it.
#[derive(Debug, Clone, Default)]
pub struct Pulse(Arc<AtomicI64>);

impl Pulse {
    pub fn beat(&self) {
        self.0
            .store(TimestampMs::now().as_millis(), Ordering::Relaxed);
    }

    /// The last beat, if there was one.
    pub fn last(&self) -> Option<TimestampMs> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(TimestampMs(ms)),
        }
    }
}

/// What the worker judges with beyond the store: how sign detections become map features,
/// and the mapped roads of the region it serves (`model::roads`; empty: nothing is judged
/// off-road).
#[derive(Debug, Clone, Default)]
pub struct WorkerSettings {
    pub features: FeatureSettings,
    pub roads: Arc<RoadIndex>,
}

/// Processes one job if there is one, holding it for [`LEASE`]; returns the capture it
/// finished.
pub async fn process_next(
    store: &Store,
    analyzer: &Arc<dyn FrameAnalyzer>,
) -> Result<Option<CaptureId>, WorkerError> {
    process_next_with_lease(store, analyzer, LEASE, &Pulse::default()).await
}

/// [`process_next`], holding the job for `lease` and extending it every third of that
/// while the capture is processed; then writes the search documents of what it committed.
pub async fn process_next_with_lease(
    store: &Store,
    analyzer: &Arc<dyn FrameAnalyzer>,
    lease: Duration,
    pulse: &Pulse,
) -> Result<Option<CaptureId>, WorkerError> {
    process_next_on_roads(store, analyzer, lease, pulse, &RoadIndex::default()).await
}

/// [`process_next_with_lease`], judging the capture's track against `roads`.
pub async fn process_next_on_roads(
    store: &Store,
    analyzer: &Arc<dyn FrameAnalyzer>,
    lease: Duration,
    pulse: &Pulse,
    roads: &RoadIndex,
) -> Result<Option<CaptureId>, WorkerError> {
    pulse.beat();
    let Some(mut job) = store.queue.lease(PROCESS_CAPTURE_JOB, lease).await? else {
        return Ok(None);
    };
    if job.is_exhausted() {
        let reason =
            "the job's lease ran out on every attempt: its workers crashed or were killed on it";
        give_up(store, &job, reason).await?;
        return Ok(None);
    }
    let held = job.clone();
    let outcome = tokio::select! {
        outcome = process(store, analyzer, &held, roads) => outcome,
        lost = keep_leased(store, &mut job, lease, pulse) => Err(lost),
    };
    pulse.beat();
    match outcome {
        Ok(capture) => {
            crate::search_index::index_pending(store).await?;
            Ok(Some(capture))
        }
        Err(err) => {
            fail(store, &job, &err).await?;
            Err(err)
        }
    }
}

/// Extends `job`'s lease every third of `lease` until it cannot (the lease went to another
/// worker, or the store did not answer twice in a row): returns why.
async fn keep_leased(
    store: &Store,
    job: &mut LeasedJob,
    lease: Duration,
    pulse: &Pulse,
) -> WorkerError {
    let every = (lease / 3).max(Duration::from_millis(100));
    let mut failures = 0;
    loop {
        tokio::time::sleep(every).await;
        match store.queue.extend(job, lease).await {
            Ok(()) => {
                failures = 0;
                pulse.beat();
            }
            Err(err @ store::Error::LeaseLost { .. }) => return err.into(),
            Err(err) if failures >= 1 => return err.into(),
            Err(err) => {
                tracing::warn!(job = job.id.0, error = %err, "extending a lease failed; trying again");
                failures += 1;
            }
        }
    }
}

/// Records a failed attempt: a transient one is given back uncounted, the last one gives
/// the capture up, any other is retried after a back-off.
async fn fail(store: &Store, job: &LeasedJob, err: &WorkerError) -> Result<(), WorkerError> {
    let attempts = job.attempts.min(10);
    if err.is_transient() {
        let backoff = (Duration::from_secs(5) * 2u32.pow(attempts)).min(MAX_TRANSIENT_BACKOFF);
        tracing::warn!(job = job.id.0, error = %err, ?backoff, "the store failed; the capture runs again later");
        return match store
            .queue
            .retry_uncounted(job, &err.to_string(), backoff)
            .await
        {
            // Another worker holds it now: nothing to give back.
            Ok(()) | Err(store::Error::LeaseLost { .. }) => Ok(()),
            Err(other) => Err(other.into()),
        };
    }
    if job.is_last_attempt() {
        return give_up(store, job, &err.to_string()).await;
    }
    let backoff = Duration::from_secs(30 * u64::from(attempts));
    tracing::warn!(job = job.id.0, error = %err, "capture processing failed; retrying later");
    match store.queue.fail(job, &err.to_string(), backoff).await {
        Ok(_) | Err(store::Error::LeaseLost { .. }) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// A job out of attempts: reject what its capture still has pending and mark the job dead,
/// together, so nothing (an epoch close, the contributor's status page) waits on it forever.
async fn give_up(store: &Store, job: &LeasedJob, error: &str) -> Result<(), WorkerError> {
    let payload: Payload =
        serde_json::from_str(&job.payload).map_err(|e| WorkerError::Payload(e.to_string()))?;
    match store
        .db
        .give_up_capture(payload.capture, RejectReason::ProcessingFailed, job, error)
        .await
    {
        Ok(rejected) => {
            tracing::error!(
                job = job.id.0,
                capture = %payload.capture,
                rejected,
                error,
                "capture processing failed for the last time; its pending frames are rejected"
            );
            Ok(())
        }
        Err(store::Error::LeaseLost { .. }) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// How many jobs of one follow-up kind may run at once across every worker process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Any number: each job touches only its own capture's documents.
    Shared,
    /// One at a time: each job reads, decides and writes a neighbourhood another job may
    /// share (map features merge with the features around them).
    Alone,
}

/// Runs every queued job of `kind` (a follow-up of a committed capture, rebuilt from the
/// committed rows) through `run`; returns how many completed. A failure gives its job back
/// uncounted, with a back-off, and ends this round.
pub(crate) async fn drain_follow_ups(
    store: &Store,
    kind: &str,
    lane: Lane,
    run: impl AsyncFn(&LeasedJob) -> Result<(), WorkerError>,
) -> Result<u32, WorkerError> {
    let mut done = 0;
    loop {
        let leased = match lane {
            Lane::Shared => store.queue.lease(kind, LEASE).await?,
            Lane::Alone => store.queue.lease_alone(kind, LEASE).await?,
        };
        let Some(job) = leased else {
            break;
        };
        match run(&job).await {
            Ok(()) => {
                store.queue.complete(&job).await?;
                done += 1;
            }
            Err(err) => {
                tracing::warn!(job = job.id.0, kind, error = %err, "follow-up job failed; retrying later");
                let backoff = Duration::from_secs(5 * u64::from(job.attempts.min(60)));
                store
                    .queue
                    .retry_uncounted(&job, &err.to_string(), backoff)
                    .await?;
                return Err(err);
            }
        }
    }
    Ok(done)
}

/// Runs for as long as the process: jobs back to back, each held for `lease`, a sleep of
/// `idle` when the queue is empty.
pub async fn run(store: Store, analyzer: Arc<dyn FrameAnalyzer>, idle: Duration, lease: Duration) {
    let (_keep, never) = tokio::sync::watch::channel(false);
    let settings = WorkerSettings::default();
    run_until(
        store,
        analyzer,
        idle,
        lease,
        never,
        Pulse::default(),
        &settings,
    )
    .await;
}

/// [`run`] until `stop` turns true: the capture in hand is finished first (draining), and
/// no new job is taken after. `pulse` beats around every job and lease extension.
pub async fn run_until(
    store: Store,
    analyzer: Arc<dyn FrameAnalyzer>,
    idle: Duration,
    lease: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    pulse: Pulse,
    settings: &WorkerSettings,
) {
    let mut footage_indexed = false;
    while !*stop.borrow() {
        if !footage_indexed {
            match crate::footage_upkeep::bring_up_to_date(&store).await {
                Ok(done) => {
                    footage_indexed = true;
                    if done != crate::footage_upkeep::Upkeep::default() {
                        tracing::info!(
                            rekeyed = done.rekeyed,
                            backfilled = done.backfilled,
                            unusable = done.unusable,
                            "footage index brought up to date"
                        );
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, "bringing the footage index up to date failed");
                }
            }
        }
        if let Err(err) = crate::search_index::queue_rebuild_if_pending(&store).await {
            tracing::error!(error = %err, "queueing the search index's rebuild failed");
        }
        if let Err(err) = crate::search_index::index_pending(&store).await {
            tracing::error!(error = %err, "search indexing failed");
        }
        if let Err(err) = crate::map_features::apply_pending(&store, &settings.features).await {
            tracing::error!(error = %err, "map features failed");
        }
        let roads = &settings.roads;
        let pause = match process_next_on_roads(&store, &analyzer, lease, &pulse, roads).await {
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
    roads: &RoadIndex,
) -> Result<CaptureId, WorkerError> {
    let capture = job
        .payload::<Payload>()
        .map_err(|err| WorkerError::Payload(err.to_string()))?
        .capture;
    let contributor =
        store.db.capture_owner(capture).await?.ok_or_else(|| {
            WorkerError::Payload(format!("capture {capture} has no device owner"))
        })?;
    let device = store
        .db
        .capture_device(capture)
        .await?
        .ok_or_else(|| WorkerError::Payload(format!("capture {capture} has no device")))?;
    let camera = store.db.capture_camera(capture).await?.unwrap_or_default();
    let pending = store.db.pending_frames(capture).await?;
    let fixes: Vec<model::Fix> = pending.iter().map(|frame| frame.fix).collect();
    let consensus = ConsensusConfig::default();
    let copying = CopyConfig::default();
    let mut copies = Vec::new();
    let mut agreements = Vec::new();
    let mut frames = Vec::with_capacity(pending.len());
    let mut detections = Vec::new();
    let mut accepted_prints: Vec<(u64, Fingerprint)> = Vec::new();
    for (position, frame) in pending.iter().enumerate() {
        let original = match store
            .blobs
            .get(&BlobKey::original_frame(&frame.sha256))
            .await
        {
            Ok(original) => original,
            Err(store::Error::BlobNotFound { .. }) => {
                frames.push(ProcessedFrame {
                    index: frame.index,
                    outcome: FrameOutcome::Rejected(RejectReason::OriginalMissing),
                    sequence: None,
                    size: None,
                    coverage: None,
                    sha256: frame.sha256,
                });
                continue;
            }
            Err(other) => return Err(other.into()),
        };
        // What the frame says about itself must agree with its manifest.
        let tags = model::photo::read_photo(&original);
        if let Some(reason) = crate::judge::photo_disagrees(&tags, &frame.fix, &camera) {
            frames.push(ProcessedFrame {
                index: frame.index,
                outcome: FrameOutcome::Rejected(reason),
                sequence: None,
                size: None,
                coverage: None,
                sha256: frame.sha256,
            });
            continue;
        }
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
        let heading = heading_at(&fixes, position);
        let mut print = None;
        let mut footage = None;
        if matches!(outcome, FrameOutcome::Accepted { .. }) {
            let jpeg = original.clone();
            let computed = tokio::task::spawn_blocking(move || frame_prints(&jpeg))
                .await
                .map_err(|err| WorkerError::Join(err.to_string()))?;
            if let Ok(prints) = computed {
                let since = frame.fix.time.saturating_add_ms(-NEAR_DUPLICATE_WINDOW_MS);
                let stored = store.db.fingerprints_in(cell, since).await?;
                let near_stored = stored
                    .iter()
                    .filter(|(sha, _)| *sha != frame.sha256)
                    .any(|(_, bytes)| is_near(&prints.whole, bytes));
                let near_here = accepted_prints.iter().any(|(c, p)| {
                    *c == cell
                        && distance(p, &prints.whole) < crate::similarity::NEAR_DUPLICATE_DISTANCE
                });
                // A copy of footage from another moment is asked first: a near-duplicate
                // of the device's own earlier drive may be that drive re-sent.
                let (copied, prints) =
                    copies_footage(store, prints, &frame.fix, device, &copying).await?;
                if copied {
                    copies.push(frame.sha256);
                }
                if near_stored || near_here {
                    outcome = FrameOutcome::Rejected(RejectReason::NearDuplicate);
                } else {
                    footage = Some(FootageEntry {
                        keys: model::footage::stored_keys(&prints.core),
                        core: prints.core.to_bytes(),
                    });
                    let views = place_views(store, cell, frame.fix.time).await?;
                    agreements.push(agreement(
                        &prints.whole,
                        heading,
                        device,
                        &views,
                        &consensus,
                    ));
                    accepted_prints.push((cell, prints.whole.clone()));
                    print = Some(prints.whole);
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
        } else if matches!(outcome, FrameOutcome::Accepted { .. }) {
            // Vision gave no public copy: nothing may be published, so the frame cannot count.
            outcome = FrameOutcome::Rejected(RejectReason::Broken);
        }
        frames.push(ProcessedFrame {
            index: frame.index,
            outcome,
            sequence: None,
            size,
            coverage: print.map(|p| Coverage {
                cell,
                time: frame.fix.time,
                fingerprint: p.to_bytes(),
                heading,
                footage: footage.take(),
            }),
            sha256: frame.sha256,
        });
    }

    if capture_copies(copies.len(), &copying) {
        for frame in frames
            .iter_mut()
            .filter(|frame| copies.contains(&frame.sha256))
        {
            if matches!(
                frame.outcome,
                FrameOutcome::Rejected(RejectReason::NearDuplicate)
            ) {
                frame.outcome = FrameOutcome::Rejected(RejectReason::Replay);
            }
        }
        take_back(store, &mut frames, &mut detections, |frame| {
            copies
                .contains(&frame.sha256)
                .then_some(RejectReason::Replay)
        })
        .await?;
    }
    // Pixels unlike the place, or a track off the mapped roads: held for a reviewer. One who
    // cleared this capture's hold has judged it: it is not held again.
    let (off_road, leaning) = off_road_captures(store, roads, device, capture, &fixes).await?;
    let hold = place_hold(store, device, &fixes, &agreements, &consensus)
        .await?
        .or(off_road.then_some(RejectReason::OffRoad));
    if let Some(reason) = hold
        && !store.db.hold_cleared(capture).await?
    {
        hold_for_review(store, &mut frames, &mut detections, reason).await?;
        // Caught off the roads: the device's other recent captures that lean off them are
        // held too (judged per device over time, `model::roads::device_holds`).
        if off_road {
            for other in leaning {
                if !store.db.hold_cleared(other).await? {
                    let at = TimestampMs::now();
                    store
                        .db
                        .hold_capture(other, RejectReason::OffRoad, at)
                        .await?;
                }
            }
        }
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

    let processed = ProcessedCapture {
        capture,
        contributor,
        frames,
        sequences,
        detections,
        processed_at: TimestampMs::now(),
        follow_ups: vec![
            crate::search_index::capture_job(capture, "index")?,
            crate::map_features::job(capture)?,
        ],
    };
    store.db.commit_processed(&processed, job).await?;
    // Committed: the public copies are now the only versions anyone may see. A held frame
    // keeps its original until a reviewer decides: cleared, it is processed again from it.
    for frame in &processed.frames {
        if let FrameOutcome::Rejected(reason) = frame.outcome
            && reason.is_held_for_review()
        {
            continue;
        }
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

/// Other devices' accepted views within [`VIEW_RINGS`] rings of `cell`, from the last
/// [`VIEW_WINDOW_MS`] before `at`.
async fn place_views(store: &Store, cell: u64, at: TimestampMs) -> Result<Vec<View>, WorkerError> {
    let Ok(center) = h3o::CellIndex::try_from(cell) else {
        return Ok(Vec::new());
    };
    let cells: Vec<u64> = center
        .grid_disk::<Vec<_>>(VIEW_RINGS)
        .into_iter()
        .map(u64::from)
        .collect();
    let stored = store
        .db
        .views_in(&cells, at.saturating_add_ms(-VIEW_WINDOW_MS))
        .await?;
    Ok(stored
        .into_iter()
        .filter_map(|view| {
            Some(View {
                device: view.device,
                heading: view.heading,
                print: Fingerprint::from_bytes(&view.fingerprint)?,
            })
        })
        .collect())
}

/// Holds every accepted frame of a capture whose pixels disagree with its places
/// (`unlike-place`, `unvouched-place`) or whose track lies off the roads (`off-road`): it is not published
/// (its public copy and thumbnail, written already, are taken back), counts for nothing, and
/// the commit opens a case for a reviewer. Its originals are kept for the reviewer's
/// decision ([`crate::reviews::decide_case`]).
async fn hold_for_review(
    store: &Store,
    frames: &mut [ProcessedFrame],
    detections: &mut Vec<NewDetection>,
    reason: RejectReason,
) -> Result<(), WorkerError> {
    take_back(store, frames, detections, |_| Some(reason)).await
}

/// Why the capture of `agreements` (its `fixes`) is held for its pixels, if it is:
/// `unlike-place` when it disagrees with its places; `unvouched-place` when its places do not
/// vouch for it and `device` was caught — captures held `unlike-place` in the week before it
/// and since (judged per device over time, [`model::consensus::device_holds`], as the reward
/// close judges the epoch).
async fn place_hold(
    store: &Store,
    device: model::DeviceId,
    fixes: &[model::Fix],
    agreements: &[model::consensus::Agreement],
    config: &ConsensusConfig,
) -> Result<Option<RejectReason>, WorkerError> {
    let fit = PlaceFit::of(agreements);
    let held_before = if fit.disagrees(config) || fit.vouched_for(config) {
        0
    } else if let Some(first) = fixes.iter().map(|fix| fix.time).min() {
        store
            .db
            .device_captures_held(
                device,
                RejectReason::UnlikePlace,
                first.saturating_add_ms(-DEVICE_WINDOW_MS),
            )
            .await?
    } else {
        0
    };
    Ok(model::consensus::device_holds(&[fit], held_before, config)[0])
}

/// Whether `capture` (its `fixes`) lies off the mapped `roads`, judged with `device`'s other
/// captures of the week before it and since ([`model::roads::device_holds`]); and which of
/// those others are to be held with it. Nothing when no roads are known.
async fn off_road_captures(
    store: &Store,
    roads: &RoadIndex,
    device: model::DeviceId,
    capture: CaptureId,
    fixes: &[model::Fix],
) -> Result<(bool, Vec<CaptureId>), WorkerError> {
    let Some(first) = fixes.iter().map(|fix| fix.time).min() else {
        return Ok((false, Vec::new()));
    };
    if roads.is_empty() {
        return Ok((false, Vec::new()));
    }
    let config = RoadConfig::default();
    let since = first.saturating_add_ms(-DEVICE_WINDOW_MS);
    let mut others = store.db.device_track_by_capture(device, since).await?;
    others.retain(|(id, _)| *id != capture);
    let fits: Vec<_> = others
        .iter()
        .map(|(_, track)| track.as_slice())
        .chain(std::iter::once(fixes))
        .map(|track| road_fit(track, roads, &config))
        .collect();
    let holds = device_holds(&fits, &config);
    let leaning = others
        .iter()
        .zip(&holds)
        .filter(|(_, held)| **held)
        .map(|((id, _), _)| *id)
        .collect();
    Ok((holds.last().copied().unwrap_or(false), leaning))
}

/// Whether the frame of `prints`, claimed at `claimed` by `device`, copies footage in the
/// global index ([`model::footage::copy_of`]): the keyed probes fetch the candidates, every
/// probe of every set (the frame as sent, and inside its bars) measures them — read, on a
/// blocking task, only when there is a candidate. The prints are handed back.
async fn copies_footage(
    store: &Store,
    prints: FramePrints,
    claimed: &model::Fix,
    device: model::DeviceId,
    config: &CopyConfig,
) -> Result<(bool, FramePrints), WorkerError> {
    let keys = prints.probe_keys();
    let candidates: Vec<model::footage::Stored> = store
        .db
        .footage_sharing(&keys)
        .await?
        .into_iter()
        .filter_map(|stored| {
            Some(model::footage::Stored {
                core: Fingerprint::from_bytes(&stored.core)?,
                sha256: stored.sha256,
                device: stored.device,
                lat: stored.lat,
                lon: stored.lon,
                time: stored.time,
            })
        })
        .collect();
    if candidates.is_empty() {
        return Ok((false, prints));
    }
    let prints = tokio::task::spawn_blocking(move || {
        prints.probe_sets();
        prints
    })
    .await
    .map_err(|err| WorkerError::Join(err.to_string()))?;
    let copied = prints
        .probe_sets()
        .iter()
        .any(|set| copy_of(&set.cuts, &set.wide, claimed, device, &candidates, config).is_some());
    Ok((copied, prints))
}

/// Rejects each accepted frame `reason_for` gives a reason for, and takes back what was
/// already written for it: its public copy and thumbnail, its coverage and its detections.
async fn take_back(
    store: &Store,
    frames: &mut [ProcessedFrame],
    detections: &mut Vec<NewDetection>,
    reason_for: impl Fn(&ProcessedFrame) -> Option<RejectReason>,
) -> Result<(), WorkerError> {
    let mut taken = std::collections::HashSet::new();
    for frame in frames.iter_mut() {
        if !matches!(frame.outcome, FrameOutcome::Accepted { .. }) {
            continue;
        }
        if let Some(reason) = reason_for(frame) {
            frame.outcome = FrameOutcome::Rejected(reason);
            frame.coverage = None;
            store
                .blobs
                .delete(&BlobKey::public_frame(&frame.sha256))
                .await?;
            store
                .blobs
                .delete(&BlobKey::thumbnail(&frame.sha256))
                .await?;
            taken.insert(frame.sha256);
        }
    }
    detections.retain(|detection| !taken.contains(&detection.frame));
    Ok(())
}

fn is_near(print: &Fingerprint, stored: &[u8]) -> bool {
    Fingerprint::from_bytes(stored)
        .is_some_and(|stored| distance(print, &stored) < crate::similarity::NEAR_DUPLICATE_DISTANCE)
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
