//! Keeps the global footage index whole and in the current key scheme, so footage accepted
//! before a change of the index is still found:
//! - **re-keying**: frames keyed by an earlier scheme (`model::footage::KEY_SCHEME`) are given
//!   the current keys, made again from their stored cores;
//! - **backfill**: accepted frames with no entry at all (accepted before the index existed)
//!   are entered from their published picture (the blurred copy the map serves: a copy of
//!   it is what a cheat would send; the original is gone by then).
//!
//! The pipeline worker runs [`bring_up_to_date`] as it starts. Both passes are idempotent, a
//! page per transaction, so two workers doing it at once, or a pass cut short, do no harm.
//! A finished pass is recorded with the time it began; the next one of the same scheme reads
//! only the captures processed since then, less [`PASS_OVERLAP_MS`], instead of every accepted
//! frame and every entry (a worker of the current version indexes what it accepts, so what a
//! pass must find since is only what an older worker, still running in a rolling upgrade,
//! accepted without it, or a capture re-processed after a review).
//! Owns only these loops; the keys are `model::footage`'s, the prints `similarity`'s, the
//! rows the store's.

use model::consensus::Fingerprint;
use model::footage::{SCHEME_FLOOR, stored_keys};
use model::{FrameId, TimestampMs};
use store::{BlobKey, FootageEntry, Store, UnindexedFrame};

use crate::similarity::core_print;

/// Frames per page (and per transaction).
const PAGE: u32 = 500;
/// How far before the last finished pass began the next one looks: a capture committed just
/// after that pass read its page, with a processing time from before it, and the clocks of two
/// workers apart.
pub const PASS_OVERLAP_MS: i64 = 3_600_000;

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upkeep {
    /// Frames given the current keys.
    pub rekeyed: usize,
    /// Accepted frames entered in the index for the first time.
    pub backfilled: usize,
    /// Frames left as they are: a stored core that cannot be read, or a published picture
    /// that is missing or not a JPEG.
    pub unusable: usize,
}

/// Re-keys, then backfills: everything the first time a pass of the current scheme runs,
/// then only the captures processed since the last finished pass began (less
/// [`PASS_OVERLAP_MS`]); records the pass when both are done.
pub async fn bring_up_to_date(store: &Store) -> Result<Upkeep, store::Error> {
    let began = TimestampMs::now();
    let since = store
        .db
        .footage_upkeep_began(SCHEME_FLOOR)
        .await?
        .map(|last| TimestampMs(last.as_millis() - PASS_OVERLAP_MS));
    let rekeyed = rekey_since(store, since).await?;
    let backfilled = backfill_since(store, since).await?;
    store.db.record_footage_upkeep(SCHEME_FLOOR, began).await?;
    Ok(Upkeep {
        rekeyed: rekeyed.rekeyed,
        backfilled: backfilled.backfilled,
        unusable: rekeyed.unusable + backfilled.unusable,
    })
}

/// Gives every frame of the index keyed by an earlier scheme the current keys.
pub async fn rekey_footage(store: &Store) -> Result<Upkeep, store::Error> {
    rekey_since(store, None).await
}

/// [`rekey_footage`] of the frames of captures processed at or after `since` (`None`: all).
async fn rekey_since(store: &Store, since: Option<TimestampMs>) -> Result<Upkeep, store::Error> {
    let mut done = Upkeep::default();
    let mut after: Option<FrameId> = None;
    loop {
        let page = store
            .db
            .footage_keyed_below(SCHEME_FLOOR, since, after, PAGE)
            .await?;
        let Some((last, _)) = page.last() else {
            return Ok(done);
        };
        after = Some(*last);
        let keyed: Vec<(FrameId, Vec<i64>)> = page
            .iter()
            .filter_map(|(sha256, core)| {
                Fingerprint::from_bytes(core).map(|core| (*sha256, stored_keys(&core)))
            })
            .collect();
        done.unusable += page.len() - keyed.len();
        done.rekeyed += keyed.len();
        store.db.rekey_footage(SCHEME_FLOOR, &keyed).await?;
    }
}

/// Enters every accepted frame the index lacks, from its published picture.
pub async fn backfill_footage(store: &Store) -> Result<Upkeep, store::Error> {
    backfill_since(store, None).await
}

/// [`backfill_footage`] of the frames of captures processed at or after `since` (`None`:
/// all).
async fn backfill_since(store: &Store, since: Option<TimestampMs>) -> Result<Upkeep, store::Error> {
    let mut done = Upkeep::default();
    let mut after: Option<FrameId> = None;
    loop {
        let page = store
            .db
            .accepted_frames_without_footage(since, after, PAGE)
            .await?;
        let Some(last) = page.last() else {
            return Ok(done);
        };
        after = Some(last.sha256);
        let mut entries: Vec<(UnindexedFrame, FootageEntry)> = Vec::with_capacity(page.len());
        for frame in page {
            let public = match store.blobs.get(&BlobKey::public_frame(&frame.sha256)).await {
                Ok(public) => public,
                Err(store::Error::BlobNotFound { .. }) => {
                    done.unusable += 1;
                    continue;
                }
                Err(other) => return Err(other),
            };
            let core = tokio::task::spawn_blocking(move || core_print(&public))
                .await
                .ok()
                .and_then(Result::ok);
            let Some(core) = core else {
                done.unusable += 1;
                continue;
            };
            entries.push((
                frame,
                FootageEntry {
                    keys: stored_keys(&core),
                    core: core.to_bytes(),
                },
            ));
        }
        done.backfilled += entries.len();
        store.db.index_footage(&entries).await?;
    }
}
