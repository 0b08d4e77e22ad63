//! The real binary, `livewatch run`, against the fixture timelines served over real HTTP
//! by [`TimelineServer`]; the events it prints are scored by [`timeline_check`].

use crate::common;

use std::time::Duration;

use common::*;

/// Polls per step before moving on: enough for a removal (two polls) plus one.
const POLLS_PER_STEP: usize = 3;

/// The watch config; `adaptive` false pins the interval, true keeps every default of
/// adaptive polling (max_interval 15 min), as a user who adds a blog would have it.
fn config_with(url: &str, adaptive: bool) -> String {
    let fixed = if adaptive { "" } else { "adaptive = false" };
    format!(
        r#"
[[watch]]
url = "{url}"
interval = "200ms"
{fixed}

[[notifier]]
name = "out"
type = "stdout"
json = true
"#
    )
}

/// Drive steps `from..to` of a timeline; the daemon must already be polling.
fn drive(server: &TimelineServer, name: &str, from: usize, to: usize) {
    for n in from..to {
        server.advance(name, n, POLLS_PER_STEP);
    }
}

/// Give the delivery worker time to print the last step's events.
fn settle() {
    std::thread::sleep(Duration::from_millis(600));
}

fn config_for(url: &str) -> String {
    config_with(url, false)
}

fn run_timeline(name: &str) {
    run_timeline_with(name, false)
}

/// Timelines with adaptive polling on (the default): the archived pages carry a
/// `coverageEndTime` years in the past, which must not close a blog that still posts.
fn run_timeline_with(name: &str, adaptive: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &[name]);
    let cfg = write_config(dir.path(), &config_with(&server.url(name), adaptive));
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon(&cfg, &state, &out);
    drive(&server, name, 0, TimelineServer::steps(name));
    settle();
    d.signal("TERM");
    assert_eq!(
        d.wait_exit(Duration::from_secs(5)),
        Some(0),
        "exit 0 within 5 s"
    );
    let (ok, report) = timeline_check(name, &out, None);
    assert!(
        ok,
        "{name}: {report}\nevents:\n{}\nlog:\n{}",
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(out.with_extension("log")).unwrap_or_default()
    );
}

#[test]
fn guardian_timeline_end_to_end() {
    run_timeline("guardian");
}

#[test]
fn guardian_timeline_with_restart() {
    let name = "guardian";
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &[name]);
    let cfg = write_config(dir.path(), &config_for(&server.url(name)));
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let steps = TimelineServer::steps(name);
    let mut d = run_daemon(&cfg, &state, &out);
    drive(&server, name, 0, 4);
    settle();
    d.signal("TERM");
    assert_eq!(
        d.wait_exit(Duration::from_secs(5)),
        Some(0),
        "exit 0 within 5 s"
    );
    // Step 4 and 5 happen while it is down: both must be reported after the restart.
    server.set_step(name, 5);
    let mut d = run_daemon(&cfg, &state, &out);
    drive(&server, name, 5, steps);
    settle();
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0));
    let (ok, report) = timeline_check(name, &out, None);
    assert!(
        ok,
        "{report}\nevents:\n{}\nlog:\n{}",
        std::fs::read_to_string(&out).unwrap_or_default(),
        std::fs::read_to_string(out.with_extension("log")).unwrap_or_default()
    );
}

#[test]
fn cnn_timeline_end_to_end() {
    run_timeline("cnn");
}

/// A blog whose posts carry only relative times ("16 min ago"): the daemon still follows it.
#[test]
fn cnn_relative_timeline_end_to_end() {
    run_timeline("cnn-relative");
}

#[test]
fn cbsnews_timeline_end_to_end() {
    run_timeline_with("cbsnews", true);
}

#[test]
fn mirror_timeline_end_to_end() {
    run_timeline_with("mirror", true);
}
