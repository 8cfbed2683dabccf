//! Reading events back, and what the delivering side registers.

use super::{QueryContext, Result, Store};
use sqlx::FromRow;
use std::fmt;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A carried patch changed state (`subject` is the patch file).
    PatchState,
    /// A Fedora Change moved (`subject` is the Change title).
    ChangeState,
    /// Upstream fixed a bug in a change a fork carries, and the fork lacks the fix
    /// (`subject` is the carried commit, `to_state` is [`MISSING_FIX`]).
    MissingFix,
    /// A drop was proposed for review (`subject` is the patch; the evidence links the MR).
    Proposed,
    /// Upstream tagged a new release (`subject` is the tag; the evidence says which carried
    /// patches a rebase to it drops).
    UpstreamRelease,
}

/// The `to_state` of a [`EventKind::MissingFix`] event.
pub const MISSING_FIX: &str = "missing-fix";

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PatchState => "patch-state",
            EventKind::ChangeState => "change-state",
            EventKind::MissingFix => "missing-fix",
            EventKind::Proposed => "proposed",
            EventKind::UpstreamRelease => "upstream-release",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        [
            EventKind::PatchState,
            EventKind::ChangeState,
            EventKind::MissingFix,
            EventKind::Proposed,
            EventKind::UpstreamRelease,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One transition, as `forkdebt events` and the notifiers see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRow {
    pub id: i64,
    pub downstream: String,
    pub package: String,
    pub subject: String,
    pub kind: EventKind,
    pub from_state: Option<String>,
    pub to_state: String,
    /// The evidence chain of the transition.
    pub evidence: Vec<crate::evidence::Hop>,
    pub created_at: String,
}

#[derive(FromRow)]
pub(crate) struct Row {
    id: i64,
    downstream: String,
    package: String,
    subject: String,
    kind: String,
    from_state: Option<String>,
    to_state: String,
    evidence: String,
    created_at: String,
}

impl Row {
    pub(crate) fn decode(self) -> Result<EventRow> {
        Ok(EventRow {
            kind: EventKind::parse(&self.kind)
                .ok_or_else(|| super::read::corrupt("event kind", &self.kind))?,
            id: self.id,
            downstream: self.downstream,
            package: self.package,
            subject: self.subject,
            from_state: self.from_state,
            to_state: self.to_state,
            evidence: crate::evidence::decode(&self.evidence)
                .map_err(|_| super::read::corrupt("event evidence", &self.evidence))?,
            created_at: self.created_at,
        })
    }
}

/// Where a tracked Fedora Change stands, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    pub title: String,
    pub state: String,
    pub release_nn: Option<i64>,
    pub evidence: Vec<crate::evidence::Hop>,
    pub decided_at: String,
}

const EVENT_COLUMNS: &str =
    "id, downstream, package, subject, kind, from_state, to_state, evidence, created_at";

impl Store {
    /// Events created at or after `since` (RFC 3339 or a date), oldest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn events(&self, since: Option<&str>) -> Result<Vec<EventRow>> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE created_at >= $1 ORDER BY id"
        )))
        .bind(since.unwrap_or_default().to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading events")?;
        rows.into_iter().map(Row::decode).collect()
    }

    /// The upstream releases announced for `downstream`'s packages (or every downstream's),
    /// oldest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn release_events(&self, downstream: Option<&str>) -> Result<Vec<EventRow>> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE kind = $1 AND ($2 = '' OR downstream = $2) ORDER BY id"
        )))
        .bind(EventKind::UpstreamRelease.as_str())
        .bind(downstream.unwrap_or_default().to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading release events")?;
        rows.into_iter().map(Row::decode).collect()
    }

    /// The `limit` newest events created at or after `since`, newest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn recent_events(&self, since: &str, limit: i64) -> Result<Vec<EventRow>> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE created_at >= $1 ORDER BY id DESC LIMIT $2"
        )))
        .bind(since.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .ctx("loading events")?;
        rows.into_iter().map(Row::decode).collect()
    }

    /// The latest event about each patch of `package` (or every package), by `(downstream,
    /// package, patch file)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn latest_patch_events(&self) -> Result<Vec<EventRow>> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id IN (SELECT MAX(id) FROM events              WHERE kind = $1 GROUP BY downstream, package, subject) ORDER BY id"
        )))
        .bind(EventKind::PatchState.as_str())
        .fetch_all(&self.pool)
        .await
        .ctx("loading events")?;
        rows.into_iter().map(Row::decode).collect()
    }

    /// The tracked Fedora Changes, by title.
    ///
    /// # Errors
    /// A database error.
    pub async fn change_states(&self) -> Result<Vec<ChangeRow>> {
        let rows: Vec<(String, String, Option<i64>, String, String)> = sqlx::query_as(
            "SELECT title, state, release_nn, evidence, decided_at FROM change_states ORDER BY title",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("loading Change states")?;
        rows.into_iter()
            .map(|(title, state, release_nn, evidence, decided_at)| {
                Ok(ChangeRow {
                    evidence: crate::evidence::decode(&evidence)
                        .map_err(|_| super::read::corrupt("Change evidence", &evidence))?,
                    title,
                    state,
                    release_nn,
                    decided_at,
                })
            })
            .collect()
    }

    /// Registers a delivery destination: every later event gets an outbox row for it.
    ///
    /// # Errors
    /// A database error.
    pub async fn register_destination(&self, name: &str) -> Result<()> {
        self.exec(
            sqlx::query(
                "INSERT INTO destinations (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name.to_string()),
            "registering a destination",
        )
        .await?;
        Ok(())
    }

    /// Outbox rows not delivered yet, oldest first: `(idempotency key, event)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn pending_deliveries(&self, destination: &str) -> Result<Vec<(String, i64)>> {
        sqlx::query_as(
            "SELECT idempotency_key, event_id FROM outbox WHERE destination = $1 AND delivered_at IS NULL ORDER BY id",
        )
        .bind(destination.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading the outbox")
    }

    /// Marks every downstream as having completed a sync: from now on, changes are events.
    ///
    /// # Errors
    /// A database error.
    pub async fn mark_synced(&self, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
        self.exec(
            sqlx::query("UPDATE downstreams SET synced_at = $1 WHERE synced_at IS NULL")
                .bind(super::timestamp(now)),
            "marking the baseline",
        )
        .await?;
        Ok(())
    }

    /// The base distribution recorded for each downstream (what the engine decides with).
    ///
    /// # Errors
    /// A database error.
    pub async fn downstream_bases(
        &self,
    ) -> Result<std::collections::HashMap<String, Option<String>>> {
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT name, base FROM downstreams")
                .fetch_all(&self.pool)
                .await
                .ctx("loading downstreams")?;
        Ok(rows.into_iter().collect())
    }

    /// Records the base distribution of `downstream` (from the configuration).
    ///
    /// # Errors
    /// A database error.
    pub async fn set_downstream_base(&self, downstream: &str, base: Option<&str>) -> Result<()> {
        self.exec(
sqlx::query(
            "INSERT INTO downstreams (name, base) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET base = excluded.base",
        )
        .bind(downstream.to_string())
        .bind(base.map(str::to_string)),
"recording the base distribution")
.await?;
        Ok(())
    }

    /// Records the folders `downstream` was scanned from.
    ///
    /// # Errors
    /// A database error.
    pub async fn set_downstream_roots(&self, downstream: &str, roots: &[String]) -> Result<()> {
        self.exec(
            sqlx::query("UPDATE downstreams SET roots = $1 WHERE name = $2")
                .bind(serde_json::to_string(roots).unwrap_or_else(|_| "[]".into()))
                .bind(downstream.to_string()),
            "recording the scanned folders",
        )
        .await?;
        Ok(())
    }

    /// The folders `downstream` was last scanned from.
    ///
    /// # Errors
    /// A database error.
    pub async fn downstream_roots(&self, downstream: &str) -> Result<Vec<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT roots FROM downstreams WHERE name = $1")
                .bind(downstream.to_string())
                .fetch_optional(&self.pool)
                .await
                .ctx("reading the scanned folders")?;
        Ok(row
            .and_then(|r| r.0)
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }
}

/// One package a new upstream release concerns, and what a rebase to it does.
#[derive(Debug, Clone)]
pub struct ReleaseNews {
    pub downstream: String,
    pub package: String,
    /// The carried patches the rebase drops, by file.
    pub dropped: Vec<String>,
    /// Its carried patches in all.
    pub carried: usize,
}

impl Store {
    /// The release tags already seen of `project` (`None`: never looked at).
    ///
    /// # Errors
    /// A database error.
    pub async fn seen_releases(
        &self,
        project: &str,
    ) -> Result<Option<std::collections::HashSet<String>>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT tag FROM upstream_releases WHERE project = $1")
                .bind(project.to_string())
                .fetch_all(&self.pool)
                .await
                .ctx("loading seen releases")?;
        Ok((!rows.is_empty()).then(|| rows.into_iter().map(|r| r.0).collect()))
    }

    /// Records that `project` has the release `tag` (`version`), and in the same transaction
    /// one `upstream-release` event per package in `news` (none when the tag was recorded
    /// before: each release is announced once). Returns the events written.
    ///
    /// # Errors
    /// A database error; nothing is recorded then.
    pub async fn record_release(
        &self,
        project: &str,
        tag: &str,
        version: &str,
        news: &[ReleaseNews],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize> {
        let now = super::timestamp(now);
        let mut tx = self.begin_write("recording a release").await?;
        let inserted = sqlx::query(
            "INSERT INTO upstream_releases (project, tag, version, seen_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (project, tag) DO NOTHING",
        )
        .bind(project.to_string())
        .bind(tag.to_string())
        .bind(version.to_string())
        .bind(now.clone())
        .execute(&mut *tx)
        .await
        .ctx("recording a release")?
        .rows_affected();
        let mut written = 0;
        if inserted > 0 && !news.is_empty() {
            let destinations = super::outbox::destinations(&mut tx).await?;
            for n in news {
                let hops = vec![crate::evidence::Hop::UpstreamReleased {
                    tag: tag.to_string(),
                    version: version.to_string(),
                    dropped: n.dropped.clone(),
                    carried: n.carried,
                }];
                let evidence = crate::evidence::encode(&hops);
                super::outbox::write_event(
                    &mut tx,
                    &super::outbox::NewEvent {
                        downstream: &n.downstream,
                        package: &n.package,
                        subject: tag,
                        kind: EventKind::UpstreamRelease,
                        from: None,
                        to: EventKind::UpstreamRelease.as_str(),
                        evidence: &evidence,
                    },
                    &now,
                    &destinations,
                )
                .await?;
                written += 1;
            }
        }
        tx.commit().await.ctx("committing a release")?;
        Ok(written)
    }
}

impl Store {
    /// Records release tags of `project` as seen, announcing nothing: the first look at a
    /// project, and the tags not worth a notice (pre-releases, a backlog).
    ///
    /// # Errors
    /// A database error; nothing is recorded then.
    pub async fn remember_releases(
        &self,
        project: &str,
        releases: &[(String, String)],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let now = super::timestamp(now);
        let mut tx = self.begin_write("recording releases").await?;
        let backend = super::Backend::of(&tx);
        // A project with no release yet is marked as looked at (an empty tag, never a real
        // one), so that its first release is news.
        let looked = [(String::new(), String::new())];
        let releases = if releases.is_empty() {
            &looked[..]
        } else {
            releases
        };
        for chunk in releases.chunks(super::INSERT_CHUNK_ROWS) {
            let sql = super::values_sql(
                "INSERT INTO upstream_releases (project, tag, version, seen_at)",
                4,
                chunk.len(),
                "ON CONFLICT (project, tag) DO NOTHING",
                backend,
            );
            // Only placeholders are generated; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (version, tag) in chunk {
                q = q
                    .bind(project.to_string())
                    .bind(tag.clone())
                    .bind(version.clone())
                    .bind(now.clone());
            }
            q.execute(&mut *tx).await.ctx("recording releases")?;
        }
        tx.commit().await.ctx("committing releases")?;
        Ok(())
    }
}
