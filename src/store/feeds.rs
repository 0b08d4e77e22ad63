//! What feeds and the event stream read: current posts with their order and last change,
//! and events by sequence number.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{from_ms, Store, StoreError};
use crate::model::{Event, Post};

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

impl Store {
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
}
