//! State: one SQLite file (WAL), or a PostgreSQL database (`state = "postgres://…"`),
//! with a schema version and migrations.
//!
//! Tables: `blogs` (one per watched URL, with HTTP validators and status), `posts` (the
//! current version of every post), `revisions` (every version seen), `events` (the
//! outbox) and `deliveries` (one row per event and notifier, with its delivery state).
//! A poll's post changes and its outbox rows are written in one transaction, on either
//! backend.
//!
//! The store's API is synchronous: async callers use [`Store::call`], which runs the
//! closure on the blocking pool so no connection is held across an `.await`. The
//! connection never leaves the store: every query is a named method, and the states are
//! typed ([`BlogStatus`], [`Pace`], [`DeliveryState`]) and stored as their text.
//!
//! One file per concern, each with its `impl Store` block: `schema` (the migrations),
//! `blogs` (blog rows and the writes of a poll), `posts` (current posts and revisions),
//! `outbox` (events and their deliveries) and `feeds` (what feeds and the event stream
//! read). `db` is the one connection API both backends answer (each query written once
//! where they agree, side by side where they do not), `pg` the PostgreSQL connection
//! pool. This file keeps the store itself: opening, the connection and the error.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

mod blogs;
pub(crate) mod db;
mod feeds;
mod leases;
mod outbox;
mod pg;
mod posts;
mod schema;
mod value;
mod watches;

pub use blogs::{BlogRow, BlogStatus, Pace, PollRecord};
pub use feeds::{CurrentPost, FeedPost};
pub use outbox::{DeliveryState, Pending};
pub use pg::PgError;
pub use schema::SCHEMA_VERSION;
pub use watches::{PostHistory, Revision, StoredWatch};

/// Store errors. The message says what failed; the cause is the [`source`]
/// (render the chain, as `{:#}` of an `anyhow::Error` or [`crate::fetch::error_chain`]
/// do, to show both).
///
/// [`source`]: std::error::Error::source
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("state database {path}")]
    Open { path: PathBuf, source: SqlError },
    #[error("cannot create state dir {path}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state database {path} has schema version {found}, newer than this livewatch ({SCHEMA_VERSION}); upgrade livewatch")]
    TooNew { path: PathBuf, found: i64 },
    #[error("state database")]
    Sql(#[source] SqlError),
    #[error("state database holds invalid JSON")]
    Json(#[from] serde_json::Error),
    #[error("state database task failed: {0}")]
    Task(String),
    /// The PostgreSQL database of `state = "postgres://…"` (the URL without its password)
    /// could not be reached or migrated.
    #[error("state database {url}")]
    PgOpen { url: String, source: PgError },
    #[error("state database")]
    Pg(#[source] PgError),
    /// `state` is not a PostgreSQL URL livewatch can use.
    #[error("state = {url:?}: {message}")]
    BadUrl { url: String, message: String },
    #[error("state database: a row the store expected is missing")]
    NoRow,
    #[error("state database holds a value of the wrong type: {0}")]
    Decode(String),
    /// A PostgreSQL-only operation (leases) on a SQLite store.
    #[error("{0}: leases need state = \"postgres://…\"")]
    NeedsPostgres(&'static str),
    /// A poll's write by an instance that no longer holds the blog's lease (another
    /// instance took it): nothing was written.
    #[error(
        "the lease of blog {blog_id} is held by another instance; this poll's write was dropped"
    )]
    LeaseLost { blog_id: i64 },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Sql(SqlError(e))
    }
}

/// An SQLite error, as the last cause of a [`StoreError`]. rusqlite's error already
/// says what its own source says ("file is not a database", whose source is "Error code
/// 26: file is not a database"); the chain ends here, so that each cause shows once.
#[derive(Debug)]
pub struct SqlError(pub rusqlite::Error);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SqlError {}

/// The store, on SQLite or PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    path: PathBuf,
    /// With leases (PostgreSQL): the instance whose lease a poll's write must hold.
    lease_owner: Option<Arc<str>>,
}

#[derive(Clone)]
enum Backend {
    // A std Mutex: it is only taken on the blocking pool, never across an .await.
    Sqlite(Arc<Mutex<Connection>>),
    Postgres(Arc<pg::Pool>),
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.and_then(|v| Utc.timestamp_millis_opt(v).single())
}

impl Store {
    /// The database file inside a state dir.
    pub fn file_in(dir: &Path) -> PathBuf {
        dir.join("livewatch.db")
    }

    /// Open (creating and migrating) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = Self::file_in(dir);
        let open_err = |e| StoreError::Open {
            path: path.clone(),
            source: SqlError(e),
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        // Switching a new file to WAL takes the file's exclusive lock without waiting for
        // it (SQLite answers SQLITE_BUSY at once when another process opens the same new
        // file): try again for as long as the busy timeout.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => break r.map_err(open_err)?,
            }
        }
        // NORMAL is durable across process crashes in WAL mode; only a power loss can
        // lose the last commits (measured here: 27 µs vs 166 µs per commit with FULL).
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        // 1 MiB of page cache instead of SQLite's 2 MiB: a poll reads one blog's posts;
        // the cache's pages, malloc'd one by one, are spread over the heap and keep the
        // allocator from returning memory.
        conn.pragma_update(None, "cache_size", -1024)
            .map_err(open_err)?;
        schema::migrate(&mut conn, &path)?;
        Ok(Store {
            backend: Backend::Sqlite(Arc::new(Mutex::new(conn))),
            path,
            lease_owner: None,
        })
    }

    /// Open (creating the tables and migrating) the store in the PostgreSQL database at
    /// `url` (`postgres://USER@HOST:PORT/DB`; the database must exist).
    pub fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let shown = pg::redacted(url);
        let pool = pg::Pool::new(url).map_err(|message| StoreError::BadUrl {
            url: shown.clone(),
            message,
        })?;
        let store = Store {
            backend: Backend::Postgres(Arc::new(pool)),
            path: PathBuf::from(&shown),
            lease_owner: None,
        };
        store
            .with(|db| schema::migrate_postgres(db, &shown))
            .map_err(|e| match e {
                StoreError::Pg(source) => StoreError::PgOpen { url: shown, source },
                e => e,
            })?;
        Ok(store)
    }

    /// Open the store the config's `state` names: SQLite in `dir`, or PostgreSQL.
    pub fn open_state(
        state: &crate::config::StateBackend,
        dir: &Path,
    ) -> Result<Store, StoreError> {
        match state {
            crate::config::StateBackend::Sqlite => Store::open(dir),
            crate::config::StateBackend::Postgres(url) => Store::open_postgres(url),
        }
    }

    /// The SQLite file, or the PostgreSQL URL without its password.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Is the state in PostgreSQL (shared by instances)?
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Run `f` with a connection, synchronously. The connection never leaves the store:
    /// every query is a named method.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut db::Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => {
                let mut conn = c.lock().unwrap_or_else(|e| e.into_inner());
                f(&mut db::Db::Sqlite(&mut conn))
            }
            Backend::Postgres(p) => p.with(|c| f(&mut db::Db::Postgres(c))),
        }
    }

    /// Run `f` with the store on the blocking pool.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Is the database writable? (health check)
    pub fn check_writable(&self) -> Result<(), StoreError> {
        self.with(|c| match c.engine() {
            db::Engine::Sqlite => c.batch("BEGIN IMMEDIATE; ROLLBACK;"),
            db::Engine::Postgres => {
                c.batch("BEGIN")?;
                let wrote = c.batch("UPDATE livewatch_schema SET version = version");
                c.batch("ROLLBACK")?;
                wrote
            }
        })
    }
}

#[cfg(test)]
pub(crate) mod testpg;
#[cfg(test)]
mod tests;
