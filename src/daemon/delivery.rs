//! A delivery worker: takes one notifier's due events from the outbox, oldest first (in
//! order per blog), delivers them, and records the outcome. A crash at any point leaves
//! the row pending, so it is delivered again with the same event id: at least once.
//!
//! Burst control: with `burst = N` / `burst_window = W`, a worker sends at most N
//! messages within W. When more events are due than the window has room for, they go
//! out as one digest event (the kind of the first, a `message` listing the headlines),
//! and every covered delivery is settled with it. When the window is full, the worker
//! waits for a slot and then sends what has gathered as one digest.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::time::Instant;

use super::schedule::Backoff;
use super::{stopped, Route, Shared};
use crate::metrics::DeliveryResult;
use crate::model::{Event, EventKind};
use crate::notify::{Delivered, Delivery, DeliveryError};
use crate::store::Pending;

/// How long an idle worker sleeps before it looks again without being woken.
const IDLE: Duration = Duration::from_secs(30);
/// Most events one digest covers (the rest go into the next one).
const DIGEST_MAX: usize = 100;
/// Headlines listed in a digest's message.
const DIGEST_LINES: usize = 20;

/// Delivers the outbox rows of one notifier.
pub(crate) struct Worker {
    pub shared: Arc<Shared>,
    pub route: Route,
}

/// One digest event standing for `rows` (at least one): the first row's kind and blog,
/// and a message with the count and the headlines. Its id derives from the covered ids,
/// so a digest resent after a crash has the same id.
pub(crate) fn digest(rows: &[Pending], now: chrono::DateTime<Utc>) -> Event {
    let first = &rows[0].event;
    let mut h = blake3::Hasher::new();
    for r in rows {
        h.update(r.event.id.as_bytes());
        h.update(b"\x00");
    }
    let mut message = format!("{} updates", rows.len());
    for r in rows.iter().take(DIGEST_LINES) {
        let what = match (&r.event.post, &r.event.message) {
            (Some(p), _) => p.title().to_string(),
            (None, Some(m)) => m.lines().next().unwrap_or("").to_string(),
            (None, None) => String::new(),
        };
        message.push_str(&format!(
            "\n• [{}] {}",
            r.event.kind,
            crate::text::truncate(&what, 120)
        ));
    }
    if rows.len() > DIGEST_LINES {
        message.push_str(&format!("\n… and {} more", rows.len() - DIGEST_LINES));
    }
    Event {
        id: format!("evt_digest_{}", &h.finalize().to_hex()[..22]),
        kind: first.kind,
        detected_at: now,
        blog: first.blog.clone(),
        post: None,
        previous: None,
        diff: None,
        message: Some(message),
    }
}

impl Worker {
    /// With leases: only the deliveries this instance makes (see
    /// [`super::leases::Leases::delivers`]).
    fn keep_held(&self, rows: &mut Vec<crate::store::Pending>) {
        if let Some(l) = &self.shared.leases {
            rows.retain(|p| l.delivers(&p.event.blog.url));
        }
    }

    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        let name = self.route.spec.name.clone();
        // When the last messages went out, for burst control.
        let mut sent: VecDeque<Instant> = VecDeque::new();
        loop {
            // Register for wake-ups before looking, so a commit between the look and
            // the wait is not missed.
            let notified = self.shared.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let store = self.shared.store.clone();
            let n = name.clone();
            let due = store.call(move |s| s.due(&n, Utc::now(), 64)).await;
            let mut due = match due {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(notifier = %name, "outbox: {}", crate::fetch::error_chain(&e));
                    Vec::new()
                }
            };
            // Instances sharing a PostgreSQL state: each delivers the events of the blogs
            // it holds (one instance per blog, so a blog's events still go out in order).
            let before = due.len();
            self.keep_held(&mut due);
            let others = due.len() < before;
            if due.is_empty() {
                let n = name.clone();
                let next = store.call(move |s| s.next_due_at(&n)).await.ok().flatten();
                let mut wait = next
                    .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(IDLE)
                    .min(IDLE);
                if others {
                    // The due events are other instances' to send: look again shortly.
                    wait = wait.max(Duration::from_millis(200));
                }
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped(&mut stop) => return,
                }
                continue;
            }
            if let Some((limit, window)) = self.route.spec.burst {
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    sent.pop_front();
                }
                let room = (limit as usize).saturating_sub(sent.len());
                let n = name.clone();
                let mut all = store
                    .call(move |s| s.due_all(&n, Utc::now(), DIGEST_MAX))
                    .await
                    .unwrap_or_default();
                self.keep_held(&mut all);
                if all.len() > room {
                    if room == 0 {
                        // The window is full: wait for a slot, gathering what comes.
                        let free_at = sent.front().map_or(now, |t| *t + window);
                        tokio::select! {
                            _ = tokio::time::sleep_until(free_at) => {}
                            _ = stopped(&mut stop) => return,
                        }
                        continue;
                    }
                    if all.len() > 1 {
                        tracing::info!(notifier = %name, events = all.len(), "burst: sending one digest");
                        sent.push_back(Instant::now());
                        tokio::select! {
                            _ = self.deliver(all) => {}
                            _ = stopped(&mut stop) => return,
                        }
                        continue;
                    }
                }
            }
            for p in due {
                if self.route.spec.burst.is_some() {
                    sent.push_back(Instant::now());
                }
                tokio::select! {
                    _ = self.deliver(vec![p]) => {}
                    _ = stopped(&mut stop) => return,
                }
                if self.route.spec.burst.is_some() {
                    // Look again: the next one may belong in a digest.
                    break;
                }
            }
        }
    }

    /// Deliver `rows` (one event, or several as one digest) and settle them all.
    async fn deliver(&self, rows: Vec<Pending>) {
        let name = &self.route.spec.name;
        let store = self.shared.store.clone();
        let Some(p) = rows.first() else { return };
        let digest_event;
        let event = if rows.len() == 1 {
            &p.event
        } else {
            digest_event = digest(&rows, Utc::now());
            &digest_event
        };
        let earlier = match &event.post {
            Some(post) if event.kind != EventKind::New => {
                let (n, b, id) = (name.clone(), p.blog_id, post.id.clone());
                store
                    .call(move |s| s.remote_id_for_post(&n, b, &id))
                    .await
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        let d = Delivery {
            event,
            earlier_remote_id: earlier,
            attempt: p.attempts + 1,
        };
        let timeout = self.route.spec.timeout + Duration::from_secs(5);
        let result = match tokio::time::timeout(timeout, self.route.notifier.deliver(&d)).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::retry(format!(
                "no answer within {timeout:?}"
            ))),
        };
        self.settle(&rows, event, result).await;
    }

    /// Record the outcome for every row a delivery covered.
    async fn settle(
        &self,
        rows: &[Pending],
        event: &Event,
        result: Result<Delivered, DeliveryError>,
    ) {
        let name = &self.route.spec.name;
        let store = self.shared.store.clone();
        let now = Utc::now();
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(0);
        let oldest = rows.iter().map(|r| r.created_at).min().unwrap_or(now);
        let n = name.clone();
        let metrics = crate::metrics::global();
        let r = match result {
            Ok(done) => {
                tracing::debug!(notifier = %name, event = %event.id, "delivered");
                metrics.delivery(name, DeliveryResult::Ok);
                store
                    .call(move |s| {
                        seqs.iter()
                            .try_for_each(|&q| s.mark_done(q, &n, done.remote_id.as_deref(), now))
                    })
                    .await
            }
            Err(DeliveryError::Permanent(why)) => {
                tracing::error!(notifier = %name, event = %event.id, "delivery refused, moved to dead letters: {why}");
                metrics.delivery(name, DeliveryResult::Dead);
                store
                    .call(move |s| seqs.iter().try_for_each(|&q| s.mark_dead(q, &n, &why)))
                    .await
            }
            Err(e @ (DeliveryError::Retry { .. } | DeliveryError::Unavailable(_))) => {
                let (reason, after, reported) = match e {
                    DeliveryError::Retry { reason, after } => (reason, after, false),
                    DeliveryError::Unavailable(reason) => (reason, None, true),
                    DeliveryError::Permanent(_) => unreachable!("matched above"),
                };
                let age = (now - oldest).to_std().unwrap_or_default();
                if age >= self.route.spec.give_up_after {
                    tracing::error!(notifier = %name, event = %event.id, "giving up after {age:?}, moved to dead letters: {reason}");
                    metrics.delivery(name, DeliveryResult::Dead);
                    store
                        .call(move |s| seqs.iter().try_for_each(|&q| s.mark_dead(q, &n, &reason)))
                        .await
                } else {
                    let wait = Backoff::delivery(self.route.spec.retry_wait).wait(attempts, after);
                    if reported {
                        tracing::debug!(notifier = %name, event = %event.id, attempt = attempts + 1, "not delivered, retrying in {wait:?}: {reason}");
                    } else {
                        tracing::warn!(notifier = %name, event = %event.id, attempt = attempts + 1, "delivery failed, retrying in {wait:?}: {reason}");
                    }
                    metrics.delivery(name, DeliveryResult::Retry);
                    let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    store
                        .call(move |s| {
                            seqs.iter()
                                .try_for_each(|&q| s.mark_retry(q, &n, next, &reason))
                        })
                        .await
                }
            }
        };
        if let Err(e) = r {
            tracing::error!(notifier = %name, "outbox: {}", crate::fetch::error_chain(&e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::schedule::MAX_RETRY_DELAY;
    use crate::model::{BlogRef, Post};

    #[test]
    fn retry_delays_grow_capped_and_honour_retry_after() {
        let retry_delay = |base, n, ra| Backoff::delivery(base).wait(n, ra);
        let s = Duration::from_secs(1);
        assert!(retry_delay(s, 0, None) <= Duration::from_millis(1250));
        assert!(retry_delay(s, 4, None) >= Duration::from_secs(12));
        assert!(retry_delay(s, 30, None) <= MAX_RETRY_DELAY);
        assert!(retry_delay(s, 0, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        assert!(retry_delay(Duration::from_millis(100), 1, None) <= Duration::from_millis(250));
    }

    fn pending(seq: i64, headline: &str) -> Pending {
        let mut post = Post::new(format!("p{seq}"), "body");
        post.headline = Some(headline.into());
        Pending {
            seq,
            blog_id: 1,
            event: Event {
                id: format!("evt_{seq}"),
                kind: EventKind::New,
                detected_at: Utc::now(),
                blog: BlogRef {
                    url: "http://b/".into(),
                    title: Some("Blog".into()),
                },
                post: Some(post),
                previous: None,
                diff: None,
                message: None,
            },
            attempts: 0,
            next_at: Utc::now(),
            created_at: Utc::now(),
            notifier: "n".into(),
            state: crate::store::DeliveryState::Pending,
            last_error: None,
        }
    }

    #[test]
    fn digest_lists_headlines_with_a_stable_id() {
        let rows: Vec<Pending> = (1..=25)
            .map(|i| pending(i, &format!("Headline {i}")))
            .collect();
        let a = digest(&rows, Utc::now());
        let b = digest(&rows, Utc::now());
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, digest(&rows[..3], Utc::now()).id);
        assert_eq!(a.kind, EventKind::New);
        assert!(a.post.is_none());
        let m = a.message.unwrap();
        assert!(m.starts_with("25 updates\n• [new] Headline 1\n"), "{m}");
        assert!(m.contains("• [new] Headline 20"), "{m}");
        assert!(!m.contains("Headline 21"), "{m}");
        assert!(m.ends_with("… and 5 more"), "{m}");
    }
}
