//! Polling that follows the story: paused-time tests of the poll loop with the real pace
//! policy, and black-box tests of closing, retiring and host politeness with the real
//! daemon against a real local server.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::page_server::{live_page, PageServer, Reply};
use common::*;
use livewatch::config::Watch;
use livewatch::daemon::pace::Pace;
use livewatch::daemon::poll::poll_loop;
use livewatch::extract::Closed;

fn watch() -> Watch {
    let mut w = Watch::new("http://blog/");
    w.interval = Duration::from_secs(10);
    w.max_interval = Duration::from_secs(15 * 60);
    w.retire_grace = Duration::from_secs(3600);
    w
}

/// A scripted blog: posts at the given minutes after the start (simulated clock =
/// tokio's paused clock).
struct Script {
    posts: Vec<u64>,
    closes_at: Option<u64>,
}

/// Run the real poll loop with paused time for `hours`; returns each poll's minute
/// and the interval chosen after it.
async fn simulate(script: Script, hours: u64) -> Vec<(f64, Duration)> {
    let w = watch();
    let start = tokio::time::Instant::now();
    let t0 = Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap();
    let pace = Arc::new(Mutex::new(Pace::default()));
    let polls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(0usize));
    let (_tx, mut rx) = tokio::sync::watch::channel(false);
    let run = poll_loop(Duration::ZERO, &mut rx, || {
        let (pace, polls, seen, w) = (pace.clone(), polls.clone(), seen.clone(), w.clone());
        let posts = script.posts.clone();
        let closes_at = script.closes_at;
        async move {
            let elapsed = start.elapsed();
            let now = t0 + chrono::Duration::from_std(elapsed).unwrap();
            let minute = elapsed.as_secs_f64() / 60.0;
            let published = posts.iter().filter(|m| (**m as f64) <= minute).count();
            let mut s = seen.lock().unwrap();
            let activity = published - *s;
            *s = published;
            let closed = closes_at
                .filter(|m| (*m as f64) <= minute)
                .map(|m| Closed::CoverageEnd(t0 + chrono::Duration::minutes(m as i64)));
            let d = pace
                .lock()
                .unwrap()
                .after_poll(&w, now, activity, closed.as_ref());
            polls.lock().unwrap().push((minute, d.next));
            (!d.retire).then_some(d.next)
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(hours * 3600), run).await;
    let v = polls.lock().unwrap().clone();
    v
}

#[tokio::test(start_paused = true)]
async fn polls_follow_the_pace_back_off_and_snap_back() {
    // A post every minute for an hour, nothing for two hours, then one post.
    let mut posts: Vec<u64> = (1..=60).collect();
    posts.push(180);
    let polls = simulate(
        Script {
            posts,
            closes_at: None,
        },
        4,
    )
    .await;
    let live: Vec<&(f64, Duration)> = polls
        .iter()
        .filter(|(m, _)| *m > 10.0 && *m < 60.0)
        .collect();
    assert!(!live.is_empty());
    assert!(
        live.iter().all(|(_, d)| *d <= Duration::from_secs(30)),
        "while live, polls follow the one-minute pace: {live:?}"
    );
    // Polled often enough to see every post within a minute.
    assert!(live.len() >= 50 * 2, "{} polls in 50 min", live.len());
    let quiet: Vec<&(f64, Duration)> = polls
        .iter()
        .filter(|(m, _)| *m > 61.0 && *m < 180.0)
        .collect();
    assert!(
        quiet.windows(2).all(|w| w[1].1 >= w[0].1),
        "backs off monotonically: {quiet:?}"
    );
    assert_eq!(
        quiet.last().unwrap().1,
        Duration::from_secs(15 * 60),
        "reaches max_interval"
    );
    assert!(quiet.len() < 30, "few polls while quiet: {}", quiet.len());
    // The first poll after the new post at minute 180 goes back to `interval`.
    let after = polls.iter().find(|(m, _)| *m >= 180.0).unwrap();
    assert_eq!(after.1, Duration::from_secs(10), "{after:?}");
    // And it was seen within max_interval.
    assert!(after.0 - 180.0 <= 15.0 + 1e-6);
}

#[tokio::test(start_paused = true)]
async fn closed_blog_is_retired_after_grace_and_not_polled_again() {
    let polls = simulate(
        Script {
            posts: vec![1, 2, 3],
            closes_at: Some(30),
        },
        6,
    )
    .await;
    let last = polls.last().unwrap();
    // Closed at minute 30, grace 1 h at 15-min polls, then no more polls for 4+ hours.
    assert!(
        last.0 >= 90.0 && last.0 < 30.0 + 60.0 + 16.0,
        "last poll at minute {}",
        last.0
    );
    let after_close: Vec<_> = polls.iter().filter(|(m, _)| *m >= 30.0).collect();
    assert!(after_close
        .iter()
        .all(|(_, d)| *d == Duration::from_secs(15 * 60)));
}

/// Config for black-box tests: fast intervals and a short grace period.
fn config(watches: &[String]) -> String {
    let mut s = String::new();
    for url in watches {
        s.push_str(&format!(
            "[[watch]]\nurl = \"{url}\"\ninterval = \"200ms\"\nmax_interval = \"300ms\"\nretire_grace = \"1500ms\"\n\n"
        ));
    }
    s.push_str("[[notifier]]\nname = \"out\"\ntype = \"stdout\"\njson = true\n");
    s
}

fn status_of(state: &std::path::Path, url: &str) -> serde_json::Value {
    statuses(state).remove(url).unwrap_or_default()
}

#[test]
fn coverage_end_and_end_phrase_close_then_retire_with_one_notice() {
    let server = PageServer::start();
    let posts = [("p2", "Second", "Two.", 2), ("p1", "First", "One.", 1)];
    server.set("/ld", Reply::html(live_page(&posts, "", "")));
    server.set("/phrase", Reply::html(live_page(&posts, "", "")));
    let dir = tempfile::tempdir().unwrap();
    let (ld, phrase) = (server.url("/ld"), server.url("/phrase"));
    let cfg = write_config(dir.path(), &config(&[ld.clone(), phrase.clone()]));
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon(&cfg, &state, &out);
    assert!(wait_for(Duration::from_secs(20), || server
        .requests("/ld")
        .len()
        >= 2
        && server.requests("/phrase").len() >= 2));
    // The coverage ends / the page says so.
    server.set(
        "/ld",
        Reply::html(live_page(
            &posts,
            r#","coverageEndTime":"2026-01-01T14:00:00Z""#,
            "",
        )),
    );
    server.set(
        "/phrase",
        Reply::html(live_page(
            &posts,
            "",
            "<p class=\"notice\">This live coverage has ended.</p>",
        )),
    );
    let retired = wait_for(Duration::from_secs(30), || {
        status_of(&state, &ld)["retired"] == true && status_of(&state, &phrase)["retired"] == true
    });
    assert!(
        retired,
        "both retired: {} / {}",
        status_of(&state, &ld),
        status_of(&state, &phrase)
    );
    let (n_ld, n_phrase) = (
        server.requests("/ld").len(),
        server.requests("/phrase").len(),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        server.requests("/ld").len(),
        n_ld,
        "no polls after retirement"
    );
    assert_eq!(
        server.requests("/phrase").len(),
        n_phrase,
        "no polls after retirement"
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0));
    let events = read_jsonl(&out);
    let closed: Vec<&serde_json::Value> = events.iter().filter(|e| e["kind"] == "closed").collect();
    assert_eq!(closed.len(), 2, "one closed notice each: {closed:?}");
    assert!(closed.iter().any(|e| e["blog"]["url"] == ld.as_str()
        && e["message"]
            .as_str()
            .unwrap()
            .contains("coverageEndTime 2026-01-01 14:00 UTC")));
    assert!(closed.iter().any(|e| e["blog"]["url"] == phrase.as_str()
        && e["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("live coverage has ended")));
    assert!(status_of(&state, &ld)["status"].is_string());
    // A restart does not poll retired blogs either.
    let mut d = run_daemon(&cfg, &state, &out);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(server.requests("/ld").len(), n_ld);
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn a_429_slows_every_blog_on_that_host_only() {
    let host_a = PageServer::start();
    let host_b = PageServer::start();
    let posts = [("p1", "First", "One.", 1)];
    let page = Reply::html(live_page(&posts, "", ""));
    host_a.set("/refused", Reply::status(429).header("Retry-After", "1"));
    host_a.set("/sibling", page.clone());
    host_b.set("/other", page);
    let dir = tempfile::tempdir().unwrap();
    let urls = [
        host_a.url("/refused"),
        host_a.url("/sibling"),
        host_b.url("/other"),
    ];
    let cfg = write_config(dir.path(), &config(&urls));
    let out = dir.path().join("events.jsonl");
    let mut d = run_daemon(&cfg, &dir.path().join("state"), &out);
    assert!(wait_for(Duration::from_secs(20), || host_a
        .requests("/refused")
        .len()
        >= 3));
    let t = std::time::Instant::now();
    let (s0, o0) = (
        host_a.requests("/sibling").len(),
        host_b.requests("/other").len(),
    );
    std::thread::sleep(Duration::from_secs(4));
    let sibling = host_a
        .requests("/sibling")
        .iter()
        .filter(|r| r.at >= t)
        .count();
    let other = host_b
        .requests("/other")
        .iter()
        .filter(|r| r.at >= t)
        .count();
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(
        other >= 8,
        "the other host is polled at its pace: {other} (before: {o0})"
    );
    assert!(
        sibling * 3 <= other,
        "the refused host's other blog slows down: {sibling} vs {other} (before: {s0})"
    );
}
