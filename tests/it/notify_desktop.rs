//! The desktop notifier against a real notification server: dunst on a private session
//! bus ([`DesktopEnv`]: Xvfb, dbus-daemon and dunst, one session per test), driven by the real daemon
//! over the guardian timeline; and the daemon without any session bus.

use crate::common;

use std::time::Duration;

use common::notify::*;
use common::*;

fn config(url: &str, extra: &str) -> String {
    format!(
        r#"
[[watch]]
url = "{url}"
name = "Guardian live"
interval = "200ms"
adaptive = false

[[notifier]]
name = "desk"
type = "desktop"
retry_wait = "200ms"
{extra}
"#
    )
}

#[test]
fn desktop_notifications_for_a_new_post_and_a_correction() {
    let name = "guardian";
    let dir = tempfile::tempdir().unwrap();
    let env = DesktopEnv::start(&dir.path().join("desktop"));
    let server = TimelineServer::start(dir.path(), &[name]);
    let cfg = write_config(dir.path(), &config(&server.url(name), ""));
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon_env(&cfg, &state, &out, &env.vars);
    // Step 5 publishes a post, step 6 corrects another one.
    for n in 0..=6 {
        server.advance(name, n, 3);
    }
    let find = |label: &str| {
        env.log()
            .into_iter()
            .find(|r| r["summary"] == format!("Guardian live — {label}").as_str())
    };
    let ok = wait_for(Duration::from_secs(20), || {
        find("Correction").is_some() && env.log().len() >= 4
    });
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        ok,
        "dunst got: {:#?}\n{}\nNotify calls on the bus:\n{}",
        env.log(),
        log_of(&out),
        env.monitor_log()
    );

    let new = env
        .log()
        .into_iter()
        .find(|r| {
            r["summary"] == "Guardian live — New post"
                && r["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("Jennifer Rankin reports from Brussels"))
        })
        .unwrap_or_else(|| panic!("no notification for step 5's post: {:#?}", env.log()));
    assert_eq!(new["urgency"], "NORMAL");
    assert_eq!(new["app_name"], "livewatch");
    assert!(
        new["body"]
            .as_str()
            .unwrap()
            .contains("The EU is ready to sanction"),
        "first lines of the post: {new}"
    );

    let corr = find("Correction").unwrap();
    assert_eq!(corr["urgency"], "CRITICAL");
    assert_eq!(corr["app_name"], "livewatch");
    let body = corr["body"].as_str().unwrap();
    assert!(
        body.contains("missiles and"),
        "the changed words of the correction: {body}"
    );
    // Steps 2 (new), 3 (edit), 5 (new), 6 (correction): four, each once.
    assert_eq!(env.log().len(), 4, "{:#?}", env.log());
}

#[test]
fn desktop_without_a_session_bus_is_a_clear_retried_error_and_the_daemon_lives_on() {
    let name = "guardian";
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &[name]);
    let extra = r#"
[[notifier]]
name = "out"
type = "stdout"
json = true
"#;
    let cfg = write_config(dir.path(), &config(&server.url(name), extra));
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let bus = format!("unix:path={}/no-such-bus", dir.path().display());
    let mut d = run_daemon_env(
        &cfg,
        &state,
        &out,
        &[("DBUS_SESSION_BUS_ADDRESS".to_string(), bus)],
    );
    for n in 0..=3 {
        server.advance(name, n, 3);
    }
    // The other notifier works; the desktop one keeps both events queued, retrying.
    let printed = wait_for(Duration::from_secs(20), || read_jsonl(&out).len() >= 2);
    let retried = wait_for(Duration::from_secs(20), || {
        outbox(&state, None)
            .1
            .lines()
            .any(|l| l.starts_with("pending") && l.contains("desk") && !l.contains("attempts=1 "))
    });
    assert!(
        d.0.try_wait().unwrap().is_none(),
        "the daemon is still running: {}",
        log_of(&out)
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    let log = log_of(&out);
    assert!(printed, "stdout notifier still delivers: {log}");
    assert!(
        retried,
        "desktop events retried: {}",
        outbox(&state, None).1
    );
    let (_, listing) = outbox(&state, None);
    let pending: Vec<&str> = listing
        .lines()
        .filter(|l| l.starts_with("pending"))
        .collect();
    assert_eq!(pending.len(), 2, "both events kept for later: {listing}");
    // The blog's first event is retried; the next waits behind it (order per blog).
    assert!(
        pending[0].contains("desktop notifications unavailable")
            && pending[0].contains("no-such-bus"),
        "a clear error naming the bus: {listing}"
    );
    let reported = log
        .lines()
        .filter(|l| l.contains("desktop notifications unavailable"))
        .count();
    assert_eq!(
        reported, 1,
        "reported once, not per event or attempt:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}
