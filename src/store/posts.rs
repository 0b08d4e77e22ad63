//! Posts: the current version of every post of a blog, and every revision seen.

use rusqlite::{params, Transaction};

use super::{Store, StoreError};
use crate::diff::Known;

impl Store {
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

    /// Does the blog have posts missing from the last poll, waiting for a second look?
    pub fn has_pending_removals(&self, blog_id: i64) -> Result<bool, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM posts WHERE blog_id = ?1 AND missing > 0 AND removed = 0)",
            )?;
            Ok(st.query_row([blog_id], |r| r.get(0))?)
        })
    }
}

pub(super) fn write_posts(
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
