//! Posts: the current version of every post of a blog, and every revision seen.

use super::db::{params, Db};
use super::{Store, StoreError};
use crate::diff::Known;

impl Store {
    /// Every stored post of a blog (removed and off-page ones too).
    pub fn known_posts(&self, blog_id: i64) -> Result<Vec<Known>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT post, fingerprint, revision, order_poll, order_pos, missing, removed, off_page
                 FROM posts WHERE blog_id = ?1",
                params![blog_id],
            )?
            .iter()
            .map(|r| {
                Ok(Known {
                    post: serde_json::from_str(&r.get::<String>(0)?)?,
                    fingerprint: r.get(1)?,
                    revision: r.get(2)?,
                    order: (r.get(3)?, r.get(4)?),
                    missing: r.get(5)?,
                    removed: r.get(6)?,
                    off_page: r.get(7)?,
                })
            })
            .collect()
        })
    }

    /// Posts per blog: (active, removed).
    pub fn post_counts(&self, blog_id: i64) -> Result<(i64, i64), StoreError> {
        self.with(|c| {
            let r = c.query_row(
                "SELECT COUNT(*) FILTER (WHERE removed = 0), COUNT(*) FILTER (WHERE removed = 1) FROM posts WHERE blog_id = ?1",
                params![blog_id],
            )?;
            Ok((r.get(0)?, r.get(1)?))
        })
    }

    /// Does the blog have posts missing from the last poll, waiting for a second look?
    pub fn has_pending_removals(&self, blog_id: i64) -> Result<bool, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT EXISTS(SELECT 1 FROM posts WHERE blog_id = ?1 AND missing > 0 AND removed = 0)",
                params![blog_id],
            )?
            .get(0)
        })
    }
}

pub(super) fn write_posts(
    tx: &mut Db<'_>,
    blog_id: i64,
    updates: &[Known],
    now: i64,
) -> Result<(), StoreError> {
    for k in updates {
        let json = serde_json::to_string(&k.post)?;
        tx.execute(
            "INSERT INTO posts (blog_id, post_id, post, fingerprint, revision, order_poll, order_pos,
                missing, removed, off_page, first_seen_at, changed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
             ON CONFLICT (blog_id, post_id) DO UPDATE SET post = excluded.post,
                fingerprint = excluded.fingerprint,
                changed_at = CASE WHEN posts.revision != excluded.revision THEN excluded.changed_at ELSE posts.changed_at END,
                revision = excluded.revision, missing = excluded.missing,
                removed = excluded.removed, off_page = excluded.off_page",
            params![
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
            ],
        )?;
        tx.execute(
            "INSERT INTO revisions (blog_id, post_id, revision, post, seen_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
            params![blog_id, k.post.id, k.revision, json, now],
        )?;
    }
    Ok(())
}
