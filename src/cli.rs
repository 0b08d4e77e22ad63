//! The command line (`livewatch --help`). Commands and options are the public interface
//! in the README; `main.rs` only calls [`main`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

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
    /// List pending and dead-lettered events; `outbox retry` re-queues the dead ones.
    Outbox(OutboxArgs),
    /// Save each distinct response of a blog (body, headers, fetch time) into DIR.
    Record(RecordArgs),
    /// Run the pipeline over a recording offline; print the events the daemon would have sent.
    Replay(ReplayArgs),
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
    /// Use only this extractor: jsonld, microdata, generic, or a site profile name.
    #[arg(long)]
    extractor: Option<String>,
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
    /// Use only this extractor: jsonld, microdata, generic, or a site profile name.
    #[arg(long)]
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
    #[arg(long, short)]
    config: Option<PathBuf>,
    #[arg(long)]
    state: Option<PathBuf>,
    /// One JSON object per blog.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct OutboxArgs {
    #[arg(long, short)]
    config: Option<PathBuf>,
    #[arg(long)]
    state: Option<PathBuf>,
    /// `retry`: put dead-lettered events back in the queue.
    action: Option<String>,
}

/// Run the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbosity = if cli.quiet { -1 } else { cli.verbose as i8 };
    crate::telemetry::init(verbosity);
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
    };
    match result {
        Ok(code) => code,
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
fn notifier_toml(i: usize, spec: &str) -> Result<String> {
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
    Ok(t)
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

async fn watch(a: WatchArgs) -> Result<ExitCode> {
    let mut t = String::new();
    for u in &a.urls {
        t.push_str(&format!(
            "[[watch]]\nurl = {}\ninterval = {}\nadaptive = {}\nannounce_existing = {}\n",
            toml_str(u),
            toml_str(&a.interval),
            !a.no_adaptive,
            a.announce_existing
        ));
    }
    t.push_str(&format!(
        "[[notifier]]\nname = \"stdout\"\ntype = \"stdout\"\njson = {}\nburst = 0\n",
        a.json
    ));
    for (i, spec) in a.notify.iter().enumerate() {
        t.push_str(&notifier_toml(i + 1, spec)?);
    }
    let cfg = config::parse(&t, "command line", &|k| std::env::var(k).ok())?;
    let dir = state_dir(a.state, None);
    serve(cfg, dir, None).await
}

async fn run(a: RunArgs) -> Result<ExitCode> {
    let path = a.config.clone().unwrap_or_else(config::default_config_path);
    let mut cfg = load_config(Some(path.clone()))?;
    if a.no_adaptive {
        cfg.watches.iter_mut().for_each(|w| w.adaptive = false);
    }
    let dir = state_dir(a.state.clone(), Some(&cfg));
    serve(cfg, dir, Some((path, a))).await
}

/// Run the daemon until SIGINT/SIGTERM; reload on SIGHUP when there is a config file.
async fn serve(
    cfg: Config,
    dir: PathBuf,
    reload_from: Option<(PathBuf, RunArgs)>,
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
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
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
    if let Some(h) = server {
        let _ = tokio::time::timeout(Duration::from_millis(500), h).await;
    }
    Ok(ExitCode::SUCCESS)
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
    let (body, url, content_type) = if Path::new(&a.target).exists() {
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
            crate::fetch::Fetched::Page(p) => (p.body, p.final_url, p.content_type),
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
    let ex = if clocked {
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

fn open_store(config: Option<PathBuf>, state: Option<PathBuf>) -> Result<Store> {
    let cfg = match (&state, &config) {
        (Some(_), None) => None,
        _ => {
            let path = config.unwrap_or_else(config::default_config_path);
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
    Ok(Store::open(&dir)?)
}

fn status(a: StatusArgs) -> Result<ExitCode> {
    let store = open_store(a.config, a.state)?;
    let pending = store.pending_by_blog()?;
    let now = chrono::Utc::now();
    let ago = |t: Option<chrono::DateTime<chrono::Utc>>| match t {
        None => "never".to_string(),
        Some(t) => {
            let s = (now - t).num_seconds().max(0) as u64;
            format!("{} ago", humantime::format_duration(Duration::from_secs(s)))
        }
    };
    for b in store.blogs()? {
        let (posts, removed) = store.post_counts(b.id)?;
        let p = pending.get(&b.id).copied().unwrap_or(0);
        if a.json {
            let v = serde_json::json!({
                "url": b.url, "title": b.title, "status": b.status, "retired": b.retired,
                "polls": b.polls, "failures": b.failures, "last_error": b.last_error,
                "last_poll_at": b.last_poll_at, "last_success_at": b.last_success_at,
                "last_new_post_at": b.last_new_post_at, "posts": posts, "removed": removed,
                "pending_events": p, "schedule": b.sched,
            });
            println!("{v}");
        } else {
            println!("{}", b.title.as_deref().unwrap_or(&b.url));
            println!("  url:        {}", b.url);
            println!(
                "  status:     {}{}",
                if b.retired { "retired; " } else { "" },
                b.status
            );
            println!(
                "  last poll:  {} ({} polls, {} failing in a row)",
                ago(b.last_poll_at),
                b.polls,
                b.failures
            );
            println!("  last new:   {}", ago(b.last_new_post_at));
            println!("  posts:      {posts} seen, {removed} removed; {p} events pending");
            if let Some(r) = b.sched.get("reason").and_then(|v| v.as_str()) {
                println!("  interval:   {r}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn outbox(a: OutboxArgs) -> Result<ExitCode> {
    let store = open_store(a.config, a.state)?;
    match a.action.as_deref() {
        Some("retry") => {
            let n = store.retry_dead(chrono::Utc::now())?;
            println!("{n} dead-lettered deliveries queued again");
        }
        Some(other) => {
            anyhow::bail!("unknown outbox action {other:?}; use `livewatch outbox retry`")
        }
        None => {
            let rows = store.outbox(None)?;
            if rows.is_empty() {
                println!("outbox empty: nothing pending, nothing dead");
            }
            for p in rows {
                println!(
                    "{:<7} {:<12} {} {:<10} attempts={} {}{}",
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
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A duration option, or a usage error (exit 2) naming the option.
fn duration_arg(option: &str, value: &str) -> Result<Duration> {
    config::parse_duration(value).map_err(|e| {
        anyhow::Error::new(UsageError(format!(
            "{option} {value:?}: {e} (write it like 500ms, 30s, 5m)"
        )))
    })
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
