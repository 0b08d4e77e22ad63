//! The command line (`livewatch --help`). Commands and options are the public interface
//! in the README; `main.rs` only calls [`main`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config};
use crate::daemon::supervisor::{self, Supervisor};
use crate::daemon::Daemon;
use crate::extract::{self, Page, Strategy};
use crate::store::Store;

/// Follow news live blogs post by post: new posts, edits, corrections and removals.
#[derive(Debug, Parser)]
#[command(name = "livewatch", version, about, propagate_version = true)]
pub struct Cli {
    /// More logging (-v debug for livewatch, -vv everything). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors in the log.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Follow live blogs in the foreground, no config file needed.
    Watch(WatchArgs),
    /// The daemon: watch every blog in the config until SIGTERM/SIGINT; SIGHUP reloads.
    Run(RunArgs),
    /// Fetch (or read) a page once and print its posts, newest first. Stores nothing.
    Check(CheckArgs),
    /// Config file commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Send one test event to every configured notifier and say what happened.
    NotifyTest(ConfigArgs),
    /// Show each blog's state: last poll, posts seen, errors, pending events.
    Status(StatusArgs),
    /// List pending and dead-lettered events; `outbox retry` re-queues the dead ones,
    /// `outbox drop NOTIFIER` forgets those of a notifier.
    Outbox(OutboxArgs),
    /// Save each distinct response of a blog (body, headers, fetch time) into DIR.
    Record(RecordArgs),
    /// Run the pipeline over a recording offline; print the events the daemon would have sent.
    Replay(ReplayArgs),
    /// See livewatch work: serve a built-in live blog on 127.0.0.1 that changes (a new
    /// post, an edit, a correction, a removal within the first minute) and watch it.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Stop after this long (e.g. 60s, 5m; default: until Ctrl-C).
    #[arg(long = "for", value_name = "D")]
    duration: Option<String>,
    /// Print events as JSON lines instead of readable lines.
    #[arg(long)]
    json: bool,
    /// Also send events to: desktop, webhook=URL, slack=URL, discord=URL, ntfy=URL.
    #[arg(long = "notify", value_name = "SPEC")]
    notify: Vec<String>,
}

#[derive(Debug, Args)]
struct RecordArgs {
    /// The live blog URL.
    url: String,
    /// Directory for the recording (created; must not already hold one).
    dir: PathBuf,
    /// Poll interval (at least 100ms).
    #[arg(long, default_value = "30s")]
    every: String,
    /// Stop after this long (default: until Ctrl-C / SIGTERM).
    #[arg(long = "for", value_name = "D")]
    duration: Option<String>,
    /// Fetch as the daemon would with this config (user_agent, timeouts, max_body).
    #[arg(long, short)]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// A directory written by `livewatch record`.
    dir: PathBuf,
    /// One JSON event object per line (as `watch --json` prints them).
    #[arg(long)]
    json: bool,
    /// Blog URL for the events (default: the recorded URL, which gives the live event ids).
    #[arg(long)]
    url: Option<String>,
    /// The watch's name (the events' blog title), as in the config.
    #[arg(long)]
    name: Option<String>,
    /// Use only this extractor: auto, jsonld, microdata, generic, or a site profile name.
    #[arg(long, value_parser = extractor_name)]
    extractor: Option<String>,
}

/// A `--extractor` value: a known name, else a usage error listing them.
fn extractor_name(s: &str) -> Result<String, String> {
    let names = config::extractor_names();
    if names.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown extractor; the extractors are {}",
            names.join(", ")
        ))
    }
}

#[derive(Debug, Args)]
struct WatchArgs {
    /// Live blog URLs.
    #[arg(required = true)]
    urls: Vec<String>,
    /// Poll interval (e.g. 30s, 5m; at least 100ms).
    #[arg(long, default_value = "60s")]
    interval: String,
    /// Also send events to: desktop, webhook=URL, slack=URL, discord=URL, ntfy=URL.
    #[arg(long = "notify", value_name = "SPEC")]
    notify: Vec<String>,
    /// Print events as JSON lines instead of readable lines.
    #[arg(long)]
    json: bool,
    /// State directory (default: $STATE_DIRECTORY or $XDG_STATE_HOME/livewatch).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Keep the interval fixed (no adaptive polling).
    #[arg(long)]
    no_adaptive: bool,
    /// On the first poll, announce the newest N posts instead of a silent baseline.
    #[arg(long, default_value_t = 0)]
    announce_existing: usize,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Config file (default: $XDG_CONFIG_HOME/livewatch/config.toml).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// State directory (overrides the config's state_dir).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Keep every watch's interval fixed.
    #[arg(long)]
    no_adaptive: bool,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// A URL to fetch, or a saved HTML file.
    target: String,
    /// One post object per line.
    #[arg(long)]
    json: bool,
    /// Use only this extractor: auto, jsonld, microdata, generic, or a site profile name.
    #[arg(long, value_parser = extractor_name)]
    extractor: Option<String>,
    /// The page's URL, when TARGET is a file (to resolve links and pick a site profile).
    #[arg(long)]
    url: Option<String>,
    /// Use this config's fetch settings, and the extractor or `[watch.selectors]` of its
    /// watch for this URL (to try a CSS profile before the daemon uses it).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The fetch time of a saved FILE (RFC 3339), to resolve relative times ("12 min ago")
    /// and bare clocks; without it a file has none and those times stay null.
    #[arg(long, value_name = "TIME", value_parser = parse_at)]
    at: Option<chrono::DateTime<chrono::Utc>>,
}

fn parse_at(s: &str) -> std::result::Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-11-20T15:00:00Z: {e}"))
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a config; errors are printed as FILE:LINE:COL: message (exit 2).
    Check {
        /// Config file (default: $XDG_CONFIG_HOME/livewatch/config.toml).
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Config file (default: $XDG_CONFIG_HOME/livewatch/config.toml).
    #[arg(long, short)]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Config file, for the watches' names and the state_dir (default:
    /// $XDG_CONFIG_HOME/livewatch/config.toml, when it exists).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// State directory (default: the config's state_dir, else $STATE_DIRECTORY or
    /// $XDG_STATE_HOME/livewatch).
    #[arg(long)]
    state: Option<PathBuf>,
    /// One JSON object per blog.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct OutboxArgs {
    /// Config file, to tell which notifiers still exist and for the state_dir (default:
    /// $XDG_CONFIG_HOME/livewatch/config.toml, when it exists).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// State directory (default: the config's state_dir, else $STATE_DIRECTORY or
    /// $XDG_STATE_HOME/livewatch).
    #[arg(long)]
    state: Option<PathBuf>,
    /// `retry`: put dead-lettered events back in the queue. `drop NOTIFIER`: forget the
    /// undelivered events of that notifier (e.g. one removed from the config).
    #[arg(value_parser = ["retry", "drop"])]
    action: Option<String>,
    /// The notifier for `drop`.
    notifier: Option<String>,
}

/// Run the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(
        cli.command,
        Command::Run(_) | Command::Watch(_) | Command::Demo(_)
    ) {
        // One-shot commands end quietly when their reader goes (`livewatch status | head`),
        // as other Unix tools do. The daemon commands keep ignoring SIGPIPE (a closed
        // socket must not kill them); `watch` and `demo` stop when their stdout closes.
        #[cfg(unix)]
        // SAFETY: restores the default disposition of one signal before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let verbosity = if cli.quiet { -1 } else { cli.verbose as i8 };
    match cli.command {
        // The demo talks to a newcomer: its own lines and the events, warnings only.
        Command::Demo(_) if verbosity == 0 => crate::telemetry::init_with("warn"),
        _ => crate::telemetry::init(verbosity),
    }
    let result = match cli.command {
        Command::Check(a) => check(a),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => config_check(file),
        Command::Watch(a) => runtime().and_then(|rt| rt.block_on(watch(a))),
        Command::Run(a) => runtime().and_then(|rt| rt.block_on(run(a))),
        Command::NotifyTest(a) => runtime().and_then(|rt| rt.block_on(notify_test(a))),
        Command::Status(a) => status(a),
        Command::Outbox(a) => outbox(a),
        Command::Record(a) => runtime().and_then(|rt| rt.block_on(record(a))),
        Command::Replay(a) => runtime().and_then(|rt| rt.block_on(replay(a))),
        Command::Demo(a) => runtime().and_then(|rt| rt.block_on(demo(a))),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(ce) = e.downcast_ref::<config::ConfigErrors>() {
                eprintln!("{ce}");
                return ExitCode::from(2);
            }
            if let Some(u) = e.downcast_ref::<UsageError>() {
                eprintln!("livewatch: {u}");
                return ExitCode::from(2);
            }
            eprintln!("livewatch: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Did writing to a closed pipe cause `e` (the reader of our output went away)?
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// glibc gives every thread its own malloc arena (up to 8 per core) and keeps their memory
/// after a burst of page parsing: with 10,000 blogs the daemon stayed at 4.3 GiB resident
/// after a start-up burst (docs/performance.md). Two arenas cost little contention on a
/// small machine. `MALLOC_ARENA_MAX` in the environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator tunable; called before any other thread
        // of ours exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// The async runtime of every command (public for the load bench).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("livewatch")
        // Blocking work is SQLite calls and page extraction (itself bounded by
        // `Shared::parsing`); 64 threads are plenty and bound glibc's per-thread arenas.
        .max_blocking_threads(64)
        // An idle blocking thread exits after 2 s instead of tokio's 10 s: the start-up
        // burst (a store read per blog) spawned all 64, and work every few hundred ms,
        // handed to any idle thread, kept them all alive (each with its touched stack).
        .thread_keep_alive(std::time::Duration::from_secs(2))
        .build()
        .context("cannot start the async runtime")
}

fn load_config(path: Option<PathBuf>) -> Result<Config> {
    let path = path.unwrap_or_else(config::default_config_path);
    Ok(config::load(&path)?)
}

fn state_dir(arg: Option<PathBuf>, cfg: Option<&Config>) -> PathBuf {
    arg.or_else(|| cfg.and_then(|c| c.state_dir.clone()))
        .unwrap_or_else(config::default_state_dir)
}

fn config_check(file: Option<PathBuf>) -> Result<ExitCode> {
    let cfg = load_config(file)?;
    println!(
        "{}: ok ({} watches, {} notifiers)",
        cfg.path.as_deref().unwrap_or(Path::new("?")).display(),
        cfg.watches.len(),
        cfg.notifiers.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// TOML for a `[[notifier]]` from a `--notify` spec such as `webhook=URL`.
fn notifier_toml(i: usize, spec: &str) -> String {
    let (kind, url) = match spec.split_once('=') {
        Some((k, u)) => (k.trim(), Some(u.trim())),
        None => (spec.trim(), None),
    };
    let mut t = format!(
        "[[notifier]]\nname = \"{kind}-{i}\"\ntype = {}\n",
        toml_str(kind)
    );
    if let Some(u) = url {
        t.push_str(&format!("url = {}\n", toml_str(u)));
    }
    t
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The config of a foreground command (`watch`, `demo`), built from its arguments:
/// `watches` are (TOML of a `[[watch]]`, the argument it came from); then a stdout
/// notifier and the `--notify` targets. An error names the argument, not a line of this
/// generated text (a usage error, exit 2).
fn foreground_config(
    watches: &[(String, String)],
    json: bool,
    notify: &[String],
) -> Result<Config> {
    let mut pieces: Vec<(String, String)> = watches.to_vec();
    pieces.push((
        format!("[[notifier]]\nname = \"stdout\"\ntype = \"stdout\"\njson = {json}\nburst = 0\n"),
        "stdout".into(),
    ));
    for (i, spec) in notify.iter().enumerate() {
        pieces.push((notifier_toml(i + 1, spec), format!("--notify {spec}")));
    }
    let mut text = String::new();
    let mut starts = Vec::new();
    for (t, _) in &pieces {
        starts.push(text.lines().count() + 1);
        text.push_str(t);
    }
    config::parse(&text, "command line", &|k| std::env::var(k).ok()).map_err(|errors| {
        let lines: Vec<String> = errors
            .0
            .iter()
            .map(|e| {
                let piece = starts.iter().rposition(|&s| s <= e.line).unwrap_or(0);
                let message = e
                    .message
                    .replace("needs url = \"…\"", "needs a URL: --notify TYPE=URL");
                format!("{}: {message}", pieces[piece].1)
            })
            .collect();
        anyhow::Error::new(UsageError(lines.join("\nlivewatch: ")))
    })
}

async fn watch(a: WatchArgs) -> Result<ExitCode> {
    let interval = duration_arg("--interval", &a.interval)?;
    if interval < config::MIN_INTERVAL {
        anyhow::bail!(UsageError(format!(
            "--interval {}: the shortest interval is 100ms",
            a.interval
        )));
    }
    let watches: Vec<(String, String)> = a
        .urls
        .iter()
        .map(|u| {
            let t = format!(
                "[[watch]]\nurl = {}\ninterval = {}\nadaptive = {}\nannounce_existing = {}\n",
                toml_str(u),
                toml_str(&a.interval),
                !a.no_adaptive,
                a.announce_existing
            );
            (t, format!("URL {u}"))
        })
        .collect();
    let cfg = foreground_config(&watches, a.json, &a.notify)?;
    crate::notify::stdout::stop_when_closed();
    let dir = state_dir(a.state, None);
    serve(cfg, dir, None, None).await
}

/// How often `demo` polls its blog.
const DEMO_INTERVAL: &str = "1s";

async fn demo(a: DemoArgs) -> Result<ExitCode> {
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
    let watches = format!(
        "[[watch]]\nurl = {}\nname = {}\ninterval = \"{DEMO_INTERVAL}\"\nadaptive = false\n",
        toml_str(&url),
        toml_str(crate::demo::NAME),
    );
    let cfg = foreground_config(&[(watches, "demo".into())], a.json, &a.notify)?;
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
         and watching it every {DEMO_INTERVAL} {until}: expect a new post within ~{s} s, then an edit, \
         a correction and a removal, ~{s} s apart{also}.\n  \
         State is kept in a temporary directory, removed at exit.",
        crate::demo::SOURCE_LABEL,
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

async fn run(a: RunArgs) -> Result<ExitCode> {
    let path = a.config.clone().unwrap_or_else(config::default_config_path);
    let mut cfg = load_config(Some(path.clone()))?;
    if a.no_adaptive {
        cfg.watches.iter_mut().for_each(|w| w.adaptive = false);
    }
    let dir = state_dir(a.state.clone(), Some(&cfg));
    serve(cfg, dir, Some((path, a)), None).await
}

/// Run the daemon until SIGINT/SIGTERM (or until `stop_after` has passed); reload on
/// SIGHUP when there is a config file.
async fn serve(
    cfg: Config,
    dir: PathBuf,
    reload_from: Option<(PathBuf, RunArgs)>,
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
                let Some((path, args)) = &reload_from else {
                    tracing::info!("SIGHUP ignored: no config file to reload");
                    continue;
                };
                supervisor.reloading();
                match config::load(path) {
                    Ok(mut cfg) => {
                        if args.no_adaptive {
                            cfg.watches.iter_mut().for_each(|w| w.adaptive = false);
                        }
                        daemon.reload(cfg).await;
                        let urls: Vec<&str> = daemon.config().watches.iter().map(|w| w.url.as_str()).collect();
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

fn check(a: CheckArgs) -> Result<ExitCode> {
    let fetched_at = a.at.unwrap_or_else(chrono::Utc::now);
    // A saved file has no fetch time of its own: only `--at` gives one.
    let mut clocked = true;
    let cfg = a.config.clone().map(|p| load_config(Some(p))).transpose()?;
    let fetch_settings = cfg.as_ref().map(|c| c.fetch.clone()).unwrap_or_default();
    let is_url =
        url::Url::parse(&a.target).is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https");
    if !is_url && !Path::new(&a.target).exists() {
        anyhow::bail!(UsageError(format!(
            "{}: no such file (to fetch a page, give its http:// or https:// URL)",
            a.target
        )));
    }
    let mut fetched = None;
    let (body, url, content_type) = if !is_url {
        let body = std::fs::read(&a.target).with_context(|| format!("cannot read {}", a.target))?;
        clocked = a.at.is_some();
        let url = a.url.clone().unwrap_or_else(|| {
            let abs = std::fs::canonicalize(&a.target).unwrap_or_else(|_| PathBuf::from(&a.target));
            format!("file://{}", abs.display())
        });
        (body, url, None)
    } else {
        let rt = runtime()?;
        let fetcher = crate::fetch::Fetcher::new(fetch_settings)?;
        let r = rt.block_on(fetcher.fetch(&a.target, &Default::default()));
        match r.with_context(|| format!("cannot fetch {}", a.target))? {
            crate::fetch::Fetched::Page(p) => {
                let parts = (p.body.clone(), p.final_url.clone(), p.content_type.clone());
                fetched = Some((rt, fetcher, p));
                parts
            }
            crate::fetch::Fetched::NotModified => {
                anyhow::bail!("the server answered 304 to an unconditional GET")
            }
        }
    };
    let page = Page {
        url: &url,
        body: &body,
        content_type: content_type.as_deref(),
        fetched_at,
    };
    let watched = cfg.as_ref().and_then(|c| {
        let wanted = [
            Some(a.target.as_str()),
            a.url.as_deref(),
            Some(url.as_str()),
        ];
        c.watches
            .iter()
            .find(|w| wanted.contains(&Some(w.url.as_str())))
    });
    let strategy = match a.extractor {
        Some(n) if n != "auto" => Strategy::Named(n),
        Some(_) => Strategy::Auto,
        None => watched.map(|w| w.strategy.clone()).unwrap_or_default(),
    };
    // A page that embeds a vendor feed livewatch reads: the feed's posts, as the daemon
    // would follow it.
    let feed = match (&fetched, &strategy) {
        (Some((rt, fetcher, resp)), Strategy::Auto) => {
            rt.block_on(crate::fetch::feed::follow(fetcher, resp, fetched_at))
        }
        _ => None,
    };
    if let Some((f, _)) = &feed {
        eprintln!("{} embed: following its feed {}", f.vendor.name(), f.url);
    }
    let ex = if let Some((f, r)) = feed {
        match r.with_context(|| format!("cannot fetch the feed {}", f.url))? {
            crate::fetch::Fetched::Page(p) => f.extract(&p.body),
            crate::fetch::Fetched::NotModified => {
                anyhow::bail!("the feed answered 304 to an unconditional GET")
            }
        }
    } else if clocked {
        extract::extract(&page, &strategy)
    } else {
        extract::extract_unclocked(&page, &strategy)
    };
    if ex.posts.is_empty() {
        eprintln!("no posts found in {}", a.target);
        for at in &ex.attempts {
            eprintln!("  {}: {}", at.extractor, at.reason);
        }
        return Ok(ExitCode::from(1));
    }
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if a.json {
        for p in &ex.posts {
            writeln!(out, "{}", serde_json::to_string(p)?)?;
        }
    } else {
        writeln!(
            out,
            "{} — {} posts ({})",
            ex.title.as_deref().unwrap_or(&url),
            ex.posts.len(),
            ex.extractor
        )?;
        if let Some(l) = &ex.layout {
            writeln!(out, "layout: {}", layout_line(l))?;
        }
        match &ex.runner_up {
            Some(r) => writeln!(out, "runner-up: {}", layout_line(r))?,
            None if ex.layout.is_some() => writeln!(out, "runner-up: none")?,
            None => {}
        }
        for p in &ex.posts {
            let time = p
                .published
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "(no time)".into());
            writeln!(
                out,
                "\n{time}  {}",
                p.headline.as_deref().unwrap_or("(no headline)")
            )?;
            if let Some(b) = &p.byline {
                writeln!(out, "  by {b}")?;
            }
            let first = p.body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            writeln!(out, "  {}", crate::text::truncate(first, 160))?;
            writeln!(out, "  id: {}", p.id)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// "flat feed (time markers) at div#mainBodyArea, 38 posts, score 21034".
fn layout_line(l: &extract::generic::Layout) -> String {
    format!(
        "{} at {}, {} posts, score {:.0}",
        l.kind,
        crate::text::collapse_ws(&l.at),
        l.posts,
        l.score
    )
}

async fn notify_test(a: ConfigArgs) -> Result<ExitCode> {
    let cfg = load_config(a.config)?;
    if cfg.notifiers.is_empty() {
        println!("no notifiers configured");
        return Ok(ExitCode::from(1));
    }
    let fetcher = crate::fetch::Fetcher::new(cfg.fetch.clone())?;
    let now = chrono::Utc::now();
    let mut post = crate::model::Post::new(
        "livewatch-test",
        "This is a test event from livewatch notify-test.",
    );
    post.headline = Some("livewatch test notification".into());
    post.published = Some(now);
    let event = crate::model::Event {
        id: format!("evt_test_{}", now.timestamp_millis()),
        kind: crate::model::EventKind::Test,
        detected_at: now,
        blog: crate::model::BlogRef {
            url: "https://example.org/livewatch-test".into(),
            title: Some("livewatch".into()),
        },
        post: Some(post),
        previous: None,
        diff: None,
        message: None,
    };
    let mut failed = 0;
    for spec in &cfg.notifiers {
        let n = crate::notify::build(spec, fetcher.client());
        let d = crate::notify::Delivery {
            event: &event,
            earlier_remote_id: None,
            attempt: 1,
        };
        match tokio::time::timeout(spec.timeout + Duration::from_secs(5), n.deliver(&d)).await {
            Ok(Ok(_)) => println!("{} ({}): delivered", spec.name, spec.kind.type_name()),
            Ok(Err(e)) => {
                failed += 1;
                println!("{} ({}): FAILED: {e}", spec.name, spec.kind.type_name())
            }
            Err(_) => {
                failed += 1;
                println!(
                    "{} ({}): FAILED: no answer in time",
                    spec.name,
                    spec.kind.type_name()
                )
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The store, and the config when there is one (given, or the default when it exists and
/// no `--state` was given).
fn open_store(config: Option<PathBuf>, state: Option<PathBuf>) -> Result<(Store, Option<Config>)> {
    let cfg = match (&state, config) {
        (Some(_), None) => None,
        (_, Some(path)) => Some(config::load(&path)?),
        (None, None) => {
            let path = config::default_config_path();
            if path.exists() {
                Some(config::load(&path)?)
            } else {
                None
            }
        }
    };
    let dir = state_dir(state, cfg.as_ref());
    if !Store::file_in(&dir).exists() {
        anyhow::bail!("no state in {} yet (has livewatch run?)", dir.display());
    }
    Ok((Store::open(&dir)?, cfg))
}

/// `1 event`, `2 events`.
fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Pending deliveries as people read them: `no events pending`, or `3 events pending
/// delivery: 2 to desk, 1 to team (team is not in the config: …)`.
fn pending_text(pending: &[(String, i64)], cfg: Option<&Config>) -> String {
    let total: i64 = pending.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return "no events pending".into();
    }
    let parts: Vec<String> = pending
        .iter()
        .map(|(name, n)| {
            let gone = cfg.is_some_and(|c| !c.notifiers.iter().any(|s| &s.name == name));
            if gone {
                format!("{n} to {name} (no longer in the config: `livewatch outbox drop {name}` forgets them)")
            } else {
                format!("{n} to {name}")
            }
        })
        .collect();
    format!(
        "{} pending delivery: {}",
        plural(total, "event", "events"),
        parts.join(", ")
    )
}

fn status(a: StatusArgs) -> Result<ExitCode> {
    let (store, cfg) = open_store(a.config, a.state)?;
    let pending = store.pending_by_blog_notifier()?;
    let now = chrono::Utc::now();
    let ago = |t: Option<chrono::DateTime<chrono::Utc>>| match t {
        None => "never".to_string(),
        Some(t) => {
            let s = (now - t).num_seconds().max(0) as u64;
            format!("{} ago", humantime::format_duration(Duration::from_secs(s)))
        }
    };
    let mut out = std::io::stdout().lock();
    for b in store.blogs()? {
        let (posts, removed) = store.post_counts(b.id)?;
        let pend = pending.get(&b.id).map(Vec::as_slice).unwrap_or_default();
        let p: i64 = pend.iter().map(|(_, n)| n).sum();
        let name = cfg
            .as_ref()
            .and_then(|c| c.watches.iter().find(|w| w.url == b.url))
            .and_then(|w| w.name.clone());
        if a.json {
            let v = serde_json::json!({
                "url": b.url, "name": name, "title": b.title, "status": b.status, "retired": b.retired,
                "polls": b.polls, "failures": b.failures, "last_error": b.last_error,
                "last_poll_at": b.last_poll_at, "last_success_at": b.last_success_at,
                "last_new_post_at": b.last_new_post_at, "posts": posts, "removed": removed,
                "pending_events": p,
                "pending_by_notifier": pend.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                "schedule": b.sched,
            });
            writeln!(out, "{v}")?;
            continue;
        }
        writeln!(
            out,
            "{}",
            name.as_deref().or(b.title.as_deref()).unwrap_or(&b.url)
        )?;
        if name.is_some() {
            if let Some(t) = &b.title {
                writeln!(out, "  title:      {}", crate::text::truncate(t, 100))?;
            }
        }
        writeln!(out, "  url:        {}", b.url)?;
        writeln!(
            out,
            "  status:     {}{}",
            if b.retired { "retired; " } else { "" },
            b.status
        )?;
        let polls = match (b.polls, b.failures) {
            (_, 0) => format!("{}, 0 failing in a row", plural(b.polls, "poll", "polls")),
            (0, f) => format!(
                "no poll has succeeded yet; {} in a row",
                plural(f.into(), "failure", "failures")
            ),
            (n, f) => format!(
                "{} succeeded, the last {} failed",
                plural(n, "poll", "polls"),
                plural(f.into(), "one", "ones")
            ),
        };
        writeln!(out, "  last poll:  {} ({polls})", ago(b.last_poll_at))?;
        writeln!(out, "  last new:   {}", ago(b.last_new_post_at))?;
        writeln!(
            out,
            "  posts:      {posts} seen, {removed} removed; {}",
            pending_text(pend, cfg.as_ref())
        )?;
        if let Some(r) = b.sched.get("reason").and_then(|v| v.as_str()) {
            writeln!(out, "  interval:   {r}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn outbox(a: OutboxArgs) -> Result<ExitCode> {
    let (store, cfg) = open_store(a.config, a.state)?;
    let mut out = std::io::stdout().lock();
    match (a.action.as_deref(), a.notifier.as_deref()) {
        (Some("retry"), None) => {
            let n = store.retry_dead(chrono::Utc::now())?;
            writeln!(out, "{n} dead-lettered deliveries queued again")?;
        }
        (Some("drop"), Some(name)) => {
            let n = store.drop_undelivered(name)?;
            writeln!(
                out,
                "{} to {name} dropped (the events stay in the history and feeds)",
                plural(n as i64, "undelivered event", "undelivered events")
            )?;
        }
        (Some("drop"), None) => anyhow::bail!(UsageError(
            "outbox drop needs the notifier's name: livewatch outbox drop NOTIFIER".into()
        )),
        (Some(action), Some(_)) => anyhow::bail!(UsageError(format!(
            "outbox {action} takes no notifier name"
        ))),
        (Some(_), None) | (None, Some(_)) => anyhow::bail!(UsageError(
            "use `livewatch outbox`, `livewatch outbox retry` or `livewatch outbox drop NOTIFIER`"
                .into()
        )),
        (None, None) => {
            let rows = store.outbox(None)?;
            if rows.is_empty() {
                writeln!(out, "outbox empty: nothing pending, nothing dead")?;
            }
            for p in rows {
                let gone = cfg
                    .as_ref()
                    .is_some_and(|c| !c.notifiers.iter().any(|s| s.name == p.notifier));
                writeln!(
                    out,
                    "{:<7} {:<12} {} {:<10} attempts={} {}{}{}",
                    p.state,
                    p.notifier,
                    p.event.id,
                    p.event.kind.as_str(),
                    p.attempts,
                    crate::text::truncate(
                        p.event.post.as_ref().map(|p| p.title()).unwrap_or(""),
                        60
                    ),
                    p.last_error
                        .map(|e| format!("  last error: {e}"))
                        .unwrap_or_default(),
                    if gone {
                        "  (notifier no longer in the config: `livewatch outbox drop NAME`)"
                            .replace("NAME", &p.notifier)
                    } else {
                        String::new()
                    }
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A duration option, or a usage error (exit 2) naming the option.
fn duration_arg(option: &str, value: &str) -> Result<Duration> {
    config::parse_duration(value)
        .map_err(|e| anyhow::Error::new(UsageError(format!("{option} {value:?}: {e}"))))
}

/// A bad command-line value: printed as is, exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

async fn record(a: RecordArgs) -> Result<ExitCode> {
    use tokio::signal::unix::{signal, SignalKind};
    let every = duration_arg("--every", &a.every)?;
    if every < config::MIN_INTERVAL {
        anyhow::bail!(UsageError(format!(
            "--every {}: the shortest interval is 100ms",
            a.every
        )));
    }
    let duration = a
        .duration
        .as_deref()
        .map(|d| duration_arg("--for", d))
        .transpose()?;
    if url::Url::parse(&a.url).is_err() {
        anyhow::bail!(UsageError(format!("{:?} is not a URL", a.url)));
    }
    let opts = crate::replay::RecordOptions {
        url: a.url.clone(),
        dir: a.dir.clone(),
        every,
        duration,
        fetch: a
            .config
            .clone()
            .map(|p| load_config(Some(p)).map(|c| c.fetch))
            .transpose()?
            .unwrap_or_default(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = stop_tx.send(true);
    });
    let summary = crate::replay::record(&opts, stop_rx, |p| match (&p.file, &p.error) {
        (Some(f), _) => tracing::info!(at = %p.at, "saved response {f}"),
        (None, Some(e)) => tracing::warn!(at = %p.at, "poll failed: {e}"),
        (None, None) => tracing::debug!(at = %p.at, status = ?p.status, "unchanged"),
    })
    .await?;
    eprintln!(
        "{}: {} polls, {} distinct responses saved, {} failed",
        a.dir.display(),
        summary.polls,
        summary.saved,
        summary.failed
    );
    Ok(ExitCode::SUCCESS)
}

async fn replay(a: ReplayArgs) -> Result<ExitCode> {
    use std::io::Write;
    let opts = crate::replay::ReplayOptions {
        dir: a.dir.clone(),
        url: a.url,
        name: a.name,
        strategy: match a.extractor {
            Some(n) if n != "auto" => Strategy::Named(n),
            _ => Strategy::Auto,
        },
        problem_after: 3,
        ..Default::default()
    };
    let mut out = std::io::stdout().lock();
    let mut write_err = None;
    let n = crate::replay::replay(&opts, |e| {
        let line = if a.json {
            serde_json::to_string(e).unwrap_or_default()
        } else {
            crate::notify::stdout::human(e)
        };
        if let Err(err) = writeln!(out, "{line}") {
            write_err.get_or_insert(err);
        }
    })
    .await?;
    if let Some(e) = write_err {
        return Err(e).context("cannot write to stdout");
    }
    tracing::info!(events = n, "replay done");
    Ok(ExitCode::SUCCESS)
}
