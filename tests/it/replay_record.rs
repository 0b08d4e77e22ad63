//! `livewatch record` against the timeline server (real HTTP) while it steps through the
//! guardian timeline, then `livewatch replay` offline: the replayed events are the ones
//! the daemon emitted live over the same timeline (same ids, kinds and posts), and
//! the timeline check passes on them.

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
    assert_eq!(body, read_file(&timeline_dir(NAME).join("00.html")));

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
        common::page_server::Reply::html(read_file(&timeline_dir(NAME).join("00.html"))),
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

/// A recording whose polls span days (2020): every event's `detected_at` and every time in
/// the blog's state comes from the recording, none from the clock of the replay.
#[test]
fn replay_over_days_takes_every_time_from_the_recording() {
    use chrono::{DateTime, Utc};
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let url = "http://blog.test/live";
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let save = |file: &str, when: &str, posts: &[(&str, &str, &str, u32)]| {
        std::fs::write(
            rec.join(format!("{file}.html")),
            page_server::live_page(posts, "", ""),
        )
        .unwrap();
        let meta = serde_json::json!({
            "url": url, "final_url": url, "fetched_at": when, "status": 200,
            "headers": {"content-type": "text/html; charset=utf-8"},
        });
        std::fs::write(rec.join(format!("{file}.json")), meta.to_string()).unwrap();
    };
    let a = ("a", "First", "The first post of the day.", 1);
    let b = ("b", "Second", "The second post of the day.", 2);
    let c = ("c", "Third", "A post on the next day.", 3);
    save("0001", "2020-03-01T10:00:00Z", &[b, a]);
    save("0002", "2020-03-02T09:00:00Z", &[c, b, a]);
    let polls = [
        (r#""2020-03-01T10:00:00Z""#, r#""status":200,"file":"0001""#),
        (r#""2020-03-01T10:01:00Z""#, r#""status":304,"file":null"#),
        (
            r#""2020-03-01T10:02:00Z""#,
            r#""error":"cannot connect: refused""#,
        ),
        (
            r#""2020-03-01T10:03:00Z""#,
            r#""error":"cannot connect: refused""#,
        ),
        (
            r#""2020-03-01T10:04:00Z""#,
            r#""error":"cannot connect: refused""#,
        ),
        (r#""2020-03-02T09:00:00Z""#, r#""status":200,"file":"0002""#),
        (r#""2020-03-02T09:01:00Z""#, r#""status":304,"file":null"#),
        (r#""2020-03-04T10:00:00Z""#, r#""status":304,"file":null"#),
        (r#""2020-03-04T10:01:00Z""#, r#""status":304,"file":null"#),
    ];
    let lines: Vec<String> = polls
        .iter()
        .map(|(t, rest)| format!("{{\"at\":{t},{rest}}}"))
        .collect();
    std::fs::write(rec.join("polls.jsonl"), lines.join("\n") + "\n").unwrap();

    let state = dir.path().join("state");
    let opts = livewatch::replay::ReplayOptions {
        dir: rec.clone(),
        problem_after: 3,
        state: Some(state.clone()),
        ..Default::default()
    };
    let mut events = Vec::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(livewatch::replay::replay(&opts, |e| events.push(e.clone())))
        .expect("the replay runs");

    let kinds: Vec<(String, DateTime<Utc>)> = events
        .iter()
        .map(|e| (e.kind.to_string(), e.detected_at))
        .collect();
    let first = at("2020-03-01T10:00:00Z");
    let last = at("2020-03-04T10:01:00Z");
    for (kind, t) in &kinds {
        assert!(
            (first..=last).contains(t),
            "{kind} stamped {t}, outside the recording: {kinds:?}"
        );
    }
    let when = |kind: &str| {
        kinds
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("no {kind} event in {kinds:?}"))
    };
    assert_eq!(
        when("problem"),
        at("2020-03-01T10:04:00Z"),
        "the third failure"
    );
    assert_eq!(when("recovered"), at("2020-03-02T09:00:00Z"));
    assert_eq!(
        events
            .iter()
            .find(|e| e.post.as_ref().is_some_and(|p| p.id == "c"))
            .map(|e| (e.kind.to_string(), e.detected_at)),
        Some(("new".to_string(), at("2020-03-02T09:00:00Z")))
    );
    // Quiet for 48 h after the last new post: closed at that poll, not "today".
    assert_eq!(when("closed"), at("2020-03-04T10:00:00Z"));

    let store = livewatch::store::Store::open(&state).unwrap();
    let blog = store.find_blog(url).unwrap().expect("the replayed blog");
    assert_eq!(blog.last_poll_at, Some(last), "{blog:?}");
    assert_eq!(blog.last_success_at, Some(last));
    assert_eq!(blog.last_new_post_at, Some(at("2020-03-02T09:00:00Z")));
    assert_eq!(blog.polls, polls.len() as i64 - 3, "failures are not polls");
    // The pace (when the blog closed, its last activity) is the recording's time too.
    let pace = &blog.sched;
    assert_eq!(pace.closed_at, Some(at("2020-03-04T10:00:00Z")), "{pace:?}");
    assert_eq!(
        pace.last_activity,
        Some(at("2020-03-02T09:00:00Z")),
        "{pace:?}"
    );
    assert!(
        pace.recent.iter().all(|t| (first..=last).contains(t)),
        "{pace:?}"
    );
}
