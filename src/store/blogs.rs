//! Blogs: one row per watched URL, with its HTTP validators, counters, status line and
//! pace; and the writes of one poll.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use super::db::{params, FromValue, Row, ToValue, Value};
use super::outbox::write_events;
use super::posts::write_posts;
use super::{from_ms, ms, Store, StoreError};
use crate::diff::Known;
use crate::fetch::Validators;
use crate::model::Event;

/// What the last poll of a blog came to: the status line of `livewatch status` and
/// `/blogs`, stored as that line in `blogs.status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BlogStatus {
    /// Not polled yet.
    #[default]
    New,
    /// The server answered 304 Not Modified.
    NotModified,
    /// The body was the same as last time.
    BodyUnchanged,
    /// The body changed, but only in noise (the same content fingerprint).
    NoiseOnly,
    /// The page was parsed: how many posts, by which extractor.
    Posts { count: usize, extractor: String },
    /// The last poll failed.
    Error(String),
    /// The page answered 410 Gone and is no longer polled.
    Gone,
    /// A status line this build does not write (another version's), kept as it is.
    Other(String),
}

const NEW: &str = "new";
const NOT_MODIFIED: &str = "ok: not modified (304)";
const BODY_UNCHANGED: &str = "ok: body unchanged";
const NOISE_ONLY: &str = "ok: only noise changed";
const GONE: &str = "gone (HTTP 410): no longer polled";

impl BlogStatus {
    /// Read a stored status line (never fails: an unknown line is [`BlogStatus::Other`]).
    pub fn parse(line: &str) -> BlogStatus {
        match line {
            NEW => return BlogStatus::New,
            NOT_MODIFIED => return BlogStatus::NotModified,
            BODY_UNCHANGED => return BlogStatus::BodyUnchanged,
            NOISE_ONLY => return BlogStatus::NoiseOnly,
            GONE => return BlogStatus::Gone,
            _ => {}
        }
        if let Some(error) = line.strip_prefix("error: ") {
            return BlogStatus::Error(error.to_string());
        }
        line.strip_prefix("ok: ")
            .and_then(|l| l.split_once(" posts ("))
            .and_then(|(n, rest)| {
                let count: usize = n.parse().ok()?;
                // Only the line this build writes ("ok: 3 posts (jsonld)"); any other
                // stays as it is.
                (count.to_string() == n).then_some(())?;
                Some(BlogStatus::Posts {
                    count,
                    extractor: rest.strip_suffix(')')?.to_string(),
                })
            })
            .unwrap_or_else(|| BlogStatus::Other(line.to_string()))
    }
}

impl fmt::Display for BlogStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlogStatus::New => f.write_str(NEW),
            BlogStatus::NotModified => f.write_str(NOT_MODIFIED),
            BlogStatus::BodyUnchanged => f.write_str(BODY_UNCHANGED),
            BlogStatus::NoiseOnly => f.write_str(NOISE_ONLY),
            BlogStatus::Posts { count, extractor } => write!(f, "ok: {count} posts ({extractor})"),
            BlogStatus::Error(e) => write!(f, "error: {e}"),
            BlogStatus::Gone => f.write_str(GONE),
            BlogStatus::Other(line) => f.write_str(line),
        }
    }
}

/// As its status line (`livewatch status --json`).
impl Serialize for BlogStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl ToValue for BlogStatus {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl FromValue for BlogStatus {
    fn from_value(v: &Value) -> Result<Self, String> {
        Ok(BlogStatus::parse(&String::from_value(v)?))
    }
}

/// A blog's pace (adaptive polling, [`crate::daemon::pace`]), kept in the store between
/// polls and restarts as JSON in `blogs.sched`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pace {
    /// Mean gap between activities, seconds.
    pub mean_gap: Option<f64>,
    pub last_activity: Option<DateTime<Utc>>,
    /// Recent activity times, newest last.
    #[serde(default)]
    pub recent: Vec<DateTime<Utc>>,
    /// When the blog was first seen closed, and why.
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_why: Option<String>,
    #[serde(default)]
    pub retired: bool,
    /// The interval chosen after the last poll, ms, and why (for `livewatch status`).
    pub interval_ms: Option<u64>,
    pub reason: Option<String>,
}

impl ToValue for Pace {
    fn to_value(&self) -> Value {
        // A struct of numbers, strings and times: serde_json cannot fail on it.
        Value::Text(serde_json::to_string(self).unwrap_or_else(|_| "{}".into()))
    }
}

impl FromValue for Pace {
    /// An empty (`{}`, a new blog) or foreign value starts afresh.
    fn from_value(v: &Value) -> Result<Self, String> {
        Ok(serde_json::from_str(&String::from_value(v)?).unwrap_or_default())
    }
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
    pub status: BlogStatus,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_new_post_at: Option<DateTime<Utc>>,
    pub retired: bool,
    /// Scheduler state (adaptive polling).
    pub sched: Pace,
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
    pub status: BlogStatus,
    pub last_error: Option<String>,
    pub new_post: bool,
    pub updates: Vec<Known>,
    /// Each event with the notifiers that take it.
    pub events: Vec<(Event, Vec<String>)>,
    pub sched: Option<Pace>,
    /// The blog is retired after this poll (closed, grace period over).
    pub retired: bool,
}

impl Store {
    /// The blog row for `url`, created when missing.
    pub fn blog(&self, url: &str) -> Result<BlogRow, StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO blogs (url) VALUES (?1) ON CONFLICT (url) DO NOTHING",
                params![url],
            )?;
            blog_row(&c.query_row(
                &format!("SELECT {BLOG_COLS} FROM blogs WHERE url = ?1"),
                params![url],
            )?)
        })
    }

    /// The blog row by id, with whether posts wait for a second look (see
    /// [`Store::has_pending_removals`]): what a blog task keeps between polls, read back
    /// after each write in the same blocking call.
    pub fn blog_state(&self, blog_id: i64) -> Result<(BlogRow, bool), StoreError> {
        let row = self.with(|c| {
            blog_row(&c.query_row(
                &format!("SELECT {BLOG_COLS} FROM blogs WHERE id = ?1"),
                params![blog_id],
            )?)
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
        sched: &Pace,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.transaction(|tx| {
                self.check_lease(tx, blog_id)?;
                tx.execute(
                    "UPDATE blogs SET polls = polls + ?2, last_poll_at = ?3, last_success_at = ?3, sched = ?4
                     WHERE id = ?1",
                    params![blog_id, n, ms(at), sched],
                )?;
                Ok(())
            })
        })
    }

    /// How many blogs have their baseline (their first poll) stored.
    pub fn baselines_taken(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM blogs WHERE baseline_done = 1",
                params![],
            )?
            .get(0)
        })
    }

    /// Every blog, in insertion order.
    pub fn blogs(&self) -> Result<Vec<BlogRow>, StoreError> {
        self.with(|c| {
            c.query(
                &format!("SELECT {BLOG_COLS} FROM blogs ORDER BY id"),
                params![],
            )?
            .iter()
            .map(blog_row)
            .collect()
        })
    }

    /// The blog row for `url`, if livewatch has seen it (never creates one).
    pub fn find_blog(&self, url: &str) -> Result<Option<BlogRow>, StoreError> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {BLOG_COLS} FROM blogs WHERE url = ?1"),
                params![url],
            )?
            .as_ref()
            .map(blog_row)
            .transpose()
        })
    }

    /// Write one poll: blog state, post changes, revisions, events and deliveries, in
    /// one transaction. Returns the events' sequence numbers.
    pub fn save_poll(&self, blog_id: i64, rec: &PollRecord) -> Result<Vec<i64>, StoreError> {
        self.with(|c| {
            c.transaction(|tx| {
                self.check_lease(tx, blog_id)?;
                let now = ms(rec.at);
                // One statement (prepared once per connection) for the whole blog row.
                tx.execute(
                    "UPDATE blogs SET polls = polls + 1, last_poll_at = ?2, last_success_at = ?2,
                       failures = 0, last_error = ?3, status = ?4,
                       baseline_done = CASE WHEN ?5 = 1 THEN 1 ELSE baseline_done END,
                       title = COALESCE(?6, title),
                       last_new_post_at = CASE WHEN ?7 = 1 THEN ?2 ELSE last_new_post_at END,
                       etag = CASE WHEN ?8 = 1 THEN ?9 ELSE etag END,
                       last_modified = CASE WHEN ?8 = 1 THEN ?10 ELSE last_modified END,
                       body_hash = COALESCE(?11, body_hash),
                       sched = COALESCE(?12, sched),
                       retired = CASE WHEN ?12 IS NULL THEN retired ELSE ?13 END,
                       content_fp = CASE WHEN ?11 IS NULL THEN content_fp ELSE ?14 END
                     WHERE id = ?1",
                    params![
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
                        rec.sched,
                        rec.retired,
                        rec.content_fp.as_ref().map(|h| &h[..])
                    ],
                )?;
                write_posts(tx, blog_id, &rec.updates, now)?;
                write_events(tx, blog_id, &rec.events, now)
            })
        })
    }

    /// Record a failed poll: the error text, and the failure count.
    pub fn record_failure(
        &self,
        blog_id: i64,
        at: DateTime<Utc>,
        status: &BlogStatus,
        error: &str,
        events: &[(Event, Vec<String>)],
    ) -> Result<u32, StoreError> {
        self.with(|c| {
            c.transaction(|tx| {
                self.check_lease(tx, blog_id)?;
                tx.execute(
                    "UPDATE blogs SET failures = failures + 1, last_poll_at = ?2, last_error = ?3, status = ?4
                     WHERE id = ?1",
                    params![blog_id, ms(at), error, status],
                )?;
                write_events(tx, blog_id, events, ms(at))?;
                tx.query_row("SELECT failures FROM blogs WHERE id = ?1", params![blog_id])?
                    .get(0)
            })
        })
    }

    /// Update only the blog's status line (and scheduler state), e.g. after a 304.
    pub fn touch(
        &self,
        blog_id: i64,
        at: DateTime<Utc>,
        status: &BlogStatus,
        sched: Option<&Pace>,
        retired: bool,
        events: &[(Event, Vec<String>)],
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.transaction(|tx| {
                self.check_lease(tx, blog_id)?;
                tx.execute(
                    "UPDATE blogs SET polls = polls + 1, last_poll_at = ?2, last_success_at = ?2, failures = 0,
                       last_error = NULL, status = ?3, retired = ?4, sched = COALESCE(?5, sched)
                     WHERE id = ?1",
                    params![blog_id, ms(at), status, retired, sched],
                )?;
                write_events(tx, blog_id, events, ms(at))?;
                Ok(())
            })
        })
    }

    /// Mark a blog retired (or not) with a status line.
    pub fn set_retired(
        &self,
        blog_id: i64,
        retired: bool,
        status: &BlogStatus,
    ) -> Result<(), StoreError> {
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

fn blog_row(r: &Row) -> Result<BlogRow, StoreError> {
    let hash: Option<Vec<u8>> = r.get(5)?;
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
        sched: r.get(15)?,
        content_fp: r
            .get::<Option<Vec<u8>>>(16)?
            .and_then(|h| h.try_into().ok()),
    })
}
