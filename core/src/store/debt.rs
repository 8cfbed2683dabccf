//! The fork-debt metric: a daily snapshot per package, and the trend per downstream (from
//! snapshots, and before the first one from `scan --history`).

use super::{QueryContext, Result, Store};
use std::collections::BTreeMap;

impl Store {
    /// Records today's debt of every package: carried patches, how many are droppable and
    /// local-only, lines changed, and the oldest patch's first-seen time.
    ///
    /// # Errors
    /// A database error.
    pub async fn snapshot_debt(&self, now: chrono::DateTime<chrono::Utc>) -> Result<u64> {
        // One statement: aggregates in SQL (CAST because PostgreSQL sums BIGINT to NUMERIC).
        // `ours <> 0`, not `ours = 1`: with the equality, the bundled SQLite planned this
        // statement 40 times slower (1.9 s at 20,000 patches; `cargo bench --bench scan`).
        // Local-only here means "no reference at all", which is what the scan can tell.
        let r = self.exec(
sqlx::query(
            "INSERT INTO debt_snapshots (downstream, day, package, carried, droppable, local_only, lines, oldest) \
             SELECT d.name, $1, k.name, COUNT(p.id), \
             CAST(COALESCE(SUM(CASE WHEN v.state = 'droppable' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN p.id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM patch_refs r WHERE r.patch_id = p.id) THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(p.lines_added + p.lines_removed), 0) AS BIGINT), MIN(p.first_seen) \
             FROM packages k JOIN downstreams d ON d.id = k.downstream_id \
             LEFT JOIN patches p ON p.package_id = k.id AND p.dropped_at IS NULL \
             AND p.ours <> 0 \
             LEFT JOIN verdicts v ON v.patch_id = p.id \
             WHERE k.removed_at IS NULL GROUP BY d.name, k.name \
             ON CONFLICT (downstream, day, package) DO UPDATE SET carried = excluded.carried, \
             droppable = excluded.droppable, local_only = excluded.local_only, lines = excluded.lines, \
             oldest = excluded.oldest",
        )
        .bind(now.format("%Y-%m-%d").to_string()),
"recording the debt snapshot")
.await?;
        Ok(r.rows_affected())
    }

    /// Carried patches of `downstream` on each of the `days` (YYYY-MM-DD, ascending): from the
    /// daily snapshots, and for days before the first snapshot from git history.
    ///
    /// # Errors
    /// A database error.
    pub async fn debt_trend(&self, downstream: &str, days: &[String]) -> Result<Vec<Option<i64>>> {
        self.debt_trend_of(downstream, days, &[]).await
    }

    /// [`Store::debt_trend`] counting only `packages` (all when empty).
    ///
    /// # Errors
    /// A database error.
    pub async fn debt_trend_of(
        &self,
        downstream: &str,
        days: &[String],
        packages: &[String],
    ) -> Result<Vec<Option<i64>>> {
        let wanted = |p: &str| packages.is_empty() || packages.iter().any(|x| x == p);
        let mut by_day: BTreeMap<String, i64> = BTreeMap::new();
        if packages.is_empty() {
            // Summed in SQL: a row per day instead of one per package and day.
            let sums: Vec<(String, i64)> = sqlx::query_as(
                "SELECT day, CAST(SUM(carried) AS BIGINT) FROM debt_snapshots WHERE downstream = $1 GROUP BY day",
            )
            .bind(downstream.to_string())
            .fetch_all(&self.pool)
            .await
            .ctx("loading snapshots")?;
            by_day.extend(sums);
        } else {
            let snaps: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT day, package, carried FROM debt_snapshots WHERE downstream = $1 ORDER BY day",
            )
            .bind(downstream.to_string())
            .fetch_all(&self.pool)
            .await
            .ctx("loading snapshots")?;
            for (day, package, carried) in snaps {
                if wanted(&package) {
                    *by_day.entry(day).or_default() += carried;
                }
            }
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
            for h in history
                .iter()
                .filter(|h| h.committed_at <= end && wanted(&h.package))
            {
                latest.insert(h.package.as_str(), h.patches);
            }
            out.push((!latest.is_empty()).then(|| latest.values().sum()));
        }
        Ok(out)
    }
}

/// How many weeks the trend shows (report, digest).
pub const TREND_WEEKS: i64 = 12;

/// The last day of each of the [`TREND_WEEKS`] weeks up to `today`, oldest first.
pub fn week_ends(today: chrono::NaiveDate) -> Vec<String> {
    (0..TREND_WEEKS)
        .rev()
        .map(|w| {
            (today - chrono::Duration::weeks(w))
                .format("%Y-%m-%d")
                .to_string()
        })
        .collect()
}

/// One package's debt as the engine last decided it (ours only): carried patches by bucket,
/// their lines, the oldest one's first-seen time.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PackageDebtRow {
    pub downstream: String,
    /// Empty for a downstream's total.
    pub package: String,
    pub evr: String,
    pub droppable: i64,
    pub merged: i64,
    pub sent: i64,
    pub kept: i64,
    pub unknown: i64,
    pub lines: i64,
    pub oldest: Option<String>,
}

impl PackageDebtRow {
    pub fn carried(&self) -> i64 {
        self.droppable + self.merged + self.sent + self.kept + self.unknown
    }
}

#[derive(sqlx::FromRow)]
struct DebtRow {
    downstream: String,
    package: String,
    epoch: Option<i64>,
    version: String,
    release: String,
    droppable: i64,
    merged: i64,
    sent: i64,
    kept: i64,
    unknown: i64,
    lines: i64,
    oldest: Option<String>,
    /// How many rows match in all (the window over the unlimited query).
    matching: i64,
}

/// `%`, `_` and `\` matched as themselves in a LIKE pattern (with `ESCAPE '\'`).
/// The longest package filter looked up: a spec file is named after its package, and a file
/// name has at most 255 bytes.
pub const MAX_FILTER_BYTES: usize = 255;

fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    /// The packages whose name contains `filter` (any case), most debt first, at most
    /// `limit` of them, and how many match in all. Read from the engine's per-package debt:
    /// no patch is loaded, so the dashboard's overview costs the same at 100,000 patches.
    ///
    /// # Errors
    /// A database error.
    pub async fn package_debts(
        &self,
        filter: &str,
        limit: i64,
    ) -> Result<(Vec<PackageDebtRow>, i64)> {
        // No package name is longer than a file name: a longer filter matches nothing, and
        // is never handed to LIKE (SQLite refuses patterns over 50,000 bytes).
        if filter.len() > MAX_FILTER_BYTES {
            return Ok((Vec::new(), 0));
        }
        let pattern = format!("%{}%", like_escaped(&filter.to_lowercase()));
        const FROM: &str = "FROM packages k JOIN downstreams d ON d.id = k.downstream_id \
             LEFT JOIN package_debt c ON c.package_id = k.id \
             WHERE k.removed_at IS NULL AND LOWER(k.name) LIKE $1 ESCAPE '\\'";
        let rows: Vec<DebtRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT d.name AS downstream, k.name AS package, k.epoch, k.version, k.release, \
             COALESCE(c.droppable, 0) AS droppable, COALESCE(c.merged, 0) AS merged, \
             COALESCE(c.sent, 0) AS sent, COALESCE(c.kept, 0) AS kept, COALESCE(c.unknown, 0) AS unknown, \
             COALESCE(c.lines, 0) AS lines, c.oldest, COUNT(*) OVER () AS matching {FROM} \
             ORDER BY COALESCE(c.droppable + c.merged + c.sent + c.kept + c.unknown, 0) DESC, k.name, d.name \
             LIMIT $2"
        )))
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .ctx("loading the debt per package")?;
        let total = rows.first().map_or(0, |r| r.matching);
        let rows = rows
            .into_iter()
            .map(|r| PackageDebtRow {
                evr: crate::model::evr_text(r.epoch, &r.version, &r.release),
                downstream: r.downstream,
                package: r.package,
                droppable: r.droppable,
                merged: r.merged,
                sent: r.sent,
                kept: r.kept,
                unknown: r.unknown,
                lines: r.lines,
                oldest: r.oldest,
            })
            .collect();
        Ok((rows, total))
    }

    /// The packages whose upstream mentions every path segment of `project`, with a carried
    /// patch whose verdict's first release is `version` (the `first_release` column the
    /// engine writes): a superset of what the release page shows, so it loads those only.
    ///
    /// # Errors
    /// A database error.
    pub async fn packages_first_in(&self, project: &str, version: &str) -> Result<Vec<String>> {
        let segments: Vec<String> = project
            .split('/')
            .filter(|s| !s.is_empty())
            .take(4)
            .map(|s| format!("%{}%", like_escaped(s)))
            .collect();
        let upstream: String = (0..segments.len())
            .map(|i| format!(" AND k.upstream LIKE ${} ESCAPE '\\'", i + 2))
            .collect();
        let sql = format!(
            "SELECT DISTINCT k.name FROM verdicts v JOIN patches p ON p.id = v.patch_id \
             JOIN packages k ON k.id = p.package_id \
             WHERE v.first_release = $1{upstream} \
             AND p.dropped_at IS NULL AND k.removed_at IS NULL ORDER BY k.name"
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(version.to_string());
        for s in segments {
            q = q.bind(s);
        }
        let rows: Vec<(String,)> = q
            .fetch_all(&self.pool)
            .await
            .ctx("finding packages by release")?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Carried patches of ours per downstream and verdict state: one aggregate, for
    /// `/metrics` (a scrape every 15 s must not load 100,000 patches).
    ///
    /// # Errors
    /// A database error.
    pub async fn patch_state_counts(&self) -> Result<Vec<(String, String, i64)>> {
        sqlx::query_as(
            "SELECT d.name, COALESCE(v.state, p.state) AS state, COUNT(*) FROM patches p \
             JOIN packages k ON k.id = p.package_id JOIN downstreams d ON d.id = k.downstream_id \
             LEFT JOIN verdicts v ON v.patch_id = p.id \
             WHERE p.dropped_at IS NULL AND k.removed_at IS NULL \
             AND p.ours <> 0 \
             GROUP BY d.name, COALESCE(v.state, p.state) ORDER BY 1, 2",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("counting patches by state")
    }

    /// Each downstream's debt: [`Store::package_debts`] added up (`package` and `evr` empty).
    ///
    /// # Errors
    /// A database error.
    pub async fn downstream_debts(&self) -> Result<Vec<PackageDebtRow>> {
        sqlx::query_as(
            "SELECT d.name AS downstream, '' AS package, '' AS evr, \
             CAST(COALESCE(SUM(c.droppable), 0) AS BIGINT) AS droppable, \
             CAST(COALESCE(SUM(c.merged), 0) AS BIGINT) AS merged, \
             CAST(COALESCE(SUM(c.sent), 0) AS BIGINT) AS sent, \
             CAST(COALESCE(SUM(c.kept), 0) AS BIGINT) AS kept, \
             CAST(COALESCE(SUM(c.unknown), 0) AS BIGINT) AS unknown, \
             CAST(COALESCE(SUM(c.lines), 0) AS BIGINT) AS lines, MIN(c.oldest) AS oldest \
             FROM packages k JOIN downstreams d ON d.id = k.downstream_id \
             LEFT JOIN package_debt c ON c.package_id = k.id \
             WHERE k.removed_at IS NULL GROUP BY d.name ORDER BY d.name",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("loading the debt per downstream")
    }

    /// Carried patches at the end of each of the last [`TREND_WEEKS`] weeks, of `downstream`
    /// (or every downstream, added up), counting only `packages` (all when empty).
    ///
    /// # Errors
    /// A database error.
    pub async fn weekly_trend(
        &self,
        downstream: Option<&str>,
        packages: &[String],
        today: chrono::NaiveDate,
    ) -> Result<Vec<Option<i64>>> {
        let days = week_ends(today);
        let downstreams = match downstream {
            Some(d) => vec![d.to_string()],
            None => self.downstreams().await?,
        };
        let mut totals: Vec<Option<i64>> = vec![None; days.len()];
        for ds in downstreams {
            let t = self.debt_trend_of(&ds, &days, packages).await?;
            for (sum, v) in totals.iter_mut().zip(t) {
                if let Some(v) = v {
                    *sum = Some(sum.unwrap_or(0) + v);
                }
            }
        }
        Ok(totals)
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
