//! The daemon: one task per watched blog (fetch → extract → diff → store), one delivery
//! worker per notifier (outbox → notifier), and the control loop that handles signals.
//!
//! Shutdown is a `watch` channel every task selects on: a broadcast that also tells
//! late subscribers the current state. Extraction and the store write run together on a
//! parse thread, awaited from the blocking pool ([`parsing::Parsing::run`]), so a poll
//! that got its page always commits whole, even during shutdown.

pub(crate) mod delivery;
pub mod leases;
pub(crate) mod outcome;
pub mod pace;
pub mod parsing;
pub mod poll;
pub(crate) mod schedule;
pub(crate) mod supervisor;
pub(crate) mod watches;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::config::{Config, NotifierSpec, Watch};
use crate::fetch::Fetcher;
use crate::notify::{self, Notifier};
use crate::store::Store;

/// What the running parts share.
pub struct Shared {
    pub store: Store,
    pub fetcher: Fetcher,
    /// Woken after every commit that added events.
    pub wake: Notify,
    /// The newest committed event's sequence number (for the SSE stream).
    pub committed: watch::Sender<i64>,
    pub health: Arc<Health>,
    pub problem_after: u32,
    /// Pages being extracted at once (one per core: a changed page is parsed into a DOM
    /// several times its size) and the short queue before them (see [`parsing`]).
    pub parsing: parsing::Parsing,
    /// Polls under way at once, from the request to the stored result: bounds the pages
    /// held in memory when polls come faster than they can be parsed (they then wait
    /// before fetching, with nothing in hand, and the intervals stretch).
    pub in_hand: Arc<tokio::sync::Semaphore>,
    /// Blogs watched, to spread their first polls (see [`first_poll_spread`]).
    pub blogs: std::sync::atomic::AtomicUsize,
    /// With a PostgreSQL state: the leases that say which blogs this instance polls.
    pub leases: Option<Arc<leases::Leases>>,
}

/// Permits for [`Shared::in_hand`]: many more than cores, so slow servers (each held to
/// the fetch timeout) do not hold up the rest, yet a bounded number of pages in memory.
pub fn in_hand_permits() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(64))
}

/// The window over which the first polls of `blogs` blogs are spread: 10 ms a blog, at
/// most one interval. One blog starts at once; 10,000 blogs at 60 s start over a minute
/// instead of all fetching and parsing in the first seconds.
pub fn first_poll_spread(blogs: usize, interval: Duration) -> Duration {
    Duration::from_millis(10)
        .saturating_mul(u32::try_from(blogs).unwrap_or(u32::MAX))
        .min(interval)
}

/// Give the allocator's free memory back to the system, at most once a second: after a
/// burst of page parsing (the start-up baselines, or many changed pages at once) glibc
/// keeps the freed DOMs and bodies in its arenas, and the process stays at its peak.
/// Called after a page was processed (off the async threads) or answered on its content
/// fingerprint (rate-limited as it is, once a second is cheap there). Costs a walk over the
/// arenas' free lists and, for the next parse, faulting the pages in again.
pub fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::atomic::{AtomicU64, Ordering};
        static LAST: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let last = LAST.load(Ordering::Relaxed);
        if now.saturating_sub(last) < 1000
            || LAST
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // SAFETY: malloc_trim only returns free memory of glibc's arenas to the kernel.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

impl Shared {
    /// The parts a daemon shares, the one place they are built: by [`Daemon::new`], and
    /// for one-blog tasks ([`poll::BlogTask`]) driven by hand (replay, benches, tests).
    /// The event stream starts after the newest stored event.
    pub fn standalone(store: Store, fetcher: Fetcher, problem_after: u32) -> Shared {
        let last = store.last_event_seq().unwrap_or(0);
        Shared {
            store,
            fetcher,
            wake: Notify::new(),
            committed: watch::channel(last).0,
            health: Arc::new(Health::default()),
            problem_after,
            parsing: parsing::Parsing::per_core(),
            in_hand: in_hand_permits(),
            blogs: Default::default(),
            leases: None,
        }
    }

    /// Tell delivery workers and stream readers that events were committed. The newest
    /// sequence number is read on the blocking pool (the store's rule), in a task of its
    /// own: the channel only moves forward, so reads that finish out of order are safe.
    pub fn events_committed(&self) {
        self.wake.notify_waiters();
        let store = self.store.clone();
        let committed = self.committed.clone();
        tokio::spawn(async move {
            if let Ok(seq) = store.call(|s| s.last_event_seq()).await {
                committed.send_if_modified(|cur| {
                    let newer = seq > *cur;
                    if newer {
                        *cur = seq;
                    }
                    newer
                });
            }
        });
    }
}

/// Liveness of the scheduler, for `/healthz` and the systemd watchdog.
#[derive(Debug, Default)]
pub struct Health {
    /// Unix ms of the control loop's last tick.
    pub last_tick_ms: std::sync::atomic::AtomicI64,
    /// Polls under way: blog URL → when the poll started. A poll is bounded by the fetch
    /// timeout and a capped body, so one that lasts far longer is a stuck blog task.
    in_flight: std::sync::Mutex<HashMap<String, std::time::Instant>>,
}

impl Health {
    /// Mark a poll of `url` as started; the guard marks it finished when dropped (also
    /// when the poll is cancelled).
    pub fn poll_started(self: &Arc<Self>, url: &str) -> PollGuard {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(url.to_string(), std::time::Instant::now());
        PollGuard {
            health: self.clone(),
            url: url.to_string(),
        }
    }

    /// The longest-running poll if it has run for more than `limit`.
    pub fn stuck(&self, limit: Duration) -> Option<(String, Duration)> {
        let polls = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        polls
            .iter()
            .map(|(u, t)| (u.clone(), t.elapsed()))
            .filter(|(_, age)| *age > limit)
            .max_by_key(|(_, age)| *age)
    }
}

/// A poll under way (see [`Health::poll_started`]).
pub struct PollGuard {
    health: Arc<Health>,
    url: String,
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        self.health
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.url);
    }
}

/// How long a poll may run before its blog task counts as stuck: the fetch's own
/// timeout plus a minute for extraction and the store.
pub fn stuck_after(fetch_timeout: Duration) -> Duration {
    fetch_timeout + Duration::from_secs(60)
}

/// A configured notifier and the thing that delivers for it.
#[derive(Clone)]
pub struct Route {
    pub spec: NotifierSpec,
    pub notifier: Arc<dyn Notifier>,
}

/// Daemon errors (startup only; at run time every failure is per blog or per notifier).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
}

/// The running daemon.
pub struct Daemon {
    shared: Arc<Shared>,
    config: Config,
    routes: Arc<Vec<Route>>,
    shutdown_tx: watch::Sender<bool>,
    blogs: HashMap<String, (Watch, watch::Sender<bool>, JoinHandle<()>)>,
    workers: Vec<(watch::Sender<bool>, JoinHandle<()>)>,
    /// The watches added through the HTTP API, their task and the notifiers it uses.
    api: Arc<watches::ApiWatches>,
    api_routes: watch::Sender<Arc<Vec<Route>>>,
    api_task: Option<JoinHandle<()>>,
    /// The lease keeper (PostgreSQL state only) and its stop: it stops last, so that
    /// the polls under way at shutdown still hold their leases when they write.
    lease_task: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

/// Start the task of one blog; the sender stops it.
fn spawn_blog(
    shared: &Arc<Shared>,
    w: Watch,
    routes: &Arc<Vec<Route>>,
) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let task = Box::new(poll::BlogTask::new(shared.clone(), w, routes.clone()));
    (tx, tokio::spawn(task.run(rx)))
}

impl Daemon {
    /// Open the state and build the HTTP client and notifiers.
    pub fn new(config: Config, state_dir: PathBuf) -> Result<Daemon, DaemonError> {
        let store = Store::open_state(&config.state, &state_dir)?;
        let fetcher = Fetcher::new(config.fetch.clone())?;
        let routes = Arc::new(build_routes(&config, fetcher.client()));
        let (shutdown_tx, _) = watch::channel(false);
        let api = Arc::new(watches::ApiWatches::load(store.clone(), &config)?);
        let (api_routes, _) = watch::channel(routes.clone());
        let mut shared = Shared::standalone(store, fetcher, config.problem_after);
        if shared.store.is_postgres() {
            let l = leases::Leases::new(config.lease);
            // A poll writes only while this instance holds the blog's lease.
            shared.store = shared.store.leased_by(&l.me);
            shared.leases = Some(Arc::new(l));
        }
        Ok(Daemon {
            shared: Arc::new(shared),
            lease_task: None,
            config,
            routes,
            shutdown_tx,
            blogs: HashMap::new(),
            workers: Vec::new(),
            api,
            api_routes,
            api_task: None,
        })
    }

    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The parts shared with the HTTP endpoint.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A receiver that turns true on shutdown.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The watches added through the HTTP API.
    pub fn api_watches(&self) -> &Arc<watches::ApiWatches> {
        &self.api
    }

    /// Start every blog task and delivery worker.
    pub fn start(&mut self) {
        self.shared.blogs.store(
            self.config.watches.len(),
            std::sync::atomic::Ordering::Relaxed,
        );
        for w in self.config.watches.clone() {
            self.start_blog(w);
        }
        self.start_workers();
        let manager = watches::Manager {
            shared: self.shared.clone(),
            api: self.api.clone(),
            routes: self.api_routes.subscribe(),
        };
        self.api_task = Some(tokio::spawn(manager.run(self.shutdown_tx.subscribe())));
        if let Some(l) = &self.shared.leases {
            let (tx, rx) = watch::channel(false);
            let keeper = tokio::spawn(leases::keep(self.shared.clone(), l.clone(), rx));
            self.lease_task = Some((tx, keeper));
        }
    }

    fn start_blog(&mut self, w: Watch) {
        let (tx, handle) = spawn_blog(&self.shared, w.clone(), &self.routes);
        self.blogs.insert(w.url.clone(), (w, tx, handle));
    }

    fn start_workers(&mut self) {
        for route in self.routes.iter() {
            let (tx, rx) = watch::channel(false);
            let worker = delivery::Worker {
                shared: self.shared.clone(),
                route: route.clone(),
            };
            self.workers.push((tx, tokio::spawn(worker.run(rx))));
        }
    }

    /// Apply a new config: new blogs start, removed ones stop, changed ones restart with
    /// their stored state; notifiers are rebuilt.
    pub async fn reload(&mut self, config: Config) {
        let routes_changed =
            format!("{:?}", config.notifiers) != format!("{:?}", self.config.notifiers);
        if routes_changed {
            self.routes = Arc::new(build_routes(&config, self.shared.fetcher.client()));
            for (tx, h) in self.workers.drain(..) {
                let _ = tx.send(true);
                let _ = h.await;
            }
            self.start_workers();
            let _ = self.api_routes.send(self.routes.clone());
        }
        self.api.set_config(&config);
        let wanted: HashMap<String, Watch> = config
            .watches
            .iter()
            .map(|w| (w.url.clone(), w.clone()))
            .collect();
        let current: Vec<String> = self.blogs.keys().cloned().collect();
        for url in current {
            let keep = wanted.get(&url).is_some_and(|w| {
                !routes_changed && self.blogs.get(&url).is_some_and(|(old, _, _)| old == w)
            });
            if !keep {
                if let Some((_, tx, h)) = self.blogs.remove(&url) {
                    let _ = tx.send(true);
                    let _ = h.await;
                }
            }
        }
        self.shared
            .blogs
            .store(wanted.len(), std::sync::atomic::Ordering::Relaxed);
        for (url, w) in wanted {
            if !self.blogs.contains_key(&url) {
                self.start_blog(w);
            }
        }
        self.config = config;
        tracing::info!(
            blogs = self.blogs.len(),
            notifiers = self.routes.len(),
            "configuration reloaded"
        );
    }

    /// Stop everything; returns when every task has finished (or after `grace`).
    pub async fn shutdown(&mut self, grace: Duration) {
        let _ = self.shutdown_tx.send(true);
        let mut handles = Vec::new();
        for (_, (_, tx, h)) in self.blogs.drain() {
            let _ = tx.send(true);
            handles.push(h);
        }
        for (tx, h) in self.workers.drain(..) {
            let _ = tx.send(true);
            handles.push(h);
        }
        handles.extend(self.api_task.take());
        let all = futures_util::future::join_all(handles);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("some tasks did not stop within {grace:?}; their work stays queued");
        }
        if let Some((tx, keeper)) = self.lease_task.take() {
            let _ = tx.send(true);
            if tokio::time::timeout(Duration::from_millis(500), keeper)
                .await
                .is_err()
            {
                tracing::warn!("the leases were not released in time; they end at their deadline");
            }
        }
    }

    /// Number of watched blogs.
    pub fn blog_count(&self) -> usize {
        self.blogs.len()
    }
}

fn build_routes(config: &Config, client: &reqwest::Client) -> Vec<Route> {
    config
        .notifiers
        .iter()
        .map(|spec| Route {
            spec: spec.clone(),
            notifier: notify::build(spec, client),
        })
        .collect()
}

/// Wait for `rx` to turn true (shutdown).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod health_tests {
    use super::*;

    #[test]
    fn a_poll_that_runs_too_long_is_stuck_until_it_ends() {
        let h = Arc::new(Health::default());
        let quick = h.poll_started("http://a/");
        let slow = h.poll_started("http://b/");
        drop(quick);
        assert_eq!(
            h.stuck(Duration::from_secs(3600)),
            None,
            "nothing is that old"
        );
        std::thread::sleep(Duration::from_millis(30));
        let (url, age) = h.stuck(Duration::from_millis(10)).expect("b is stuck");
        assert_eq!(url, "http://b/");
        assert!(age >= Duration::from_millis(30));
        drop(slow);
        assert_eq!(h.stuck(Duration::ZERO), None, "the guard ends the poll");
        assert_eq!(
            stuck_after(Duration::from_secs(30)),
            Duration::from_secs(90)
        );
    }
}
