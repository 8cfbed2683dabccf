//! The store: SQLite (a file, created on first use) or PostgreSQL, chosen once by URL.
//!
//! Both backends go through sqlx's `Any` driver with the same SQL (`$1` placeholders, `ON
//! CONFLICT`, `RETURNING` work on both); only the migrations differ, one folder per backend
//! with paired file names. That keeps one code path for every query instead of two copies of
//! each (atuin's trait-per-backend shape), at the price of the `Any` type set: integers are
//! BIGINT, times are RFC 3339 text, structured values JSON text.
//!
//! - [`Store::open`]: connect, SQLite pragmas, migrations.
//! - [`inventory`]: writing a scan (idempotent; vanished patches are marked dropped).
//! - [`read`]: loading packages, patches and references back.
//! - [`history`]: carried patches over git history.
//! - [`sync`]: upstream observations, HTTP validators, source status, host pacing.
//! - [`engine`]: verdicts decided again inside every observation and scan transaction,
//!   with their events and outbox rows; [`events`]: reading them back.
//! - [`lookup`]: the chat questions answered by one query each (debt counts, droppable
//!   patches, the patches that carry a reference).

mod debt;
mod delivery;
mod engine;
mod events;
mod forks;
mod heard;
pub use heard::ListenerState;
mod history;
pub use history::{DroppedPatch, HistoryRow};
mod inventory;
mod leases;
pub use leases::{Fence, LeaseRow};
mod lookup;
mod outbox;
mod proposals;
mod read;
mod sync;
mod upgrade;

pub use debt::{PackageDebtRow, TREND_WEEKS, sparkline, week_ends};
pub use delivery::{Delivery, Pending};
pub use events::{ChangeRow, EventKind, EventRow, MISSING_FIX, ReleaseNews};
pub use inventory::ScanSummary;
pub(crate) use inventory::{INSERT_CHUNK_ROWS, values_sql};
pub use lookup::{Carrier, DebtCount, DroppablePatch};
pub use proposals::ProposalRequest;
pub use read::{PAGE_PACKAGES, StoredPackage, StoredPatch};
pub use sync::{ItemOutcome, SourceRun, SourceStatus, StoredObservation};

use crate::config::redact_url;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Connection, Executor};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: use sqlite://FILE or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot open database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrating database {url}: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("database error while {what}: {source}")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error(
        "this instance no longer holds the lease `{0}` (another instance took over); nothing was written"
    )]
    Fenced(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Adds the context of a query to a sqlx error.
pub(crate) trait QueryContext<T> {
    fn ctx(self, what: &'static str) -> Result<T>;
}

impl<T> QueryContext<T> for std::result::Result<T, sqlx::Error> {
    fn ctx(self, what: &'static str) -> Result<T> {
        self.map_err(|source| StoreError::Query { what, source })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of an open connection (engine code gets a transaction, not the store).
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Backend {
        // sqlx names them "PostgreSQL" and "SQLite".
        if conn
            .backend_name()
            .to_ascii_lowercase()
            .starts_with("postgres")
        {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// A cheap handle to the database (the pool is reference counted).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Set on the handle a leader writes through: every write transaction first checks, and
    /// share-locks, that the lease is still this instance's (see [`Store::fenced`]).
    fence: Option<std::sync::Arc<Fence>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// Writers wait this long for SQLite's lock before failing (another forkdebt process).
const SQLITE_BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 10000";

/// Sets up a new connection. SQLite: WAL, so readers (chat, web) never block the writer
/// (scan, sync); foreign keys; a busy timeout. The WAL switch writes, so a read-only store
/// fails here.
async fn prepare(
    conn: &mut AnyConnection,
    backend: Backend,
) -> std::result::Result<(), sqlx::Error> {
    if backend == Backend::Sqlite {
        conn.execute(SQLITE_BUSY_TIMEOUT).await?;
        // Switching a new file to WAL needs its exclusive lock, and SQLite answers BUSY at
        // once, without the busy handler, when two connections would otherwise deadlock
        // (two processes creating the same file): wait and try again.
        let mut waited = Duration::ZERO;
        loop {
            match conn.execute("PRAGMA journal_mode = WAL").await {
                Ok(_) => break,
                Err(e) if is_busy(&e) && waited < SQLITE_LOCK_PATIENCE => {
                    let pause = Duration::from_millis(20 + 30 * (waited.as_millis() as u64 / 200));
                    tokio::time::sleep(pause).await;
                    waited += pause;
                }
                Err(e) => return Err(e),
            }
        }
        conn.execute("PRAGMA synchronous = NORMAL").await?;
        conn.execute("PRAGMA foreign_keys = ON").await?;
    }
    Ok(())
}

/// The first connection, set up: on SQLite a new file being created by another process at
/// the same moment is waited for (its lock is short), not reported as "database is locked".
async fn open_first(
    url: &str,
    backend: Backend,
) -> std::result::Result<AnyConnection, sqlx::Error> {
    let started = std::time::Instant::now();
    loop {
        let attempt = async {
            let mut conn = AnyConnection::connect(url).await?;
            prepare(&mut conn, backend).await?;
            Ok::<_, sqlx::Error>(conn)
        };
        match attempt.await {
            Err(e)
                if backend == Backend::Sqlite
                    && is_busy(&e)
                    && started.elapsed() < SQLITE_LOCK_PATIENCE =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// How long opening a SQLite store waits for another process's lock in all.
const SQLITE_LOCK_PATIENCE: Duration = Duration::from_secs(10);

/// SQLite's "database is locked" / "database table is locked" (SQLITE_BUSY, SQLITE_LOCKED).
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            matches!(d.code().as_deref(), Some("5" | "6" | "261" | "517"))
                || d.message().contains("database is locked")
        }
        _ => false,
    }
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database at `url`.
    ///
    /// # Errors
    /// An unsupported scheme, a failed connection or migration; the URL in the error has its
    /// password hidden.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, connect_url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let mut u = format!("sqlite:{rest}");
            if !rest.contains("memory") && !rest.contains("mode=") {
                u.push(if rest.contains('?') { '&' } else { '?' });
                u.push_str("mode=rwc");
            }
            (Backend::Sqlite, u)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        let shown = redact_url(url);
        // One connection first, set up as the pool's will be: a file that is not SQLite, a
        // read-only store or a server that refuses us is said at once, with its cause,
        // instead of after the pool's 30 s of retries as "pool timed out".
        let first =
            open_first(&connect_url, backend)
                .await
                .map_err(|source| StoreError::Connect {
                    url: shown.clone(),
                    source,
                })?;
        let _ = first.close().await;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| Box::pin(prepare(conn, backend)))
            .connect(&connect_url)
            .await
            .map_err(|source| StoreError::Connect {
                url: shown.clone(),
                source,
            })?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("../migrations/postgres"),
        };
        // Two processes opening a new SQLite file at once both try to apply the first
        // migration (sqlx's migration lock is PostgreSQL's advisory lock; SQLite has none):
        // the second waits for the first's transaction, then finds the table exists. Each
        // migration is one transaction, so trying again sees it applied and goes on. (A lock
        // file would do too, but closing any descriptor of the database file would drop
        // SQLite's own locks.)
        let started = std::time::Instant::now();
        loop {
            match migrator.run(&pool).await {
                Ok(()) => break,
                Err(
                    sqlx::migrate::MigrateError::Execute(_)
                    | sqlx::migrate::MigrateError::ExecuteMigration(..),
                ) if backend == Backend::Sqlite && started.elapsed() < SQLITE_LOCK_PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(source) => return Err(StoreError::Migrate { url: shown, source }),
            }
        }
        let store = Store {
            pool,
            backend,
            fence: None,
        };
        store.finish_upgrade().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Names of the downstreams that were ever scanned.
    ///
    /// # Errors
    /// A database error.
    pub async fn downstreams(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM downstreams ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .ctx("listing downstreams")?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Ids per `IN (...)` list: well under every backend's limit of bound parameters.
pub(crate) const IN_CHUNK: usize = 500;

/// `$start,$start+1,...` for `n` bound values.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Now, as stored: RFC 3339 UTC with seconds, so text order is time order.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub use crate::display::fingerprint;
