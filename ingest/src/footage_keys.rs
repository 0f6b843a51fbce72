//! Keeps the global footage index's keys in the current scheme (`model::footage::KEY_SCHEME`):
//! frames keyed by an earlier scheme are given the current keys, made again from their stored
//! cores, so footage accepted before a scheme change is still found. The pipeline worker asks
//! it as it starts; it is idempotent, so two workers doing it at once do no harm.
//!
//! Owns only the re-keying loop; the keys are `model::footage`'s, the rows the store's.

use model::FrameId;
use model::consensus::Fingerprint;
use model::footage::{SCHEME_FLOOR, keys};
use store::Store;

/// Frames re-keyed per transaction.
const PAGE: u32 = 500;

/// What a re-keying pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rekeyed {
    /// Frames given the current keys.
    pub frames: usize,
    /// Frames whose stored core could not be read (left as they are: they cannot be keyed).
    pub unreadable: usize,
}

/// Gives every frame of the index keyed by an earlier scheme the current keys, a page at a
/// time (each page one transaction: a pass cut short leaves whole frames done).
pub async fn rekey_footage(store: &Store) -> Result<Rekeyed, store::Error> {
    let mut done = Rekeyed::default();
    let mut after: Option<FrameId> = None;
    loop {
        let page = store
            .db
            .footage_keyed_below(SCHEME_FLOOR, after, PAGE)
            .await?;
        let Some((last, _)) = page.last() else {
            return Ok(done);
        };
        after = Some(*last);
        let keyed: Vec<(FrameId, Vec<i64>)> = page
            .iter()
            .filter_map(|(sha256, core)| {
                Fingerprint::from_bytes(core).map(|core| (*sha256, keys(&core)))
            })
            .collect();
        done.unreadable += page.len() - keyed.len();
        done.frames += keyed.len();
        store.db.rekey_footage(SCHEME_FLOOR, &keyed).await?;
    }
}
