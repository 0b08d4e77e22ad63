//! What feeds and the event stream read: current posts with their order and last change,
//! and events by sequence number.

use super::db::{params, Row};
use super::{from_ms, Store, StoreError};
use crate::model::{Event, Post};
use chrono::{DateTime, Utc};

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

fn current_post(r: &Row) -> Result<CurrentPost, StoreError> {
    Ok(CurrentPost {
        post: serde_json::from_str(&r.get::<String>(0)?)?,
        first_seen: from_ms(Some(r.get(1)?)).unwrap_or_default(),
        changed: from_ms(Some(r.get(2)?)).unwrap_or_default(),
        revision: r.get(3)?,
    })
}

impl Store {
    /// Events after `seq` (all blogs), oldest first: for SSE resume and feeds.
    pub fn events_after(&self, seq: i64, limit: usize) -> Result<Vec<(i64, Event)>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT seq, event FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                params![seq, limit as i64],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, serde_json::from_str(&r.get::<String>(1)?)?)))
            .collect()
        })
    }

    /// The sequence number of an event id.
    pub fn event_seq(&self, id: &str) -> Result<Option<i64>, StoreError> {
        self.with(|c| {
            c.query_opt("SELECT seq FROM events WHERE id = ?1", params![id])?
                .map(|r| r.get(0))
                .transpose()
        })
    }

    /// Current posts of a blog with their last change time, for feeds.
    pub fn current_posts(&self, blog_id: i64) -> Result<Vec<CurrentPost>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT post, first_seen_at, changed_at, revision FROM posts WHERE blog_id = ?1 AND removed = 0",
                params![blog_id],
            )?
            .iter()
            .map(current_post)
            .collect()
        })
    }

    /// The newest event's sequence number (0 when there is none).
    pub fn last_event_seq(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            c.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", params![])?
                .get(0)
        })
    }

    /// Current posts of a blog with what feeds show besides the post: the page order
    /// and whether the latest change of the post was a correction.
    pub fn feed_posts(&self, blog_id: i64) -> Result<Vec<FeedPost>, StoreError> {
        self.with(|c| {
            // The latest edit-or-correction event of the post decides: a correction
            // followed by a plain edit is shown as edited.
            c.query(
                "SELECT p.post, p.first_seen_at, p.changed_at, p.revision, p.order_poll, p.order_pos,
                   (SELECT e.kind FROM events e WHERE e.blog_id = p.blog_id AND e.post_id = p.post_id
                      AND e.kind IN ('edit', 'correction') ORDER BY e.seq DESC LIMIT 1) = 'correction'
                 FROM posts p WHERE p.blog_id = ?1 AND p.removed = 0",
                params![blog_id],
            )?
            .iter()
            .map(|r| {
                Ok(FeedPost {
                    current: current_post(r)?,
                    order: (r.get(4)?, r.get(5)?),
                    corrected: r.get::<Option<bool>>(6)?.unwrap_or(false),
                })
            })
            .collect()
        })
    }
}
