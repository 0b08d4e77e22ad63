//! The outbox: events, and one delivery row per event and notifier with its state.
//! A blog's deliveries go out in order: its next one waits until the one before it is
//! settled.

use std::fmt;

use super::db::{params, Db, Engine, FromValue, Row, ToValue, Value};
use super::{from_ms, ms, Store, StoreError};
use crate::model::Event;
use chrono::{DateTime, Utc};

/// Where one delivery (an event for one notifier) stands; stored as its name in
/// `deliveries.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting to be delivered (first try or a retry at `next_at`).
    Pending,
    /// Delivered.
    Done,
    /// Given up on (a permanent error, or out of retries): dead-lettered until
    /// `livewatch outbox retry`.
    Dead,
}

impl DeliveryState {
    /// The stored name: `pending`, `done`, `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Done => "done",
            DeliveryState::Dead => "dead",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl ToValue for DeliveryState {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str().into())
    }
}

impl FromValue for DeliveryState {
    fn from_value(v: &Value) -> Result<Self, String> {
        match String::from_value(v)?.as_str() {
            "pending" => Ok(DeliveryState::Pending),
            "done" => Ok(DeliveryState::Done),
            "dead" => Ok(DeliveryState::Dead),
            other => Err(format!("unknown delivery state {other:?}")),
        }
    }
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
    pub state: DeliveryState,
    pub last_error: Option<String>,
}

impl Store {
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
            let rows = c
                .query(
                    &format!(
                        "SELECT {PENDING_COLS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
                         WHERE d.notifier = ?1 AND d.state = ?3 ORDER BY d.event_seq LIMIT ?2"
                    ),
                    params![notifier, read as i64, DeliveryState::Pending],
                )?
                .iter()
                .map(pending_row)
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
            let v: Option<i64> = c
                .query_row(
                    "SELECT MIN(next_at) FROM deliveries WHERE notifier = ?1 AND state = ?2",
                    params![notifier, DeliveryState::Pending],
                )?
                .get(0)?;
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
                "UPDATE deliveries SET state = ?5, attempts = attempts + 1, done_at = ?3,
                   remote_id = COALESCE(?4, remote_id), last_error = NULL
                 WHERE event_seq = ?1 AND notifier = ?2",
                params![seq, notifier, ms(at), remote_id, DeliveryState::Done],
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
                "UPDATE deliveries SET state = ?4, attempts = attempts + 1, last_error = ?3
                 WHERE event_seq = ?1 AND notifier = ?2",
                params![seq, notifier, error, DeliveryState::Dead],
            )?;
            Ok(())
        })
    }

    /// Deliveries in a state, or (`None`) every one not done, oldest first.
    pub fn outbox(&self, state: Option<DeliveryState>) -> Result<Vec<Pending>, StoreError> {
        self.with(|c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT {PENDING_COLS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
                         WHERE (CAST(?1 AS TEXT) IS NULL AND d.state != ?2) OR d.state = ?1 ORDER BY d.event_seq, d.notifier"
                    ),
                    params![state, DeliveryState::Done],
                )?
                .iter()
                .map(pending_row)
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().collect()
        })
    }

    /// Put dead deliveries back in the queue. Returns how many.
    pub fn retry_dead(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE deliveries SET state = ?2, next_at = ?1, attempts = 0 WHERE state = ?3",
                params![ms(now), DeliveryState::Pending, DeliveryState::Dead],
            )? as usize)
        })
    }

    /// Counts of deliveries by state.
    pub fn outbox_depth(&self) -> Result<(i64, i64), StoreError> {
        self.with(|c| {
            let sql = "SELECT COUNT(*) FROM deliveries WHERE state = ?1";
            let pending = c.query_row(sql, params![DeliveryState::Pending])?.get(0)?;
            let dead = c.query_row(sql, params![DeliveryState::Dead])?.get(0)?;
            Ok((pending, dead))
        })
    }

    /// Pending deliveries per blog id.
    pub fn pending_by_blog(&self) -> Result<std::collections::HashMap<i64, i64>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT e.blog_id, COUNT(*) FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.state = ?1 GROUP BY e.blog_id",
                params![DeliveryState::Pending],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect()
        })
    }

    /// Pending deliveries per blog id and notifier (one delivery = one event for one
    /// notifier), notifiers in name order.
    pub fn pending_by_blog_notifier(
        &self,
    ) -> Result<std::collections::HashMap<i64, Vec<(String, i64)>>, StoreError> {
        self.with(|c| {
            let mut out: std::collections::HashMap<i64, Vec<(String, i64)>> = Default::default();
            for r in c.query(
                "SELECT e.blog_id, d.notifier, COUNT(*) FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.state = ?1 GROUP BY e.blog_id, d.notifier ORDER BY d.notifier",
                params![DeliveryState::Pending],
            )? {
                out.entry(r.get(0)?).or_default().push((r.get(1)?, r.get(2)?));
            }
            Ok(out)
        })
    }

    /// Undelivered (pending or dead-lettered) deliveries per notifier, in name order.
    pub fn undelivered_by_notifier(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT notifier, COUNT(*) FROM deliveries WHERE state IN (?1, ?2)
                 GROUP BY notifier ORDER BY notifier",
                params![UNDELIVERED[0], UNDELIVERED[1]],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect()
        })
    }

    /// Forget the undelivered (pending and dead-lettered) deliveries to `notifier`; the
    /// events themselves stay (feeds, history). Returns how many were dropped.
    pub fn drop_undelivered(&self, notifier: &str) -> Result<usize, StoreError> {
        self.with(|c| {
            Ok(c.execute(
                "DELETE FROM deliveries WHERE notifier = ?1 AND state IN (?2, ?3)",
                params![notifier, UNDELIVERED[0], UNDELIVERED[1]],
            )? as usize)
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
            c.query_opt(
                "SELECT d.remote_id FROM deliveries d JOIN events e ON e.seq = d.event_seq
                 WHERE d.notifier = ?1 AND e.blog_id = ?2 AND e.post_id = ?3 AND d.remote_id IS NOT NULL
                 ORDER BY e.seq LIMIT 1",
                params![notifier, blog_id, post_id],
            )?
            .map(|r| r.get(0))
            .transpose()
        })
    }
}

/// The states of a delivery that has not gone out (yet).
const UNDELIVERED: [DeliveryState; 2] = [DeliveryState::Pending, DeliveryState::Dead];

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

/// A delivery row; an event that does not parse is an `Err` inside (see `due_rows`).
fn pending_row(r: &Row) -> Result<PendingRow, StoreError> {
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

/// The advisory lock (a number of livewatch's own) that orders event inserts on PostgreSQL.
const EVENTS_LOCK: i64 = 0x6c69_7665_6576_6e74;

pub(super) fn write_events(
    tx: &mut Db<'_>,
    blog_id: i64,
    events: &[(Event, Vec<String>)],
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut seqs = Vec::with_capacity(events.len());
    if !events.is_empty() && tx.engine() == Engine::Postgres {
        // Sequence numbers in commit order, as on SQLite (one writer): readers that
        // follow `seq` (the event stream, `events_after`) never see a later event before
        // an earlier one commits. Taken only by transactions that add events; held to
        // their commit.
        tx.batch(&format!("SELECT pg_advisory_xact_lock({EVENTS_LOCK})"))?;
    }
    for (event, notifiers) in events {
        let inserted = tx.query_opt(
            "INSERT INTO events (id, blog_id, kind, post_id, event, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO NOTHING RETURNING seq",
            params![
                event.id,
                blog_id,
                event.kind.as_str(),
                event.post.as_ref().map(|p| p.id.as_str()),
                serde_json::to_string(event)?,
                now
            ],
        )?;
        let Some(row) = inserted else {
            // Already recorded (the same change detected again after a crash): keep the
            // first, so receivers never see a second id for it.
            continue;
        };
        let seq: i64 = row.get(0)?;
        for n in notifiers {
            tx.execute(
                "INSERT INTO deliveries (event_seq, notifier, state, next_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                params![seq, n, DeliveryState::Pending, now],
            )?;
        }
        seqs.push(seq);
    }
    Ok(seqs)
}
