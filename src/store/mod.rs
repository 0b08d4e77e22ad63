//! State: one SQLite file (WAL) with a schema version and migrations.
//!
//! Tables: `blogs` (one per watched URL, with HTTP validators and status), `posts` (the
//! current version of every post), `revisions` (every version seen), `events` (the
//! outbox) and `deliveries` (one row per event and notifier, with its delivery state).
//! A poll's post changes and its outbox rows are written in one transaction.
//!
//! rusqlite is synchronous: async callers use [`Store::call`], which runs the closure on
//! the blocking pool so no connection is held across an `.await`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::diff::Known;
use crate::fetch::Validators;
use crate::model::{Event, Post};

mod watches;
pub use watches::{PostHistory, Revision, StoredWatch};

/// The schema version this build writes. Each entry of [`MIGRATIONS`] moves one up.
pub const SCHEMA_VERSION: i64 = 3;

const MIGRATIONS: &[&str] = &[
    // 0 → 1
    r#"
    CREATE TABLE blogs (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        body_hash BLOB,
        polls INTEGER NOT NULL DEFAULT 0,
        baseline_done INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        status TEXT NOT NULL DEFAULT 'new',
        last_poll_at INTEGER,
        last_success_at INTEGER,
        last_new_post_at INTEGER,
        retired INTEGER NOT NULL DEFAULT 0,
        sched TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE posts (
        blog_id INTEGER NOT NULL REFERENCES blogs(id),
        post_id TEXT NOT NULL,
        post TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        revision INTEGER NOT NULL,
        order_poll INTEGER NOT NULL,
        order_pos INTEGER NOT NULL,
        missing INTEGER NOT NULL,
        removed INTEGER NOT NULL,
        off_page INTEGER NOT NULL,
        first_seen_at INTEGER NOT NULL,
        changed_at INTEGER NOT NULL,
        PRIMARY KEY (blog_id, post_id)
    );
    CREATE TABLE revisions (
        blog_id INTEGER NOT NULL,
        post_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        post TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (blog_id, post_id, revision)
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        blog_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        post_id TEXT,
        event TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX events_blog ON events(blog_id, seq);
    CREATE TABLE deliveries (
        event_seq INTEGER NOT NULL REFERENCES events(seq),
        notifier TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        remote_id TEXT,
        done_at INTEGER,
        PRIMARY KEY (event_seq, notifier)
    );
    CREATE INDEX deliveries_pending ON deliveries(notifier, state, event_seq);
    "#,
    // 1 → 2: the content fingerprint of the last parsed page (crate::fingerprint).
    "ALTER TABLE blogs ADD COLUMN content_fp BLOB;",
    // 2 → 3: watches added through the HTTP API (watches.rs).
    watches::MIGRATION,
];

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("state database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create state dir {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state database {path} has schema version {found}, newer than this livewatch ({SCHEMA_VERSION}); upgrade livewatch")]
    TooNew { path: PathBuf, found: i64 },
    #[error("state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state database holds invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("state database task failed: {0}")]
    Task(String),
}

/// A blog's stored state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlogRow {
    pub id: i64,
    pub url: String,
    pub title: Option<String>,
    pub validators: Validators,
    pub body_hash: Option<[u8; 32]>,
    /// [`crate::fingerprint`] of the last page parsed: a page with the same one is not
    /// parsed again.
    pub content_fp: Option<[u8; 32]>,
    pub polls: i64,
    pub baseline_done: bool,
    pub failures: u32,
    pub last_error: Option<String>,
    pub status: String,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_new_post_at: Option<DateTime<Utc>>,
    pub retired: bool,
    /// Scheduler state (adaptive polling), as JSON.
    pub sched: serde_json::Value,
}

/// Everything one successful poll writes, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct PollRecord {
    pub at: DateTime<Utc>,
    pub title: Option<String>,
    pub validators: Option<Validators>,
    pub body_hash: Option<[u8; 32]>,
    pub content_fp: Option<[u8; 32]>,
    pub baseline_done: bool,
    pub status: String,
    pub last_error: Option<String>,
    pub new_post: bool,
    pub updates: Vec<Known>,
    /// Each event with the notifiers that take it.
    pub events: Vec<(Event, Vec<String>)>,
    pub sched: Option<serde_json::Value>,
    /// The blog is retired after this poll (closed, grace period over).
    pub retired: bool,
}

/// An outbox row waiting for one notifier.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub blog_id: i64,
    pub event: Event,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub notifier: String,
    pub state: String,
    pub last_error: Option<String>,
}

/// A post as it stands now, with when livewatch first saw it and last saw it change.
#[derive(Debug, Clone)]
pub struct CurrentPost {
    pub post: Post,
    pub first_seen: DateTime<Utc>,
    pub changed: DateTime<Utc>,
    pub revision: u32,
}

/// A current post as a feed shows it.
#[derive(Debug, Clone)]
pub struct FeedPost {
    pub current: CurrentPost,
    /// Page order when first seen (poll, -position): larger is newer.
    pub order: (i64, i64),
    /// The latest change of the post was a correction.
    pub corrected: bool,
}

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    // A std Mutex: it is only taken on the blocking pool, never across an .await.
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
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
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        // NORMAL is durable across process crashes in WAL mode; only a power loss can
        // lose the last commits (CRATES.md: 27 µs vs 166 µs per commit).
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        // 1 MiB of page cache instead of SQLite's 2 MiB: a poll reads one blog's posts;
        // the cache's pages, malloc'd one by one, are spread over the heap and keep the
        // allocator from returning memory.
        conn.pragma_update(None, "cache_size", -1024)
            .map_err(open_err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open_err)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path,
                found: version,
            });
        }
        for (v, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(open_err)?;
            tx.execute_batch(sql).map_err(open_err)?;
            tx.pragma_update(None, "user_version", v as i64 + 1)
                .map_err(open_err)?;
            tx.commit().map_err(open_err)?;
        }
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` with the connection, synchronously.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn)
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

    /// The blog row for `url`, created when missing.
    pub fn blog(&self, url: &str) -> Result<BlogRow, StoreError> {
        self.with(|c| {
            c.execute("INSERT OR IGNORE INTO blogs (url) VALUES (?1)", [url])?;
            let row = c.query_row(
                &format!("SELECT {BLOG_COLS} FROM blogs WHERE url = ?1"),
                [url],
                blog_row,
            )?;
            Ok(row)
        })
    }

    /// The blog row by id, with whether posts wait for a second look (see
    /// [`Store::has_pending_removals`]): what a blog task keeps between polls, read back
    /// after each write in the same blocking call.
    pub fn blog_state(&self, blog_id: i64) -> Result<(BlogRow, bool), StoreError> {
        let row = self.with(|c| {
            let mut st =
                c.prepare_cached(&format!("SELECT {BLOG_COLS} FROM blogs WHERE id = ?1"))?;
            Ok(st.query_row([blog_id], blog_row)?)
        })?;
        let pending = self.has_pending_removals(blog_id)?;
        Ok((row, pending))
    }

    /// Record `n` successful checks that changed nothing but the time (304s and
    /// unchanged bodies whose write was put off): the poll count, the last poll time
    /// and the scheduler state.
    pub fn checked(
        &self,
        blog_id: i64,
        n: u32,
        at: DateTime<Utc>,
        sched: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "UPDATE blogs SET polls = polls + ?2, last_poll_at = ?3, last_success_at = ?3, sched = ?4
                 WHERE id = ?1",
            )?;
            st.execute(params![blog_id, n, ms(at), sched.to_string()])?;
            Ok(())
        })
    }

    /// Every blog, in insertion order.
    pub fn blogs(&self) -> Result<Vec<BlogRow>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!("SELECT {BLOG_COLS} FROM blogs ORDER BY id"))?;
            let rows = st.query_map([], blog_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Every stored post of a blog (removed and off-page ones too).
    pub fn known_posts(&self, blog_id: i64) -> Result<Vec<Known>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT post, fingerprint, revision, order_poll, order_pos, missing, removed, off_page
                 FROM posts WHERE blog_id = ?1",
            )?;
            let rows = st
                .query_map([blog_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, u32>(2)?,
                        (r.get::<_, i64>(3)?, r.get::<_, i64>(4)?),
                        r.get::<_, u32>(5)?,
                        r.get::<_, bool>(6)?,
                        r.get::<_, bool>(7)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(post, fingerprint, revision, order, missing, removed, off_page)| {
                    Ok(Known {
                        post: serde_json::from_str(&post)?,
                        fingerprint,
                        revision,
                        order,
                        missing,
                        removed,
                        off_page,
                    })
                })
                .collect()
        })
    }

    /// Write one poll: blog state, post changes, revisions, events and deliveries, in
    /// one transaction. Returns the events' sequence numbers.
    pub fn save_poll(&self, blog_id: i64, rec: &PollRecord) -> Result<Vec<i64>, StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let now = ms(rec.at);
            // One statement (prepared once per connection) for the whole blog row.
            tx.prepare_cached(
                "UPDATE blogs SET polls = polls + 1, last_poll_at = ?2, last_success_at = ?2,
                   failures = 0, last_error = ?3, status = ?4,
                   baseline_done = MAX(baseline_done, ?5),
                   title = COALESCE(?6, title),
                   last_new_post_at = CASE WHEN ?7 THEN ?2 ELSE last_new_post_at END,
                   etag = CASE WHEN ?8 THEN ?9 ELSE etag END,
                   last_modified = CASE WHEN ?8 THEN ?10 ELSE last_modified END,
                   body_hash = COALESCE(?11, body_hash),
                   sched = COALESCE(?12, sched),
                   retired = CASE WHEN ?12 IS NULL THEN retired ELSE ?13 END,
                   content_fp = CASE WHEN ?11 IS NULL THEN content_fp ELSE ?14 END
                 WHERE id = ?1",
            )?
            .execute(params![
                blog_id,
                now,
                rec.last_error,
                rec.status,
                rec.baseline_done,
                rec.title,
                rec.new_post,
                rec.validators.is_some(),
                rec.validators.as_ref().and_then(|v| v.etag.as_deref()),
                rec.validators
                    .as_ref()
                    .and_then(|v| v.last_modified.as_deref()),
                rec.body_hash.as_ref().map(|h| &h[..]),
                rec.sched.as_ref().map(|s| s.to_string()),
                rec.retired,
                rec.content_fp.as_ref().map(|h| &h[..])
            ])?;
            write_posts(&tx, blog_id, &rec.updates, now)?;
            let seqs = write_events(&tx, blog_id, &rec.events, now)?;
            tx.commit()?;
            Ok(seqs)
        })
    }

    /// Record a failed poll: the error text, and the failure count.
    pub fn record_failure(
        &self,
        blog_id: i64,
        at: DateTime<Utc>,
        status: &str,
        error: &str,
        events: &[(Event, Vec<String>)],
    ) -> Result<u32, StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.prepare_cached(
                "UPDATE blogs SET failures = failures + 1, last_poll_at = ?2, last_error = ?3, status = ?4
                 WHERE id = ?1",
            )?
            .execute(params![blog_id, ms(at), error, status])?;
            write_events(&tx, blog_id, events, ms(at))?;
            let n = tx
                .prepare_cached("SELECT failures FROM blogs WHERE id = ?1")?
                .query_row([blog_id], |r| r.get(0))?;
            tx.commit()?;
            Ok(n)
        })
    }

    /// Update only the blog's status line (and scheduler state), e.g. after a 304.
    pub fn touch(
        &self,
        blog_id: i64,
        at: DateTime<Utc>,
        status: &str,
        sched: Option<&serde_json::Value>,
        retired: bool,
        events: &[(Event, Vec<String>)],
    ) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.prepare_cached(
                "UPDATE blogs SET polls = polls + 1, last_poll_at = ?2, last_success_at = ?2, failures = 0,
                   last_error = NULL, status = ?3, retired = ?4, sched = COALESCE(?5, sched)
                 WHERE id = ?1",
            )?
            .execute(params![blog_id, ms(at), status, retired, sched.map(|s| s.to_string())])?;
            write_events(&tx, blog_id, events, ms(at))?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Mark a blog retired (or not) with a status line.
    pub fn set_retired(&self, blog_id: i64, retired: bool, status: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE blogs SET retired = ?2, status = ?3 WHERE id = ?1",
                params![blog_id, retired, status],
            )?;
            Ok(())
        })
    }

    /// The next deliveries for `notifier`, oldest first, at most one per blog (order per
    /// blog is kept: a blog's next event waits until the one before it is settled).
    pub fn due(
        &self,
        notifier: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Pending>, StoreError> {
        self.due_rows(notifier, now, limit, PerBlog::One)
    }

    /// Every due delivery for `notifier`, oldest first, at most `limit`, several per
    /// blog, but none after a blog's first row that is not due yet (order per blog is
    /// kept): what a burst digest covers.
    pub fn due_all(
        &self,
        notifier: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Pending>, StoreError> {
        self.due_rows(notifier, now, limit, PerBlog::UntilNotDue)
    }

    /// The due deliveries for `notifier`, oldest first, at most `limit`; a blog is passed
    /// over from its first row that is not due (and, with [`PerBlog::One`], from its
    /// second row), so a blog's events always go out in order.
    fn due_rows(
        &self,
        notifier: &str,
        now: DateTime<Utc>,
        limit: usize,
        per_blog: PerBlog,
    ) -> Result<Vec<Pending>, StoreError> {
        // Rows read ahead: skipped rows (blocked blogs) must not starve the limit.
        let read = match per_blog {
            PerBlog::One => limit * 8,
            PerBlog::UntilNotDue => limit * 4,
        };
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {PENDING_COLS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.notifier = ?1 AND d.state = 'pending' ORDER BY d.event_seq LIMIT ?2"
            ))?;
            let rows = st
                .query_map(params![notifier, read as i64], pending_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut blocked = std::collections::HashSet::new();
            let mut out = Vec::new();
            for r in rows {
                // An event that does not parse fails the call only once it is reached.
                let r = r?;
                if blocked.contains(&r.blog_id) {
                    continue;
                }
                if r.next_at > now || per_blog == PerBlog::One {
                    blocked.insert(r.blog_id);
                }
                if r.next_at <= now {
                    out.push(r);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    /// The earliest `next_at` of a pending delivery for `notifier`.
    pub fn next_due_at(&self, notifier: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.with(|c| {
            let v: Option<i64> = c.query_row(
                "SELECT MIN(next_at) FROM deliveries WHERE notifier = ?1 AND state = 'pending'",
                [notifier],
                |r| r.get(0),
            )?;
            Ok(from_ms(v))
        })
    }

    pub fn mark_done(
        &self,
        seq: i64,
        notifier: &str,
        remote_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE deliveries SET state = 'done', attempts = attempts + 1, done_at = ?3,
                   remote_id = COALESCE(?4, remote_id), last_error = NULL
                 WHERE event_seq = ?1 AND notifier = ?2",
                params![seq, notifier, ms(at), remote_id],
            )?;
            Ok(())
        })
    }

    pub fn mark_retry(
        &self,
        seq: i64,
        notifier: &str,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE deliveries SET attempts = attempts + 1, next_at = ?3, last_error = ?4
                 WHERE event_seq = ?1 AND notifier = ?2",
                params![seq, notifier, ms(next_at), error],
            )?;
            Ok(())
        })
    }

    pub fn mark_dead(&self, seq: i64, notifier: &str, error: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE deliveries SET state = 'dead', attempts = attempts + 1, last_error = ?3
                 WHERE event_seq = ?1 AND notifier = ?2",
                params![seq, notifier, error],
            )?;
            Ok(())
        })
    }

    /// Deliveries in a state (`pending` / `dead`), oldest first.
    pub fn outbox(&self, state: Option<&str>) -> Result<Vec<Pending>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {PENDING_COLS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE (?1 IS NULL AND d.state != 'done') OR d.state = ?1 ORDER BY d.event_seq"
            ))?;
            let rows = st
                .query_map(params![state], pending_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().collect()
        })
    }

    /// Put dead deliveries back in the queue. Returns how many.
    pub fn retry_dead(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE deliveries SET state = 'pending', next_at = ?1, attempts = 0 WHERE state = 'dead'",
                [ms(now)],
            )?)
        })
    }

    /// Counts of deliveries by state.
    pub fn outbox_depth(&self) -> Result<(i64, i64), StoreError> {
        self.with(|c| {
            let pending = c.query_row(
                "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )?;
            let dead = c.query_row(
                "SELECT COUNT(*) FROM deliveries WHERE state = 'dead'",
                [],
                |r| r.get(0),
            )?;
            Ok((pending, dead))
        })
    }

    /// Pending deliveries per blog id.
    pub fn pending_by_blog(&self) -> Result<std::collections::HashMap<i64, i64>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT e.blog_id, COUNT(*) FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.state = 'pending' GROUP BY e.blog_id",
            )?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    /// Pending deliveries per blog id and notifier (one delivery = one event for one
    /// notifier), notifiers in name order.
    pub fn pending_by_blog_notifier(
        &self,
    ) -> Result<std::collections::HashMap<i64, Vec<(String, i64)>>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT e.blog_id, d.notifier, COUNT(*) FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.state = 'pending' GROUP BY e.blog_id, d.notifier ORDER BY d.notifier",
            )?;
            let mut out: std::collections::HashMap<i64, Vec<(String, i64)>> = Default::default();
            for row in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
                let (blog, notifier, n): (i64, String, i64) = row?;
                out.entry(blog).or_default().push((notifier, n));
            }
            Ok(out)
        })
    }

    /// Undelivered (pending or dead-lettered) deliveries per notifier, in name order.
    pub fn undelivered_by_notifier(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT notifier, COUNT(*) FROM deliveries WHERE state IN ('pending', 'dead')
                 GROUP BY notifier ORDER BY notifier",
            )?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    /// Forget the undelivered (pending and dead-lettered) deliveries to `notifier`; the
    /// events themselves stay (feeds, history). Returns how many were dropped.
    pub fn drop_undelivered(&self, notifier: &str) -> Result<usize, StoreError> {
        self.with(|c| {
            Ok(c.execute(
                "DELETE FROM deliveries WHERE notifier = ?1 AND state IN ('pending', 'dead')",
                [notifier],
            )?)
        })
    }

    /// Posts per blog: (active, removed).
    pub fn post_counts(&self, blog_id: i64) -> Result<(i64, i64), StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FILTER (WHERE removed = 0), COUNT(*) FILTER (WHERE removed = 1) FROM posts WHERE blog_id = ?1",
                [blog_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
    }

    /// The remote message id a notifier got for an earlier event about the same post.
    pub fn remote_id_for_post(
        &self,
        notifier: &str,
        blog_id: i64,
        post_id: &str,
    ) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT d.remote_id FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.notifier = ?1 AND e.blog_id = ?2 AND e.post_id = ?3 AND d.remote_id IS NOT NULL
                 ORDER BY e.seq LIMIT 1",
                params![notifier, blog_id, post_id],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Events after `seq` (all blogs), oldest first: for SSE resume and feeds.
    pub fn events_after(&self, seq: i64, limit: usize) -> Result<Vec<(i64, Event)>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT seq, event FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = st
                .query_map(params![seq, limit as i64], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(s, e)| Ok((s, serde_json::from_str(&e)?)))
                .collect()
        })
    }

    /// The sequence number of an event id.
    pub fn event_seq(&self, id: &str) -> Result<Option<i64>, StoreError> {
        self.with(|c| {
            Ok(
                c.query_row("SELECT seq FROM events WHERE id = ?1", [id], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    /// Current posts of a blog with their last change time, for feeds.
    pub fn current_posts(&self, blog_id: i64) -> Result<Vec<CurrentPost>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT post, first_seen_at, changed_at, revision FROM posts WHERE blog_id = ?1 AND removed = 0",
            )?;
            let rows = st
                .query_map([blog_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, u32>(3)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(p, f, ch, rev)| {
                    Ok(CurrentPost {
                        post: serde_json::from_str(&p)?,
                        first_seen: from_ms(Some(f)).unwrap_or_default(),
                        changed: from_ms(Some(ch)).unwrap_or_default(),
                        revision: rev,
                    })
                })
                .collect()
        })
    }

    /// The blog row for `url`, if livewatch has seen it (never creates one).
    pub fn find_blog(&self, url: &str) -> Result<Option<BlogRow>, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {BLOG_COLS} FROM blogs WHERE url = ?1"),
                [url],
                blog_row,
            )
            .optional()?)
        })
    }

    /// The newest event's sequence number (0 when there is none).
    pub fn last_event_seq(&self) -> Result<i64, StoreError> {
        self.with(
            |c| Ok(c.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?),
        )
    }

    /// Current posts of a blog with what feeds show besides the post: the page order
    /// and whether the latest change of the post was a correction.
    pub fn feed_posts(&self, blog_id: i64) -> Result<Vec<FeedPost>, StoreError> {
        self.with(|c| {
            // The latest edit-or-correction event of the post decides: a correction
            // followed by a plain edit is shown as edited.
            let mut st = c.prepare_cached(
                "SELECT p.post, p.first_seen_at, p.changed_at, p.revision, p.order_poll, p.order_pos,
                   (SELECT e.kind FROM events e WHERE e.blog_id = p.blog_id AND e.post_id = p.post_id
                      AND e.kind IN ('edit', 'correction') ORDER BY e.seq DESC LIMIT 1) = 'correction'
                 FROM posts p WHERE p.blog_id = ?1 AND p.removed = 0",
            )?;
            let rows = st
                .query_map([blog_id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, u32>(3)?,
                        (r.get::<_, i64>(4)?, r.get::<_, i64>(5)?),
                        r.get::<_, Option<bool>>(6)?.unwrap_or(false),
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(p, f, ch, rev, order, corrected)| {
                    Ok(FeedPost {
                        current: CurrentPost {
                            post: serde_json::from_str(&p)?,
                            first_seen: from_ms(Some(f)).unwrap_or_default(),
                            changed: from_ms(Some(ch)).unwrap_or_default(),
                            revision: rev,
                        },
                        order,
                        corrected,
                    })
                })
                .collect()
        })
    }

    /// Does the blog have posts missing from the last poll, waiting for a second look?
    pub fn has_pending_removals(&self, blog_id: i64) -> Result<bool, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM posts WHERE blog_id = ?1 AND missing > 0 AND removed = 0)",
            )?;
            Ok(st.query_row([blog_id], |r| r.get(0))?)
        })
    }

    /// Is the database writable? (health check)
    pub fn check_writable(&self) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
            Ok(())
        })
    }
}

const BLOG_COLS: &str =
    "id, url, title, etag, last_modified, body_hash, polls, baseline_done, failures,
    last_error, status, last_poll_at, last_success_at, last_new_post_at, retired, sched,
    content_fp";

fn blog_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BlogRow> {
    let hash: Option<Vec<u8>> = r.get(5)?;
    let sched: String = r.get(15)?;
    Ok(BlogRow {
        id: r.get(0)?,
        url: r.get(1)?,
        title: r.get(2)?,
        validators: Validators {
            etag: r.get(3)?,
            last_modified: r.get(4)?,
        },
        body_hash: hash.and_then(|h| h.try_into().ok()),
        polls: r.get(6)?,
        baseline_done: r.get(7)?,
        failures: r.get(8)?,
        last_error: r.get(9)?,
        status: r.get(10)?,
        last_poll_at: from_ms(r.get(11)?),
        last_success_at: from_ms(r.get(12)?),
        last_new_post_at: from_ms(r.get(13)?),
        retired: r.get(14)?,
        sched: serde_json::from_str(&sched).unwrap_or_default(),
        content_fp: r
            .get::<_, Option<Vec<u8>>>(16)?
            .and_then(|h| h.try_into().ok()),
    })
}

const PENDING_COLS: &str =
    "d.event_seq, e.blog_id, e.event, d.attempts, d.next_at, e.created_at, d.notifier, d.state, d.last_error";

/// How many due deliveries of one blog [`Store::due_rows`] hands out at once.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PerBlog {
    /// The blog's oldest pending delivery, if it is due.
    One,
    /// The blog's due deliveries up to its first one that is not due.
    UntilNotDue,
}

type PendingRow = Result<Pending, StoreError>;

fn pending_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingRow> {
    let json: String = r.get(2)?;
    let event = match serde_json::from_str(&json) {
        Ok(e) => e,
        Err(e) => return Ok(Err(StoreError::Json(e))),
    };
    Ok(Ok(Pending {
        seq: r.get(0)?,
        blog_id: r.get(1)?,
        event,
        attempts: r.get(3)?,
        next_at: from_ms(Some(r.get(4)?)).unwrap_or_default(),
        created_at: from_ms(Some(r.get(5)?)).unwrap_or_default(),
        notifier: r.get(6)?,
        state: r.get(7)?,
        last_error: r.get(8)?,
    }))
}

fn write_posts(
    tx: &Transaction<'_>,
    blog_id: i64,
    updates: &[Known],
    now: i64,
) -> Result<(), StoreError> {
    let mut up = tx.prepare_cached(
        "INSERT INTO posts (blog_id, post_id, post, fingerprint, revision, order_poll, order_pos,
            missing, removed, off_page, first_seen_at, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
         ON CONFLICT (blog_id, post_id) DO UPDATE SET post = excluded.post,
            fingerprint = excluded.fingerprint,
            changed_at = CASE WHEN revision != excluded.revision THEN excluded.changed_at ELSE changed_at END,
            revision = excluded.revision, missing = excluded.missing,
            removed = excluded.removed, off_page = excluded.off_page",
    )?;
    let mut rev = tx.prepare_cached(
        "INSERT OR IGNORE INTO revisions (blog_id, post_id, revision, post, seen_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for k in updates {
        let json = serde_json::to_string(&k.post)?;
        up.execute(params![
            blog_id,
            k.post.id,
            json,
            k.fingerprint,
            k.revision,
            k.order.0,
            k.order.1,
            k.missing,
            k.removed,
            k.off_page,
            now
        ])?;
        rev.execute(params![blog_id, k.post.id, k.revision, json, now])?;
    }
    Ok(())
}

fn write_events(
    tx: &Transaction<'_>,
    blog_id: i64,
    events: &[(Event, Vec<String>)],
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut ev = tx.prepare_cached(
        "INSERT OR IGNORE INTO events (id, blog_id, kind, post_id, event, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut del = tx.prepare_cached(
        "INSERT OR IGNORE INTO deliveries (event_seq, notifier, next_at) VALUES (?1, ?2, ?3)",
    )?;
    let mut seqs = Vec::with_capacity(events.len());
    for (event, notifiers) in events {
        let inserted = ev.execute(params![
            event.id,
            blog_id,
            event.kind.as_str(),
            event.post.as_ref().map(|p| p.id.as_str()),
            serde_json::to_string(event)?,
            now
        ])?;
        if inserted == 0 {
            // Already recorded (the same change detected again after a crash): keep the
            // first, so receivers never see a second id for it.
            continue;
        }
        let seq = tx.last_insert_rowid();
        for n in notifiers {
            del.execute(params![seq, n, now])?;
        }
        seqs.push(seq);
    }
    Ok(seqs)
}

#[cfg(test)]
mod tests;
