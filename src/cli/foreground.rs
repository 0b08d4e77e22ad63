//! The commands that follow blogs until stopped: `watch` and `demo` (a config built from
//! their arguments) and `run` (the daemon on its config file).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use toml::Spanned;

use super::{duration_arg, interval_arg, state_dir, DemoArgs, RunArgs, UsageError, WatchArgs};
use crate::config::{self, Config, ConfigFile, NotifierFile, WatchFile};
use crate::control::{serve, Reload};

/// A `[[watch]]` of a foreground command, from its arguments.
struct ArgWatch {
    url: String,
    name: Option<String>,
    interval: Duration,
    adaptive: bool,
    announce_existing: Option<usize>,
    /// The argument it came from, named in its errors (`URL …`).
    origin: String,
}

/// The config of a foreground command (`watch`, `demo`), built from its arguments: the
/// `watches`, then a stdout notifier and the `--notify` targets. An error names the
/// argument it is about (a usage error, exit 2).
fn foreground_config(watches: Vec<ArgWatch>, json: bool, notify: &[String]) -> Result<Config> {
    // Every value's span is the index of the argument it came from, in `origins`.
    let mut origins: Vec<String> = Vec::new();
    let at = |i: usize, s: &str| Spanned::new(i..i + 1, s.to_string());
    let mut raw = ConfigFile::default();
    for w in watches {
        let i = origins.len();
        let mut f = WatchFile::new(at(i, &w.url));
        f.name = w.name;
        f.interval = Some(Spanned::new(i..i + 1, config::Dur(w.interval)));
        f.adaptive = Some(w.adaptive);
        f.announce_existing = w.announce_existing;
        raw.watch.push(f);
        origins.push(w.origin);
    }
    let i = origins.len();
    let mut stdout = NotifierFile::new(at(i, "stdout"), at(i, "stdout"));
    stdout.json = Some(json);
    stdout.burst = Some(0);
    raw.notifier.push(stdout);
    origins.push("stdout".into());
    for (n, spec) in notify.iter().enumerate() {
        let i = origins.len();
        let (kind, url) = match spec.split_once('=') {
            Some((k, u)) => (k.trim(), Some(u.trim())),
            None => (spec.trim(), None),
        };
        let mut f = NotifierFile::new(at(i, &format!("{kind}-{}", n + 1)), at(i, kind));
        f.url = url.map(|u| at(i, u));
        raw.notifier.push(f);
        origins.push(format!("--notify {spec}"));
    }
    raw.validate(&|k| std::env::var(k).ok()).map_err(|issues| {
        let lines: Vec<String> = issues
            .iter()
            .map(|e| {
                let message = e
                    .message
                    .replace("needs url = \"…\"", "needs a URL: --notify TYPE=URL");
                format!("{}: {message}", origins[e.span.start])
            })
            .collect();
        anyhow::Error::new(UsageError(lines.join("\nlivewatch: ")))
    })
}

pub(super) async fn watch(a: WatchArgs) -> Result<ExitCode> {
    let interval = interval_arg("--interval", &a.interval)?;
    let watches = a
        .urls
        .iter()
        .map(|u| ArgWatch {
            url: u.clone(),
            name: None,
            interval,
            adaptive: !a.no_adaptive,
            announce_existing: Some(a.announce_existing),
            origin: format!("URL {u}"),
        })
        .collect();
    let cfg = foreground_config(watches, a.json, &a.notify)?;
    crate::notify::stdout::stop_when_closed();
    let dir = state_dir(a.state, None);
    serve(cfg, dir, None, None).await
}

/// How often `demo` polls its blog.
const DEMO_INTERVAL: Duration = Duration::from_secs(1);

pub(super) async fn demo(a: DemoArgs) -> Result<ExitCode> {
    let duration = a
        .duration
        .as_deref()
        .map(|d| duration_arg("--for", d))
        .transpose()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1")?;
    let url = format!("http://{}/", listener.local_addr()?);
    let (title, posts) = crate::demo::source()?;
    let title = title.unwrap_or_else(|| crate::demo::NAME.to_string());
    let watch = ArgWatch {
        url: url.clone(),
        name: Some(crate::demo::NAME.to_string()),
        interval: DEMO_INTERVAL,
        adaptive: false,
        announce_existing: None,
        origin: "demo".into(),
    };
    let cfg = foreground_config(vec![watch], a.json, &a.notify)?;
    crate::notify::stdout::stop_when_closed();
    let state = tempfile::Builder::new()
        .prefix("livewatch-demo-")
        .tempdir()
        .context("cannot create a temporary state directory")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let script = crate::demo::Script::new(posts, chrono::Utc::now(), &url);
    let over = script.length() + Duration::from_secs(3);
    let server = tokio::spawn(crate::demo::serve(listener, title, script, stop_rx));
    if duration.is_none_or(|d| d > over) {
        tokio::spawn(async move {
            tokio::time::sleep(over).await;
            eprintln!("livewatch demo: that was the whole script; the blog changes no more. Ctrl-C to stop.");
        });
    }
    let until = match duration {
        Some(d) => format!(
            "for {}",
            humantime::format_duration(Duration::from_secs(d.as_secs().max(1)))
        ),
        None => "until Ctrl-C".to_string(),
    };
    eprintln!(
        "livewatch demo: serving a demo live blog at {url}\n  \
         (built from {}; open it in a browser to see it change)\n  \
         and watching it every {every} {until}: expect a new post within ~{s} s, then an edit, \
         a correction and a removal, ~{s} s apart{also}.\n  \
         State is kept in a temporary directory, removed at exit.",
        crate::demo::SOURCE_LABEL,
        every = humantime::format_duration(DEMO_INTERVAL),
        s = crate::demo::STEP.as_secs(),
        also = if a.notify.is_empty() {
            ""
        } else {
            " (also sent to your --notify targets)"
        },
    );
    let code = serve(cfg, state.path().to_path_buf(), None, duration).await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    state
        .close()
        .context("cannot remove the temporary state directory")?;
    code
}

pub(super) async fn run(a: RunArgs) -> Result<ExitCode> {
    let reload = Reload {
        path: a.config.unwrap_or_else(config::default_config_path),
        no_adaptive: a.no_adaptive,
    };
    let cfg = reload.load()?;
    let dir = state_dir(a.state, Some(&cfg));
    serve(cfg, dir, Some(reload), None).await
}
