//! Parts of the black-box tests: the real binary, the fixtures (`tests/fixtures/`), the
//! test servers and checkers (all in this folder, started inside the test: a timeline
//! server, a webhook sink that fails on purpose, a private desktop session, the page and
//! timeline scorers, the systemd notify socket), the external programs some tests need
//! (found on `PATH` or failing with the Debian package to install) and waiting helpers.

pub mod browser;
pub mod dashboard;
pub mod desktop;
pub mod http;
pub mod http_server;
pub mod notify;
pub mod page_check;
pub mod page_server;
pub mod service;
pub mod sink;
/// The private PostgreSQL server of the store's own tests (`src/store/testpg.rs`).
#[path = "../../../src/store/testpg.rs"]
pub mod testpg;
pub mod timeline_check;
pub mod timeline_server;

pub use timeline_server::TimelineServer;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The fixtures in the repository, `tests/fixtures/`: real saved pages (`pages/`, with
/// their expected posts; sources in `pages/SOURCES.md`), live-blog timelines built from
/// them (`timelines/<name>/`, each with a `manifest.json`) and pages without a site
/// profile (`unprofiled/`).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `tests/fixtures/pages/`.
pub fn pages_dir() -> PathBuf {
    fixtures().join("pages")
}

/// `tests/fixtures/timelines/`.
pub fn timelines_dir() -> PathBuf {
    fixtures().join("timelines")
}

pub fn timeline_dir(name: &str) -> PathBuf {
    timelines_dir().join(name)
}

/// The bytes of a file the tests need; a missing one fails naming its path.
pub fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// [`read_file`] as text.
pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The entries of a folder the tests need, sorted; a missing one fails naming its path.
pub fn list_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path()
        })
        .collect();
    v.sort();
    v
}

/// A timeline's `manifest.json`.
pub fn manifest(name: &str) -> serde_json::Value {
    let path = timeline_dir(name).join("manifest.json");
    serde_json::from_str(&read_text(&path))
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// Whether `path` is an executable file.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The full path of `program` on `PATH`, if there is one.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

/// Fail, naming the Debian package to install, unless `program` is on `PATH`; `what`
/// says which test needs it.
pub fn require_program(program: &str, package: &str, what: &str) -> PathBuf {
    find_program(program).unwrap_or_else(|| {
        panic!(
            "{what} needs `{program}`, which is not installed: `apt-get install {package}` \
             (scripts/test installs every program the tests need)"
        )
    })
}

/// The livewatch binary under test.
pub fn livewatch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_livewatch"));
    c.env_remove("RUST_LOG").env("NO_COLOR", "1");
    c
}

/// Poll `f` every 50 ms until it returns true or `timeout` passes.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process that is killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Send a signal by name (TERM, HUP, KILL, INT).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Wait for the process to exit (at most `timeout`); returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.0.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Read a JSON-lines file (missing file = empty); lines that do not parse are skipped.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let Ok(f) = std::fs::File::open(path) else {
        return vec![];
    };
    BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

/// Score the events in `events` against timeline `name`'s manifest (see
/// [`timeline_check::check`]), optionally only steps `A:B`; returns (passed, report).
pub fn timeline_check(name: &str, events: &Path, steps: Option<&str>) -> (bool, String) {
    let r = timeline_check::check(&timeline_dir(name).join("manifest.json"), events, steps);
    (r.passed(), r.to_string())
}

/// A finished process's stdout then stderr, as text.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Write a config file for `livewatch run`.
pub fn write_config(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(&p, body).unwrap();
    p
}

/// Start `livewatch run --config CONFIG --state STATE`; stdout is appended to `out`,
/// stderr to `out` with the extension `log`.
pub fn run_daemon(config: &Path, state: &Path, out: &Path) -> Proc {
    run_daemon_env(config, state, out, &[] as &[(&str, &str)])
}

/// [`run_daemon`] with extra environment. The systemd variables of the test's own
/// environment are not passed on: only the `service_*` tests set them, on purpose.
pub fn run_daemon_env<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    config: &Path,
    state: &Path,
    out: &Path,
    env: &[(K, V)],
) -> Proc {
    let open = |p: PathBuf| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap()
    };
    let mut cmd = livewatch();
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .arg("--state")
        .arg(state)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(open(out.to_path_buf()))
        .stderr(open(out.with_extension("log")))
        .envs(env.iter().map(|(k, v)| (k, v)));
    Proc(cmd.spawn().expect("livewatch starts"))
}

/// Wait until the outbox of `state` lists a pending delivery whose error mentions
/// `reason` (a notifier whose server is not up yet); fails with the listing.
pub fn wait_pending(state: &Path, out: &Path, reason: &str) {
    let mut listing = String::new();
    let waiting = wait_for(Duration::from_secs(20), || {
        listing = outbox(state, None).1;
        listing.contains("pending") && listing.contains(reason)
    });
    assert!(waiting, "{listing}\n{}", dump(out));
}

/// Start a server program (`cmd`, its output already directed) and wait until it
/// listens on 127.0.0.1:`port`.
pub fn start_listening(mut cmd: Command, port: u16, what: &str) -> Proc {
    let proc = Proc(cmd.spawn().unwrap_or_else(|e| panic!("{what} starts: {e}")));
    let up = wait_for(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "{what} did not listen on {port}");
    proc
}

/// Run `livewatch ARGS… CONFIG`: its exit code and output.
pub fn run_with_config(args: &[&str], config: &Path) -> (Option<i32>, String) {
    let out = livewatch().args(args).arg(config).output().unwrap();
    (out.status.code(), output_text(&out))
}

/// Stop the daemon with SIGTERM and assert that it exits cleanly (0) within 15 s (a
/// browser watch closes its browsers first).
pub fn stop_daemon(d: &mut Proc, out: &Path) {
    d.signal("TERM");
    assert_eq!(
        d.wait_exit(Duration::from_secs(15)),
        Some(0),
        "{}",
        dump(out)
    );
}

/// `livewatch config check` on a config of `body` (with `LIVEWATCH_WEBHOOK_SECRET` set):
/// the exit code and stderr, the file's path written `FILE`.
pub fn config_check(body: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(dir.path(), body);
    let out = livewatch()
        .args(["config", "check"])
        .arg(&p)
        .env("LIVEWATCH_WEBHOOK_SECRET", "s3cret")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).replace(&p.display().to_string(), "FILE");
    (out.status.code().unwrap_or(-1), text)
}

/// The daemon's log so far (stderr), for failure messages.
pub fn log_of(out: &Path) -> String {
    std::fs::read_to_string(out.with_extension("log")).unwrap_or_default()
}

/// The daemon's stdout and stderr, for assertion messages.
pub fn dump(out: &Path) -> String {
    format!(
        "--- stdout:\n{}\n--- stderr:\n{}",
        std::fs::read_to_string(out).unwrap_or_default(),
        log_of(out)
    )
}

/// Lines of a text file (missing = none).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Per-blog status from `livewatch status --json --state DIR`, keyed by URL.
pub fn statuses(state: &Path) -> HashMap<String, serde_json::Value> {
    let out = livewatch()
        .args(["status", "--json", "--state"])
        .arg(state)
        .output()
        .expect("livewatch status runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["url"].as_str()?.to_string(), v)))
        .collect()
}

/// `livewatch outbox [ACTION] --state STATE`: (exit code, stdout and stderr).
pub fn outbox(state: &Path, action: Option<&str>) -> (Option<i32>, String) {
    let mut c = livewatch();
    c.arg("outbox").arg("--state").arg(state);
    if let Some(a) = action {
        c.arg(a);
    }
    let out = c.output().expect("livewatch outbox runs");
    (out.status.code(), output_text(&out))
}
