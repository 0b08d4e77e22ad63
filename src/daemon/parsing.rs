//! Admission to page parsing: one page parsed per core, and a short queue before that.
//!
//! A changed page is parsed into a DOM several times its size, so at most one page is
//! parsed per core ([`Parsing::permit`]). A poll whose page will be parsed (a first
//! baseline, a page without a content fingerprint) also waits *before fetching* while
//! that many bodies already wait for a permit ([`Parsing::queue_short`]): otherwise a
//! burst of such polls — every blog's baseline at start-up — fetches far faster than the
//! cores parse, and each body waits in memory (64 polls in hand held ~64 bodies, 37 MiB
//! of a 100-blog start-up peak). Polls answered on their fingerprint are not held back.
//!
//! The pages are parsed on threads of their own, one per permit ([`Parsing::run`]),
//! not on tokio's blocking pool: the regex crate keeps a search cache per regex for each
//! of up to eight groups of threads that used it, for the life of the process, and the
//! blocking pool's threads come and go (an idle one exits after 2 s), so over time every
//! extraction regex held eight or nine caches (heaptrack, 100 blogs: 10.6 MiB of regex
//! caches at the end). On two long-lived threads it holds at most two.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Work handed to a parse thread.
type Job = Box<dyn FnOnce() + Send>;

/// Pages being parsed, and the bodies waiting for their turn.
pub struct Parsing {
    permits: Arc<Semaphore>,
    /// Bodies waiting for a permit.
    waiting: AtomicUsize,
    /// Signalled when one stops waiting.
    shorter: Notify,
    /// Longest queue before polls that will parse stop fetching.
    queue: usize,
    /// The parse threads' queue (the threads start at the first [`Parsing::run`] and
    /// stop when this is dropped).
    jobs: OnceLock<mpsc::Sender<Job>>,
}

/// A parse that panicked (the thread lives on).
#[derive(Debug)]
pub struct Panicked(String);

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the parse panicked: {}", self.0)
    }
}

impl std::error::Error for Panicked {}

impl Panicked {
    fn from_payload(p: Box<dyn std::any::Any + Send>) -> Panicked {
        Panicked(match p.downcast::<String>() {
            Ok(s) => *s,
            Err(p) => p
                .downcast_ref::<&str>()
                .map_or_else(|| "(no message)".to_string(), |s| s.to_string()),
        })
    }
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
            jobs: OnceLock::new(),
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

    /// Run `f` (a page's extraction, with a [`Parsing::permit`] held) on one of the parse
    /// threads, in the caller's runtime context, as `spawn_blocking` would; a panic in
    /// `f` is returned as [`Panicked`]. The threads are as many as the permits, so with
    /// a permit held a thread is free (unless the caller of an earlier parse stopped
    /// waiting for it: then this one waits for that parse to end).
    ///
    /// A caller that stops waiting (a blog task stopped at shutdown) leaves the rest of
    /// the wait to tokio's blocking pool, so the parse still holds the runtime open until
    /// it has run whole, store write included, as it did on the blocking pool itself. (A
    /// caller dropped only while the runtime itself shuts down, without being stopped
    /// first, cannot: the blocking pool takes no new work then.) The answer itself is
    /// awaited without a blocking thread: at start-up they are all busy with store reads.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Panicked>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let handle = tokio::runtime::Handle::try_current().ok();
        let job: Job = Box::new(move || {
            let _entered = handle.as_ref().map(|h| h.enter());
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r.map_err(Panicked::from_payload));
        });
        if self.jobs().send(job).is_err() {
            return Err(Panicked("no parse thread is running".into()));
        }
        let mut waiting = Waiting(Some(rx));
        let r = match waiting.0.as_mut() {
            Some(rx) => rx.await,
            None => unreachable!("set just above"),
        };
        waiting.0 = None;
        r.unwrap_or_else(|_| Err(Panicked("the parse thread stopped".into())))
    }

    /// The parse threads' queue, the threads started at the first call.
    fn jobs(&self) -> &mpsc::Sender<Job> {
        self.jobs.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..self.queue {
                let rx = rx.clone();
                let started = std::thread::Builder::new()
                    .name(format!("livewatch-parse-{i}"))
                    // tokio's blocking threads' stack size, where the parse ran before.
                    .stack_size(2 << 20)
                    .spawn(move || loop {
                        let job = {
                            let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
                            rx.recv()
                        };
                        match job {
                            Ok(job) => job(),
                            // The `Parsing` is gone.
                            Err(_) => return,
                        }
                    });
                if let Err(e) = started {
                    // The threads started so far serve; none at all: `run` says so.
                    tracing::error!("cannot start a parse thread: {e}");
                }
            }
            tx
        })
    }
}

/// The answer of a parse under way. Dropped before it came (the caller stopped
/// waiting), the wait goes on on the blocking pool, which the runtime waits for when it
/// ends.
struct Waiting<T: Send + 'static>(Option<tokio::sync::oneshot::Receiver<T>>);

impl<T: Send + 'static> Drop for Waiting<T> {
    fn drop(&mut self) {
        if let Some(rx) = self.0.take() {
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                h.spawn_blocking(move || {
                    let _ = rx.blocking_recv();
                });
            }
        }
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
    async fn parses_run_on_as_many_long_lived_threads_as_permits() {
        let p = Arc::new(Parsing::new(2));
        let mut threads = std::collections::HashSet::new();
        for _ in 0..3 {
            // Two at once, then one: never a third thread.
            let runs = (0..2).map(|_| {
                let p = p.clone();
                tokio::spawn(async move {
                    let _permit = p.permit().await;
                    p.run(|| {
                        std::thread::sleep(Duration::from_millis(5));
                        let t = std::thread::current();
                        (t.id(), t.name().map(str::to_string))
                    })
                    .await
                    .unwrap()
                })
            });
            for r in futures_util::future::join_all(runs).await {
                threads.insert(r.unwrap());
            }
            let _permit = p.permit().await;
            threads.insert(
                p.run(|| {
                    let t = std::thread::current();
                    (t.id(), t.name().map(str::to_string))
                })
                .await
                .unwrap(),
            );
        }
        assert!(threads.len() <= 2, "{threads:?}");
        assert!(threads.iter().all(|(_, n)| n
            .as_deref()
            .is_some_and(|n| n.starts_with("livewatch-parse-"))));
    }

    #[test]
    fn a_parse_needs_no_free_blocking_thread() {
        // The start-up's store reads can keep every blocking thread busy: the answer of
        // a parse must not wait for one (the permit is held meanwhile).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let p = Parsing::new(1);
        rt.block_on(async {
            let (release, held) = std::sync::mpsc::channel::<()>();
            let busy = tokio::task::spawn_blocking(move || {
                let _ = held.recv();
            });
            let r = tokio::time::timeout(Duration::from_secs(5), p.run(|| 7)).await;
            release.send(()).unwrap();
            busy.await.unwrap();
            assert_eq!(
                r.expect("the parse waited for a blocking thread").unwrap(),
                7
            );
        });
    }

    #[tokio::test]
    async fn a_panicking_parse_is_an_error_and_the_thread_serves_on() {
        let p = Parsing::new(1);
        let e = p.run(|| -> u32 { panic!("bad page") }).await.unwrap_err();
        assert!(e.to_string().contains("bad page"), "{e}");
        assert_eq!(p.run(|| 7).await.unwrap(), 7);
    }

    #[test]
    fn a_parse_whose_caller_stopped_waiting_still_runs_whole_before_the_runtime_ends() {
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let p = Arc::new(Parsing::new(1));
        let task = {
            let (p, started, done) = (p.clone(), started.clone(), done.clone());
            rt.spawn(async move {
                p.run(move || {
                    started.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(200));
                    done.store(true, Ordering::SeqCst);
                })
                .await
            })
        };
        rt.block_on(async {
            while !started.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // As `Daemon::shutdown` does: stop the task and wait for it to end.
            task.abort();
            let _ = task.await;
        });
        drop(rt);
        assert!(
            done.load(Ordering::SeqCst),
            "the runtime ended before the parse"
        );
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
