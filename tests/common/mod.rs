//! Shared parts of the black-box tests: the real binary, the shared tools
//! (`../shared/tools`) as real servers, and waiting helpers.
#![allow(dead_code)]

pub mod page_server;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
        let proc = Proc(cmd.spawn().expect("timeline-server starts"));
        assert!(
            wait_for(Duration::from_secs(10), || std::fs::read_to_string(
                &port_file
            )
            .is_ok_and(|s| s.trim().parse::<u16>().is_ok())),
            "timeline-server did not start"
        );
        let port = std::fs::read_to_string(&port_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        TimelineServer { proc, port, log }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}/", self.port)
    }

    pub fn set_step(&self, name: &str, n: usize) {
        http_post(self.port, &format!("/_step/{name}/{n}"));
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
        self.set_step(name, n);
        let ok = wait_for(Duration::from_secs(30), || self.polls_at(name, n) >= polls);
        assert!(
            ok,
            "{name} step {n}: the watcher did not poll {polls} times"
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

/// A tiny blocking HTTP POST with an empty body (no client crate needed).
pub fn http_post(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"),
        "{out}"
    );
    out
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
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Write a config file for `livewatch run`.
pub fn write_config(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(&p, body).unwrap();
    p
}

/// Start `livewatch run --config CONFIG --state STATE`, stdout appended to `out`.
pub fn run_daemon(config: &Path, state: &Path, out: &Path) -> Proc {
    let stdout = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .unwrap();
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.with_extension("log"))
        .unwrap();
    let child = livewatch()
        .arg("run")
        .arg("--config")
        .arg(config)
        .arg("--state")
        .arg(state)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("livewatch starts");
    Proc(child)
}
