//! The schema and its migrations: `PRAGMA user_version` is the schema version, and each
//! entry of [`MIGRATIONS`] moves it one up, in its own transaction.

use std::path::Path;

use rusqlite::Connection;

use super::{SqlError, StoreError};

/// The schema version this build writes. Each entry of `MIGRATIONS` moves one up.
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
    super::watches::MIGRATION,
];

/// Bring the database at `path` up to [`SCHEMA_VERSION`]; refuse one written by a newer
/// livewatch.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let open_err = |e| StoreError::Open {
        path: path.to_path_buf(),
        source: SqlError(e),
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(open_err)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
        });
    }
    for (v, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        // Take the write lock first and look at the version again under it: another
        // process opening the same new file (`livewatch status` while the daemon starts)
        // may have run this step in the meantime.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(open_err)?;
        let now: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open_err)?;
        if now > v as i64 {
            continue;
        }
        tx.execute_batch(sql).map_err(open_err)?;
        tx.pragma_update(None, "user_version", v as i64 + 1)
            .map_err(open_err)?;
        tx.commit().map_err(open_err)?;
    }
    Ok(())
}
