//! What git computed for forks, cached: commit facts per (commit, git version), first
//! releases, merge-tree proofs. A rescan after one new commit computes one patch-id.

use super::{INSERT_CHUNK_ROWS, QueryContext, Result, Store, values_sql};
use crate::fork::{Cache, CommitFacts};
use sqlx::AssertSqlSafe;

#[derive(sqlx::FromRow)]
struct FactsRow {
    sha: String,
    patch_id: String,
    content_key: String,
    subject: String,
    author: String,
    authored: String,
    message: String,
    lines_added: i64,
    lines_removed: i64,
}

impl Store {
    /// Everything cached for `git_version`.
    ///
    /// # Errors
    /// A database error.
    pub async fn fork_cache(&self, git_version: &str) -> Result<Cache> {
        let rows: Vec<FactsRow> = sqlx::query_as(
            "SELECT sha, patch_id, content_key, subject, author, authored, message, lines_added, \
             lines_removed FROM git_commits WHERE git_version = $1",
        )
        .bind(git_version.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading cached commit facts")?;
        let mut cache = Cache::default();
        for r in rows {
            cache.facts.insert(
                r.sha.clone(),
                CommitFacts {
                    sha: r.sha,
                    patch_id: r.patch_id,
                    content_key: r.content_key,
                    subject: r.subject,
                    author: r.author,
                    authored: r.authored,
                    message: r.message,
                    lines_added: u32::try_from(r.lines_added).unwrap_or(0),
                    lines_removed: u32::try_from(r.lines_removed).unwrap_or(0),
                },
            );
        }
        let releases: Vec<(String, String)> = sqlx::query_as("SELECT sha, tag FROM git_releases")
            .fetch_all(&self.pool)
            .await
            .ctx("loading cached releases")?;
        cache.releases = releases.into_iter().collect();
        let proofs: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT sha, tag, empty FROM git_proofs")
                .fetch_all(&self.pool)
                .await
                .ctx("loading cached proofs")?;
        cache.proofs = proofs
            .into_iter()
            .map(|(s, t, e)| ((s, t), e != 0))
            .collect();
        Ok(cache)
    }

    /// Adds what a fork scan computed to the cache, in one transaction.
    ///
    /// # Errors
    /// A database error (nothing is half-written).
    pub async fn save_fork_cache(
        &self,
        git_version: &str,
        facts: &[CommitFacts],
        releases: &[(String, String)],
        proofs: &[(String, String, bool)],
    ) -> Result<()> {
        let mut tx = self.begin_write("starting the cache transaction").await?;
        for chunk in facts.chunks(INSERT_CHUNK_ROWS) {
            let sql = values_sql(
                "INSERT INTO git_commits (sha, git_version, patch_id, content_key, subject, author, \
                 authored, message, lines_added, lines_removed)",
                10,
                chunk.len(),
                "ON CONFLICT (sha, git_version) DO NOTHING",
                self.backend,
            );
            // Only placeholders are generated; every value is bound.
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for f in chunk {
                q = q
                    .bind(f.sha.clone())
                    .bind(git_version.to_string())
                    .bind(f.patch_id.clone())
                    .bind(f.content_key.clone())
                    .bind(f.subject.clone())
                    .bind(f.author.clone())
                    .bind(f.authored.clone())
                    .bind(f.message.clone())
                    .bind(i64::from(f.lines_added))
                    .bind(i64::from(f.lines_removed));
            }
            q.execute(&mut *tx).await.ctx("caching commit facts")?;
        }
        for (sha, tag) in releases {
            sqlx::query(
                "INSERT INTO git_releases (sha, tag) VALUES ($1, $2) \
                 ON CONFLICT (sha) DO UPDATE SET tag = excluded.tag",
            )
            .bind(sha.clone())
            .bind(tag.clone())
            .execute(&mut *tx)
            .await
            .ctx("caching a release")?;
        }
        for (sha, tag, empty) in proofs {
            sqlx::query(
                "INSERT INTO git_proofs (sha, tag, empty) VALUES ($1, $2, $3) \
                 ON CONFLICT (sha, tag) DO UPDATE SET empty = excluded.empty",
            )
            .bind(sha.clone())
            .bind(tag.clone())
            .bind(i64::from(*empty))
            .execute(&mut *tx)
            .await
            .ctx("caching a proof")?;
        }
        tx.commit().await.ctx("committing the cache")?;
        Ok(())
    }
}
