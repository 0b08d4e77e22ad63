//! Helpers of the `service_*` tests: the real daemon with a chosen environment, a tiny
//! HTTP GET, a free port, and a listener for the systemd notify protocol.
#![allow(dead_code)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{livewatch, wait_for, Proc};

/// Start `livewatch run --config CONFIG --state STATE` with extra environment; stdout is
/// appended to `out`, stderr to `out` with the extension `log`.
pub fn run_daemon_env(config: &Path, state: &Path, out: &Path, env: &[(&str, &str)]) -> Proc {
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
        .stderr(open(out.with_extension("log")));
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc(cmd.spawn().expect("livewatch starts"))
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `path` on 127.0.0.1:`port`; `None` when nothing answers. Returns (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Lines of a text file (missing = none).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The daemon's stdout and stderr, for assertion messages.
pub fn dump(out: &Path) -> String {
    format!(
        "--- stdout:\n{}\n--- stderr:\n{}",
        std::fs::read_to_string(out).unwrap_or_default(),
        std::fs::read_to_string(out.with_extension("log")).unwrap_or_default()
    )
}

/// A unix datagram socket playing systemd's side of sd_notify: every datagram received
/// is kept with its arrival time.
pub struct NotifySocket {
    pub path: PathBuf,
    pub messages: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl NotifySocket {
    pub fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let m = messages.clone();
        // The thread ends when the test process does; the socket lives in a temp dir.
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            loop {
                if let Ok(n) = sock.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    m.lock().unwrap().push((Instant::now(), text));
                }
            }
        });
        NotifySocket { path, messages }
    }

    pub fn all(&self) -> Vec<(Instant, String)> {
        self.messages.lock().unwrap().clone()
    }

    /// Index of the first message at or after `from` that has the line `line` (a whole
    /// `KEY=VALUE` line, or a `KEY=` prefix).
    pub fn find(&self, from: usize, line: &str) -> Option<usize> {
        self.all()
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, (_, m))| {
                m.lines()
                    .any(|l| l == line || (line.ends_with('=') && l.starts_with(line)))
            })
            .map(|(i, _)| i)
    }

    /// Wait (up to `timeout`) for a message with `line` at or after index `from`.
    pub fn wait(&self, from: usize, line: &str, timeout: Duration) -> usize {
        let mut found = None;
        wait_for(timeout, || {
            found = self.find(from, line);
            found.is_some()
        });
        found.unwrap_or_else(|| panic!("no {line:?} after message {from}: {:#?}", self.texts()))
    }

    pub fn texts(&self) -> Vec<String> {
        self.all().into_iter().map(|(_, m)| m).collect()
    }
}
