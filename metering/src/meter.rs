//! Counting in memory: what the gate admitted since the last flush, and what each account
//! may still spend. Pure bookkeeping behind one mutex; the flush takes everything out and
//! puts it back if the store refuses it, so nothing counted is dropped.

use std::collections::HashMap;
use std::sync::Mutex;

use model::{CellWeek, ContributorId, UsageKind};
use tiles::TileCoord;

/// A key, by its id's number ([`crate::keys::KeyText::number`]).
pub(crate) type KeyNo = u64;
/// A UTC day, as days since 1970-01-01.
pub(crate) type DayNo = i64;

/// Today's [`DayNo`].
pub(crate) fn today() -> DayNo {
    model::TimestampMs::now().as_millis().div_euclid(86_400_000)
}

/// A [`DayNo`] as `YYYY-MM-DD`.
pub(crate) fn day_text(day: DayNo) -> String {
    model::utc_day(model::TimestampMs(day * 86_400_000))
}

/// Coverage use already priced (imagery and search know their cell-weeks at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counted {
    pub requests: u64,
    pub credits: i64,
}

/// Everything counted since the last flush.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    /// Tile requests per (key, UTC day, tile): priced at the flush, which looks up the
    /// cell-weeks a tile holds.
    pub tiles: HashMap<(KeyNo, DayNo, TileCoord), u64>,
    pub coverage: HashMap<(KeyNo, DayNo, UsageKind, CellWeek), Counted>,
    /// Which account each counted key belongs to.
    pub accounts: HashMap<KeyNo, ContributorId>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty() && self.coverage.is_empty()
    }

    /// Adds `other` into `self` (a failed flush's use goes back in front of newer use).
    pub fn merge(&mut self, other: Pending) {
        for (key, n) in other.tiles {
            *self.tiles.entry(key).or_default() += n;
        }
        for (key, counted) in other.coverage {
            let entry = self.coverage.entry(key).or_default();
            entry.requests += counted.requests;
            entry.credits += counted.credits;
        }
        self.accounts.extend(other.accounts);
    }
}

#[derive(Debug, Default)]
struct State {
    pending: Pending,
    /// Balance as the store last said, per account.
    balances: HashMap<ContributorId, i64>,
    /// Credits priced in memory and not yet in the store's ledger, per account.
    unflushed_spend: HashMap<ContributorId, i64>,
}

#[derive(Debug, Default)]
pub(crate) struct Meter {
    state: Mutex<State>,
}

impl Meter {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the account may still spend as far as this server knows; `None` until the
    /// store was asked once.
    pub fn spendable(&self, account: ContributorId) -> Option<i64> {
        let state = self.lock();
        let balance = *state.balances.get(&account)?;
        Some(balance - state.unflushed_spend.get(&account).copied().unwrap_or(0))
    }

    /// The store's balance for an account (read at a flush or a first request).
    pub fn set_balance(&self, account: ContributorId, balance: i64) {
        self.lock().balances.insert(account, balance);
    }

    pub fn known_accounts(&self) -> Vec<ContributorId> {
        self.lock().balances.keys().copied().collect()
    }

    pub fn count_tile(&self, key: KeyNo, account: ContributorId, day: DayNo, tile: TileCoord) {
        let mut state = self.lock();
        *state.pending.tiles.entry((key, day, tile)).or_default() += 1;
        state.pending.accounts.insert(key, account);
    }

    /// One request of `kind` that served `cell_weeks`, each at `price` credits.
    pub fn count_coverage<'a>(
        &self,
        key: KeyNo,
        account: ContributorId,
        day: DayNo,
        kind: UsageKind,
        cell_weeks: impl IntoIterator<Item = &'a CellWeek>,
        price: i64,
    ) {
        let mut state = self.lock();
        let mut spent = 0;
        for cell_week in cell_weeks {
            let counted = state
                .pending
                .coverage
                .entry((key, day, kind, cell_week.clone()))
                .or_default();
            counted.requests += 1;
            counted.credits += price;
            spent += price;
        }
        if spent > 0 {
            *state.unflushed_spend.entry(account).or_default() += spent;
            state.pending.accounts.insert(key, account);
        }
    }

    /// Everything counted so far, leaving the meter empty (the spend stays reserved
    /// against the balances until [`Self::flushed`] or [`Self::put_back`]).
    pub fn take(&self) -> Pending {
        std::mem::take(&mut self.lock().pending)
    }

    /// A flush failed: its use goes back to be flushed again.
    pub fn put_back(&self, pending: Pending) {
        self.lock().pending.merge(pending);
    }

    /// A flush stored `spend` per account and the store now says `balances`.
    pub fn flushed(&self, spend: &HashMap<ContributorId, i64>, balances: &[(ContributorId, i64)]) {
        let mut state = self.lock();
        for (account, credits) in spend {
            if let Some(unflushed) = state.unflushed_spend.get_mut(account) {
                *unflushed = (*unflushed - credits).max(0);
            }
        }
        for (account, balance) in balances {
            state.balances.insert(*account, *balance);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell_week(cell: u64) -> CellWeek {
        CellWeek {
            cell,
            week: "2026-W47".into(),
        }
    }

    #[test]
    fn priced_use_is_reserved_against_the_balance_until_flushed() {
        let meter = Meter::default();
        let alice = ContributorId::new();
        assert_eq!(meter.spendable(alice), None);
        meter.set_balance(alice, 100);
        meter.count_coverage(7, alice, 20_412, UsageKind::Imagery, &[cell_week(1)], 20);
        meter.count_coverage(
            7,
            alice,
            20_412,
            UsageKind::Search,
            &[cell_week(1), cell_week(2)],
            2,
        );
        assert_eq!(meter.spendable(alice), Some(76));
        let pending = meter.take();
        assert_eq!(pending.coverage.len(), 3);
        assert!(meter.take().is_empty());
        meter.flushed(&HashMap::from([(alice, 24)]), &[(alice, 76)]);
        assert_eq!(meter.spendable(alice), Some(76));
    }

    #[test]
    fn a_failed_flush_puts_everything_back() {
        let meter = Meter::default();
        let alice = ContributorId::new();
        let tile = TileCoord::new(14, 8716, 5680).unwrap();
        meter.count_tile(7, alice, 20_412, tile);
        let first = meter.take();
        meter.count_tile(7, alice, 20_412, tile);
        meter.put_back(first);
        let all = meter.take();
        assert_eq!(all.tiles[&(7, 20_412, tile)], 2);
        assert_eq!(all.accounts[&7], alice);
        assert_eq!(day_text(20_412), "2025-11-20");
    }
}
