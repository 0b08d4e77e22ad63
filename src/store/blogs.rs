//! Blogs: one row per watched URL, with its HTTP validators, counters, status line and
//! pace; and the writes of one poll.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::outbox::write_events;
use super::posts::write_posts;
use super::{from_ms, ms, Store, StoreError};
use crate::diff::Known;
use crate::fetch::Validators;
use crate::model::Event;

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

impl Store {
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

    /// How many blogs have their baseline (their first poll) stored.
    pub fn baselines_taken(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM blogs WHERE baseline_done = 1",
                [],
                |r| r.get(0),
            )?)
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
