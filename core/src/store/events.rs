//! Reading events back, and what the delivering side registers.

use super::{QueryContext, Result, Store};
use sqlx::Row;

/// One transition, as `forkdebt events` and the notifiers see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventRow {
    pub id: i64,
    pub downstream: String,
    pub package: String,
    pub subject: String,
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: String,
    /// The verdict's evidence chain (JSON list of hops).
    pub evidence: String,
    pub created_at: String,
}

impl Store {
    /// Events created at or after `since` (RFC 3339 or a date), oldest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn events(&self, since: Option<&str>) -> Result<Vec<EventRow>> {
        let rows = sqlx::query(
            "SELECT id, downstream, package, subject, kind, from_state, to_state, evidence, created_at FROM events \
             WHERE created_at >= $1 ORDER BY id",
        )
        .bind(since.unwrap_or_default().to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading events")?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    id: r.try_get("id").ctx("reading events")?,
                    downstream: r.try_get("downstream").ctx("reading events")?,
                    package: r.try_get("package").ctx("reading events")?,
                    subject: r.try_get("subject").ctx("reading events")?,
                    kind: r.try_get("kind").ctx("reading events")?,
                    from_state: r.try_get("from_state").ctx("reading events")?,
                    to_state: r.try_get("to_state").ctx("reading events")?,
                    evidence: r.try_get("evidence").ctx("reading events")?,
                    created_at: r.try_get("created_at").ctx("reading events")?,
                })
            })
            .collect()
    }

    /// The tracked Fedora Changes: `(title, state, release, evidence chain, decided at)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn change_states(
        &self,
    ) -> Result<Vec<(String, String, Option<i64>, String, String)>> {
        let rows = sqlx::query("SELECT title, state, release_nn, evidence, decided_at FROM change_states ORDER BY title")
            .fetch_all(&self.pool)
            .await
            .ctx("loading Change states")?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("title").ctx("reading Change states")?,
                    r.try_get("state").ctx("reading Change states")?,
                    r.try_get("release_nn").ctx("reading Change states")?,
                    r.try_get("evidence").ctx("reading Change states")?,
                    r.try_get("decided_at").ctx("reading Change states")?,
                ))
            })
            .collect()
    }

    /// Registers a delivery destination: every later event gets an outbox row for it.
    ///
    /// # Errors
    /// A database error.
    pub async fn register_destination(&self, name: &str) -> Result<()> {
        sqlx::query("INSERT INTO destinations (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(name.to_string())
            .execute(&self.pool)
            .await
            .ctx("registering a destination")?;
        Ok(())
    }

    /// Outbox rows not delivered yet, oldest first: `(idempotency key, event)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn pending_deliveries(&self, destination: &str) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT idempotency_key, event_id FROM outbox WHERE destination = $1 AND delivered_at IS NULL ORDER BY id",
        )
        .bind(destination.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading the outbox")?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0).ctx("reading the outbox")?,
                    r.try_get(1).ctx("reading the outbox")?,
                ))
            })
            .collect()
    }

    /// Marks every downstream as having completed a sync: from now on, changes are events.
    ///
    /// # Errors
    /// A database error.
    pub async fn mark_synced(&self, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
        sqlx::query("UPDATE downstreams SET synced_at = $1 WHERE synced_at IS NULL")
            .bind(super::timestamp(now))
            .execute(&self.pool)
            .await
            .ctx("marking the baseline")?;
        Ok(())
    }

    /// The base distribution recorded for each downstream (what the engine decides with).
    ///
    /// # Errors
    /// A database error.
    pub async fn downstream_bases(
        &self,
    ) -> Result<std::collections::HashMap<String, Option<String>>> {
        let rows = sqlx::query("SELECT name, base FROM downstreams")
            .fetch_all(&self.pool)
            .await
            .ctx("loading downstreams")?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0).ctx("reading downstreams")?,
                    r.try_get(1).ctx("reading downstreams")?,
                ))
            })
            .collect()
    }

    /// Records the base distribution of `downstream` (from the configuration).
    ///
    /// # Errors
    /// A database error.
    pub async fn set_downstream_base(&self, downstream: &str, base: Option<&str>) -> Result<()> {
        sqlx::query(
            "INSERT INTO downstreams (name, base) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET base = excluded.base",
        )
        .bind(downstream.to_string())
        .bind(base.map(str::to_string))
        .execute(&self.pool)
        .await
        .ctx("recording the base distribution")?;
        Ok(())
    }
}
