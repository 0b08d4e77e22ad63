//! `livewatch record` against the real timeline-server while it steps through the
//! guardian timeline, then `livewatch replay` offline: the replayed events are the ones
//! the daemon emitted live over the same timeline (same ids, kinds and posts), and
//! timeline-check passes on them.

use crate::common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;

const NAME: &str = "guardian";
const POLLS: usize = 3;

/// Move to step `n` and wait for `POLLS` more polls at that step than before.
fn step(server: &TimelineServer, n: usize) {
    server.advance_more(NAME, n, POLLS);
}

fn key(e: &serde_json::Value) -> (String, String, String) {
    (
        e["id"].as_str().unwrap_or_default().to_string(),
        e["kind"].as_str().unwrap_or_default().to_string(),
        e["post"]["id"].as_str().unwrap_or_default().to_string(),
    )
}

fn live_events(server: &TimelineServer, dir: &Path) -> Vec<serde_json::Value> {
    let cfg = write_config(
        dir,
        &format!(
            "[[watch]]\nurl = \"{}\"\ninterval = \"200ms\"\nadaptive = false\n\n\
             [[notifier]]\nname = \"out\"\ntype = \"stdout\"\njson = true\n",
            server.url(NAME)
        ),
    );
    let out = dir.join("live.jsonl");
    let mut d = run_daemon(&cfg, &dir.join("state"), &out);
    for n in 0..TimelineServer::steps(NAME) {
        step(server, n);
    }
    assert!(
        wait_for(Duration::from_secs(20), || read_jsonl(&out).len() >= 6),
        "the live daemon printed {:?}",
        std::fs::read_to_string(&out)
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0));
    read_jsonl(&out)
}

#[test]
fn replay_of_a_recording_matches_the_live_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &[NAME]);
    let live = live_events(&server, dir.path());

    // Record the same timeline from the start, on the same URL (so the ids match).
    server.set_step(NAME, 0);
    let rec = dir.path().join("rec");
    let log = std::fs::File::create(dir.path().join("record.log")).unwrap();
    let mut r = Proc(
        livewatch()
            .arg("record")
            .arg(server.url(NAME))
            .arg(&rec)
            .args(["--every", "200ms"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let steps = TimelineServer::steps(NAME);
    for n in 0..steps {
        step(&server, n);
    }
    r.signal("TERM");
    assert_eq!(
        r.wait_exit(Duration::from_secs(5)),
        Some(0),
        "record stops on SIGTERM"
    );

    // Only distinct bodies are saved: one per step, except step 8 (same bytes as 7).
    let bodies = (1..=20)
        .filter(|i| rec.join(format!("{i:04}.html")).exists())
        .count();
    assert_eq!(bodies, steps - 1, "distinct responses saved");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("0001.json")).unwrap()).unwrap();
    assert_eq!(meta["url"], server.url(NAME).as_str());
    assert_eq!(meta["status"], 200);
    assert!(meta["headers"]["etag"].is_string(), "{meta}");
    assert!(meta["fetched_at"].is_string(), "{meta}");
    let polls = read_jsonl(&rec.join("polls.jsonl"));
    assert!(polls.len() >= steps * POLLS, "{} polls", polls.len());
    // Conditional GET: repeat polls of a step are answered 304.
    let not_modified = polls.iter().filter(|p| p["status"] == 304).count();
    assert!(not_modified >= steps, "{not_modified} 304s in {polls:?}");

    // Replay offline (the server is gone).
    drop(server);
    let out = livewatch()
        .arg("replay")
        .arg(&rec)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    let live_keys: Vec<_> = live.iter().map(key).collect();
    let replay_keys: Vec<_> = replayed.iter().map(key).collect();
    assert_eq!(replay_keys, live_keys, "replayed vs live events");
    for (a, b) in replayed.iter().zip(&live) {
        assert_eq!(a["post"], b["post"]);
        assert_eq!(a["previous"], b["previous"]);
        assert_eq!(a["diff"], b["diff"]);
    }
    let replay_file = dir.path().join("replay.jsonl");
    std::fs::write(&replay_file, &out.stdout).unwrap();
    let (ok, report) = timeline_check(NAME, &replay_file, None);
    assert!(ok, "{report}");

    // The readable form works too, one summary per event.
    let human = livewatch().arg("replay").arg(&rec).output().unwrap();
    assert!(human.status.success());
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(text.matches("[correction]").count(), 1, "{text}");
    assert_eq!(text.matches("[removed]").count(), 1, "{text}");
}

#[test]
fn record_stops_after_for_and_refuses_an_old_recording() {
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &[NAME]);
    let rec = dir.path().join("rec");
    let run = || {
        livewatch()
            .arg("record")
            .arg(server.url(NAME))
            .arg(&rec)
            .args(["--every", "100ms", "--for", "1s"])
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One step, many polls: one body saved, the rest 304.
    assert!(rec.join("0001.html").exists());
    assert!(!rec.join("0002.html").exists());
    let polls = read_jsonl(&rec.join("polls.jsonl"));
    assert!(polls.len() >= 3, "{polls:?}");
    assert!(polls[1..].iter().all(|p| p["status"] == 304), "{polls:?}");
    let body = std::fs::read(rec.join("0001.html")).unwrap();
    assert_eq!(
        body,
        std::fs::read(timeline_dir(NAME).join("00.html")).unwrap()
    );

    // A second run into the same directory is refused, the recording left alone.
    let again = run();
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a recording"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(read_jsonl(&rec.join("polls.jsonl")).len(), polls.len());

    // Bad input: clear errors, no panic.
    let bad = livewatch()
        .args(["record", "not a url"])
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let bad = livewatch()
        .args(["record", &server.url(NAME)])
        .arg(dir.path().join("y"))
        .args(["--every", "soon"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--every"));
    let none = livewatch()
        .arg("replay")
        .arg(dir.path().join("nothing-here"))
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&none.stderr).contains("panicked"));
}

#[test]
fn record_with_a_config_fetches_with_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::page_server::PageServer::start();
    server.set(
        "/live",
        common::page_server::Reply::html(
            std::fs::read(timeline_dir(NAME).join("00.html")).unwrap(),
        ),
    );
    let cfg = write_config(
        dir.path(),
        "user_agent = \"newsroom-recorder/2 (+mailto:desk@example.org)\"\n",
    );
    let out = livewatch()
        .arg("record")
        .arg(server.url("/live"))
        .arg(dir.path().join("rec"))
        .args(["--every", "100ms", "--for", "500ms", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let requests = server.requests("/live");
    assert!(!requests.is_empty());
    for r in requests {
        assert_eq!(
            r.headers.get("user-agent").map(String::as_str),
            Some("newsroom-recorder/2 (+mailto:desk@example.org)"),
            "{:?}",
            r.headers
        );
    }
}
