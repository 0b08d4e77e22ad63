//! A delivery worker: takes one notifier's due events from the outbox, oldest first (in
//! order per blog), delivers them, and records the outcome. A crash at any point leaves
//! the row pending, so it is delivered again with the same event id: at least once.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::{stopped, Route, Shared};
use crate::metrics::DeliveryResult;
use crate::notify::{Delivery, DeliveryError};
use crate::store::Pending;

/// Longest wait between two attempts of one event.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(10 * 60);
/// How long an idle worker sleeps before it looks again without being woken.
const IDLE: Duration = Duration::from_secs(30);

/// Delivers the outbox rows of one notifier.
pub struct Worker {
    pub shared: Arc<Shared>,
    pub route: Route,
}

/// Wait before attempt `attempts + 1`: 1 s × 2^attempts with jitter, capped at 10 min,
/// and never shorter than the receiver's `Retry-After`.
pub fn retry_delay(attempts: u32, retry_after: Option<Duration>) -> Duration {
    let base = Duration::from_secs(1).saturating_mul(2u32.saturating_pow(attempts.min(12)));
    let d = super::schedule::jitter(base.min(MAX_RETRY_DELAY), 0.25).min(MAX_RETRY_DELAY);
    retry_after.map_or(d, |ra| d.max(ra))
}

impl Worker {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let name = self.route.spec.name.clone();
        loop {
            // Register for wake-ups before looking, so a commit between the look and
            // the wait is not missed.
            let notified = self.shared.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let store = self.shared.store.clone();
            let n = name.clone();
            let due = store.call(move |s| s.due(&n, Utc::now(), 64)).await;
            let due = match due {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(notifier = %name, "outbox: {e}");
                    Vec::new()
                }
            };
            if due.is_empty() {
                let n = name.clone();
                let next = store.call(move |s| s.next_due_at(&n)).await.ok().flatten();
                let wait = next
                    .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(IDLE)
                    .min(IDLE);
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = stopped(&mut stop) => return,
                }
                continue;
            }
            for p in due {
                tokio::select! {
                    _ = self.deliver(p) => {}
                    _ = stopped(&mut stop) => return,
                }
            }
        }
    }

    async fn deliver(&self, p: Pending) {
        let name = &self.route.spec.name;
        let store = self.shared.store.clone();
        let earlier = match &p.event.post {
            Some(post) if p.event.kind != crate::model::EventKind::New => {
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
            event: &p.event,
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
        let now = Utc::now();
        let (seq, n) = (p.seq, name.clone());
        let metrics = crate::metrics::global();
        let r = match result {
            Ok(done) => {
                tracing::debug!(notifier = %name, event = %p.event.id, "delivered");
                metrics.delivery(name, DeliveryResult::Ok);
                store
                    .call(move |s| s.mark_done(seq, &n, done.remote_id.as_deref(), now))
                    .await
            }
            Err(DeliveryError::Permanent(why)) => {
                tracing::error!(notifier = %name, event = %p.event.id, "delivery refused, moved to dead letters: {why}");
                metrics.delivery(name, DeliveryResult::Dead);
                store.call(move |s| s.mark_dead(seq, &n, &why)).await
            }
            Err(DeliveryError::Retry { reason, after }) => {
                let age = (now - p.created_at).to_std().unwrap_or_default();
                if age >= self.route.spec.give_up_after {
                    tracing::error!(notifier = %name, event = %p.event.id, "giving up after {age:?}, moved to dead letters: {reason}");
                    metrics.delivery(name, DeliveryResult::Dead);
                    store.call(move |s| s.mark_dead(seq, &n, &reason)).await
                } else {
                    let wait = retry_delay(p.attempts, after);
                    tracing::warn!(notifier = %name, event = %p.event.id, attempt = p.attempts + 1, "delivery failed, retrying in {wait:?}: {reason}");
                    metrics.delivery(name, DeliveryResult::Retry);
                    let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    store
                        .call(move |s| s.mark_retry(seq, &n, next, &reason))
                        .await
                }
            }
        };
        if let Err(e) = r {
            tracing::error!(notifier = %name, "outbox: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_capped_and_honour_retry_after() {
        assert!(retry_delay(0, None) <= Duration::from_millis(1250));
        assert!(retry_delay(4, None) >= Duration::from_secs(12));
        assert!(retry_delay(30, None) <= MAX_RETRY_DELAY);
        assert!(retry_delay(0, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
    }
}
