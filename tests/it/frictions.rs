//! The smaller frictions of a first use (issue 14), each as the user meets it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::page_server::{live_page, PageServer, Reply};
use crate::common::*;

/// A running livewatch whose stdout and stderr are collected as they come.
struct Running {
    proc: Proc,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

impl Running {
    fn start(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |mut r: Box<dyn Read + Send>| {
            let text = Arc::new(Mutex::new(String::new()));
            let t = text.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = r.read(&mut buf) {
                    t.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
            text
        };
        let out = collect(Box::new(child.stdout.take().unwrap()));
        let err = collect(Box::new(child.stderr.take().unwrap()));
        Running {
            proc: Proc(child),
            out,
            err,
        }
    }

    fn out(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn err(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Stop with SIGINT; the exit code.
    fn stop(&mut self) -> Option<i32> {
        self.proc.signal("INT");
        self.proc.wait_exit(Duration::from_secs(10))
    }
}

const P1: (&str, &str, &str, u32) = ("p1", "First post", "The first body.", 1);
const P2: (&str, &str, &str, u32) = ("p2", "Second post", "The second body.", 2);

#[test]
fn a_terminal_sees_each_event_once_as_a_readable_line() {
    let server = PageServer::start();
    server.set("/live", Reply::html(live_page(&[P1], "", "")));
    let state = tempfile::tempdir().unwrap();
    let mut w = Running::start(
        livewatch()
            .args([
                "watch",
                &server.url("/live"),
                "--interval",
                "100ms",
                "--state",
            ])
            .arg(state.path()),
    );
    assert!(wait_for(Duration::from_secs(10), || server
        .requests("/live")
        .len()
        >= 2));
    server.set("/live", Reply::html(live_page(&[P2, P1], "", "")));
    assert!(
        wait_for(Duration::from_secs(10), || w.out().contains("[new]")),
        "{}\n{}",
        w.out(),
        w.err()
    );
    assert_eq!(w.stop(), Some(0));
    let (out, err) = (w.out(), w.err());
    let first = out.lines().next().unwrap_or("");
    assert!(
        first.starts_with("[new] ") && first.ends_with(" Second post — Test blog"),
        "{out}"
    );
    assert_eq!(out.lines().nth(1), Some("    The second body."), "{out}");
    assert!(
        !err.contains("Second post"),
        "the log repeats the event: {err}"
    );
}
