//! Leases (PostgreSQL only): which instance polls which blog when several share one
//! database. A blog's row carries its `lease_owner` and `lease_until` (Unix ms); an
//! instance claims free or expired blogs in one statement (`UPDATE … WHERE id IN (SELECT
//! … FOR UPDATE SKIP LOCKED) RETURNING`), renews its leases while it runs, and releases
//! them on stop. An instance that dies loses its blogs at their deadline. Instances
//! announce themselves in `instances` (a heartbeat), which tells each its fair share, and
//! share the hosts' slowdowns (429s) in `hosts`.
//!
//! The watched URLs are passed as one text, a URL per line (`string_to_array(…, chr(10))`),
//! since a URL holds no line break.

use super::db::{params, Db};
use super::{Store, StoreError};

/// Migration 3 → 4: the lease columns and the instances' heartbeats. On SQLite (one
/// instance) the columns stay empty.
pub(super) const MIGRATION: &str = r#"
    ALTER TABLE blogs ADD COLUMN lease_owner TEXT;
    ALTER TABLE blogs ADD COLUMN lease_until INTEGER;
    CREATE TABLE instances (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL);
    CREATE TABLE hosts (host TEXT PRIMARY KEY, factor INTEGER NOT NULL, until_ms INTEGER NOT NULL,
        since_ms INTEGER NOT NULL);
"#;

/// The same on PostgreSQL.
pub(super) const MIGRATION_PG: &str = r#"
    ALTER TABLE blogs ADD COLUMN lease_owner TEXT;
    ALTER TABLE blogs ADD COLUMN lease_until BIGINT;
    CREATE TABLE instances (id TEXT PRIMARY KEY, seen_at BIGINT NOT NULL);
    CREATE TABLE hosts (host TEXT PRIMARY KEY, factor BIGINT NOT NULL, until_ms BIGINT NOT NULL,
        since_ms BIGINT NOT NULL);
"#;

fn lines(urls: &[String]) -> String {
    urls.join("\n")
}

impl Store {
    /// This store, with every poll write (`save_poll`, `record_failure`, `touch`,
    /// `checked`) made only while instance `me` holds the blog's lease: the write locks
    /// the blog's row and checks its owner first, so an instance whose lease ran out
    /// (stuck past its deadline) cannot write over the instance that took the blog, and a
    /// claim skips a blog whose write is under way.
    pub fn leased_by(&self, me: &str) -> Store {
        Store {
            lease_owner: Some(me.into()),
            ..self.clone()
        }
    }

    /// Inside a poll's write: with [`Store::leased_by`], lock the blog's row and check
    /// the lease is still this instance's.
    pub(super) fn check_lease(&self, db: &mut Db<'_>, blog_id: i64) -> Result<(), StoreError> {
        let Some(me) = &self.lease_owner else {
            return Ok(());
        };
        let held = db.query_opt(
            "SELECT 1 FROM blogs WHERE id = ?1 AND lease_owner = ?2 FOR UPDATE",
            params![blog_id, me.as_ref()],
        )?;
        match held {
            Some(_) => Ok(()),
            None => Err(StoreError::LeaseLost { blog_id }),
        }
    }

    fn postgres_only(&self, what: &'static str) -> Result<(), StoreError> {
        match self.is_postgres() {
            true => Ok(()),
            false => Err(StoreError::NeedsPostgres(what)),
        }
    }

    /// Record that instance `me` is alive at `now_ms`; forget instances silent for ten
    /// times `live_ms`. Returns the instances seen within `live_ms` (`me` included), in
    /// name order.
    pub fn heartbeat(
        &self,
        me: &str,
        now_ms: i64,
        live_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO instances (id, seen_at) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
                params![me, now_ms],
            )?;
            c.execute(
                "DELETE FROM instances WHERE seen_at < ?1",
                params![now_ms - 10 * live_ms],
            )?;
            c.query(
                "SELECT id FROM instances WHERE seen_at >= ?1 ORDER BY id",
                params![now_ms - live_ms],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
    }

    /// The URLs of the blogs whose lease runs at `now_ms`, whoever holds it.
    pub fn leased_urls(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT url FROM blogs WHERE lease_owner IS NOT NULL AND lease_until >= ?1",
                params![now_ms],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
    }

    /// An instance that stops: gone from `instances` at once.
    pub fn instance_gone(&self, me: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute("DELETE FROM instances WHERE id = ?1", params![me])?;
            Ok(())
        })
    }

    /// Renew `me`'s leases among `urls` until `until_ms`; returns the URLs `me` holds
    /// (a lease another instance took after it expired is lost).
    pub fn renew_leases(
        &self,
        me: &str,
        urls: &[String],
        until_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.postgres_only("renew_leases")?;
        self.with(|c| {
            c.query(
                "UPDATE blogs SET lease_until = ?2
                 WHERE lease_owner = ?1 AND url = ANY(string_to_array(?3, chr(10)))
                 RETURNING url",
                params![me, until_ms, lines(urls)],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
    }

    /// Claim at most `limit` of `urls` whose lease is free or expired at `now_ms`, the
    /// longest unpolled first, for `me` until `until_ms`: one statement, rows another
    /// instance is claiming at the same moment skipped. Returns the URLs claimed.
    pub fn claim_leases(
        &self,
        me: &str,
        urls: &[String],
        now_ms: i64,
        until_ms: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.postgres_only("claim_leases")?;
        self.with(|c| {
            c.query(
                "UPDATE blogs SET lease_owner = ?1, lease_until = ?2
                 WHERE id IN (
                   SELECT id FROM blogs
                   WHERE url = ANY(string_to_array(?3, chr(10)))
                     AND (lease_owner IS NULL OR lease_until < ?4)
                   ORDER BY COALESCE(last_poll_at, 0), id
                   LIMIT ?5
                   FOR UPDATE SKIP LOCKED)
                 RETURNING url",
                params![me, until_ms, lines(urls), now_ms, limit as i64],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
    }

    /// Release `me`'s leases of `urls` (every one of `me`'s when `urls` is `None`).
    pub fn release_leases(&self, me: &str, urls: Option<&[String]>) -> Result<u64, StoreError> {
        self.postgres_only("release_leases")?;
        self.with(|c| match urls {
            Some(urls) => c.execute(
                "UPDATE blogs SET lease_owner = NULL, lease_until = NULL
                 WHERE lease_owner = ?1 AND url = ANY(string_to_array(?2, chr(10)))",
                params![me, lines(urls)],
            ),
            None => c.execute(
                "UPDATE blogs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?1",
                params![me],
            ),
        })
    }

    /// Who holds the lease of the blog at `url`, and until when (Unix ms).
    pub fn lease_of(&self, url: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.with(|c| {
            let Some(r) = c.query_opt(
                "SELECT lease_owner, lease_until FROM blogs WHERE url = ?1 AND lease_owner IS NOT NULL",
                params![url],
            )?
            else {
                return Ok(None);
            };
            Ok(Some((r.get(0)?, r.get(1)?)))
        })
    }

    /// Share hosts' slowdowns: write this instance's (`(host, factor, until, since)`,
    /// Unix ms; a row is replaced only by a newer `since`), forget rows lifted an hour
    /// ago, and read every host's back.
    pub fn share_host_slowdowns(
        &self,
        mine: &[(String, u32, i64, i64)],
        now_ms: i64,
    ) -> Result<Vec<(String, u32, i64, i64)>, StoreError> {
        self.with(|c| {
            for (host, factor, until, since) in mine {
                c.execute(
                    "INSERT INTO hosts (host, factor, until_ms, since_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (host) DO UPDATE SET factor = excluded.factor,
                       until_ms = excluded.until_ms, since_ms = excluded.since_ms
                     WHERE hosts.since_ms < excluded.since_ms",
                    params![host, factor, until, since],
                )?;
            }
            c.execute(
                "DELETE FROM hosts WHERE factor <= 1 AND until_ms < ?1 AND since_ms < ?1",
                params![now_ms - 3_600_000],
            )?;
            c.query(
                "SELECT host, factor, until_ms, since_ms FROM hosts",
                params![],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .collect()
        })
    }
}
