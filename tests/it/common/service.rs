//! Parts of the `service_*` tests: a listener for the systemd notify protocol.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::wait_for;

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
