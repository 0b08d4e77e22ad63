//! The real binary as systemd runs it: the notify protocol on a real unix datagram
//! socket (READY, WATCHDOG, STATUS, the reload sequence, STOPPING), SIGHUP reloads
//! against the shared timeline-server, journal-style logs, and `livewatch status`.

use crate::common;

use std::time::Duration;

use common::service::NotifySocket;
use common::*;

const LONG: Duration = Duration::from_secs(30);

fn watch_toml(url: &str) -> String {
    format!("[[watch]]\nurl = \"{url}\"\ninterval = \"200ms\"\nadaptive = false\n\n")
}

const OUT_NOTIFIER: &str = "[[notifier]]\nname = \"out\"\ntype = \"stdout\"\njson = true\n";

#[test]
fn notify_protocol_ready_watchdog_status_reload_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &["guardian"]);
    let cfg = write_config(
        dir.path(),
        &format!("{}{OUT_NOTIFIER}", watch_toml(&server.url("guardian"))),
    );
    let sock = NotifySocket::bind(dir.path());
    let out = dir.path().join("events.jsonl");
    let mut d = run_daemon_env(
        &cfg,
        &dir.path().join("state"),
        &out,
        &[
            ("NOTIFY_SOCKET", sock.path.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );

    sock.wait(0, "READY=1", LONG);
    let status = sock.wait(0, "STATUS=", LONG);
    let text = &sock.texts()[status];
    assert!(
        text.contains("STATUS=watching 1 blog; 0 events pending; no errors"),
        "{text}"
    );

    // Watchdog: pings keep coming at about half of WATCHDOG_USEC (1 s), never further
    // apart than the watchdog interval would allow on a loaded machine.
    assert!(
        wait_for(LONG, || sock
            .all()
            .iter()
            .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
            .count()
            >= 6),
        "fewer than 6 WATCHDOG=1: {:#?}",
        sock.texts()
    );
    let pings: Vec<_> = sock
        .all()
        .into_iter()
        .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
        .map(|(t, _)| t)
        .collect();
    let mut gaps: Vec<Duration> = pings.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    let median = gaps[gaps.len() / 2];
    assert!(
        median >= Duration::from_millis(300) && median <= Duration::from_millis(800),
        "median ping gap {median:?} (gaps {gaps:?})"
    );
    assert!(
        *gaps.last().unwrap() < Duration::from_secs(3),
        "a gap of {:?} would have tripped the watchdog",
        gaps.last().unwrap()
    );

    // Reload: RELOADING=1 with MONOTONIC_USEC= in the same message, then READY=1.
    let before = sock.all().len();
    d.signal("HUP");
    let reloading = sock.wait(before, "RELOADING=1", LONG);
    let msg = &sock.texts()[reloading];
    let usec: u64 = msg
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {msg:?}"))
        .parse()
        .expect("MONOTONIC_USEC is a number");
    assert!(usec > 0);
    sock.wait(reloading + 1, "READY=1", LONG);

    // Shutdown: STOPPING=1, exit 0.
    let before = sock.all().len();
    d.signal("TERM");
    sock.wait(before, "STOPPING=1", LONG);
    assert_eq!(d.wait_exit(LONG), Some(0), "{}", dump(&out));
}

#[test]
fn watchdog_for_another_pid_is_not_pinged() {
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &["guardian"]);
    let cfg = write_config(
        dir.path(),
        &format!("{}{OUT_NOTIFIER}", watch_toml(&server.url("guardian"))),
    );
    let sock = NotifySocket::bind(dir.path());
    let out = dir.path().join("events.jsonl");
    // WATCHDOG_PID names another process (pid 1): the watchdog is not ours to feed.
    let mut d = run_daemon_env(
        &cfg,
        &dir.path().join("state"),
        &out,
        &[
            ("NOTIFY_SOCKET", sock.path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
            ("WATCHDOG_PID", "1"),
        ],
    );
    sock.wait(0, "READY=1", LONG);
    // Wait until the blog was polled several times: the control loop has run for a while.
    assert!(wait_for(LONG, || server.polls_at("guardian", 0) >= 5));
    assert!(
        !sock.texts().iter().any(|m| m.contains("WATCHDOG=1")),
        "{:#?}",
        sock.texts()
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(LONG), Some(0));
}

/// How many events a timeline's manifest expects over `steps`.
fn expected_events(name: &str, steps: std::ops::RangeInclusive<usize>) -> usize {
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(timeline_dir(name).join("manifest.json")).unwrap(),
    )
    .unwrap();
    steps
        .map(|i| m["steps"][i]["expect"].as_array().unwrap().len())
        .sum()
}

/// Events of one blog, one JSON line each, written to `path` for timeline-check.
fn events_of(lines: &[String], blog: &str, path: &std::path::Path) -> Vec<serde_json::Value> {
    let evs: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["blog"]["url"] == blog)
        .collect();
    let text: String = evs.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(path, text).unwrap();
    evs
}

#[test]
fn sighup_reload_adds_a_blog_changes_a_notifier_and_refuses_a_broken_config() {
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &["guardian", "cbsnews"]);
    let (g, c) = (server.url("guardian"), server.url("cbsnews"));
    // First config: guardian only, and "out" takes only new posts.
    let cfg = write_config(
        dir.path(),
        &format!("{}{OUT_NOTIFIER}kinds = [\"new\"]\n", watch_toml(&g)),
    );
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon(&cfg, &state, &out);
    for n in 0..=3 {
        server.advance("guardian", n, 3);
    }
    // Step 2's new post is delivered; step 3's edit is filtered out by `kinds`.
    assert!(wait_for(LONG, || !lines(&out).is_empty()), "{}", dump(&out));
    std::thread::sleep(Duration::from_millis(500));
    let before_reload = lines(&out);
    assert_eq!(before_reload.len(), 1, "{}", dump(&out));
    assert!(before_reload[0].contains("\"kind\":\"new\""));

    // Reload: add cbsnews, drop the filter.
    write_config(
        dir.path(),
        &format!("{}{}{OUT_NOTIFIER}", watch_toml(&g), watch_toml(&c)),
    );
    d.signal("HUP");
    assert!(
        wait_for(LONG, || server.polls_at("cbsnews", 0) >= 2),
        "the new blog is not polled: {}",
        dump(&out)
    );
    for n in 4..=6 {
        server.advance("guardian", n, 3);
    }
    for n in 1..=4 {
        server.advance("cbsnews", n, 3);
    }

    // A broken config is refused; the running one goes on.
    write_config(dir.path(), "[[watch]\nurl = \n");
    d.signal("HUP");
    assert!(
        wait_for(LONG, || std::fs::read_to_string(out.with_extension("log"))
            .unwrap_or_default()
            .contains("new configuration refused")),
        "{}",
        dump(&out)
    );
    for n in 7..=9 {
        server.advance("guardian", n, 3);
    }
    for n in 5..=9 {
        server.advance("cbsnews", n, 3);
    }
    let want = 1 + expected_events("guardian", 4..=9) + expected_events("cbsnews", 0..=9);
    assert!(
        wait_for(LONG, || lines(&out).len() >= want),
        "{}\n--- outbox:\n{}",
        dump(&out),
        String::from_utf8_lossy(
            &livewatch()
                .args(["outbox", "--state"])
                .arg(&state)
                .output()
                .unwrap()
                .stdout
        )
    );

    // `livewatch status` reads the store while the daemon runs.
    let st = livewatch()
        .args(["status", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(st.status.success(), "{text}");
    for blog in [&g, &c] {
        assert!(text.contains(&format!("url:        {blog}")), "{text}");
    }
    assert!(
        text.contains("last poll:  ") && text.contains(" ago ("),
        "{text}"
    );
    assert!(text.contains("0 failing in a row"), "{text}");
    assert!(
        text.contains("last new:   ") && text.contains("seen, "),
        "{text}"
    );
    assert!(text.contains("events pending"), "{text}");
    let st = livewatch()
        .args(["status", "--json", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&st.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert!(r["posts"].as_i64().unwrap() > 0, "{r}");
        assert!(r["polls"].as_i64().unwrap() > 3, "{r}");
        assert!(
            r["last_poll_at"].is_string() && r["last_new_post_at"].is_string(),
            "{r}"
        );
        assert_eq!(r["failures"], 0);
        assert!(r["pending_events"].is_i64());
    }

    // Reload without guardian: its task stops, cbsnews goes on.
    write_config(dir.path(), &format!("{}{OUT_NOTIFIER}", watch_toml(&c)));
    d.signal("HUP");
    assert!(
        wait_for(LONG, || std::fs::read_to_string(out.with_extension("log"))
            .unwrap_or_default()
            .matches("configuration reloaded blogs=1 ")
            .count()
            == 1),
        "{}",
        dump(&out)
    );
    // Count guardian's requests once a request that was in flight at the reload has
    // surely been logged: after two more cbsnews polls.
    let cbs_polls = server.requests("cbsnews").len();
    assert!(wait_for(LONG, || server.requests("cbsnews").len() >= cbs_polls + 2));
    let guardian_polls = server.requests("guardian").len();
    let cbs_polls = server.requests("cbsnews").len();
    assert!(
        wait_for(LONG, || server.requests("cbsnews").len() >= cbs_polls + 5),
        "cbsnews is no longer polled"
    );
    assert_eq!(
        server.requests("guardian").len(),
        guardian_polls,
        "a removed blog is still polled"
    );

    d.signal("TERM");
    assert_eq!(d.wait_exit(LONG), Some(0), "{}", dump(&out));

    let all = lines(&out);
    // No event repeated: every id once.
    let mut ids: Vec<String> = all
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
        .collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(
        ids.len(),
        n,
        "an event was delivered twice:\n{}",
        dump(&out)
    );
    // After the reload: guardian goes on from its stored state (steps 4-9, nothing of
    // before again), cbsnews from a silent baseline, and the unfiltered notifier gets
    // edits and corrections too.
    let after = &all[before_reload.len()..];
    let gpath = dir.path().join("guardian-after.jsonl");
    events_of(after, &g, &gpath);
    let (ok, report) = timeline_check("guardian", &gpath, Some("4:9"));
    assert!(ok, "guardian after reload: {report}\n{}", dump(&out));
    let cpath = dir.path().join("cbsnews.jsonl");
    events_of(after, &c, &cpath);
    let (ok, report) = timeline_check("cbsnews", &cpath, None);
    assert!(ok, "cbsnews: {report}\n{}", dump(&out));
    // The guardian state was kept: one baseline only, in the first config.
    let log = std::fs::read_to_string(out.with_extension("log")).unwrap();
    let baselines = log
        .lines()
        .filter(|l| l.contains("baseline taken") && l.contains("/guardian/"))
        .count();
    assert_eq!(baselines, 1, "{log}");
}

#[test]
fn journal_logs_carry_priority_prefixes_and_no_ansi() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port: every poll fails (a warning).
    let port = free_port();
    let cfg = write_config(
        dir.path(),
        &format!(
            "{}{OUT_NOTIFIER}",
            watch_toml(&format!("http://127.0.0.1:{port}/live/"))
        ),
    );
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut cmd_env = vec![("JOURNAL_STREAM", "8:12345")];
    cmd_env.push(("RUST_LOG", "info"));
    let mut d = run_daemon_env(&cfg, &state, &out, &cmd_env);
    let log = out.with_extension("log");
    assert!(
        wait_for(LONG, || std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("poll failed")
            .count()
            >= 2),
        "{}",
        dump(&out)
    );

    // `status` shows the errors while the daemon runs.
    let st = livewatch()
        .args(["status", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(text.contains("status:     error: cannot connect"), "{text}");
    assert!(!text.contains(" 0 failing in a row"), "{text}");
    assert!(text.contains("last new:   never"), "{text}");

    d.signal("TERM");
    assert_eq!(d.wait_exit(LONG), Some(0), "{}", dump(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "ANSI escape in journal output:\n{text}"
    );
    let prefix = regex::Regex::new(r"^<([0-7])>(ERROR|WARN|INFO|DEBUG|TRACE) \S").unwrap();
    let stamped = regex::Regex::new(r"^<\d>\S+ \d{4}-\d\d-\d\dT").unwrap();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let c = prefix
            .captures(line)
            .unwrap_or_else(|| panic!("no <N> prefix: {line:?}"));
        let want = match &c[2] {
            "ERROR" => "3",
            "WARN" => "4",
            "INFO" => "6",
            _ => "7",
        };
        assert_eq!(&c[1], want, "{line}");
        // The journal stamps lines itself: none of ours.
        assert!(!stamped.is_match(line));
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("<6>INFO ") && l.contains("livewatch running")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("<4>WARN ") && l.contains("poll failed")),
        "{text}"
    );
}
