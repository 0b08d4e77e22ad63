//! Admission to page parsing: one page parsed per core, and a short queue before that.
//!
//! A changed page is parsed into a DOM several times its size, so at most one page is
//! parsed per core ([`Parsing::permit`]). A poll whose page will be parsed (a first
//! baseline, a page without a content fingerprint) also waits *before fetching* while
//! that many bodies already wait for a permit ([`Parsing::queue_short`]): otherwise a
//! burst of such polls — every blog's baseline at start-up — fetches far faster than the
//! cores parse, and each body waits in memory (64 polls in hand held ~64 bodies, 37 MiB
//! of a 100-blog start-up peak). Polls answered on their fingerprint are not held back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Pages being parsed, and the bodies waiting for their turn.
pub struct Parsing {
    permits: Arc<Semaphore>,
    /// Bodies waiting for a permit.
    waiting: AtomicUsize,
    /// Signalled when one stops waiting.
    shorter: Notify,
    /// Longest queue before polls that will parse stop fetching.
    queue: usize,
}

impl Parsing {
    /// `n` pages parsed at once, and a queue of `n` bodies before them.
    pub fn new(n: usize) -> Parsing {
        let n = n.max(1);
        Parsing {
            permits: Arc::new(Semaphore::new(n)),
            waiting: AtomicUsize::new(0),
            shorter: Notify::new(),
            queue: n,
        }
    }

    /// One parse per core.
    pub fn per_core() -> Parsing {
        Parsing::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Wait for a turn to parse a page whose body is in hand (counted in the queue
    /// meanwhile; cancel-safe).
    pub async fn permit(&self) -> OwnedSemaphorePermit {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _queued = Queued(self);
        self.permits
            .clone()
            .acquire_owned()
            .await
            .expect("the parse semaphore is never closed")
    }

    /// Return once fewer bodies wait for a permit than the queue holds: called before
    /// fetching a page that will be parsed.
    pub async fn queue_short(&self) {
        loop {
            // Registered before the check, so a wake-up between the two is not lost.
            let shorter = self.shorter.notified();
            tokio::pin!(shorter);
            shorter.as_mut().enable();
            if self.waiting.load(Ordering::SeqCst) < self.queue {
                return;
            }
            shorter.await;
        }
    }

    /// Bodies waiting for a permit now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

/// A place in the queue, given up when the permit comes (or the wait is cancelled).
struct Queued<'a>(&'a Parsing);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
        self.0.shorter.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn fetching_waits_while_the_queue_is_full_and_resumes_when_it_moves() {
        let p = Arc::new(Parsing::new(1));
        // One page being parsed, one body waiting: the queue (1) is full.
        let first = p.permit().await;
        let waiter = {
            let p = p.clone();
            tokio::spawn(async move { p.permit().await })
        };
        while p.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        let fetch = {
            let p = p.clone();
            tokio::spawn(async move { p.queue_short().await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !fetch.is_finished(),
            "a fetch went ahead with the queue full"
        );
        drop(first);
        let second = waiter.await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), fetch)
            .await
            .expect("the fetch stayed held back after the queue moved")
            .unwrap();
        assert_eq!(p.waiting(), 0);
        drop(second);
    }

    #[tokio::test]
    async fn a_cancelled_wait_leaves_the_queue() {
        let p = Parsing::new(1);
        let _held = p.permit().await;
        let r = tokio::time::timeout(Duration::from_millis(20), p.permit()).await;
        assert!(r.is_err());
        assert_eq!(p.waiting(), 0);
        tokio::time::timeout(Duration::from_secs(5), p.queue_short())
            .await
            .expect("a cancelled waiter still counted in the queue");
    }
}
