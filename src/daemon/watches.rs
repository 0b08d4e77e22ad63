//! Watches added through the HTTP API (`/api/watches`), run beside the config file's.
//!
//! [`ApiWatches`] is the registry the API writes through: every change goes to the state
//! database (`api_watches`, so the watches survive restarts and SIGHUP) and to an
//! in-memory copy the handlers read without touching the database, then wakes the
//! [`Manager`]. The manager, one task started with the daemon, runs a blog task for each
//! API watch that is not paused and whose URL the config does not watch itself (the config
//! wins: a URL is never polled twice), and restarts them when the notifiers change.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Route, Shared};
use crate::config::{Config, Watch, DEFAULT_MAX_INTERVAL};
use crate::extract::{Selectors, Strategy};
use crate::store::{Store, StoreError, StoredWatch};

/// A watch as the API takes it, validated (`server::api` checks every field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchSpec {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extractor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selectors: Option<Selectors>,
    /// `"browser"`: loaded in headless Chromium (`fetch = "browser"`); absent: HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<String>,
    /// With the browser: a CSS selector the rendered page must match (`settle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<String>,
}

impl WatchSpec {
    /// The watch it describes: the config's defaults for everything it does not set.
    pub fn to_watch(&self) -> Watch {
        let mut w = Watch::new(self.url.clone());
        w.name = self.name.clone();
        if let Some(ms) = self.interval_ms {
            w.interval = Duration::from_millis(ms);
        }
        w.max_interval = DEFAULT_MAX_INTERVAL.max(w.interval);
        w.notify = self.notify.clone();
        w.strategy = match (&self.selectors, self.extractor.as_deref()) {
            (Some(s), _) => Strategy::Css(s.clone()),
            (None, None | Some("auto")) => Strategy::Auto,
            (None, Some(name)) => Strategy::Named(name.to_string()),
        };
        if self.fetch.as_deref() == Some("browser") {
            w.fetch = crate::config::FetchMode::Browser;
            w.settle = self.settle.clone();
        }
        w
    }
}

/// An API watch: its stored row and the watch it runs.
#[derive(Debug, Clone)]
pub struct ApiWatch {
    pub id: i64,
    pub spec: WatchSpec,
    pub watch: Watch,
    pub paused: bool,
}

impl ApiWatch {
    fn from_row(row: StoredWatch) -> Result<ApiWatch, StoreError> {
        let spec: WatchSpec = serde_json::from_value(row.spec)?;
        Ok(ApiWatch {
            id: row.id,
            watch: spec.to_watch(),
            spec,
            paused: row.paused,
        })
    }
}

/// What the API needs to know of the current config (replaced on reload).
#[derive(Debug, Clone, Default)]
pub struct ConfigView {
    pub watches: Vec<Watch>,
    pub notifiers: Vec<String>,
    pub api_token: Option<String>,
    pub listen: Option<std::net::SocketAddr>,
}

impl ConfigView {
    pub fn of(config: &Config) -> ConfigView {
        ConfigView {
            watches: config.watches.clone(),
            notifiers: config.notifiers.iter().map(|n| n.name.clone()).collect(),
            api_token: config.api_token.clone(),
            listen: config.listen,
        }
    }
}

/// Why an API change was refused.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0} is already watched")]
    Duplicate(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The registry of API watches (see the module docs).
pub struct ApiWatches {
    store: Store,
    list: RwLock<Vec<ApiWatch>>,
    config: RwLock<ConfigView>,
    changed: watch::Sender<u64>,
}

impl ApiWatches {
    /// Read the stored API watches; `config` is the daemon's current config.
    pub fn load(store: Store, config: &Config) -> Result<ApiWatches, StoreError> {
        let list = store
            .api_watches()?
            .into_iter()
            .map(ApiWatch::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ApiWatches {
            store,
            list: RwLock::new(list),
            config: RwLock::new(ConfigView::of(config)),
            changed: watch::channel(0).0,
        })
    }

    /// Every API watch, oldest first.
    pub fn list(&self) -> Vec<ApiWatch> {
        self.list.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The current config's part the API uses.
    pub fn config(&self) -> ConfigView {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A new config was loaded.
    pub fn set_config(&self, config: &Config) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = ConfigView::of(config);
        self.bump();
    }

    /// Every watch the endpoint serves: the config's, then the API's (paused ones too)
    /// whose URL the config does not have.
    pub fn all_watches(&self) -> Vec<Watch> {
        let mut all = self.config().watches;
        for a in self.list() {
            if !all.iter().any(|w| w.url == a.watch.url) {
                all.push(a.watch);
            }
        }
        all
    }

    /// The API watches to poll now: not paused and not in the config.
    fn runnable(&self) -> Vec<Watch> {
        let config = self.config();
        self.list()
            .into_iter()
            .filter(|a| !a.paused && !config.watches.iter().any(|w| w.url == a.watch.url))
            .map(|a| a.watch)
            .collect()
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    fn reread(&self) -> Result<(), StoreError> {
        let list = self
            .store
            .api_watches()?
            .into_iter()
            .map(ApiWatch::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        *self.list.write().unwrap_or_else(|e| e.into_inner()) = list;
        self.bump();
        Ok(())
    }

    /// Read the stored API watches again when another instance sharing the PostgreSQL
    /// state added, paused or removed one (blocking). True when they changed.
    fn reread_if_changed(&self) -> Result<bool, StoreError> {
        let rows = self.store.api_watches()?;
        let stored: Vec<(i64, bool)> = rows.iter().map(|r| (r.id, r.paused)).collect();
        let known: Vec<(i64, bool)> = self.list().iter().map(|a| (a.id, a.paused)).collect();
        if stored == known {
            return Ok(false);
        }
        let list = rows
            .into_iter()
            .map(ApiWatch::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        *self.list.write().unwrap_or_else(|e| e.into_inner()) = list;
        self.bump();
        Ok(true)
    }

    /// Add a watch (blocking: call it off the async threads).
    pub fn add(&self, spec: WatchSpec) -> Result<ApiWatch, WatchError> {
        if self.all_watches().iter().any(|w| w.url == spec.url) {
            return Err(WatchError::Duplicate(spec.url));
        }
        let value = serde_json::to_value(&spec).map_err(StoreError::from)?;
        let row = self
            .store
            .add_api_watch(&spec.url, &value, chrono::Utc::now())?
            .ok_or_else(|| WatchError::Duplicate(spec.url.clone()))?;
        self.reread()?;
        Ok(ApiWatch::from_row(row)?)
    }

    /// Pause or resume; `None` when there is no such API watch.
    pub fn set_paused(&self, id: i64, paused: bool) -> Result<Option<ApiWatch>, StoreError> {
        let row = self.store.set_api_watch_paused(id, paused)?;
        self.reread()?;
        row.map(ApiWatch::from_row).transpose()
    }

    /// Remove; false when there was no such API watch.
    pub fn remove(&self, id: i64) -> Result<bool, StoreError> {
        let gone = self.store.remove_api_watch(id)?;
        self.reread()?;
        Ok(gone)
    }
}

/// The task that runs the API watches (see the module docs).
pub(super) struct Manager {
    pub shared: Arc<Shared>,
    pub api: Arc<ApiWatches>,
    pub routes: watch::Receiver<Arc<Vec<Route>>>,
}

type Running = HashMap<String, (Watch, watch::Sender<bool>, JoinHandle<()>)>;

impl Manager {
    pub(super) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut changed = self.api.changed.subscribe();
        let mut running: Running = HashMap::new();
        let mut routes = self.routes.borrow_and_update().clone();
        loop {
            changed.borrow_and_update();
            let wanted: HashMap<String, Watch> = self
                .api
                .runnable()
                .into_iter()
                .map(|w| (w.url.clone(), w))
                .collect();
            let urls: Vec<String> = running.keys().cloned().collect();
            for url in urls {
                if wanted.get(&url) != running.get(&url).map(|(w, _, _)| w) {
                    if let Some((_, tx, h)) = running.remove(&url) {
                        let _ = tx.send(true);
                        let _ = h.await;
                    }
                }
            }
            for (url, w) in wanted {
                running.entry(url).or_insert_with(|| {
                    tracing::info!(blog = %w.url, "watch added through the API: polling");
                    let (tx, h) = super::spawn_blog(&self.shared, w.clone(), &routes);
                    (w, tx, h)
                });
            }
            // Instances sharing a PostgreSQL state see each other's API watches (each is
            // then polled by the instance that leases it).
            let refresh = self.shared.leases.as_ref().map(|l| l.tick());
            tokio::select! {
                _ = super::stopped(&mut stop) => break,
                r = changed.changed() => if r.is_err() { break },
                _ = tokio::time::sleep(refresh.unwrap_or_default()), if refresh.is_some() => {
                    let api = self.api.clone();
                    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || api.reread_if_changed()).await {
                        tracing::warn!("API watches: {}", crate::fetch::error_chain(&e));
                    }
                }
                r = self.routes.changed() => {
                    if r.is_err() {
                        break;
                    }
                    // New notifiers: every task restarts with them, as the config's do.
                    routes = self.routes.borrow_and_update().clone();
                    for (_, (_, tx, h)) in running.drain() {
                        let _ = tx.send(true);
                        let _ = h.await;
                    }
                }
            }
        }
        for (_, (_, tx, h)) in running.drain() {
            let _ = tx.send(true);
            let _ = h.await;
        }
    }
}
