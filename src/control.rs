//! The daemon's control loop, as a service manager sees it: start the daemon (and the
//! HTTP endpoint), stop on SIGTERM/SIGINT, reload the config on SIGHUP, feed systemd's
//! watchdog and `STATUS=` line (sd-notify), and warn of events no notifier will take.
//! `cli` parses the arguments and calls [`serve`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::{self, Config, ConfigErrors};
use crate::daemon::supervisor::{self, Supervisor};
use crate::daemon::Daemon;
use crate::text::plural;

/// Where SIGHUP reloads the config from (`livewatch run`), and how.
#[derive(Debug, Clone)]
pub(crate) struct Reload {
    pub path: PathBuf,
    /// `--no-adaptive`: every watch keeps its interval fixed.
    pub no_adaptive: bool,
}

impl Reload {
    /// Read and validate the config, with the command line's overrides applied.
    pub(crate) fn load(&self) -> Result<Config, ConfigErrors> {
        let mut cfg = config::load(&self.path)?;
        if self.no_adaptive {
            cfg.watches.iter_mut().for_each(|w| w.adaptive = false);
        }
        Ok(cfg)
    }
}

/// Run the daemon until SIGINT/SIGTERM (or until `stop_after` has passed); reload on
/// SIGHUP when there is a config file.
pub(crate) async fn serve(
    cfg: Config,
    dir: PathBuf,
    reload_from: Option<Reload>,
    stop_after: Option<Duration>,
) -> Result<ExitCode> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let mut daemon = Daemon::new(cfg, dir.clone())
        .with_context(|| format!("cannot start with state dir {}", dir.display()))?;
    daemon.start();
    let watches = Arc::new(RwLock::new(daemon.config().watches.clone()));
    let server = daemon.config().listen.map(|addr| {
        let state = crate::server::AppState {
            store: daemon.store().clone(),
            watches: watches.clone(),
            committed: daemon.shared().committed.subscribe(),
            health: daemon.shared().health.clone(),
            stuck_after: crate::daemon::stuck_after(daemon.shared().fetcher.settings().timeout),
            api: crate::server::api::Api::new(&daemon),
        };
        let stop = daemon.shutdown_signal();
        tokio::spawn(async move {
            if let Err(e) = crate::server::serve(addr, state, stop).await {
                tracing::error!(%addr, "HTTP endpoint failed: {e}");
            }
        })
    });
    tracing::info!(blogs = daemon.blog_count(), state = %dir.display(), "livewatch running");
    warn_undeliverable(&daemon).await;
    let mut supervisor = Supervisor::from_env();
    let health = daemon.shared().health.clone();
    supervisor.tick(&health);
    supervisor.ready();
    refresh_status(&daemon, &mut supervisor).await;
    // The control loop's own ticks feed the watchdog and /healthz: if this loop stalls,
    // both notice.
    let stuck_limit = crate::daemon::stuck_after(daemon.shared().fetcher.settings().timeout);
    let mut stuck_reported = false;
    let mut tick = tokio::time::interval(supervisor.tick_period());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut status_every = tokio::time::interval(crate::daemon::supervisor::STATUS_EVERY);
    status_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let deadline = async {
        match stop_after {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = &mut deadline => break,
            _ = tick.tick() => {
                // A blog task stuck in one poll stops the watchdog pings (systemd then
                // restarts the service) and turns /healthz red.
                match health.stuck(stuck_limit) {
                    Some((url, age)) => {
                        if !stuck_reported {
                            tracing::error!(blog = %url, "a poll has been running for {age:?}: the blog task is stuck; no more watchdog pings");
                            stuck_reported = true;
                        }
                    }
                    None => {
                        stuck_reported = false;
                        supervisor.tick(&health);
                    }
                }
            }
            _ = status_every.tick() => refresh_status(&daemon, &mut supervisor).await,
            _ = hup.recv() => {
                let Some(reload) = &reload_from else {
                    tracing::info!("SIGHUP ignored: no config file to reload");
                    continue;
                };
                supervisor.reloading();
                match reload.load() {
                    Ok(cfg) => {
                        daemon.reload(cfg).await;
                        // The API's watches too: their series must not be dropped.
                        let all = daemon.api_watches().all_watches();
                        let urls: Vec<&str> = all.iter().map(|w| w.url.as_str()).collect();
                        crate::metrics::global().retain_blogs(&urls);
                        *watches.write().unwrap_or_else(|e| e.into_inner()) = daemon.config().watches.clone();
                    }
                    Err(e) => tracing::error!("new configuration refused, keeping the old one:\n{e}"),
                }
                supervisor.tick(&health);
                supervisor.ready();
                refresh_status(&daemon, &mut supervisor).await;
            }
        }
    }
    tracing::info!("stopping");
    supervisor.stopping();
    daemon.shutdown(Duration::from_secs(4)).await;
    warn_undeliverable(&daemon).await;
    if let Some(h) = server {
        let _ = tokio::time::timeout(Duration::from_millis(500), h).await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Events queued for a notifier the config no longer has are never delivered: say so
/// (at start and at stop), and how to forget them.
async fn warn_undeliverable(daemon: &Daemon) {
    let store = daemon.store().clone();
    let Ok(Ok(rows)) = tokio::time::timeout(
        Duration::from_secs(2),
        store.call(|s| s.undelivered_by_notifier()),
    )
    .await
    else {
        return;
    };
    for (name, n) in rows {
        if !daemon.config().notifiers.iter().any(|s| s.name == name) {
            tracing::warn!(
                notifier = %name,
                "{} queued for notifier {name:?}, which is not in the configuration: they will not be delivered. Put the notifier back, or forget them with `livewatch outbox drop {name}`",
                plural(n, "event is", "events are")
            );
        }
    }
}

/// Recompute the one-line `STATUS=` for the service manager.
async fn refresh_status(daemon: &Daemon, supervisor: &mut Supervisor) {
    let store = daemon.store().clone();
    // A busy store must not hold up the control loop (and with it the watchdog) for long.
    let pending = tokio::time::timeout(Duration::from_secs(2), store.call(|s| s.outbox_depth()))
        .await
        .ok()
        .and_then(Result::ok)
        .map(|(pending, _dead)| pending);
    let last_error = crate::metrics::global().last_error();
    supervisor.status(supervisor::status_line(
        daemon.blog_count(),
        pending,
        last_error.as_ref(),
    ));
}
