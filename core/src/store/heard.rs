//! What the message bus and forge webhooks told us: each message acted on once (by its id),
//! and per listener (`bus fedora`, `hook github`) the newest message heard, its lag, and the
//! last backfill — where a restart's backfill starts, and what `forkdebt sources` shows.

use super::{QueryContext, Result, Store, timestamp};

/// One listener's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerState {
    /// `bus fedora`, `hook github`.
    pub origin: String,
    /// The newest message's own time (RFC 3339).
    pub last_sent_at: Option<String>,
    pub last_heard_at: Option<String>,
    /// How long that message took to reach us, milliseconds.
    pub lag_ms: Option<i64>,
    pub last_backfill_at: Option<String>,
    /// Messages heard, and those about something tracked.
    pub messages: i64,
    pub acted_on: i64,
}

/// How long a handled message's id is kept: longer than any redelivery or backfill reaches.
const KEEP_DAYS: i64 = 30;

impl Store {
    /// Records that the message `id` from `origin` is being acted on: `true` the first time,
    /// `false` when it was already (a redelivery, a backfill overlapping the queue).
    ///
    /// # Errors
    /// A database error.
    pub async fn first_hearing(
        &self,
        origin: &str,
        id: &str,
        topic: &str,
        sent_at: Option<&str>,
    ) -> Result<bool> {
        let now = chrono::Utc::now();
        let done = self
            .exec(
                sqlx::query(
                    "INSERT INTO heard (origin, id, topic, sent_at, heard_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (origin, id) DO NOTHING",
                )
                .bind(origin.to_string())
                .bind(id.to_string())
                .bind(topic.to_string())
                .bind(sent_at.map(str::to_string))
                .bind(timestamp(now)),
                "recording a message heard",
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records messages heard by `origin` since the last call: how many, how many were about
    /// something tracked, and the newest one's own time (the lag measured against now).
    ///
    /// # Errors
    /// A database error.
    pub async fn record_hearing(
        &self,
        origin: &str,
        messages: i64,
        acted_on: i64,
        newest_sent_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<()> {
        let now = chrono::Utc::now();
        let lag = newest_sent_at.map(|t| (now - t).num_milliseconds().max(0));
        self.exec(
            sqlx::query(
                "INSERT INTO listeners (origin, last_sent_at, last_heard_at, lag_ms, messages, acted_on) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (origin) DO UPDATE SET \
                 last_sent_at = CASE WHEN excluded.last_sent_at IS NULL OR (listeners.last_sent_at IS NOT NULL \
                   AND listeners.last_sent_at > excluded.last_sent_at) THEN listeners.last_sent_at \
                   ELSE excluded.last_sent_at END, \
                 last_heard_at = excluded.last_heard_at, \
                 lag_ms = COALESCE(excluded.lag_ms, listeners.lag_ms), \
                 messages = listeners.messages + excluded.messages, \
                 acted_on = listeners.acted_on + excluded.acted_on",
            )
            .bind(origin.to_string())
            .bind(newest_sent_at.map(timestamp))
            .bind(timestamp(now))
            .bind(lag)
            .bind(messages)
            .bind(acted_on),
            "recording what a listener heard",
        )
        .await?;
        Ok(())
    }

    /// Records a finished backfill of `origin`, and forgets handled ids older than any
    /// redelivery.
    ///
    /// # Errors
    /// A database error.
    pub async fn record_backfill(&self, origin: &str) -> Result<()> {
        let now = chrono::Utc::now();
        self.exec(
            sqlx::query(
                "INSERT INTO listeners (origin, last_backfill_at) VALUES ($1, $2) \
                 ON CONFLICT (origin) DO UPDATE SET last_backfill_at = excluded.last_backfill_at",
            )
            .bind(origin.to_string())
            .bind(timestamp(now)),
            "recording a backfill",
        )
        .await?;
        self.exec(
            sqlx::query("DELETE FROM heard WHERE heard_at < $1")
                .bind(timestamp(now - chrono::Duration::days(KEEP_DAYS))),
            "forgetting old messages",
        )
        .await?;
        Ok(())
    }

    /// Every listener's progress, by origin.
    ///
    /// # Errors
    /// A database error.
    pub async fn listeners(&self) -> Result<Vec<ListenerState>> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<String>,
            i64,
            i64,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT origin, last_sent_at, last_heard_at, lag_ms, last_backfill_at, messages, acted_on \
             FROM listeners ORDER BY origin",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("reading the listeners")?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    origin,
                    last_sent_at,
                    last_heard_at,
                    lag_ms,
                    last_backfill_at,
                    messages,
                    acted_on,
                )| {
                    ListenerState {
                        origin,
                        last_sent_at,
                        last_heard_at,
                        lag_ms,
                        last_backfill_at,
                        messages,
                        acted_on,
                    }
                },
            )
            .collect())
    }

    /// Whether `origin` handled the message `id` already (read only).
    ///
    /// # Errors
    /// A database error.
    pub async fn was_heard(&self, origin: &str, id: &str) -> Result<bool> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT id FROM heard WHERE origin = $1 AND id = $2")
                .bind(origin.to_string())
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .ctx("looking up a message")?;
        Ok(row.is_some())
    }
}
