//! The fork-debt metric: a daily snapshot per package, and the trend per downstream (from
//! snapshots, and before the first one from `scan --history`).

use super::{QueryContext, Result, Store};
use sqlx::Row;
use std::collections::BTreeMap;

impl Store {
    /// Records today's debt of every package: carried patches, how many are droppable and
    /// local-only, lines changed, and the oldest patch's first-seen time.
    ///
    /// # Errors
    /// A database error.
    pub async fn snapshot_debt(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        let day = now.format("%Y-%m-%d").to_string();
        let packages = self.load_packages(None, None).await?;
        let verdicts: std::collections::HashMap<(String, String, String), String> = sqlx::query(
            "SELECT d.name, k.name, p.file, v.state FROM verdicts v JOIN patches p ON p.id = v.patch_id \
             JOIN packages k ON k.id = p.package_id JOIN downstreams d ON d.id = k.downstream_id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("loading verdicts")?
        .iter()
        .filter_map(|r| Some(((r.try_get(0).ok()?, r.try_get(1).ok()?, r.try_get(2).ok()?), r.try_get(3).ok()?)))
        .collect();
        let mut tx = self.pool.begin().await.ctx("starting a snapshot")?;
        let mut n = 0;
        for p in packages.iter().filter(|p| p.removed_at.is_none()) {
            let carried: Vec<_> = p.carried().collect();
            let droppable = carried
                .iter()
                .filter(|sp| {
                    verdicts
                        .get(&(
                            p.downstream.clone(),
                            p.package.name.clone(),
                            sp.patch.file.clone(),
                        ))
                        .map(String::as_str)
                        == Some("droppable")
                })
                .count();
            let local = carried.iter().filter(|sp| sp.patch.is_local_only()).count();
            let lines: u64 = carried
                .iter()
                .map(|sp| u64::from(sp.patch.lines_added) + u64::from(sp.patch.lines_removed))
                .sum();
            let oldest = carried.iter().map(|sp| sp.first_seen.clone()).min();
            sqlx::query(
                "INSERT INTO debt_snapshots (downstream, day, package, carried, droppable, local_only, lines, oldest) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (downstream, day, package) DO UPDATE SET \
                 carried = excluded.carried, droppable = excluded.droppable, local_only = excluded.local_only, \
                 lines = excluded.lines, oldest = excluded.oldest",
            )
            .bind(p.downstream.clone())
            .bind(day.clone())
            .bind(p.package.name.clone())
            .bind(carried.len() as i64)
            .bind(droppable as i64)
            .bind(local as i64)
            .bind(lines as i64)
            .bind(oldest)
            .execute(&mut *tx)
            .await
            .ctx("recording a snapshot")?;
            n += 1;
        }
        tx.commit().await.ctx("committing a snapshot")?;
        Ok(n)
    }

    /// Carried patches of `downstream` on each of the `days` (YYYY-MM-DD, ascending): from the
    /// daily snapshots, and for days before the first snapshot from git history.
    ///
    /// # Errors
    /// A database error.
    pub async fn debt_trend(&self, downstream: &str, days: &[String]) -> Result<Vec<Option<i64>>> {
        let snaps = sqlx::query(
            "SELECT day, package, carried FROM debt_snapshots WHERE downstream = $1 ORDER BY day",
        )
        .bind(downstream.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading snapshots")?;
        let mut by_day: BTreeMap<String, i64> = BTreeMap::new();
        for r in &snaps {
            let day: String = r.try_get("day").ctx("reading snapshots")?;
            *by_day.entry(day).or_default() +=
                r.try_get::<i64, _>("carried").ctx("reading snapshots")?;
        }
        // History: the count per package as of each commit.
        let history = self.history(downstream).await?;
        let first_snapshot = by_day.keys().next().cloned();
        let mut out = Vec::with_capacity(days.len());
        for day in days {
            if let Some(v) = by_day.range(..=day.clone()).next_back().map(|(_, v)| *v) {
                out.push(Some(v));
                continue;
            }
            if first_snapshot.as_ref().is_some_and(|f| day >= f) {
                out.push(None);
                continue;
            }
            let end = format!("{day}T23:59:59Z");
            let mut latest: BTreeMap<&str, i64> = BTreeMap::new();
            for h in history.iter().filter(|h| h.committed_at <= end) {
                latest.insert(h.package.as_str(), h.patches);
            }
            out.push((!latest.is_empty()).then(|| latest.values().sum()));
        }
        Ok(out)
    }
}

/// `▁▂▃▄▅▆▇█` for the values (gaps as spaces), scaled between their min and max.
pub fn sparkline(values: &[Option<i64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let known: Vec<i64> = values.iter().flatten().copied().collect();
    let (Some(min), Some(max)) = (known.iter().min(), known.iter().max()) else {
        return " ".repeat(values.len());
    };
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if max == min => BARS[3],
            Some(v) => BARS[(((v - min) * 7) / (max - min)).clamp(0, 7) as usize],
        })
        .collect()
}
