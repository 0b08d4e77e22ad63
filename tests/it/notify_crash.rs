//! Crash safety of the outbox: 200 events pending while the receiver fails, the daemon
//! killed with SIGKILL twice at random moments, then restarted with the receiver
//! healthy: every event arrives (duplicates only with the same id), none is lost.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use common::notify::*;
use common::*;

const N: usize = 200;

/// A number in `lo..hi` that differs from run to run (no seed to keep: the point is
/// that any moment works).
fn random_in(lo: usize, hi: usize) -> usize {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize;
    lo + nanos % (hi - lo)
}

#[test]
fn two_kill_9s_lose_no_event_of_200() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(
        dir.path(),
        &["--fail-first", "100000", "--fail-mode", "503"],
    );
    let page = PageServer::start(live_page("Crash blog", &gen_posts(N)));
    let cfg = write_config(
        dir.path(),
        &format!(
            r#"
[[watch]]
url = "{}"
interval = "500ms"
adaptive = false
announce_existing = {N}

[[notifier]]
name = "hook"
type = "webhook"
url = "{}"
retry_wait = "100ms"
"#,
            page.url(),
            sink.url()
        ),
    );
    let state = dir.path().join("state");
    let out = dir.path().join("events.jsonl");

    // 1: the receiver fails; kill while the 200 events wait in the outbox.
    let d = run_daemon(&cfg, &state, &out);
    let failing = random_in(2, 5);
    assert!(
        wait_for(Duration::from_secs(30), || sink.records().len() >= failing),
        "no attempts: {}",
        log_of(&out)
    );
    d.signal("KILL");
    drop(d);
    let (_, listing) = outbox(&state, None);
    assert_eq!(
        listing.lines().filter(|l| l.starts_with("pending")).count(),
        N,
        "all {N} pending after the first kill:\n{listing}"
    );

    // 2: the receiver works again, slowly; kill in the middle of the deliveries.
    sink.configure(r#"{"fail_first": 100000, "fail_mode": "slow:0.02"}"#);
    let d = run_daemon(&cfg, &state, &out);
    let midway = random_in(20, N - 40);
    assert!(
        wait_for(Duration::from_secs(60), || sink.delivered().len() >= midway),
        "deliveries did not resume: {}",
        log_of(&out)
    );
    d.signal("KILL");
    drop(d);
    let after_second_kill = sink.delivered().len();

    // 3: restart; everything arrives.
    let mut d = run_daemon(&cfg, &state, &out);
    let all = wait_for(Duration::from_secs(90), || {
        sink.delivered()
            .iter()
            .filter_map(|r| r["json"]["id"].as_str().map(str::to_string))
            .collect::<HashSet<_>>()
            .len()
            >= N
    });
    std::thread::sleep(Duration::from_millis(300));
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    let delivered = sink.delivered();
    assert!(
        all,
        "only {} distinct events arrived\n{}",
        delivered.len(),
        log_of(&out)
    );

    // Each event's id is the same on every copy; each post arrived under one id.
    let mut id_of_post: HashMap<String, String> = HashMap::new();
    let mut copies: HashMap<String, usize> = HashMap::new();
    for r in &delivered {
        let id = r["json"]["id"].as_str().unwrap().to_string();
        let post = r["json"]["post"]["id"].as_str().unwrap().to_string();
        let prev = id_of_post.entry(post.clone()).or_insert_with(|| id.clone());
        assert_eq!(prev, &id, "post {post} delivered under two ids");
        *copies.entry(id).or_default() += 1;
    }
    let posts: HashSet<&String> = id_of_post.keys().collect();
    for i in 1..=N {
        assert!(posts.contains(&format!("post-{i}")), "post-{i} lost");
    }
    assert_eq!(copies.len(), N, "0 lost, nothing extra");
    let dups: usize = copies.values().map(|c| c - 1).sum();
    eprintln!(
        "crash test: killed after {failing} failed attempts and after {after_second_kill} deliveries; {N} events, {} requests delivered, {dups} duplicates",
        delivered.len()
    );
    assert!(dups <= 2, "at most the in-flight deliveries repeat: {dups}");
    let (_, listing) = outbox(&state, None);
    assert!(listing.contains("outbox empty"), "{listing}");
}
