//! Leases, when instances share a PostgreSQL state (`state = "postgres://…"`): a blog
//! task polls its blog only while this instance holds the blog's lease.
//!
//! One task per instance, the keeper ([`keep`]), every [`Leases::tick`]: announces the
//! instance (a heartbeat, which tells how many instances are alive), renews the leases it
//! holds, and claims free or expired blogs up to its fair share of the watch list (the
//! blogs divided by the live instances, rounded up), or releases what is over it when an
//! instance joined. On stop it releases every lease. An instance that dies keeps its
//! blogs only to their deadline (`lease`, default 30s); the others then claim them. Each
//! round also shares the hosts' slowdowns (a host that answered 429 to one instance
//! slows every instance's blogs on it) and moves the event stream on to the newest event
//! any instance committed.
//!
//! Delivery workers send the events of the blogs this instance holds; the leader (the
//! first live instance by name) also those of blogs no instance holds (retired, gone,
//! no longer watched), so that none is left in the outbox.
//!
//! A task that gains its blog reads the blog's state again (another instance polled it)
//! and waits out the interval since the blog's last poll, by whichever instance.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;

use super::{stopped, Shared};
use crate::fetch::error_chain;
use crate::store::{Store, StoreError};

/// This instance's leases and the blogs it watches.
pub struct Leases {
    /// This instance's name in the database (`HOST-PID-NANOS`).
    pub me: String,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
    watched: Mutex<HashSet<String>>,
    held: Mutex<Held>,
    changed: watch::Sender<u64>,
    /// When this instance is the leader (the first live one by name): the blogs leased
    /// at the last round, by anyone. The leader delivers the events of the blogs no one
    /// leases (a blog retired or gone, a watch removed), so they are not left behind.
    leased_anywhere: Mutex<Option<HashSet<String>>>,
}

#[derive(Default)]
struct Held {
    /// The blogs held.
    urls: HashSet<String>,
    /// Until when the holding is sure (the last renewal + the lease).
    sure_until: Option<Instant>,
    /// The blogs being polled now: not handed over to another instance mid-poll.
    polling: HashSet<String>,
}

impl Held {
    fn holds(&self, url: &str) -> bool {
        self.sure_until.is_some_and(|sure| Instant::now() < sure) && self.urls.contains(url)
    }
}

/// A poll under way (see [`Leases::begin_poll`]); its blog is kept while it lives.
pub struct Polling {
    leases: Arc<Leases>,
    url: String,
}

impl Drop for Polling {
    fn drop(&mut self) {
        self.leases.lock_held().polling.remove(&self.url);
    }
}

impl Leases {
    pub fn new(lease: Duration) -> Leases {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Leases {
            me: format!("{host}-{}-{nanos:09}", std::process::id()),
            lease,
            watched: Default::default(),
            held: Default::default(),
            changed: watch::channel(0).0,
            leased_anywhere: Default::default(),
        }
    }

    /// How often the keeper renews and claims: a quarter of the lease, at most 1s (a dead
    /// instance's blogs are claimed at most a quarter of the lease after their deadline).
    pub fn tick(&self) -> Duration {
        (self.lease / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// A blog task starts: its blog may be claimed.
    pub fn watch(&self, url: &str) {
        self.watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(url.to_string());
    }

    /// A blog task ends: its blog is no longer claimed (its lease is released by the
    /// task).
    pub fn unwatch(&self, url: &str) {
        self.watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(url);
        self.lock_held().urls.remove(url);
    }

    fn lock_held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start polling `url` if this instance holds it: while the returned guard lives,
    /// the blog is not handed over.
    pub fn begin_poll(self: &Arc<Self>, url: &str) -> Option<Polling> {
        let mut held = self.lock_held();
        if !held.holds(url) {
            return None;
        }
        held.polling.insert(url.to_string());
        Some(Polling {
            leases: self.clone(),
            url: url.to_string(),
        })
    }

    fn watched(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// Does this instance hold the lease of `url` (renewed less than a lease ago)?
    pub fn holds(&self, url: &str) -> bool {
        self.lock_held().holds(url)
    }

    /// Does this instance deliver the events of the blog at `url`: it holds the blog, or
    /// it is the leader and no instance holds it.
    pub fn delivers(&self, url: &str) -> bool {
        self.holds(url)
            || self
                .leased_anywhere
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(|leased| !leased.contains(url))
    }

    fn set_held(&self, urls: Vec<String>, renewed: Instant) {
        let mut held = self.lock_held();
        held.urls = urls.into_iter().collect();
        held.sure_until = Some(renewed + self.lease);
        drop(held);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Up to `n` of `held` to hand over, none being polled; no longer held from now on.
    fn pick_over(&self, held: &mut Vec<String>, n: usize) -> Vec<String> {
        let mut h = self.lock_held();
        let mut over = Vec::new();
        held.retain(|u| {
            if over.len() < n && !h.polling.contains(u) {
                over.push(u.clone());
                false
            } else {
                true
            }
        });
        for u in &over {
            h.urls.remove(u);
        }
        over
    }

    /// A receiver that changes whenever the held blogs were updated.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// One round of the keeper: heartbeat, renew, and claim or release to the fair share.
    fn round(&self, store: &Store) -> Result<(), StoreError> {
        let started = Instant::now();
        let now = Utc::now().timestamp_millis();
        let lease = self.lease.as_millis() as i64;
        let urls = self.watched();
        let instances = store.heartbeat(&self.me, now, lease)?;
        let live = instances.len().max(1);
        let leader = instances.first().is_none_or(|first| *first == self.me);
        let mut held = store.renew_leases(&self.me, &urls, now + lease)?;
        let share = urls.len().div_ceil(live);
        if held.len() > share {
            let n = held.len() - share;
            let over = self.pick_over(&mut held, n);
            store.release_leases(&self.me, Some(&over))?;
        } else if held.len() < share {
            held.extend(store.claim_leases(
                &self.me,
                &urls,
                now,
                now + lease,
                share - held.len(),
            )?);
        }
        self.set_held(held, started);
        let leased = match leader {
            true => Some(store.leased_urls(now)?.into_iter().collect()),
            false => None,
        };
        *self
            .leased_anywhere
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = leased;
        Ok(())
    }
}

/// The keeper: a round every [`Leases::tick`] until stopped; then every lease released.
pub async fn keep(shared: Arc<Shared>, leases: Arc<Leases>, mut stop: watch::Receiver<bool>) {
    tracing::info!(instance = %leases.me, lease = ?leases.lease, "sharing the PostgreSQL state with other instances: polling the blogs this instance leases");
    loop {
        let l = leases.clone();
        let sh = shared.clone();
        match shared
            .store
            .call(move |s| {
                l.round(s)?;
                // Politeness across instances: a host that refused one slows all.
                let now = Utc::now().timestamp_millis();
                for (host, factor, until, since) in
                    s.share_host_slowdowns(&sh.fetcher.host_slowdowns(), now)?
                {
                    sh.fetcher.adopt_host_slowdown(&host, factor, until, since);
                }
                s.last_event_seq()
            })
            .await
        {
            // Events other instances committed (the event stream of this one shows
            // them; delivery workers look for what they now hold).
            Ok(seq) => {
                let newer = shared.committed.send_if_modified(|cur| {
                    let newer = seq > *cur;
                    if newer {
                        *cur = seq;
                    }
                    newer
                });
                if newer {
                    shared.wake.notify_waiters();
                }
            }
            Err(e) => tracing::warn!("leases: {}", error_chain(&e)),
        }
        tokio::select! {
            _ = tokio::time::sleep(leases.tick()) => {}
            _ = stopped(&mut stop) => break,
        }
    }
    let l = leases.clone();
    let released = shared
        .store
        .call(move |s| {
            let n = s.release_leases(&l.me, None)?;
            s.instance_gone(&l.me)?;
            Ok(n)
        })
        .await;
    match released {
        Ok(n) => tracing::info!(blogs = n, "leases released"),
        Err(e) => tracing::warn!("releasing the leases: {}", error_chain(&e)),
    }
}
