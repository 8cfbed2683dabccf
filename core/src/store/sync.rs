//! What the sync writes and reads: observations per source and item, HTTP validators,
//! per-source status, per-host pacing.

use super::{QueryContext, Result, Store, timestamp};
use crate::model::RefKind;
use crate::source::Dataset;
use sqlx::FromRow;
use std::collections::HashMap;

/// The last good observation of one item, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct StoredObservation {
    pub item: String,
    /// JSON of the source's typed observation; `None` until one fetch succeeded.
    pub data: Option<String>,
    /// The item's own change time upstream (Bugzilla `last_change_time`).
    pub upstream_changed_at: Option<String>,
    pub observed_at: Option<String>,
    pub last_error: Option<String>,
}

/// One item's outcome in a sync round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// A fresh observation (JSON) with the upstream change time.
    Observed {
        data: String,
        upstream_changed_at: Option<String>,
    },
    /// Asked, and upstream says it has not changed: keep the data, note the check.
    Unchanged,
    /// This item failed; what was stored before stays.
    Failed(String),
}

/// What `forkdebt sources` shows for one source. `items` counts the last run; `requests`,
/// `not_modified` and `errors` add up every run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, FromRow)]
pub struct SourceStatus {
    pub source: String,
    pub last_checked: Option<String>,
    pub last_success: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub items: i64,
    pub requests: i64,
    pub not_modified: i64,
    pub errors: i64,
}

/// The counters of one sync run of one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRun {
    pub items: i64,
    pub requests: i64,
    pub not_modified: i64,
    pub errors: i64,
    /// The run's error, if the source as a whole failed.
    pub error: Option<String>,
}

impl SourceRun {
    /// Adds the counters of a part of the run (one distribution's tag, say); its error is
    /// kept, prefixed with `part`, if the run has none yet.
    pub fn add(&mut self, o: &SourceRun, part: &str) {
        self.items += o.items;
        self.requests += o.requests;
        self.not_modified += o.not_modified;
        self.errors += o.errors;
        if let Some(e) = &o.error {
            self.error.get_or_insert(format!("{part}: {e}"));
        }
    }
}

impl Store {
    /// Ids of references of `kind` on carried patches and on listed deviations, sorted.
    ///
    /// # Errors
    /// A database error.
    pub async fn reference_ids(&self, kind: RefKind) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT r.ref_id FROM patch_refs r JOIN patches p ON p.id = r.patch_id \
             WHERE r.kind = $1 AND p.dropped_at IS NULL ORDER BY r.ref_id",
        )
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await
        .ctx("listing references")?;
        let mut ids: Vec<String> = rows.into_iter().map(|r| r.0).collect();
        for (_, d) in self.load_deviations(None).await? {
            ids.extend(d.refs.into_iter().filter(|r| r.kind == kind).map(|r| r.id));
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// References of `kind` on carried patches and deviations: `(id, url)`, sorted by id.
    ///
    /// # Errors
    /// A database error.
    pub async fn references(&self, kind: RefKind) -> Result<Vec<(String, Option<String>)>> {
        let mut out: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT r.ref_id, MIN(r.url) AS url FROM patch_refs r JOIN patches p ON p.id = r.patch_id \
             WHERE r.kind = $1 AND p.dropped_at IS NULL GROUP BY r.ref_id ORDER BY r.ref_id",
        )
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await
        .ctx("listing references")?;
        for (_, d) in self.load_deviations(None).await? {
            out.extend(
                d.refs
                    .into_iter()
                    .filter(|r| r.kind == kind)
                    .map(|r| (r.id, r.url)),
            );
        }
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        Ok(out)
    }

    /// Names of the packages of `downstream` still in dist-git.
    ///
    /// # Errors
    /// A database error.
    pub async fn package_names(&self, downstream: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT k.name FROM packages k JOIN downstreams d ON d.id = k.downstream_id \
             WHERE d.name = $1 AND k.removed_at IS NULL ORDER BY k.name",
        )
        .bind(downstream.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("listing packages")?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Stored observations of `dataset`, by item.
    ///
    /// # Errors
    /// A database error.
    pub async fn observations(
        &self,
        dataset: Dataset,
    ) -> Result<HashMap<String, StoredObservation>> {
        let rows: Vec<StoredObservation> = sqlx::query_as(
            "SELECT item, data, upstream_changed_at, observed_at, last_error FROM observations WHERE source = $1",
        )
        .bind(dataset.as_str())
        .fetch_all(&self.pool)
        .await
        .ctx("loading observations")?;
        Ok(rows.into_iter().map(|o| (o.item.clone(), o)).collect())
    }

    /// The stored observation of one item of `dataset`, if any.
    ///
    /// # Errors
    /// A database error.
    pub async fn observation(
        &self,
        dataset: Dataset,
        item: &str,
    ) -> Result<Option<StoredObservation>> {
        sqlx::query_as(
            "SELECT item, data, upstream_changed_at, observed_at, last_error FROM observations \
             WHERE source = $1 AND item = $2",
        )
        .bind(dataset.as_str())
        .bind(item.to_string())
        .fetch_optional(&self.pool)
        .await
        .ctx("loading an observation")
    }

    /// Records one batch of outcomes in one transaction: an interrupted sync keeps every
    /// batch it finished, and a rerun continues from there.
    ///
    /// # Errors
    /// A database error; the batch is then not recorded at all.
    pub async fn record_outcomes(
        &self,
        dataset: Dataset,
        outcomes: &[(String, ItemOutcome)],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let now = timestamp(now);
        let mut tx = self.begin_write("starting an observation batch").await?;
        // New data in multi-row statements (one statement per bug was most of a 5,000-bug
        // first sync's CPU), when no item comes twice in the batch (then one at a time, in
        // order, as an upsert touches a row once per statement).
        let observed: Vec<(&String, &String, &Option<String>)> = outcomes
            .iter()
            .filter_map(|(item, o)| match o {
                ItemOutcome::Observed {
                    data,
                    upstream_changed_at,
                } => Some((item, data, upstream_changed_at)),
                _ => None,
            })
            .collect();
        let distinct: std::collections::HashSet<&String> =
            outcomes.iter().map(|(i, _)| i).collect();
        let batched = distinct.len() == outcomes.len();
        if batched {
            let backend = super::Backend::of(&tx);
            for chunk in observed.chunks(super::INSERT_CHUNK_ROWS) {
                let sql = super::values_sql(
                    "INSERT INTO observations (source, item, data, upstream_changed_at, observed_at, checked_at)",
                    6,
                    chunk.len(),
                    "ON CONFLICT (source, item) DO UPDATE SET \
                     data = excluded.data, upstream_changed_at = excluded.upstream_changed_at, \
                     observed_at = excluded.observed_at, checked_at = excluded.checked_at, \
                     last_error = NULL, last_error_at = NULL",
                    backend,
                );
                // Only placeholders are generated; every value is bound.
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (item, data, changed) in chunk {
                    q = q
                        .bind(dataset.as_str())
                        .bind((*item).clone())
                        .bind((*data).clone())
                        .bind((*changed).clone())
                        .bind(now.clone())
                        .bind(now.clone());
                }
                q.execute(&mut *tx).await.ctx("recording observations")?;
            }
        }
        for (item, outcome) in outcomes {
            if batched && matches!(outcome, ItemOutcome::Observed { .. }) {
                continue;
            }
            let q = match outcome {
                ItemOutcome::Observed { data, upstream_changed_at } => sqlx::query(
                    "INSERT INTO observations (source, item, data, upstream_changed_at, observed_at, checked_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (source, item) DO UPDATE SET \
                     data = excluded.data, upstream_changed_at = excluded.upstream_changed_at, \
                     observed_at = excluded.observed_at, checked_at = excluded.checked_at, \
                     last_error = NULL, last_error_at = NULL",
                )
                .bind(dataset.as_str())
                .bind(item.clone())
                .bind(data.clone())
                .bind(upstream_changed_at.clone())
                .bind(now.clone()),
                ItemOutcome::Unchanged => sqlx::query(
                    "UPDATE observations SET checked_at = $3, last_error = NULL, last_error_at = NULL \
                     WHERE source = $1 AND item = $2",
                )
                .bind(dataset.as_str())
                .bind(item.clone())
                .bind(now.clone()),
                // Keeps `data`: a failure never erases what was known.
                ItemOutcome::Failed(err) => sqlx::query(
                    "INSERT INTO observations (source, item, last_error, last_error_at, checked_at) \
                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (source, item) DO UPDATE SET \
                     last_error = excluded.last_error, last_error_at = excluded.last_error_at, \
                     checked_at = excluded.checked_at",
                )
                .bind(dataset.as_str())
                .bind(item.clone())
                .bind(err.clone())
                .bind(now.clone()),
            };
            q.execute(&mut *tx).await.ctx("recording an observation")?;
        }
        // Same transaction: the verdicts these observations change, and their events.
        if dataset.bears_on_verdicts() {
            let items: Vec<String> = outcomes
                .iter()
                .filter(|(_, o)| matches!(o, ItemOutcome::Observed { .. }))
                .map(|(i, _)| i.clone())
                .collect();
            let affected = super::engine::affected_packages(&mut tx, dataset, &items).await?;
            super::engine::reevaluate(&mut tx, &affected, &now).await?;
        }
        tx.commit().await.ctx("committing observations")?;
        Ok(())
    }

    /// Decides where every tracked Fedora Change stands from what is stored (wiki pages,
    /// tracker bugs, FESCo tickets, Bodhi releases) and records each move as an event, in one
    /// transaction. A sync calls it once, after its sources: Change decisions read every
    /// Change's observations, so they are not repeated for each batch a source records.
    ///
    /// # Errors
    /// A database error (nothing is half-written).
    pub async fn decide_changes(&self, now: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        let now = timestamp(now);
        let mut tx = self.begin_write("deciding Fedora Changes").await?;
        let events = super::engine::reevaluate_changes(&mut tx, &now).await?;
        tx.commit().await.ctx("committing Change decisions")?;
        Ok(events)
    }

    /// Adds a run's counters to `source`'s status.
    ///
    /// # Errors
    /// A database error.
    pub async fn record_source_run(
        &self,
        source: &str,
        run: &SourceRun,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        self.record_named_run(source, run, now).await
    }

    /// As [`Store::record_source_run`] for a source that is not an upstream service (a dist-git
    /// repository: `distgit hyperscale/systemd`).
    ///
    /// # Errors
    /// A database error.
    pub async fn record_named_run(
        &self,
        source: &str,
        run: &SourceRun,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let now = timestamp(now);
        let ok = run.error.is_none();
        self.exec(
sqlx::query(
            "INSERT INTO source_status (source, last_checked, last_success, last_error, last_error_at, items, \
             requests, not_modified, errors) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (source) DO UPDATE SET last_checked = excluded.last_checked, \
             last_success = COALESCE(excluded.last_success, source_status.last_success), \
             last_error = COALESCE(excluded.last_error, source_status.last_error), \
             last_error_at = COALESCE(excluded.last_error_at, source_status.last_error_at), \
             items = excluded.items, requests = source_status.requests + excluded.requests, \
             not_modified = source_status.not_modified + excluded.not_modified, \
             errors = source_status.errors + excluded.errors",
        )
        .bind(source.to_string())
        .bind(now.clone())
        .bind(ok.then(|| now.clone()))
        .bind(run.error.clone())
        .bind(run.error.as_ref().map(|_| now.clone()))
        .bind(run.items)
        .bind(run.requests)
        .bind(run.not_modified)
        .bind(run.errors),
"recording a source run")
.await?;
        Ok(())
    }

    /// Every source's status, by name.
    ///
    /// # Errors
    /// A database error.
    pub async fn source_statuses(&self) -> Result<Vec<SourceStatus>> {
        sqlx::query_as(
            "SELECT source, last_checked, last_success, last_error, last_error_at, items, requests, \
             not_modified, errors FROM source_status ORDER BY source",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("loading source status")
    }

    /// The stored `(ETag, Last-Modified)` of `url`.
    ///
    /// # Errors
    /// A database error.
    pub async fn validators(&self, url: &str) -> Result<(Option<String>, Option<String>)> {
        let row: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT etag, last_modified FROM http_validators WHERE url = $1")
                .bind(url.to_string())
                .fetch_optional(&self.pool)
                .await
                .ctx("loading validators")?;
        Ok(row.unwrap_or_default())
    }

    /// Stores the validators of a successful response.
    ///
    /// # Errors
    /// A database error.
    pub async fn store_validators(
        &self,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<()> {
        self.exec(
sqlx::query(
            "INSERT INTO http_validators (url, etag, last_modified, stored_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, \
             stored_at = excluded.stored_at",
        )
        .bind(url.to_string())
        .bind(etag.map(str::to_string))
        .bind(last_modified.map(str::to_string))
        .bind(timestamp(chrono::Utc::now())),
"storing validators")
.await?;
        Ok(())
    }

    /// When each host may next be asked (persisted Retry-After).
    ///
    /// # Errors
    /// A database error.
    pub async fn host_next_allowed(&self) -> Result<HashMap<String, String>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT host, next_allowed FROM host_state")
                .fetch_all(&self.pool)
                .await
                .ctx("loading host state")?;
        Ok(rows.into_iter().collect())
    }

    /// Forgets that `host` asked us to wait; `false` if nothing was recorded for it.
    ///
    /// # Errors
    /// A database error.
    pub async fn clear_host_wait(&self, host: &str) -> Result<bool> {
        let done = self
            .exec(
                sqlx::query("DELETE FROM host_state WHERE host = $1").bind(host.to_string()),
                "clearing a host's wait",
            )
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records that `host` must not be asked before `at`.
    ///
    /// # Errors
    /// A database error.
    pub async fn set_host_next_allowed(
        &self,
        host: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        self.exec(
            sqlx::query(
                "INSERT INTO host_state (host, next_allowed) VALUES ($1, $2) \
             ON CONFLICT (host) DO UPDATE SET next_allowed = excluded.next_allowed",
            )
            .bind(host.to_string())
            .bind(timestamp(at)),
            "storing host state",
        )
        .await?;
        Ok(())
    }
}
