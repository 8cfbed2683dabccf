//! Writing events: each one once, in the transaction of the change that caused it, with one
//! outbox row per destination (read back and delivered by [`super::delivery`]).

use super::events::EventKind;
use super::{QueryContext, Result};
use sqlx::Transaction;

type Tx<'a> = Transaction<'a, sqlx::Any>;

/// The destinations every new event is queued for.
pub(crate) async fn destinations(tx: &mut Tx<'_>) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM destinations ORDER BY name")
        .fetch_all(&mut **tx)
        .await
        .ctx("loading destinations")?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// A transition to record.
pub(crate) struct NewEvent<'a> {
    pub downstream: &'a str,
    pub package: &'a str,
    /// The patch file or the Change title.
    pub subject: &'a str,
    pub kind: EventKind,
    pub from: Option<&'a str>,
    pub to: &'a str,
    /// JSON list of hops.
    pub evidence: &'a str,
}

/// One event and its outbox rows.
pub(crate) async fn write_event(
    tx: &mut Tx<'_>,
    e: &NewEvent<'_>,
    now: &str,
    destinations: &[String],
) -> Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO events (downstream, package, subject, kind, from_state, to_state, evidence, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(e.downstream.to_string())
    .bind(e.package.to_string())
    .bind(e.subject.to_string())
    .bind(e.kind.as_str())
    .bind(e.from.map(str::to_string))
    .bind(e.to.to_string())
    .bind(e.evidence.to_string())
    .bind(now.to_string())
    .fetch_one(&mut **tx)
    .await
    .ctx("recording an event")?;
    for d in destinations {
        sqlx::query("INSERT INTO outbox (event_id, destination, idempotency_key, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(d.clone())
            .bind(format!("{d}:event:{id}"))
            .bind(now.to_string())
            .execute(&mut **tx)
            .await
            .ctx("queueing a delivery")?;
    }
    Ok(id)
}
