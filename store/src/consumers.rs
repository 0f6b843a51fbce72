//! What metering reads and writes: map consumers' API keys (the secret only as its sha256),
//! the credit ledger, usage summed per key, day, kind and cell-week, and the cell-weeks of
//! accepted coverage inside H3 cells.

use model::{CellWeek, ContributorId, TimestampMs, UsageKind};
use sqlx::Row;

use crate::db::{conflict_or, parse_column as parse};
use crate::{Db, Error, Result};

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;
/// 1970-01-01 was a Thursday: weeks counted from Monday 1969-12-29 start on ISO Mondays.
const MONDAY_OFFSET_MS: i64 = 3 * 24 * 3600 * 1000;

/// A key to store; the secret itself never reaches the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub id: String,
    pub account: ContributorId,
    pub name: String,
    pub scopes: Vec<UsageKind>,
    pub secret_sha256: String,
    pub created_at: TimestampMs,
}

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub account: ContributorId,
    pub name: String,
    pub scopes: Vec<UsageKind>,
    pub secret_sha256: String,
    pub created_at: TimestampMs,
    pub revoked_at: Option<TimestampMs>,
}

/// Metered use to add: `requests` requests of one key on one UTC day that consumed this
/// cell-week, costing `credits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub key_id: String,
    pub day: String,
    pub kind: UsageKind,
    pub cell_week: CellWeek,
    pub requests: u64,
    pub credits: i64,
}

/// An account's use summed per day or per cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageTotal {
    /// The day (`YYYY-MM-DD`) or the cell (H3 index, hex) the sums are for.
    pub group: String,
    pub kind: UsageKind,
    pub requests: u64,
    pub credits: i64,
}

fn scopes_text(scopes: &[UsageKind]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<ApiKeyRow> {
    let scopes: String = row.try_get("scopes")?;
    Ok(ApiKeyRow {
        id: row.try_get("id")?,
        account: parse(row, "account_id")?,
        name: row.try_get("name")?,
        scopes: scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(Error::Corrupt))
            .collect::<Result<_>>()?,
        secret_sha256: row.try_get("secret_sha256")?,
        created_at: TimestampMs(row.try_get("created_at_ms")?),
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at_ms")?
            .map(TimestampMs),
    })
}

/// The range of res-12 cell integers under a coarser cell: H3 keeps a cell's descendants
/// at one resolution contiguous once the resolution field is set (digits below the parent
/// run 0–6, unused digits are 7).
fn coverage_cell_range(parent: h3o::CellIndex) -> (i64, i64) {
    const RESOLUTION_SHIFT: u32 = 52;
    let parent_res = u8::from(parent.resolution()) as u32;
    let target = u8::from(model::COVERAGE_RESOLUTION) as u32;
    let mut low =
        u64::from(parent) & !(0xF << RESOLUTION_SHIFT) | u64::from(target) << RESOLUTION_SHIFT;
    let mut high = low;
    for res in parent_res + 1..=target {
        let shift = (15 - res) * 3;
        low &= !(0b111 << shift);
        high = high & !(0b111 << shift) | 0b110 << shift;
    }
    (low as i64, high as i64)
}

impl Db {
    pub async fn insert_api_key(&self, new: &NewApiKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, name, scopes, secret_sha256, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&new.id)
        .bind(new.account.to_string())
        .bind(&new.name)
        .bind(scopes_text(&new.scopes))
        .bind(&new.secret_sha256)
        .bind(new.created_at.as_millis())
        .execute(self.pool())
        .await
        .map_err(|err| conflict_or(err, "api key"))?;
        Ok(())
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRow>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| key_from_row(&row)).transpose()
    }

    /// An account's keys, newest first (revoked ones too).
    pub async fn api_keys_of(&self, account: ContributorId) -> Result<Vec<ApiKeyRow>> {
        let rows = sqlx::query(
            "SELECT * FROM api_keys WHERE account_id = $1 ORDER BY created_at_ms DESC, id",
        )
        .bind(account.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Revokes an account's key; false when the account has no such active key.
    pub async fn revoke_api_key(
        &self,
        account: ContributorId,
        id: &str,
        at: TimestampMs,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at_ms = $1 \
             WHERE id = $2 AND account_id = $3 AND revoked_at_ms IS NULL",
        )
        .bind(at.as_millis())
        .bind(id)
        .bind(account.to_string())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds credits to an account (an operator's grant); returns the new balance.
    pub async fn grant_credits(
        &self,
        account: ContributorId,
        amount: i64,
        at: TimestampMs,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO credit_ledger (account_id, amount, reason, at_ms) VALUES ($1, $2, 'grant', $3)",
        )
        .bind(account.to_string())
        .bind(amount)
        .bind(at.as_millis())
        .execute(&mut *tx)
        .await?;
        let balance: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM credit_ledger WHERE account_id = $1",
        )
        .bind(account.to_string())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(balance)
    }

    pub async fn credit_balance(&self, account: ContributorId) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM credit_ledger WHERE account_id = $1",
        )
        .bind(account.to_string())
        .fetch_one(self.pool())
        .await?)
    }

    /// Adds metered use and its spend in one transaction: the usage rows (summed into any
    /// row of the same key, day, kind and cell-week) and one ledger row per account.
    pub async fn record_usage(
        &self,
        usage: &[UsageRow],
        spend: &[(ContributorId, i64)],
        at: TimestampMs,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        for row in usage {
            sqlx::query(
                "INSERT INTO usage (key_id, day, kind, cell, week, requests, credits) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (key_id, day, kind, cell, week) DO UPDATE SET \
                 requests = usage.requests + excluded.requests, \
                 credits = usage.credits + excluded.credits",
            )
            .bind(&row.key_id)
            .bind(&row.day)
            .bind(row.kind.as_str())
            .bind(row.cell_week.cell as i64)
            .bind(&row.cell_week.week)
            .bind(row.requests as i64)
            .bind(row.credits)
            .execute(&mut *tx)
            .await?;
        }
        for (account, credits) in spend.iter().filter(|(_, c)| *c != 0) {
            sqlx::query(
                "INSERT INTO credit_ledger (account_id, amount, reason, at_ms) VALUES ($1, $2, 'usage', $3)",
            )
            .bind(account.to_string())
            .bind(-credits)
            .bind(at.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An account's use since `since_day` (inclusive), summed per day and kind.
    pub async fn usage_by_day(
        &self,
        account: ContributorId,
        since_day: &str,
    ) -> Result<Vec<UsageTotal>> {
        self.usage_totals("u.day", account, since_day).await
    }

    /// An account's use since `since_day` (inclusive), summed per res-9 cell and kind.
    pub async fn usage_by_cell(
        &self,
        account: ContributorId,
        since_day: &str,
    ) -> Result<Vec<UsageTotal>> {
        self.usage_totals("u.cell", account, since_day).await
    }

    async fn usage_totals(
        &self,
        group: &'static str,
        account: ContributorId,
        since_day: &str,
    ) -> Result<Vec<UsageTotal>> {
        let rows = sqlx::query(&format!(
            "SELECT {group} AS grp, u.kind AS kind, CAST(SUM(u.requests) AS BIGINT) AS requests, \
             CAST(SUM(u.credits) AS BIGINT) AS credits FROM usage u JOIN api_keys k ON k.id = u.key_id \
             WHERE k.account_id = $1 AND u.day >= $2 GROUP BY {group}, u.kind \
             ORDER BY {group}, u.kind"
        ))
        .bind(account.to_string())
        .bind(since_day)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let group = if group == "u.cell" {
                    format!("{:x}", row.try_get::<i64, _>("grp")?)
                } else {
                    row.try_get("grp")?
                };
                Ok(UsageTotal {
                    group,
                    kind: row
                        .try_get::<String, _>("kind")?
                        .parse()
                        .map_err(Error::Corrupt)?,
                    requests: row.try_get::<i64, _>("requests")? as u64,
                    credits: row.try_get("credits")?,
                })
            })
            .collect()
    }

    /// Credits spent per cell-week on the days `from_day..until_day` (`YYYY-MM-DD`, the end
    /// excluded), over every key; cell-weeks with nothing spent are left out.
    pub async fn credits_per_cell_week(
        &self,
        from_day: &str,
        until_day: &str,
    ) -> Result<Vec<(CellWeek, u64)>> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT cell, week, CAST(SUM(credits) AS BIGINT) FROM usage WHERE day >= $1 AND day < $2 \
             GROUP BY cell, week HAVING SUM(credits) > 0 ORDER BY cell, week",
        )
        .bind(from_day)
        .bind(until_day)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(cell, week, credits)| {
                (
                    CellWeek {
                        cell: cell as u64,
                        week,
                    },
                    credits as u64,
                )
            })
            .collect())
    }

    /// Per device, the distinct coverage-resolution cells of its accepted frames under the
    /// H3 cell `parent` captured in `start..end`, leaving out captures held for review as of
    /// `held_as_of` (they are paid nothing, as in [`Db::held_captures`]).
    pub async fn coverage_by_device(
        &self,
        parent: h3o::CellIndex,
        start: TimestampMs,
        end: TimestampMs,
        held_as_of: TimestampMs,
    ) -> Result<Vec<(model::DeviceId, u64)>> {
        let (low, high) = coverage_cell_range(parent);
        let sql = format!(
            "SELECT c.device_id AS device_id, COUNT(DISTINCT f.cell) AS cells \
             FROM frames f JOIN captures c ON c.id = f.capture_id \
             WHERE f.cell BETWEEN $1 AND $2 AND f.time_ms >= $3 AND f.time_ms < $4 \
             AND f.status = 'accepted' \
             AND NOT EXISTS (SELECT 1 FROM fraud_cases k WHERE k.capture_id = c.id AND {held}) \
             GROUP BY c.device_id ORDER BY c.device_id",
            held = crate::reviews::held_as_of("k", "$5")
        );
        let rows = sqlx::query(&sql)
            .bind(low)
            .bind(high)
            .bind(start.as_millis())
            .bind(end.as_millis())
            .bind(held_as_of.as_millis())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse(row, "device_id")?,
                    row.try_get::<i64, _>("cells")? as u64,
                ))
            })
            .collect()
    }

    /// The cell-weeks (at [`model::CONSUMPTION_RESOLUTION`]) of the accepted coverage inside
    /// the box `[west, south, east, north]` (degrees): of every coverage cell (res 12, about
    /// 9 m across) whose centre lies in the box and that holds an accepted frame, the parent
    /// cell and the week of each such frame. Looked up through `cells`, H3 cells of any
    /// resolution up to 12 that together cover the box, each one covering index range scan.
    pub async fn cell_weeks_in_box(
        &self,
        cells: &[h3o::CellIndex],
        [west, south, east, north]: [f64; 4],
    ) -> Result<Vec<CellWeek>> {
        let mut found = std::collections::BTreeSet::new();
        for cell in cells {
            let (low, high) = coverage_cell_range(*cell);
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT DISTINCT cell, (time_ms + $3) / $4 FROM frames \
                 WHERE status = 'accepted' AND cell BETWEEN $1 AND $2",
            )
            .bind(low)
            .bind(high)
            .bind(MONDAY_OFFSET_MS)
            .bind(WEEK_MS)
            .fetch_all(self.pool())
            .await?;
            for (coverage, week) in rows {
                let Ok(coverage) = h3o::CellIndex::try_from(coverage as u64) else {
                    continue;
                };
                let centre = h3o::LatLng::from(coverage);
                let inside = (west..=east).contains(&centre.lng())
                    && (south..=north).contains(&centre.lat());
                if let (true, Some(parent)) =
                    (inside, coverage.parent(model::CONSUMPTION_RESOLUTION))
                {
                    let monday = TimestampMs(week * WEEK_MS - MONDAY_OFFSET_MS);
                    found.insert(CellWeek {
                        cell: u64::from(parent),
                        week: model::iso_week(monday),
                    });
                }
            }
        }
        Ok(found.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use h3o::{LatLng, Resolution};

    use super::*;

    #[test]
    fn the_coverage_range_holds_exactly_the_descendants() {
        let cell = LatLng::new(48.137_154, 11.575_382)
            .unwrap()
            .to_cell(Resolution::Nine);
        let (low, high) = coverage_cell_range(cell);
        let children: Vec<i64> = cell
            .children(model::COVERAGE_RESOLUTION)
            .map(|c| u64::from(c) as i64)
            .collect();
        assert_eq!(children.len(), 343);
        assert_eq!(*children.iter().min().unwrap(), low);
        assert_eq!(*children.iter().max().unwrap(), high);
        // A neighbour's descendants are all outside.
        let neighbour = cell.grid_disk::<Vec<_>>(1)[1];
        assert!(
            neighbour
                .children(model::COVERAGE_RESOLUTION)
                .all(|c| !(low..=high).contains(&(u64::from(c) as i64)))
        );
    }
}
