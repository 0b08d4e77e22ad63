//! The browser fetcher (`fetch = "browser"`, `check --browser`): the page loaded in a
//! headless Chromium driven over WebDriver (chromedriver, the fantoccini client), its
//! rendered DOM handed on as a [`Response`] like an HTTP body.
//!
//! One chromedriver, started on first use, serves every browser watch; at most
//! [`SESSIONS`] sessions (each a headless Chromium) load pages at once and are kept
//! between fetches. A page is settled when the document is complete and the DOM has not
//! changed for [`QUIET`] (or the watch's `settle` selector matched), within the fetch
//! timeout. A command that hangs past the timeout, or a session that died, ends that
//! session; a chromedriver that died is started again on the next fetch.

use std::time::Duration;

use super::{FetchError, Fetched};
use crate::config::FetchSettings;

/// Sessions (browser tabs) loading pages at once.
#[cfg_attr(not(feature = "browser"), allow(dead_code))]
pub(crate) const SESSIONS: usize = 2;
/// How long the DOM must stay unchanged before the page counts as rendered.
#[cfg_attr(not(feature = "browser"), allow(dead_code))]
pub(crate) const QUIET: Duration = Duration::from_millis(500);

/// What to tell a user whose machine lacks the browser.
#[cfg_attr(not(feature = "browser"), allow(dead_code))]
pub(crate) const NEEDS: &str = "the browser fetcher needs Chromium and chromedriver: install the Debian packages chromium and chromium-driver";

#[cfg(feature = "browser")]
pub(crate) use imp::Browser;

#[cfg(not(feature = "browser"))]
pub(crate) use off::Browser;

#[cfg(not(feature = "browser"))]
mod off {
    use super::*;

    /// Built without the `browser` feature: every fetch says so.
    #[derive(Default)]
    pub(crate) struct Browser;

    impl Browser {
        pub(crate) async fn fetch(
            &self,
            _settings: &FetchSettings,
            _url: &str,
            _settle: Option<&str>,
        ) -> Result<Fetched, FetchError> {
            Err(FetchError::Other(
                "this livewatch was built without the browser feature (fetch = \"browser\")".into(),
            ))
        }
    }
}

#[cfg(feature = "browser")]
mod imp {
    use std::path::PathBuf;
    use std::process::Stdio;
    use std::sync::Arc;

    use fantoccini::{Client, ClientBuilder};
    use serde_json::{json, Value};
    use tokio::sync::{Mutex, Semaphore};

    use super::super::{Response, Validators};
    use super::*;

    /// The shared chromedriver and its idle sessions. Nothing runs until the first fetch.
    pub(crate) struct Browser {
        tabs: Arc<Semaphore>,
        state: Mutex<State>,
        /// When the browser's memory was last measured.
        measured: Mutex<Option<std::time::Instant>>,
    }

    /// How often the browser's memory is measured at most.
    const MEMORY_EVERY: Duration = Duration::from_secs(10);

    /// The proportional set size, in bytes, of every process in process group `pgid`
    /// (chromedriver and the browsers it started), from `/proc`.
    fn group_pss(pgid: u32) -> u64 {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return 0;
        };
        let mut total = 0;
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            // The group is field 5 of /proc/PID/stat, after the parenthesised name.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            if rest.split_whitespace().nth(2) != Some(pgid.to_string().as_str()) {
                continue;
            }
            let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
                continue;
            };
            total += rollup
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
                * 1024;
        }
        total
    }

    #[derive(Default)]
    struct State {
        driver: Option<Driver>,
        idle: Vec<Session>,
    }

    struct Session {
        client: Client,
        _profile: tempfile::TempDir,
    }

    /// A chromedriver process (its own process group: killing it ends its browsers too).
    struct Driver {
        child: tokio::process::Child,
        url: String,
        chromium: PathBuf,
    }

    impl Drop for Driver {
        fn drop(&mut self) {
            if let Some(pid) = self.child.id() {
                // SAFETY: kill(2) with a negative pid signals the process group that
                // chromedriver leads (process_group(0) at spawn): it and its browsers.
                unsafe {
                    libc::kill(-(pid as i32), libc::SIGKILL);
                }
            }
        }
    }

    impl Default for Browser {
        fn default() -> Self {
            Browser {
                tabs: Arc::new(Semaphore::new(SESSIONS)),
                state: Mutex::new(State::default()),
                measured: Mutex::new(None),
            }
        }
    }

    fn which(program: &str) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    }

    impl Driver {
        async fn start() -> Result<Driver, FetchError> {
            let chromium = which("chromium")
                .or_else(|| which("chromium-browser"))
                .ok_or_else(|| FetchError::Other(format!("{NEEDS} (no chromium on PATH)")))?;
            let driver = which("chromedriver")
                .ok_or_else(|| FetchError::Other(format!("{NEEDS} (no chromedriver on PATH)")))?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| FetchError::Other(format!("no free port for chromedriver: {e}")))?
                .port();
            let child = tokio::process::Command::new(&driver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| {
                    FetchError::Other(format!("cannot start {}: {e}", driver.display()))
                })?;
            tracing::info!(driver = %driver.display(), port, "started chromedriver for the browser fetcher");
            Ok(Driver {
                child,
                url: format!("http://127.0.0.1:{port}"),
                chromium,
            })
        }

        fn alive(&mut self) -> bool {
            matches!(self.child.try_wait(), Ok(None))
        }

        async fn session(&self, settings: &FetchSettings) -> Result<Session, FetchError> {
            let profile = tempfile::tempdir()
                .map_err(|e| FetchError::Other(format!("no profile folder for Chromium: {e}")))?;
            let mut caps = serde_json::Map::new();
            caps.insert(
                "goog:chromeOptions".into(),
                json!({
                    "binary": self.chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--no-first-run", "--disable-extensions", "--mute-audio",
                        "--disable-background-networking", "--window-size=1280,1000",
                        format!("--user-agent={}", settings.user_agent),
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                }),
            );
            caps.insert("pageLoadStrategy".into(), json!("normal"));
            caps.insert(
                "timeouts".into(),
                json!({"pageLoad": settings.timeout.as_millis() as u64, "script": 10_000}),
            );
            // chromedriver needs a moment to listen after it starts.
            let deadline =
                tokio::time::Instant::now() + settings.connect_timeout.max(Duration::from_secs(20));
            loop {
                let attempt =
                    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                        .capabilities(caps.clone())
                        .connect(&self.url)
                        .await;
                match attempt {
                    Ok(client) => {
                        return Ok(Session {
                            client,
                            _profile: profile,
                        })
                    }
                    Err(e) if tokio::time::Instant::now() > deadline => {
                        return Err(FetchError::Other(format!(
                            "no browser session (chromedriver with {}): {e}",
                            self.chromium.display()
                        )))
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        }
    }

    /// Installed after the load: remembers when the DOM last changed.
    const OBSERVE: &str = "window.__lwChanged = Date.now(); \
        new MutationObserver(() => { window.__lwChanged = Date.now(); }) \
        .observe(document, {subtree: true, childList: true, attributes: true, characterData: true}); \
        return true;";

    /// Whether the page is rendered: `[complete, ms since the last change, selector matched]`.
    const PROBE: &str = "const sel = arguments[0]; \
        return [document.readyState === 'complete', \
                Date.now() - (window.__lwChanged || 0), \
                sel ? document.querySelector(sel) !== null : false];";

    impl Browser {
        /// Take an idle session or open one (starting chromedriver when none runs).
        async fn take(&self, settings: &FetchSettings) -> Result<Session, FetchError> {
            let mut st = self.state.lock().await;
            if st.driver.as_mut().is_some_and(|d| !d.alive()) {
                tracing::warn!("chromedriver ended: starting it again");
                st.idle.clear();
                st.driver = None;
            }
            if let Some(s) = st.idle.pop() {
                return Ok(s);
            }
            if st.driver.is_none() {
                st.driver = Some(Driver::start().await?);
            }
            let driver = st.driver.as_ref().expect("just started");
            driver.session(settings).await
        }

        /// Load `url`, wait for it to settle, and return its rendered DOM.
        pub(crate) async fn fetch(
            &self,
            settings: &FetchSettings,
            url: &str,
            settle: Option<&str>,
        ) -> Result<Fetched, FetchError> {
            let _tab = self
                .tabs
                .clone()
                .acquire_owned()
                .await
                .expect("the tab semaphore is never closed");
            let session = self.take(settings).await?;
            // The whole load, settle and read, bounded: a hung browser does not hold the
            // blog (or the tab) longer than the fetch timeout.
            let limit = settings.timeout + Duration::from_secs(5);
            let r = tokio::time::timeout(limit, render(&session.client, url, settle, settings))
                .await
                .unwrap_or(Err(Rendered::Hung));
            match r {
                Ok((final_url, body)) => {
                    self.state.lock().await.idle.push(session);
                    self.check_memory(settings.browser_memory).await;
                    if body.len() as u64 > settings.max_body {
                        return Err(FetchError::TooLarge {
                            cap: settings.max_body,
                        });
                    }
                    let body = body.into_bytes();
                    Ok(Fetched::Page(Response {
                        final_url,
                        len: body.len(),
                        hash: crate::fetch::body_hash(&body),
                        body,
                        content_type: Some("text/html; charset=utf-8".into()),
                        validators: Validators::default(),
                    }))
                }
                Err(Rendered::Page(e)) => {
                    // The page's fault (not reachable, timed out loading): the session is fine.
                    self.state.lock().await.idle.push(session);
                    Err(e)
                }
                Err(Rendered::Hung) => {
                    tracing::warn!(blog = %url, "the browser did not answer within {limit:?}: restarting it");
                    self.restart().await;
                    Err(FetchError::Timeout(settings.timeout))
                }
                Err(Rendered::Dead(e)) => {
                    tracing::warn!(blog = %url, "the browser session failed ({e}): restarting it");
                    self.restart().await;
                    Err(FetchError::Other(format!("the browser failed: {e}")))
                }
            }
        }

        /// Restart the browser when chromedriver and its browsers hold more than `cap`
        /// bytes (proportional set size, so pages shared between Chromium's processes
        /// count once). Measured at most every [`MEMORY_EVERY`].
        async fn check_memory(&self, cap: u64) {
            let pgid = {
                let st = self.state.lock().await;
                match st.driver.as_ref().and_then(|d| d.child.id()) {
                    Some(pid) => pid,
                    None => return,
                }
            };
            {
                let mut last = self.measured.lock().await;
                if last.is_some_and(|t| t.elapsed() < MEMORY_EVERY) {
                    return;
                }
                *last = Some(std::time::Instant::now());
            }
            let held = tokio::task::spawn_blocking(move || group_pss(pgid))
                .await
                .unwrap_or(0);
            if held > cap {
                tracing::warn!(
                    held_mib = held >> 20,
                    cap_mib = cap >> 20,
                    "the browser grew past browser_memory: restarting it"
                );
                self.restart().await;
            }
        }

        /// End chromedriver and every browser: the next fetch starts afresh.
        async fn restart(&self) {
            let mut st = self.state.lock().await;
            st.idle.clear();
            st.driver = None;
        }
    }

    enum Rendered {
        /// The page could not be loaded; the session still works.
        Page(FetchError),
        /// A command did not answer in time.
        Hung,
        /// The session or the driver failed.
        Dead(String),
    }

    async fn render(
        client: &Client,
        url: &str,
        settle: Option<&str>,
        settings: &FetchSettings,
    ) -> Result<(String, String), Rendered> {
        use fantoccini::error::CmdError;
        let dead = |e: CmdError| Rendered::Dead(e.to_string());
        if let Err(e) = client.goto(url).await {
            return Err(match &e {
                CmdError::Standard(w)
                    if w.error != fantoccini::error::ErrorStatus::InvalidSessionId =>
                {
                    let msg = w.message.to_string();
                    if w.error == fantoccini::error::ErrorStatus::Timeout
                        || msg.contains("Timed out")
                    {
                        Rendered::Page(FetchError::Timeout(settings.timeout))
                    } else {
                        Rendered::Page(FetchError::Other(format!(
                            "the browser could not load the page: {}",
                            crate::text::truncate(msg.lines().next().unwrap_or(""), 200)
                        )))
                    }
                }
                _ => dead(e),
            });
        }
        client.execute(OBSERVE, vec![]).await.map_err(dead)?;
        let start = tokio::time::Instant::now();
        let arg = settle.map(Value::from).unwrap_or(Value::Null);
        loop {
            let v = client
                .execute(PROBE, vec![arg.clone()])
                .await
                .map_err(dead)?;
            let complete = v[0].as_bool().unwrap_or(false);
            let quiet = v[1].as_u64().unwrap_or(0);
            let found = v[2].as_bool().unwrap_or(false);
            let settled = match settle {
                Some(_) => found,
                None => complete && quiet >= QUIET.as_millis() as u64,
            };
            if settled || start.elapsed() >= settings.timeout {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let html = client
            .execute("return document.documentElement.outerHTML;", vec![])
            .await
            .map_err(dead)?;
        let final_url = client.current_url().await.map_err(dead)?.to_string();
        Ok((
            final_url,
            format!("<!DOCTYPE html>{}", html.as_str().unwrap_or("")),
        ))
    }
}
