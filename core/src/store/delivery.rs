//! What the delivering side (chat, email) reads and writes: pending outbox rows with their
//! events, how each ended, subscriptions and snoozes per destination.

use super::{EventRow, QueryContext, Result, Store};
use sqlx::FromRow;

/// A delivery not made yet: its idempotency key and the event it announces.
#[derive(Debug, Clone)]
pub struct Pending {
    pub key: String,
    pub event: EventRow,
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Posted on its own.
    Posted,
    /// Not for this destination: its subscriptions do not cover it.
    Filtered,
    /// Muted by a snooze.
    Snoozed,
    /// Posted as the summary of a burst over the hourly budget.
    Summary,
    /// Counted in a summary instead of posted.
    Collapsed,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Posted => "posted",
            Delivery::Filtered => "filtered",
            Delivery::Snoozed => "snoozed",
            Delivery::Summary => "summary",
            Delivery::Collapsed => "collapsed",
        }
    }
}

#[derive(FromRow)]
struct PendingRow {
    idempotency_key: String,
    #[sqlx(flatten)]
    event: super::events::Row,
}

impl Store {
    /// The undelivered outbox rows of `destination`, oldest first.
    ///
    /// # Errors
    /// A database error.
    pub async fn pending(&self, destination: &str) -> Result<Vec<Pending>> {
        let rows: Vec<PendingRow> = sqlx::query_as(
            "SELECT o.idempotency_key, e.id, e.downstream, e.package, e.subject, e.kind, e.from_state, e.to_state, e.evidence, e.created_at \
             FROM outbox o JOIN events e ON e.id = o.event_id \
             WHERE o.destination = $1 AND o.delivered_at IS NULL ORDER BY o.id",
        )
        .bind(destination.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading the outbox")?;
        rows.into_iter()
            .map(|r| {
                Ok(Pending {
                    key: r.idempotency_key,
                    event: r.event.decode()?,
                })
            })
            .collect()
    }

    /// Records how the delivery `key` ended.
    ///
    /// # Errors
    /// A database error.
    pub async fn mark_delivered(
        &self,
        key: &str,
        outcome: Delivery,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET delivered_at = $1, outcome = $2, attempts = attempts + 1 WHERE idempotency_key = $3",
        )
        .bind(super::timestamp(now))
        .bind(outcome.as_str())
        .bind(key.to_string())
        .execute(&self.pool)
        .await
        .ctx("recording a delivery")?;
        Ok(())
    }

    /// Records a failed attempt at `key`; it stays pending.
    ///
    /// # Errors
    /// A database error.
    pub async fn mark_failed(&self, key: &str, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE idempotency_key = $2",
        )
        .bind(error.to_string())
        .bind(key.to_string())
        .execute(&self.pool)
        .await
        .ctx("recording a failed delivery")?;
        Ok(())
    }

    /// How many messages were posted to `destination` since `since` (for the hourly budget).
    ///
    /// # Errors
    /// A database error.
    pub async fn posted_since(
        &self,
        destination: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM outbox WHERE destination = $1 AND outcome IN ($2, $3) AND delivered_at >= $4",
        )
        .bind(destination.to_string())
        .bind(Delivery::Posted.as_str())
        .bind(Delivery::Summary.as_str())
        .bind(super::timestamp(since))
        .fetch_one(&self.pool)
        .await
        .ctx("counting posts")?;
        Ok(n)
    }

    /// Adds a subscription; `false` if it existed.
    ///
    /// # Errors
    /// A database error.
    pub async fn subscribe(&self, destination: &str, target: &str, by: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO subscriptions (destination, target, created_by, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (destination, target) DO NOTHING",
        )
        .bind(destination.to_string())
        .bind(target.to_string())
        .bind(by.to_string())
        .bind(super::timestamp(chrono::Utc::now()))
        .execute(&self.pool)
        .await
        .ctx("subscribing")?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes a subscription; `false` if there was none.
    ///
    /// # Errors
    /// A database error.
    pub async fn unsubscribe(&self, destination: &str, target: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM subscriptions WHERE destination = $1 AND target = $2")
            .bind(destination.to_string())
            .bind(target.to_string())
            .execute(&self.pool)
            .await
            .ctx("unsubscribing")?;
        Ok(done.rows_affected() > 0)
    }

    /// The targets `destination` subscribed to, sorted.
    ///
    /// # Errors
    /// A database error.
    pub async fn subscriptions(&self, destination: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT target FROM subscriptions WHERE destination = $1 ORDER BY target",
        )
        .bind(destination.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading subscriptions")?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Snoozes `target` for `destination` until `until` (replacing an earlier snooze).
    ///
    /// # Errors
    /// A database error.
    pub async fn snooze(
        &self,
        destination: &str,
        target: &str,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO snoozes (destination, target, until_at) VALUES ($1, $2, $3) \
             ON CONFLICT (destination, target) DO UPDATE SET until_at = excluded.until_at",
        )
        .bind(destination.to_string())
        .bind(target.to_string())
        .bind(super::timestamp(until))
        .execute(&self.pool)
        .await
        .ctx("snoozing")?;
        Ok(())
    }

    /// The snoozes of `destination` still running at `now`: `(target, until)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn snoozes(
        &self,
        destination: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(String, String)>> {
        sqlx::query_as(
            "SELECT target, until_at FROM snoozes WHERE destination = $1 AND until_at > $2 ORDER BY target",
        )
        .bind(destination.to_string())
        .bind(super::timestamp(now))
        .fetch_all(&self.pool)
        .await
        .ctx("loading snoozes")
    }
}

impl Store {
    /// Whether the digest with this key (recipient + ISO week) was sent.
    ///
    /// # Errors
    /// A database error.
    pub async fn digest_sent(&self, key: &str) -> Result<bool> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM digests WHERE idempotency_key = $1")
                .bind(key.to_string())
                .fetch_one(&self.pool)
                .await
                .ctx("looking up a digest")?;
        Ok(n > 0)
    }

    /// Records that the digest `key` went out.
    ///
    /// # Errors
    /// A database error.
    pub async fn record_digest(
        &self,
        key: &str,
        recipient: &str,
        week: &str,
        message_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO digests (idempotency_key, recipient, week, message_id, sent_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(key.to_string())
        .bind(recipient.to_string())
        .bind(week.to_string())
        .bind(message_id.to_string())
        .bind(super::timestamp(now))
        .execute(&self.pool)
        .await
        .ctx("recording a digest")?;
        Ok(())
    }
}

impl Store {
    /// Undelivered outbox rows per destination (the backlog).
    ///
    /// # Errors
    /// A database error.
    pub async fn outbox_backlog(&self) -> Result<Vec<(String, i64)>> {
        sqlx::query_as(
            "SELECT destination, COUNT(*) FROM outbox WHERE delivered_at IS NULL \
             GROUP BY destination ORDER BY destination",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("counting the outbox backlog")
    }

    /// Deliveries per destination and outcome (`posted`, `filtered`, `snoozed`...), and
    /// failed attempts as outcome `failed`.
    ///
    /// # Errors
    /// A database error.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, String, i64)>> {
        sqlx::query_as(
            "SELECT destination, COALESCE(outcome, 'failed'), COUNT(*) FROM outbox \
             WHERE delivered_at IS NOT NULL OR last_error IS NOT NULL \
             GROUP BY destination, COALESCE(outcome, 'failed') ORDER BY 1, 2",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("counting deliveries")
    }

    /// Whether the store answers (for `/healthz`).
    ///
    /// # Errors
    /// The store is unreachable.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .ctx("asking the store")?;
        Ok(())
    }
}
