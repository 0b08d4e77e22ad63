//! The webhook notifier, end to end: the real binary delivering to the shared
//! webhook-sink with injected faults.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use base64::Engine;
use common::notify::*;
use common::*;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const SECRET: &str = "s3cret-for-tests";

/// The raw body of a sink record, as sent.
fn raw_body(r: &serde_json::Value) -> Vec<u8> {
    match r["body_b64"].as_str() {
        Some(b) => base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
        None => r["body"].as_str().unwrap_or("").as_bytes().to_vec(),
    }
}

fn hmac_hex(body: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(&m.finalize().into_bytes()[..]))
}

fn webhook_config(page: &str, sink: &str, extra_watch: &str, extra_notifier: &str) -> String {
    format!(
        r#"
[[watch]]
url = "{page}"
name = "Test blog"
interval = "200ms"
adaptive = false
{extra_watch}

[[notifier]]
name = "hook"
type = "webhook"
url = "{sink}"
retry_wait = "100ms"
timeout = "3s"
{extra_notifier}
"#
    )
}

#[test]
fn webhook_retries_503_signs_and_delivers_each_guardian_event_once() {
    let name = "guardian";
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &[name]);
    let sink = Sink::start(dir.path(), &["--fail-first", "5", "--fail-mode", "503"]);
    let cfg = write_config(
        dir.path(),
        &webhook_config(
            &server.url(name),
            &sink.url(),
            "",
            &format!("secret = \"{SECRET}\"\nheaders = {{ \"X-Team\" = \"live\" }}"),
        ),
    );
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon(&cfg, &state, &out);
    for n in 0..TimelineServer::steps(name) {
        server.advance(name, n, 3);
    }
    // 6 events in the guardian timeline; 5 first attempts failed with 503.
    let ok = wait_for(Duration::from_secs(60), || sink.delivered().len() >= 6);
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    let recs = sink.records();
    assert!(ok, "not all delivered: {recs:#?}\n{}", log_of(&out));
    let failed = recs.iter().filter(|r| r["status"] == 503).count();
    assert_eq!(failed, 5, "the sink refused the first 5 attempts");
    let delivered = sink.delivered();
    let ids: Vec<&str> = delivered
        .iter()
        .map(|r| r["json"]["id"].as_str().unwrap())
        .collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "each event delivered once: {ids:?}"
    );
    for r in &recs {
        let h = &r["headers"];
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["x-livewatch-event"], r["json"]["kind"]);
        assert_eq!(h["x-livewatch-delivery"], r["json"]["id"]);
        assert_eq!(h["x-team"], "live", "custom header");
        assert_eq!(
            h["x-livewatch-signature-256"].as_str(),
            Some(hmac_hex(&raw_body(r)).as_str()),
            "HMAC of the raw body"
        );
    }
    // Every retry of an event carries the same id: the failed attempts' ids are among
    // the delivered ones.
    for r in recs.iter().filter(|r| r["status"] == 503) {
        assert!(unique.contains(r["json"]["id"].as_str().unwrap()));
    }
    let (ok, report) = timeline_check(name, &sink.log, None);
    assert!(ok, "{report}");
}

/// A page with `n` posts, all announced on the first poll, delivered to `sink`.
fn announce(
    dir: &std::path::Path,
    n: usize,
    sink: &Sink,
    extra_notifier: &str,
) -> (
    PageServer,
    std::path::PathBuf,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let page = PageServer::start(live_page("Test blog", &gen_posts(n)));
    let cfg = write_config(
        dir,
        &webhook_config(
            &page.url(),
            &sink.url(),
            &format!("announce_existing = {n}"),
            extra_notifier,
        ),
    );
    (page, cfg, dir.join("state"), dir.join("events.jsonl"))
}

#[test]
fn webhook_honours_retry_after_and_retries_drop_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(
        dir.path(),
        &["--sequence", "429,drop,reset,ok", "--retry-after", "2"],
    );
    let (_page, cfg, state, out) = announce(dir.path(), 1, &sink, "");
    let mut d = run_daemon(&cfg, &state, &out);
    let ok = wait_for(Duration::from_secs(30), || !sink.delivered().is_empty());
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    let recs = sink.records();
    assert!(ok, "{recs:#?}\n{}", log_of(&out));
    let actions: Vec<&str> = recs.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["status", "drop", "reset", "ok"], "{recs:#?}");
    assert_eq!(recs[0]["status"], 429);
    let id = &recs[0]["json"]["id"];
    assert!(
        recs.iter().all(|r| &r["json"]["id"] == id),
        "same id on every attempt"
    );
    let gap = recs[1]["ts"].as_f64().unwrap() - recs[0]["ts"].as_f64().unwrap();
    assert!(
        gap >= 2.0,
        "Retry-After: 2 honoured, next attempt after {gap:.2}s"
    );
}

#[test]
fn webhook_400_is_dead_lettered_and_outbox_retry_requeues_it() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(dir.path(), &["--fail-first", "1", "--fail-mode", "400"]);
    let (_page, cfg, state, out) = announce(dir.path(), 1, &sink, "");
    let mut d = run_daemon(&cfg, &state, &out);
    let mut listing = String::new();
    let dead = wait_for(Duration::from_secs(30), || {
        listing = outbox(&state, None).1;
        listing.lines().any(|l| l.starts_with("dead "))
    });
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(dead, "{listing}\n{}", log_of(&out));
    let recs = sink.records();
    assert_eq!(recs.len(), 1, "a 400 is not retried: {recs:#?}");
    let id = recs[0]["json"]["id"].as_str().unwrap();
    assert!(listing.contains(id), "{listing}");
    assert!(
        listing.contains("HTTP 400"),
        "status in the listing: {listing}"
    );
    assert!(
        log_of(&out).contains("dead letters"),
        "logged: {}",
        log_of(&out)
    );

    let (code, said) = outbox(&state, Some("retry"));
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("1 dead-lettered"), "{said}");
    let mut d = run_daemon(&cfg, &state, &out);
    let ok = wait_for(Duration::from_secs(30), || sink.delivered().len() == 1);
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(ok, "{:#?}\n{}", sink.records(), log_of(&out));
    assert_eq!(sink.delivered()[0]["json"]["id"], id, "same event id");
    let (_, listing) = outbox(&state, None);
    assert!(listing.contains("outbox empty"), "{listing}");
}

#[test]
fn a_burst_becomes_one_digest() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(dir.path(), &[]);
    let (_page, cfg, state, out) =
        announce(dir.path(), 8, &sink, "burst = 3\nburst_window = \"1m\"");
    let mut d = run_daemon(&cfg, &state, &out);
    let ok = wait_for(Duration::from_secs(30), || !sink.delivered().is_empty());
    // Give a wrongly split delivery time to show up.
    let settled = wait_for(Duration::from_secs(2), || {
        outbox(&state, None).1.contains("outbox empty")
    });
    std::thread::sleep(Duration::from_millis(500));
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    let recs = sink.records();
    assert!(ok && settled, "{recs:#?}\n{}", log_of(&out));
    assert_eq!(recs.len(), 1, "one digest for 8 events: {recs:#?}");
    let msg = recs[0]["json"]["message"].as_str().unwrap();
    assert!(msg.starts_with("8 updates\n"), "{msg}");
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for i in 1..=8 {
        let h = format!("Update number {i}");
        *counts
            .entry(if msg.contains(&h) {
                "listed"
            } else {
                "missing"
            })
            .or_default() += 1;
    }
    assert_eq!(counts.get("listed"), Some(&8), "{msg}");
}
