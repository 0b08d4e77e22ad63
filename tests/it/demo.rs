//! `livewatch demo`, run as the README documents it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::*;

/// Entries left in `dir` (the demo's TMPDIR) whose name starts with `livewatch-demo`.
fn demo_dirs(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("livewatch-demo"))
        .collect()
}

#[test]
fn demo_for_60s_json_shows_a_new_post_an_edit_a_correction_and_a_removal() {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = Proc(
        livewatch()
            .args(["demo", "--for", "60s", "--json"])
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wanted = ["new", "edit", "correction", "removed"];
    let mut events: Vec<serde_json::Value> = Vec::new();
    let deadline = started + Duration::from_secs(65);
    while !wanted
        .iter()
        .all(|k| events.iter().any(|e| e["kind"] == *k))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                events.push(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
            }
            Err(_) => break,
        }
    }
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "within the minute: {kinds:?} after {:?}",
        started.elapsed()
    );
    assert_eq!(kinds, wanted, "one of each, in the scripted order");
    for e in &events {
        assert!(
            e["blog"]["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
            "{e}"
        );
        assert_eq!(e["blog"]["title"], "Debate night live (demo)", "{e}");
        assert!(
            e["post"]["headline"]
                .as_str()
                .is_some_and(|h| !h.is_empty()),
            "{e}"
        );
    }
    let diff = |i: usize| events[i]["diff"].as_str().unwrap_or("").to_string();
    assert!(diff(1).contains("{+"), "the edit adds words: {}", diff(1));
    assert!(diff(2).contains("{+Correction:"), "{}", diff(2));
    assert!(diff(2).contains("[-"), "the wrong figure goes: {}", diff(2));
    assert_eq!(events[3]["post"]["id"], events[3]["previous"]["id"]);

    // Ctrl-C: a clean stop, and the temporary state is gone.
    child.signal("INT");
    assert_eq!(child.wait_exit(Duration::from_secs(10)), Some(0));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("serving a demo live blog at http://127.0.0.1:")
            && err.contains("expect a new post within ~8 s"),
        "{err}"
    );
    assert!(
        !err.contains("INFO"),
        "no log lines repeat the events: {err}"
    );
    assert_eq!(demo_dirs(tmp.path()), Vec::<String>::new());
}

#[test]
fn demo_stops_after_for_and_removes_its_state() {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = livewatch()
        .args(["demo", "--for", "2s"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("for 2s"),
        "{}",
        output_text(&out)
    );
    assert_eq!(demo_dirs(tmp.path()), Vec::<String>::new());
    let bad = livewatch()
        .args(["demo", "--for", "soon"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", output_text(&bad));
}

#[test]
fn demo_with_notify_desktop_shows_the_events_as_desktop_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let env = crate::common::desktop::DesktopEnv::start(&dir.path().join("desktop"));
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Proc(
        livewatch()
            .args(["demo", "--for", "60s", "--notify", "desktop"])
            .env("TMPDIR", tmp.path())
            .envs(env.vars.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let summaries = || -> Vec<String> {
        env.log()
            .iter()
            .filter_map(|r| r["summary"].as_str().map(str::to_string))
            .collect()
    };
    let ok = wait_for(Duration::from_secs(30), || {
        summaries()
            .iter()
            .any(|s| s == "Debate night live (demo) — Edited")
    });
    child.signal("INT");
    assert_eq!(child.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(ok, "dunst got: {:?}", summaries());
    assert!(
        summaries()
            .iter()
            .any(|s| s == "Debate night live (demo) — New post"),
        "{:?}",
        summaries()
    );
    assert_eq!(demo_dirs(tmp.path()), Vec::<String>::new());
}
