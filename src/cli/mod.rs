//! The command line (`livewatch --help`): the arguments, and [`main`] dispatching them to
//! the commands. Commands and options are the public interface in the README; `main.rs`
//! only calls [`main`].
//!
//! - `foreground`: `watch`, `demo` and `run` (the daemon; its control loop is
//!   [`crate::control`]).
//! - `inspect`: `check`, `config check`, `notify-test`, `status`, `outbox`.
//! - `recording`: `record`, `replay`.

mod foreground;
mod inspect;
mod recording;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config};
use foreground::{demo, run, watch};
use inspect::{check, config_check, notify_test, outbox, status};
use recording::{record, replay};

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
    /// Fetch the page through the headless browser (Chromium): the DOM after its
    /// scripts ran, as a `fetch = "browser"` watch sees it.
    #[arg(long)]
    browser: bool,
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
/// after a start-up burst (docs/performance.md). One arena: with two, 10,000 blogs peaked
/// ~10 MiB higher (146 vs 136 MiB; the second arena's free pages sit beside the first's)
/// and no CPU cost of the shared arena showed ("Issue 17, memory" in docs/performance.md).
/// `MALLOC_ARENA_MAX` in the environment still wins.
///
/// The mmap threshold is left to glibc: fixing it at 256 KiB (`MALLOC_MMAP_THRESHOLD_=262144`,
/// so that bodies and DOM vectors are unmapped when freed) cut the 100-blog steady-state
/// peak from 78 to 55 MiB but cost 25–35 % more CPU per noise-only check (page faults and
/// unmaps on every body; docs/performance.md): CPU is the scarcer resource at scale.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator tunable; called before any other thread
        // of ours exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
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

/// A duration option, or a usage error (exit 2) naming the option.
fn duration_arg(option: &str, value: &str) -> Result<Duration> {
    config::parse_duration(value)
        .map_err(|e| anyhow::Error::new(UsageError(format!("{option} {value:?}: {e}"))))
}

/// A poll interval option: a duration of at least [`config::MIN_INTERVAL`], or a usage
/// error naming the option.
fn interval_arg(option: &str, value: &str) -> Result<Duration> {
    let d = duration_arg(option, value)?;
    if d < config::MIN_INTERVAL {
        anyhow::bail!(UsageError(format!(
            "{option} {value}: the shortest interval is 100ms"
        )));
    }
    Ok(d)
}

/// A bad command-line value: printed as is, exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);
