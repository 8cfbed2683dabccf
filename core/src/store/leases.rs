//! Leases: which instance holds a role (the scheduler), until when, with a fence number that
//! grows each time the role changes hands. Single autocommit statements on the database's
//! clock: no session advisory locks, so a transaction-pooling proxy in front is fine.

use super::{Backend, QueryContext, Result, Store};
use sqlx::AssertSqlSafe;

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
    /// The database clock in milliseconds since the epoch, as SQL.
    fn now_ms_sql(&self) -> &'static str {
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
