//! Carried patches over git history: points per package and commit, and the age of each
//! patch from the first commit that carried it.

use super::{QueryContext, Result, Store};
use crate::inventory::history::HistoryPoint;
use std::collections::HashMap;

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
        // Since when has each (package, file) been carried without interruption?
        let mut since: HashMap<(&str, &str), i64> = HashMap::new();
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
            since.retain(|(pkg, file), _| *pkg != p.package || p.patches.contains(*file));
            for f in &p.patches {
                since
                    .entry((p.package.as_str(), f.as_str()))
                    .or_insert(p.time);
            }
        }
        for ((pkg, file), t) in since {
            let at = super::timestamp(chrono::DateTime::from_timestamp(t, 0).unwrap_or_default());
            sqlx::query(
                "UPDATE patches SET first_seen = $1 WHERE file = $2 AND first_seen > $1 AND package_id IN \
                 (SELECT id FROM packages WHERE downstream_id = $3 AND name = $4)",
            )
            .bind(at)
            .bind(file.to_string())
            .bind(ds_id)
            .bind(pkg.to_string())
            .execute(&mut *tx)
            .await
            .ctx("dating patches from history")?;
        }
        tx.commit().await.ctx("committing history")?;
        Ok(inserted)
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
