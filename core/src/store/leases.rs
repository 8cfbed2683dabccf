//! Leases: which instance holds a role (the scheduler), until when, with a fence number that
//! grows each time the role changes hands. Single autocommit statements on the database's
//! clock: no session advisory locks, so a transaction-pooling proxy in front is fine.
//!
//! Fencing: a leader writes through [`Store::fenced`]. Each of its write transactions starts
//! by checking that the lease still has this holder and fence and has not expired, and
//! share-locks that row (PostgreSQL), so a takeover (an UPDATE of the row) waits for the
//! transaction to end, and every write after it fails with [`StoreError::Fenced`]. A leader
//! paused past its lease (a stopped VM, a long GC) therefore cannot write when it wakes up.

use super::{Backend, QueryContext, Result, Store, StoreError};
use sqlx::AssertSqlSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A write transaction.
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// The lease a leader's writes are fenced with: its name, this instance's holder id, and the
/// fence number it was last granted (0: not held). Shared with the task renewing the lease.
#[derive(Debug)]
pub struct Fence {
    pub name: String,
    pub holder: String,
    /// How long the lease lasts once taken: claims made under it last as long.
    pub ttl_ms: i64,
    fence: AtomicI64,
}

impl Fence {
    pub fn new(name: &str, holder: &str, ttl_ms: i64) -> Fence {
        Fence {
            name: name.to_string(),
            holder: holder.to_string(),
            ttl_ms,
            fence: AtomicI64::new(0),
        }
    }

    /// The fence number held now (0: none).
    pub fn current(&self) -> i64 {
        self.fence.load(Ordering::SeqCst)
    }

    pub fn set(&self, fence: i64) -> i64 {
        self.fence.swap(fence, Ordering::SeqCst)
    }
}

/// One lease as `forkdebt status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseRow {
    pub name: String,
    pub holder: String,
    pub fence: i64,
    /// Milliseconds from now until it expires (negative: expired).
    pub remaining_ms: i64,
}

impl Store {
    /// A handle whose every write is fenced by `fence` (the reads are the same).
    pub fn fenced(&self, fence: Arc<Fence>) -> Store {
        Store {
            fence: Some(fence),
            ..self.clone()
        }
    }

    /// Who this handle writes as: the lease holder, or `local` for an unfenced handle (one
    /// process on SQLite, a CLI command).
    pub fn holder(&self) -> &str {
        self.fence.as_ref().map_or("local", |f| f.holder.as_str())
    }

    /// Begins a write transaction; on a fenced handle, first proves the lease is still held
    /// and keeps it from changing hands until the transaction ends.
    pub(crate) async fn begin_write(&self, what: &'static str) -> Result<Tx> {
        let mut tx = self.pool.begin().await.ctx(what)?;
        if let Some(fence) = &self.fence {
            let lock = match self.backend {
                Backend::Postgres => " FOR SHARE",
                // One writer at a time already.
                Backend::Sqlite => "",
            };
            let sql = format!(
                "SELECT fence FROM leases WHERE name = $1 AND holder = $2 AND fence = $3 AND expires_ms > {}{lock}",
                self.now_ms_sql()
            );
            let held: Option<(i64,)> = sqlx::query_as(AssertSqlSafe(sql))
                .bind(fence.name.clone())
                .bind(fence.holder.clone())
                .bind(fence.current())
                .fetch_optional(&mut *tx)
                .await
                .ctx("checking the lease before writing")?;
            if held.is_none() {
                let _ = tx.rollback().await;
                return Err(StoreError::Fenced(fence.name.clone()));
            }
        }
        Ok(tx)
    }

    /// Runs one write statement, fenced like [`Store::begin_write`] on a fenced handle.
    pub(crate) async fn exec<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        what: &'static str,
    ) -> Result<sqlx::any::AnyQueryResult> {
        if self.fence.is_none() {
            return query.execute(&self.pool).await.ctx(what);
        }
        let mut tx = self.begin_write(what).await?;
        let done = query.execute(&mut *tx).await.ctx(what)?;
        tx.commit().await.ctx(what)?;
        Ok(done)
    }

    /// Starts the scheduled job `name` if it did not start within the last `every_ms` (on
    /// the database clock): `true` when this call started it. However many instances ask,
    /// and across failovers, the job runs once per interval.
    ///
    /// # Errors
    /// A database error, or the lease was lost ([`StoreError::Fenced`]).
    pub async fn start_run(&self, name: &str, every_ms: i64) -> Result<bool> {
        let now = self.now_ms_sql();
        let sql = format!(
            "INSERT INTO runs (name, started_ms) VALUES ($1, {now}) \
             ON CONFLICT (name) DO UPDATE SET started_ms = excluded.started_ms \
             WHERE runs.started_ms <= excluded.started_ms - $2"
        );
        let done = self
            .exec(
                sqlx::query(AssertSqlSafe(sql))
                    .bind(name.to_string())
                    .bind(every_ms),
                "starting a scheduled run",
            )
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The database clock in milliseconds since the epoch, as SQL.
    pub(crate) fn now_ms_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS BIGINT)",
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// Takes or renews `name` for `holder` for `ttl_ms`: the fence number while held, `None`
    /// when another holder's lease has not expired.
    ///
    /// # Errors
    /// A database error.
    pub async fn take_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> Result<Option<i64>> {
        let now = self.now_ms_sql();
        let sql = format!(
            "INSERT INTO leases (name, holder, fence, expires_ms) VALUES ($1, $2, 1, {now} + $3) \
             ON CONFLICT (name) DO UPDATE SET \
             fence = CASE WHEN leases.holder = excluded.holder THEN leases.fence ELSE leases.fence + 1 END, \
             holder = excluded.holder, expires_ms = excluded.expires_ms \
             WHERE leases.holder = excluded.holder OR leases.expires_ms < {now} \
             RETURNING fence"
        );
        let row: Option<(i64,)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(name.to_string())
            .bind(holder.to_string())
            .bind(ttl_ms)
            .fetch_optional(&self.pool)
            .await
            .ctx("taking a lease")?;
        Ok(row.map(|r| r.0))
    }

    /// Whether `holder` still holds `name` with `fence` (a paused old leader checks this
    /// before acting, and finds it has lost).
    ///
    /// # Errors
    /// A database error.
    pub async fn holds_lease(&self, name: &str, holder: &str, fence: i64) -> Result<bool> {
        let sql = format!(
            "SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND fence = $3 AND expires_ms > {}",
            self.now_ms_sql()
        );
        let row: Option<(i64,)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(name.to_string())
            .bind(holder.to_string())
            .bind(fence)
            .fetch_optional(&self.pool)
            .await
            .ctx("checking a lease")?;
        Ok(row.is_some())
    }

    /// Gives `name` up (on a clean stop), so another instance takes over at once.
    ///
    /// # Errors
    /// A database error.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("UPDATE leases SET expires_ms = 0 WHERE name = $1 AND holder = $2")
            .bind(name.to_string())
            .bind(holder.to_string())
            .execute(&self.pool)
            .await
            .ctx("releasing a lease")?;
        Ok(())
    }

    /// Every lease with its holder and what is left of it.
    ///
    /// # Errors
    /// A database error.
    pub async fn leases(&self) -> Result<Vec<LeaseRow>> {
        let sql = format!(
            "SELECT name, holder, fence, expires_ms - {} AS remaining_ms FROM leases ORDER BY name",
            self.now_ms_sql()
        );
        sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .ctx("loading leases")
    }
}
