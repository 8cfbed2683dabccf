//! Carried patches over git history: points per package and commit, and the age of each
//! patch from the first commit that carried it.

use super::{QueryContext, Result, Store};
use crate::inventory::history::{HistoryPoint, lifetimes};
use std::collections::BTreeSet;

/// One point of a package's carried-patch count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct HistoryRow {
    pub package: String,
    #[sqlx(rename = "commit_id")]
    pub commit: String,
    pub committed_at: String,
    pub patches: i64,
}

impl Store {
    /// Stores history points of `downstream` (already stored points are kept) and moves each
    /// carried patch's `first_seen` back to the first commit that carried it without a break.
    ///
    /// # Errors
    /// A database error; nothing is written then.
    pub async fn record_history(&self, downstream: &str, points: &[HistoryPoint]) -> Result<usize> {
        let mut tx = self.begin_write("starting the history transaction").await?;
        let (ds_id,): (i64,) = sqlx::query_as(
            "INSERT INTO downstreams (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
        )
        .bind(downstream.to_string())
        .fetch_one(&mut *tx)
        .await
        .ctx("recording the downstream")?;
        let mut inserted = 0usize;
        for p in points {
            let files = serde_json::to_string(&p.patches).unwrap_or_else(|_| "[]".into());
            let at =
                super::timestamp(chrono::DateTime::from_timestamp(p.time, 0).unwrap_or_default());
            let r = sqlx::query(
                "INSERT INTO history (downstream_id, package, commit_id, committed_at, patches, files) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(ds_id)
            .bind(p.package.clone())
            .bind(p.commit.clone())
            .bind(at)
            .bind(p.patches.len() as i64)
            .bind(files)
            .execute(&mut *tx)
            .await
            .ctx("recording history")?;
            inserted += r.rows_affected() as usize;
        }
        // Every patch's lifetimes, written again for the packages walked (the walk is whole).
        let lives = lifetimes(points);
        let packages: BTreeSet<&str> = points.iter().map(|p| p.package.as_str()).collect();
        for pkg in &packages {
            sqlx::query("DELETE FROM lifetimes WHERE downstream_id = $1 AND package = $2")
                .bind(ds_id)
                .bind(pkg.to_string())
                .execute(&mut *tx)
                .await
                .ctx("replacing lifetimes")?;
        }
        for l in &lives {
            sqlx::query(
                "INSERT INTO lifetimes (downstream_id, package, file, added_at, added_in, dropped_at, dropped_in) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(ds_id)
            .bind(l.package.clone())
            .bind(l.file.clone())
            .bind(l.added_at.clone())
            .bind(l.added_in.clone())
            .bind(l.dropped_at.clone())
            .bind(l.dropped_in.clone())
            .execute(&mut *tx)
            .await
            .ctx("recording lifetimes")?;
            // A patch still carried is as old as the commit that added it (moves and
            // renames included).
            if l.dropped_in.is_none()
                && let Some(t) = parse_any(&l.added_at)
            {
                sqlx::query(
                    "UPDATE patches SET first_seen = $1 WHERE file = $2 AND first_seen > $1 AND package_id IN \
                     (SELECT id FROM packages WHERE downstream_id = $3 AND name = $4)",
                )
                .bind(super::timestamp(t))
                .bind(l.file.clone())
                .bind(ds_id)
                .bind(l.package.clone())
                .execute(&mut *tx)
                .await
                .ctx("dating patches from history")?;
            }
        }
        tx.commit().await.ctx("committing history")?;
        Ok(inserted)
    }

    /// The patches `downstream` (or every downstream) dropped, by `scan --history`, oldest
    /// drop first, with their verdict when they left and since when they were droppable.
    ///
    /// # Errors
    /// A database error.
    pub async fn dropped_patches(&self, downstream: Option<&str>) -> Result<Vec<DroppedPatch>> {
        type Row = (String, String, String, String, String, String, String);
        let sql = format!(
            "SELECT d.name, l.package, l.file, l.added_at, l.added_in, l.dropped_at, l.dropped_in \
             FROM lifetimes l JOIN downstreams d ON d.id = l.downstream_id \
             WHERE l.dropped_at IS NOT NULL {} ORDER BY l.dropped_at",
            if downstream.is_some() {
                "AND d.name = $1"
            } else {
                ""
            }
        );
        // Only our own fixed text varies; values are bound.
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        if let Some(ds) = downstream {
            query = query.bind(ds.to_string());
        }
        let rows: Vec<Row> = query
            .fetch_all(&self.pool)
            .await
            .ctx("loading dropped patches")?;
        // Two queries for all of them, not two per dropped patch: the verdict each had when a
        // scan saw it go (that scan's "… -> dropped" event), and when each became droppable.
        let at_drop: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT downstream, package, subject, from_state FROM events \
             WHERE to_state = 'dropped' ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("loading dropped patches' verdicts")?;
        let at_drop: std::collections::HashMap<(String, String, String), Option<String>> = at_drop
            .into_iter()
            .map(|(d, p, f, state)| ((d, p, f), state))
            .collect();
        let since_all = self.droppable_since().await?;
        let released_all = self.upstream_released_at().await?;
        let mut out = Vec::with_capacity(rows.len());
        for (ds, package, file, added_at, added_in, dropped_at, dropped_in) in rows {
            let key = (ds.clone(), package.clone(), file.clone());
            let droppable_since = since_all.get(&key).cloned().filter(|s| {
                parse_any(s)
                    .zip(parse_any(&dropped_at))
                    .is_some_and(|(a, b)| a <= b)
            });
            let upstream_released_at = released_all.get(&key).cloned();
            out.push(DroppedPatch {
                days_after_upstream_release: upstream_released_at
                    .as_deref()
                    .and_then(|r| days(r, &dropped_at)),
                upstream_released_at,
                days_droppable_to_dropped: droppable_since
                    .as_deref()
                    .and_then(|s| days(s, &dropped_at)),
                days_carried: days(&added_at, &dropped_at).unwrap_or(0.0),
                state_at_drop: at_drop.get(&key).cloned().flatten(),
                downstream: ds,
                package,
                file,
                added_at,
                added_in,
                dropped_at,
                dropped_in,
                droppable_since,
            });
        }
        Ok(out)
    }

    /// When each lifetime of `downstream`'s patches (or every downstream's) began and ended:
    /// `(added_at, dropped_at)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn lifetime_spans(
        &self,
        downstream: Option<&str>,
    ) -> Result<Vec<(String, Option<String>)>> {
        let sql = format!(
            "SELECT l.added_at, l.dropped_at FROM lifetimes l JOIN downstreams d ON d.id = l.downstream_id {}",
            if downstream.is_some() {
                "WHERE d.name = $1"
            } else {
                ""
            }
        );
        // Only our own fixed text varies; values are bound.
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        if let Some(ds) = downstream {
            query = query.bind(ds.to_string());
        }
        query.fetch_all(&self.pool).await.ctx("loading lifetimes")
    }

    /// The lifetimes of `package`'s patches in every downstream, oldest first:
    /// `(file, added_at, dropped_at)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn lifetimes_of(
        &self,
        package: &str,
    ) -> Result<Vec<(String, String, Option<String>)>> {
        sqlx::query_as(
            "SELECT file, added_at, dropped_at FROM lifetimes WHERE package = $1 ORDER BY added_at, file",
        )
        .bind(package.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading a package's lifetimes")
    }

    /// When each patch first became droppable, by `(downstream, package, file)`: the first
    /// event that said so.
    ///
    /// # Errors
    /// A database error.
    pub async fn droppable_since(
        &self,
    ) -> Result<std::collections::HashMap<(String, String, String), String>> {
        let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT downstream, package, subject, MIN(created_at) FROM events \
             WHERE to_state = 'droppable' GROUP BY downstream, package, subject",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("loading when patches became droppable")?;
        Ok(rows
            .into_iter()
            .filter_map(|(d, p, f, at)| Some(((d, p, f), at?)))
            .collect())
    }

    /// When upstream released each patch's fix, by `(downstream, package, file)`: the release
    /// date the latest event with a dated first release named (events outlive the verdicts
    /// of dropped patches).
    ///
    /// # Errors
    /// A database error.
    pub async fn upstream_released_at(
        &self,
    ) -> Result<std::collections::HashMap<(String, String, String), String>> {
        // Only events whose evidence names a dated release; the JSON is then decoded.
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT downstream, package, subject, evidence FROM events \
             WHERE evidence LIKE '%first-release%' ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("loading upstream release dates")?;
        let mut out = std::collections::HashMap::new();
        for (d, p, f, evidence) in rows {
            let Ok(hops) = crate::evidence::decode(&evidence) else {
                continue;
            };
            if let Some(at) = crate::evidence::released_at(&hops) {
                out.insert((d, p, f), at.to_string());
            }
        }
        Ok(out)
    }

    /// History points of `downstream`, oldest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn history(&self, downstream: &str) -> Result<Vec<HistoryRow>> {
        sqlx::query_as(
            "SELECT h.package, h.commit_id, h.committed_at, h.patches FROM history h \
             JOIN downstreams d ON d.id = h.downstream_id WHERE d.name = $1 \
             ORDER BY h.committed_at, h.package",
        )
        .bind(downstream.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading history")
    }
}

/// A patch the downstream dropped, with what forkdebt knew of it then.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DroppedPatch {
    pub downstream: String,
    pub package: String,
    pub file: String,
    /// RFC 3339 in the committer's own zone; full shas.
    pub added_at: String,
    pub added_in: String,
    pub dropped_at: String,
    pub dropped_in: String,
    /// The verdict when it left (`droppable`, `merged`, …), when forkdebt had one.
    pub state_at_drop: Option<String>,
    /// When forkdebt first said droppable (its event), if it did before the drop.
    pub droppable_since: Option<String>,
    /// Days from `droppable_since` to `dropped_at`.
    pub days_droppable_to_dropped: Option<f64>,
    /// When upstream tagged the first release with the fix, as the last verdict that named
    /// that release said (RFC 3339 in the tagger's zone).
    pub upstream_released_at: Option<String>,
    /// Days from `upstream_released_at` to `dropped_at` (negative: dropped before upstream
    /// released, e.g. for a rebase onto a snapshot).
    pub days_after_upstream_release: Option<f64>,
    /// Days the patch was carried.
    pub days_carried: f64,
}

fn parse_any(t: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

fn days(from: &str, to: &str) -> Option<f64> {
    Some((parse_any(to)? - parse_any(from)?).num_seconds() as f64 / 86_400.0)
}
