//! Shared parts of the black-box tests: the real binary, the shared tools
//! (`../shared/tools`) as real servers, and waiting helpers. Each test binary uses only
//! some of them.
#![allow(dead_code)]

pub mod http;
pub mod notify;
pub mod page_server;
pub mod service;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `../shared`, relative to the crate root.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

pub fn tool(name: &str) -> PathBuf {
    shared().join("tools").join(name)
}

pub fn timeline_dir(name: &str) -> PathBuf {
    shared().join("fixtures/timelines").join(name)
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

/// Spawn the shared tool `what` (`cmd`), which writes its port to `port_file` once it
/// listens; wait (up to 10 s) for that port.
pub fn spawn_with_port_file(what: &str, cmd: &mut Command, port_file: &Path) -> (Proc, u16) {
    let proc = Proc(cmd.spawn().unwrap_or_else(|e| panic!("{what} starts: {e}")));
    let port = || {
        std::fs::read_to_string(port_file)
            .ok()?
            .trim()
            .parse::<u16>()
            .ok()
    };
    assert!(
        wait_for(Duration::from_secs(10), || port().is_some()),
        "{what} did not start"
    );
    (proc, port().unwrap())
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

/// `../shared/tools/timeline-server` on a free port, with a request log.
pub struct TimelineServer {
    pub proc: Proc,
    pub port: u16,
    pub log: PathBuf,
}

impl TimelineServer {
    pub fn start(dir: &Path, timelines: &[&str]) -> TimelineServer {
        let port_file = dir.join("timeline.port");
        let log = dir.join("timeline-requests.jsonl");
        let mut cmd = Command::new("python3");
        cmd.arg(tool("timeline-server"));
        for t in timelines {
            cmd.arg(timeline_dir(t));
        }
        cmd.args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .arg("--log")
            .arg(&log)
            .args(["--max-lifetime", "900"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let (proc, port) = spawn_with_port_file("timeline-server", &mut cmd, &port_file);
        TimelineServer { proc, port, log }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}/", self.port)
    }

    pub fn set_step(&self, name: &str, n: usize) {
        let path = format!("/_step/{name}/{n}");
        let r = http::request(self.port, "POST", &path, &[], "").expect("timeline-server answers");
        assert_eq!(r.status, 200, "POST {path}: {}", r.body);
    }

    /// Requests to `/<name>/` logged so far.
    pub fn requests(&self, name: &str) -> Vec<serde_json::Value> {
        let path = format!("/{name}/");
        read_jsonl(&self.log)
            .into_iter()
            .filter(|r| r["path"] == path.as_str() && r["method"] == "GET")
            .collect()
    }

    /// Polls of `/<name>/` answered at step `n`.
    pub fn polls_at(&self, name: &str, n: usize) -> usize {
        self.requests(name)
            .iter()
            .filter(|r| r["step"] == n)
            .count()
    }

    /// Move to step `n` and wait until the watcher polled it `polls` times.
    pub fn advance(&self, name: &str, n: usize, polls: usize) {
        self.advance_to(name, n, polls);
    }

    /// Move to step `n` and wait for `polls` more polls at that step than before (for a
    /// step served again).
    pub fn advance_more(&self, name: &str, n: usize, polls: usize) {
        self.advance_to(name, n, self.polls_at(name, n) + polls);
    }

    fn advance_to(&self, name: &str, n: usize, total: usize) {
        self.set_step(name, n);
        let ok = wait_for(Duration::from_secs(30), || self.polls_at(name, n) >= total);
        assert!(
            ok,
            "{name} step {n}: the watcher did not reach {total} polls"
        );
    }

    pub fn steps(name: &str) -> usize {
        let m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(timeline_dir(name).join("manifest.json")).unwrap(),
        )
        .unwrap();
        m["steps"].as_array().unwrap().len()
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

/// Run `timeline-check MANIFEST EVENTS [--steps A:B]`; returns (success, output).
pub fn timeline_check(name: &str, events: &Path, steps: Option<&str>) -> (bool, String) {
    let mut c = Command::new("python3");
    c.arg(tool("timeline-check"))
        .arg(timeline_dir(name).join("manifest.json"))
        .arg(events);
    if let Some(s) = steps {
        c.args(["--steps", s]);
    }
    let out = c.output().expect("timeline-check runs");
    (out.status.success(), output_text(&out))
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
