//! The validated config: the settings the daemon runs on.

use std::path::PathBuf;
use std::time::Duration;

use crate::extract::Strategy;
pub use crate::notify::spec::{NotifierKind, NotifierSpec};

/// The fastest interval livewatch accepts (tests and local pages need it).
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Default poll interval of a watch.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default slowest interval of an adaptive watch.
pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Default lease of a blog when instances share a PostgreSQL state.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Default body cap: bigger bodies (after decompression) are cut off and reported.
pub const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;

/// A validated config: what the daemon runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    /// `state`: where the state lives (SQLite in `state_dir`, or PostgreSQL).
    pub state: StateBackend,
    /// `lease`: how long an instance holds a blog without renewing (PostgreSQL state).
    pub lease: Duration,
    pub listen: Option<std::net::SocketAddr>,
    /// `api_token` (`${VAR}` expanded); see [`crate::server::api`].
    pub api_token: Option<String>,
    pub fetch: FetchSettings,
    pub problem_after: u32,
    pub watches: Vec<Watch>,
    pub notifiers: Vec<NotifierSpec>,
}

/// `state = "sqlite"` (the default: one file in the state dir) or
/// `state = "postgres://USER@HOST:PORT/DB"` (a PostgreSQL database, which several
/// instances can share).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateBackend {
    #[default]
    Sqlite,
    /// The connection URL as written (`${VAR}` expanded).
    Postgres(String),
}

/// HTTP settings shared by all watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    pub max_body: u64,
    /// `browser_memory`: the browser fetcher is restarted when Chromium and chromedriver
    /// together hold more than this (proportional set size, bytes).
    pub browser_memory: u64,
    pub per_host: usize,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub user_agent: String,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            max_body: DEFAULT_MAX_BODY,
            browser_memory: 2 << 30,
            per_host: 2,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            user_agent: default_user_agent(),
        }
    }
}

/// `livewatch/VERSION (+URL)`.
pub fn default_user_agent() -> String {
    format!(
        "livewatch/{} (+{})",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_REPOSITORY")
    )
}

/// One watched blog.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// Exactly as the user wrote it: receivers route on it.
    pub url: String,
    pub name: Option<String>,
    pub interval: Duration,
    pub max_interval: Duration,
    pub adaptive: bool,
    pub retire_after: Duration,
    /// How long a closed blog is still polled before it is retired (default 6h).
    pub retire_grace: Duration,
    /// Notifier names; `None` = every notifier.
    pub notify: Option<Vec<String>>,
    pub strategy: Strategy,
    pub announce_existing: usize,
    /// `fetch = "http"` (default) or `"browser"`.
    pub fetch: FetchMode,
    /// `settle = "CSS"`: with the browser fetcher, the page is rendered once this matches.
    pub settle: Option<String>,
}

/// How a watch's page is fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FetchMode {
    /// A plain GET (the server's HTML).
    #[default]
    Http,
    /// Loaded in headless Chromium: the DOM after the page's scripts ran.
    Browser,
}

impl Watch {
    /// A watch with default settings.
    pub fn new(url: impl Into<String>) -> Self {
        Watch {
            url: url.into(),
            name: None,
            interval: DEFAULT_INTERVAL,
            max_interval: DEFAULT_MAX_INTERVAL,
            adaptive: true,
            retire_after: Duration::from_secs(48 * 3600),
            retire_grace: Duration::from_secs(6 * 3600),
            notify: None,
            strategy: Strategy::Auto,
            announce_existing: 0,
            fetch: FetchMode::Http,
            settle: None,
        }
    }
}

/// The names `extractor = …` and `--extractor` take: `auto`, the structured-data and
/// generic extractors, and the built-in site profiles.
pub fn extractor_names() -> Vec<&'static str> {
    let mut v = vec!["auto", "jsonld", "microdata", "generic"];
    v.extend(crate::extract::profiles::ALL.iter().map(|p| p.name));
    v
}
