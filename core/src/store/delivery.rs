//! What the delivering side (chat, email) reads and writes: pending outbox rows with their
//! events, how each ended, subscriptions and snoozes per destination.

use super::{Backend, EventRow, QueryContext, Result, Store};
use sqlx::{AssertSqlSafe, FromRow};

/// A delivery not made yet: its idempotency key and the event it announces.
#[derive(Debug, Clone)]
pub struct Pending {
    pub key: String,
    pub event: EventRow,
    /// A post of it was started and never recorded: the deliverer stopped in between, so it
    /// may or may not have arrived.
    pub interrupted: bool,
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
    /// Its post was interrupted by a crash on a network that cannot deduplicate (IRC): not
    /// posted again, since it most likely arrived.
    Unconfirmed,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Posted => "posted",
            Delivery::Filtered => "filtered",
            Delivery::Snoozed => "snoozed",
            Delivery::Summary => "summary",
            Delivery::Collapsed => "collapsed",
            Delivery::Unconfirmed => "unconfirmed",
        }
    }
}

#[derive(FromRow)]
struct PendingRow {
    idempotency_key: String,
    sending_at: Option<String>,
    #[sqlx(flatten)]
    event: super::events::Row,
}

const PENDING_COLUMNS: &str = "o.idempotency_key, o.sending_at, e.id, e.downstream, e.package, e.subject, e.kind, \
     e.from_state, e.to_state, e.evidence, e.created_at FROM outbox o JOIN events e ON e.id = o.event_id";

fn decode(rows: Vec<PendingRow>) -> Result<Vec<Pending>> {
    rows.into_iter()
        .map(|r| {
            Ok(Pending {
                key: r.idempotency_key,
                interrupted: r.sending_at.is_some(),
                event: r.event.decode()?,
            })
        })
        .collect()
}

/// How long a deliverer's claim on outbox rows lasts when its handle has no lease to go by.
const UNFENCED_CLAIM_MS: i64 = 60_000;

impl Store {
    /// The undelivered outbox rows of `destination`, oldest first (whoever claimed them).
    ///
    /// # Errors
    /// A database error.
    pub async fn pending(&self, destination: &str) -> Result<Vec<Pending>> {
        let rows: Vec<PendingRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PENDING_COLUMNS} WHERE o.destination = $1 AND o.delivered_at IS NULL ORDER BY o.id"
        )))
        .bind(destination.to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading the outbox")?;
        decode(rows)
    }

    /// Claims up to `limit` undelivered rows of `destination` for this handle's holder, for
    /// as long as its lease lasts, and returns every row it holds, oldest first. Rows another
    /// deliverer holds are skipped (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and a crashed
    /// deliverer's claims lapse when their time is up.
    ///
    /// # Errors
    /// A database error, or the lease was lost.
    pub async fn claim_pending(&self, destination: &str, limit: i64) -> Result<Vec<Pending>> {
        let now = self.now_ms_sql();
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            // One writer at a time already.
            Backend::Sqlite => "",
        };
        let claim_ms = self.fence.as_ref().map_or(UNFENCED_CLAIM_MS, |f| f.ttl_ms);
        let sql = format!(
            "UPDATE outbox SET claimed_by = $1, locked_until_ms = {now} + $2 WHERE id IN (\
             SELECT id FROM outbox WHERE destination = $3 AND delivered_at IS NULL \
             AND (locked_until_ms IS NULL OR locked_until_ms < {now} OR claimed_by = $1) \
             ORDER BY id LIMIT $4{skip_locked})"
        );
        self.exec(
            sqlx::query(AssertSqlSafe(sql))
                .bind(self.holder().to_string())
                .bind(claim_ms)
                .bind(destination.to_string())
                .bind(limit),
            "claiming outbox rows",
        )
        .await?;
        let rows: Vec<PendingRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PENDING_COLUMNS} WHERE o.destination = $1 AND o.delivered_at IS NULL \
             AND o.claimed_by = $2 AND o.locked_until_ms >= {now} ORDER BY o.id"
        )))
        .bind(destination.to_string())
        .bind(self.holder().to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("loading claimed outbox rows")?;
        decode(rows)
    }

    /// Records that the post of `key` starts now: `false` when this handle's claim on it has
    /// lapsed and another deliverer has it (then it must not be posted here).
    ///
    /// # Errors
    /// A database error, or the lease was lost.
    pub async fn mark_sending(
        &self,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let done = self
            .exec(
                sqlx::query(
                    "UPDATE outbox SET sending_at = $1 WHERE idempotency_key = $2 AND claimed_by = $3 \
                     AND delivered_at IS NULL",
                )
                .bind(super::timestamp(now))
                .bind(key.to_string())
                .bind(self.holder().to_string()),
                "recording a post in progress",
            )
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records how the delivery `key` ended.
    ///
    /// # Errors
    /// A database error, or the lease was lost.
    pub async fn mark_delivered(
        &self,
        key: &str,
        outcome: Delivery,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        self.exec(
            sqlx::query(
                "UPDATE outbox SET delivered_at = $1, outcome = $2, attempts = attempts + 1 \
                 WHERE idempotency_key = $3 AND delivered_at IS NULL",
            )
            .bind(super::timestamp(now))
            .bind(outcome.as_str())
            .bind(key.to_string()),
            "recording a delivery",
        )
        .await?;
        Ok(())
    }

    /// Records a failed attempt at `key`; it stays pending (and is posted again: the network
    /// said it did not take it).
    ///
    /// # Errors
    /// A database error, or the lease was lost.
    pub async fn mark_failed(&self, key: &str, error: &str) -> Result<()> {
        self.exec(
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $1, sending_at = NULL \
                 WHERE idempotency_key = $2",
            )
            .bind(error.to_string())
            .bind(key.to_string()),
            "recording a failed delivery",
        )
        .await?;
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
        let done = self.exec(
sqlx::query(
            "INSERT INTO subscriptions (destination, target, created_by, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (destination, target) DO NOTHING",
        )
        .bind(destination.to_string())
        .bind(target.to_string())
        .bind(by.to_string())
        .bind(super::timestamp(chrono::Utc::now())),
"subscribing")
.await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes a subscription; `false` if there was none.
    ///
    /// # Errors
    /// A database error.
    pub async fn unsubscribe(&self, destination: &str, target: &str) -> Result<bool> {
        let done = self
            .exec(
                sqlx::query("DELETE FROM subscriptions WHERE destination = $1 AND target = $2")
                    .bind(destination.to_string())
                    .bind(target.to_string()),
                "unsubscribing",
            )
            .await?;
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
        self.exec(
            sqlx::query(
                "INSERT INTO snoozes (destination, target, until_at) VALUES ($1, $2, $3) \
             ON CONFLICT (destination, target) DO UPDATE SET until_at = excluded.until_at",
            )
            .bind(destination.to_string())
            .bind(target.to_string())
            .bind(super::timestamp(until)),
            "snoozing",
        )
        .await?;
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

    /// Claims the digest `key` before it is handed to the SMTP server: `false` when it was
    /// sent, or is being sent, already. A crash during the SMTP transaction leaves the claim,
    /// so the digest is not sent twice (SMTP cannot deduplicate); `forkdebt status` shows it.
    ///
    /// # Errors
    /// A database error, or the lease was lost.
    pub async fn claim_digest(
        &self,
        key: &str,
        recipient: &str,
        week: &str,
        message_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        let done = self
            .exec(
                sqlx::query(
                    "INSERT INTO digests (idempotency_key, recipient, week, message_id, sent_at, state) \
                     VALUES ($1, $2, $3, $4, $5, 'sending') ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(key.to_string())
                .bind(recipient.to_string())
                .bind(week.to_string())
                .bind(message_id.to_string())
                .bind(super::timestamp(now)),
                "claiming a digest",
            )
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records that the claimed digest `key` was accepted by the SMTP server.
    ///
    /// # Errors
    /// A database error, or the lease was lost.
    pub async fn digest_done(&self, key: &str, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
        self.exec(
            sqlx::query(
                "UPDATE digests SET state = 'sent', sent_at = $1 WHERE idempotency_key = $2",
            )
            .bind(super::timestamp(now))
            .bind(key.to_string()),
            "recording a digest",
        )
        .await?;
        Ok(())
    }

    /// Gives the claim on digest `key` up: the SMTP server refused it, so it is sent again
    /// at the next try.
    ///
    /// # Errors
    /// A database error.
    pub async fn release_digest(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM digests WHERE idempotency_key = $1 AND state = 'sending'")
            .bind(key.to_string())
            .execute(&self.pool)
            .await
            .ctx("releasing a digest")?;
        Ok(())
    }

    /// Digests whose sending was interrupted by a crash: `(recipient, week)`.
    ///
    /// # Errors
    /// A database error.
    pub async fn unconfirmed_digests(&self) -> Result<Vec<(String, String)>> {
        sqlx::query_as(
            "SELECT recipient, week FROM digests WHERE state = 'sending' ORDER BY week, recipient",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("loading digests")
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
        self.exec(sqlx::query("SELECT 1"), "asking the store")
            .await?;
        Ok(())
    }
}
