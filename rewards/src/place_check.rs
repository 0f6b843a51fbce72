//! The close's second look at place consensus ([`model::consensus`]): before an epoch is
//! computed, every capture of it whose frames were accepted is compared again with what
//! other devices filmed around its places — now with the whole epoch's views, not only
//! those that existed when it was processed. A capture whose frames are unlike the views of
//! the well-mapped places it claims is held for a reviewer (an `unlike-place` case); the
//! epoch pays none of a held capture's frames ([`crate::shell::load_inputs`]). So a spoofer
//! who was first on a street with footage of elsewhere earns nothing once others have
//! filmed it in the same week.
//!
//! A device is judged over the epoch ([`model::consensus::device_holds`]): once two of its
//! captures were held `unlike-place` (by the worker, an earlier close, or this one), its
//! other captures of the epoch are held with them (`unvouched-place`) unless their places
//! vouch for them. Footage of elsewhere proves nothing on a street nobody else filmed, so a
//! device caught sending it earns nothing there either.
//!
//! Never does: reject, unpublish or pay anything itself; it opens cases.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use model::consensus::{
    ConsensusConfig, Fingerprint, PlaceFit, VIEW_RINGS, VIEW_WINDOW_MS, View, agreement,
    device_holds,
};
use model::{CaptureId, DeviceId, RejectReason, TimestampMs};
use store::Store;

use crate::{EpochId, Result};

/// Cells per views query (well under either database's limit of bound values).
const CELLS_PER_QUERY: usize = 500;

/// Holds the captures of `epoch` whose pixels disagree with their places, and the others of
/// a device caught doing so that their places do not vouch for; returns how many it held now
/// (cases opened before are left as they are).
pub async fn hold_unlike_captures(store: &Store, epoch: EpochId, at: TimestampMs) -> Result<usize> {
    let config = ConsensusConfig::default();
    let captures = store
        .db
        .captures_to_rejudge(epoch.starts_at(), epoch.ends_at())
        .await?;
    let held_before = store
        .db
        .captures_held_by_device(
            RejectReason::UnlikePlace,
            epoch.starts_at(),
            epoch.ends_at(),
        )
        .await?;
    let mut by_device: BTreeMap<DeviceId, Vec<(CaptureId, PlaceFit)>> = BTreeMap::new();
    for capture in captures {
        let Some(earliest) = capture.frames.iter().map(|(_, time, _)| *time).min() else {
            continue;
        };
        let rings: HashMap<u64, Vec<u64>> = capture
            .frames
            .iter()
            .map(|(cell, ..)| (*cell, ring(*cell)))
            .collect();
        let cells: Vec<u64> = rings
            .values()
            .flatten()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut by_cell: HashMap<u64, Vec<View>> = HashMap::new();
        for chunk in cells.chunks(CELLS_PER_QUERY) {
            let since = earliest.saturating_add_ms(-VIEW_WINDOW_MS);
            for view in store.db.views_in(chunk, since).await? {
                if let Some(print) = Fingerprint::from_bytes(&view.fingerprint) {
                    by_cell.entry(view.cell).or_default().push(View {
                        device: view.device,
                        heading: view.heading,
                        print,
                    });
                }
            }
        }
        let agreements: Vec<_> = capture
            .frames
            .iter()
            .filter_map(|(cell, _, frame)| {
                let print = Fingerprint::from_bytes(&frame.fingerprint)?;
                let near: Vec<View> = rings[cell]
                    .iter()
                    .flat_map(|c| by_cell.get(c).into_iter().flatten())
                    .cloned()
                    .collect();
                Some(agreement(
                    &print,
                    frame.heading,
                    capture.device,
                    &near,
                    &config,
                ))
            })
            .collect();
        by_device
            .entry(capture.device)
            .or_default()
            .push((capture.capture, PlaceFit::of(&agreements)));
    }
    let mut held = 0;
    for (device, captures) in by_device {
        let fits: Vec<PlaceFit> = captures.iter().map(|(_, fit)| *fit).collect();
        let before = held_before.get(&device).copied().unwrap_or(0);
        let holds = device_holds(&fits, before, &config);
        for ((capture, _), hold) in captures.iter().zip(holds) {
            if let Some(reason) = hold {
                store.db.hold_capture(*capture, reason, at).await?;
                held += 1;
            }
        }
    }
    Ok(held)
}

/// `cell` and its neighbours within [`VIEW_RINGS`].
fn ring(cell: u64) -> Vec<u64> {
    h3o::CellIndex::try_from(cell).map_or_else(
        |_| Vec::new(),
        |center| {
            center
                .grid_disk::<Vec<_>>(VIEW_RINGS)
                .into_iter()
                .map(u64::from)
                .collect()
        },
    )
}
