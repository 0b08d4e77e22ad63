//! Watches added through the HTTP API (`/api/watches`), and the stored revisions of a post
//! for its history page. The watches live in their own table, `api_watches`: the request
//! as validated (JSON) and whether the watch is paused. The config file's watches are
//! never stored here.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{from_ms, ms, Store, StoreError};
use crate::model::Post;

/// Migration 2 → 3: the table of API watches.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE api_watches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL UNIQUE,
        spec TEXT NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
"#;

/// One watch added through the API, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWatch {
    pub id: i64,
    pub url: String,
    /// The validated request (see `server::api::WatchSpec`).
    pub spec: serde_json::Value,
    pub paused: bool,
    pub created_at: DateTime<Utc>,
}

/// One stored revision of a post.
#[derive(Debug, Clone)]
pub struct Revision {
    pub revision: u32,
    pub seen_at: DateTime<Utc>,
    pub post: Post,
}

/// A post as the store holds it: its revisions, oldest first, and whether it was removed.
#[derive(Debug, Clone)]
pub struct PostHistory {
    pub revisions: Vec<Revision>,
    pub removed: bool,
    pub first_seen: DateTime<Utc>,
    pub changed: DateTime<Utc>,
}

fn stored_watch(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, bool, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_watch(
    (id, url, spec, paused, created): (i64, String, String, bool, i64),
) -> Result<StoredWatch, StoreError> {
    Ok(StoredWatch {
        id,
        url,
        spec: serde_json::from_str(&spec)?,
        paused,
        created_at: from_ms(Some(created)).unwrap_or_default(),
    })
}

impl Store {
    /// Every API watch, oldest first.
    pub fn api_watches(&self) -> Result<Vec<StoredWatch>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, url, spec, paused, created_at FROM api_watches ORDER BY id",
            )?;
            let rows = st
                .query_map([], stored_watch)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(to_watch).collect()
        })
    }

    /// Add an API watch; `None` when its URL is already an API watch.
    pub fn add_api_watch(
        &self,
        url: &str,
        spec: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredWatch>, StoreError> {
        let text = serde_json::to_string(spec)?;
        self.with(|c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO api_watches (url, spec, created_at) VALUES (?1, ?2, ?3)",
                params![url, text, ms(now)],
            )?;
            if n == 0 {
                return Ok(None);
            }
            let id = c.last_insert_rowid();
            let row = c.query_row(
                "SELECT id, url, spec, paused, created_at FROM api_watches WHERE id = ?1",
                [id],
                stored_watch,
            )?;
            to_watch(row).map(Some)
        })
    }

    /// Pause or resume an API watch; `None` when there is no such watch.
    pub fn set_api_watch_paused(
        &self,
        id: i64,
        paused: bool,
    ) -> Result<Option<StoredWatch>, StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE api_watches SET paused = ?2 WHERE id = ?1",
                params![id, paused],
            )?;
            let row = c
                .query_row(
                    "SELECT id, url, spec, paused, created_at FROM api_watches WHERE id = ?1",
                    [id],
                    stored_watch,
                )
                .optional()?;
            row.map(to_watch).transpose()
        })
    }

    /// Remove an API watch (its blog's posts and events stay); false when there was none.
    pub fn remove_api_watch(&self, id: i64) -> Result<bool, StoreError> {
        self.with(|c| Ok(c.execute("DELETE FROM api_watches WHERE id = ?1", [id])? > 0))
    }

    /// Every stored revision of one post of the blog at `url`, oldest first; `None` when
    /// the store has no such post.
    pub fn post_history(
        &self,
        url: &str,
        post_id: &str,
    ) -> Result<Option<PostHistory>, StoreError> {
        self.with(|c| {
            let head = c
                .query_row(
                    "SELECT p.blog_id, p.removed, p.first_seen_at, p.changed_at
                     FROM posts p JOIN blogs b ON b.id = p.blog_id
                     WHERE b.url = ?1 AND p.post_id = ?2",
                    params![url, post_id],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, bool>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    },
                )
                .optional()?;
            let Some((blog_id, removed, first, changed)) = head else {
                return Ok(None);
            };
            let mut st = c.prepare_cached(
                "SELECT revision, seen_at, post FROM revisions
                 WHERE blog_id = ?1 AND post_id = ?2 ORDER BY revision",
            )?;
            let rows = st
                .query_map(params![blog_id, post_id], |r| {
                    Ok((
                        r.get::<_, u32>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let revisions = rows
                .into_iter()
                .map(|(revision, seen, post)| {
                    Ok(Revision {
                        revision,
                        seen_at: from_ms(Some(seen)).unwrap_or_default(),
                        post: serde_json::from_str(&post)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Some(PostHistory {
                revisions,
                removed,
                first_seen: from_ms(Some(first)).unwrap_or_default(),
                changed: from_ms(Some(changed)).unwrap_or_default(),
            }))
        })
    }

    /// The newest `n` events (all blogs), oldest first: what the dashboard shows before
    /// its stream goes live.
    pub fn recent_events(&self, n: usize) -> Result<Vec<(i64, crate::model::Event)>, StoreError> {
        let first: Option<i64> = self.with(|c| {
            Ok(c.query_row(
                "SELECT MIN(seq) FROM (SELECT seq FROM events ORDER BY seq DESC LIMIT ?1)",
                [n as i64],
                |r| r.get(0),
            )?)
        })?;
        match first {
            Some(seq) => self.events_after(seq - 1, n),
            None => Ok(Vec::new()),
        }
    }
}
