//! The HTTP endpoint of the real daemon: `/metrics` read by a Prometheus text-format
//! parser while a timeline advances, and `/healthz` turning 503 when the state database
//! cannot be written.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::http::get_text;
use common::*;
use prometheus_parse::{Scrape, Value};

const LONG: Duration = Duration::from_secs(30);

fn config(listen: u16, watches: &[&str]) -> String {
    let mut t = format!("listen = \"127.0.0.1:{listen}\"\n\n");
    for url in watches {
        t.push_str(&format!(
            "[[watch]]\nurl = \"{url}\"\ninterval = \"200ms\"\nadaptive = false\n\n"
        ));
    }
    t.push_str("[[notifier]]\nname = \"out\"\ntype = \"stdout\"\njson = true\n");
    t
}

/// One scrape, parsed.
struct Metrics(Scrape);

impl Metrics {
    fn get(port: u16) -> Metrics {
        let (status, body) = get_text(port, "/metrics").expect("/metrics answers");
        assert_eq!(status, 200, "{body}");
        let scrape =
            Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text format");
        Metrics(scrape)
    }

    /// The value of a counter or gauge with these labels (0 when absent).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                _ => panic!("{name} is not a single value"),
            })
            .sum()
    }

    /// `le` → cumulative count of a histogram.
    fn histogram(&self, name: &str) -> Vec<(f64, f64)> {
        let s = self
            .0
            .samples
            .iter()
            .find(|s| s.metric == name)
            .unwrap_or_else(|| panic!("no {name}"));
        match &s.value {
            Value::Histogram(b) => b.iter().map(|c| (c.less_than, c.count)).collect(),
            other => panic!("{name} is {other:?}, not a histogram"),
        }
    }
}

#[test]
fn metrics_follow_a_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &["guardian"]);
    let g = server.url("guardian");
    // Nothing listens here: every poll of this blog is a `connect` error.
    let dead = format!("http://127.0.0.1:{}/live/", free_port());
    let port = free_port();
    let cfg = write_config(dir.path(), &config(port, &[&g, &dead]));
    let out = dir.path().join("events.jsonl");
    let mut d = run_daemon(&cfg, &dir.path().join("state"), &out);

    server.advance("guardian", 0, 3);
    server.advance("guardian", 1, 3);
    assert!(
        wait_for(LONG, || get_text(port, "/metrics").is_some()),
        "{}",
        dump(&out)
    );
    let m1 = Metrics::get(port);
    assert!(m1.value("livewatch_polls_total", &[]) >= 6.0);
    assert!(m1.value("livewatch_fetched_bytes_total", &[]) > 100_000.0);
    // Polls at an unchanged step are answered 304 (the server honours If-None-Match).
    assert!(m1.value("livewatch_not_modified_total", &[]) >= 2.0);
    assert!(m1.value("livewatch_fetch_errors_total", &[("class", "connect")]) >= 1.0);
    assert_eq!(m1.value("livewatch_events_total", &[("kind", "new")]), 0.0);
    let first_success = m1.value("livewatch_last_success_timestamp_seconds", &[("blog", &g)]);
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        (now - first_success).abs() < 60.0,
        "{first_success} vs {now}"
    );
    assert_eq!(
        m1.value(
            "livewatch_last_success_timestamp_seconds",
            &[("blog", &dead)]
        ),
        0.0,
        "a blog that never worked has no last success"
    );

    // Steps 2 (new), 3 (edit), 5 (new) and 6 (correction).
    for n in 2..=6 {
        server.advance("guardian", n, 3);
    }
    assert!(wait_for(LONG, || lines(&out).len() >= 4), "{}", dump(&out));
    let m2 = Metrics::get(port);
    assert!(m2.value("livewatch_polls_total", &[]) > m1.value("livewatch_polls_total", &[]));
    assert_eq!(m2.value("livewatch_events_total", &[("kind", "new")]), 2.0);
    assert_eq!(m2.value("livewatch_events_total", &[("kind", "edit")]), 1.0);
    assert_eq!(
        m2.value("livewatch_events_total", &[("kind", "correction")]),
        1.0
    );
    assert!(
        m2.value(
            "livewatch_deliveries_total",
            &[("notifier", "out"), ("result", "ok")]
        ) >= 4.0
    );
    assert_eq!(m2.value("livewatch_outbox_pending", &[]), 0.0);
    assert!(m2.value("livewatch_fetch_errors_total", &[("class", "connect")]) > 1.0);
    assert!(m2.value("livewatch_last_success_timestamp_seconds", &[("blog", &g)]) > first_success);
    // Every changed page was parsed once: baseline + 4 steps with changes + noise + pin.
    let h = m2.histogram("livewatch_parse_seconds");
    assert!(h.len() >= 10, "{h:?}");
    assert!(
        h.windows(2).all(|w| w[0].1 <= w[1].1),
        "not cumulative: {h:?}"
    );
    let (le, total) = *h.last().unwrap();
    assert!(le.is_infinite());
    assert!((5.0..=20.0).contains(&total), "{total} parses");
    assert_eq!(m2.value("livewatch_parse_seconds_count", &[]), total);
    assert!(m2.value("livewatch_parse_seconds_sum", &[]) > 0.0);

    d.signal("TERM");
    assert_eq!(d.wait_exit(LONG), Some(0), "{}", dump(&out));
}

#[test]
fn healthz_reports_a_locked_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = TimelineServer::start(dir.path(), &["guardian"]);
    let port = free_port();
    let cfg = write_config(dir.path(), &config(port, &[&server.url("guardian")]));
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon(&cfg, &state, &out);
    assert!(
        wait_for(LONG, || get_text(port, "/healthz")
            .is_some_and(|(s, b)| s == 200 && b == "ok\n")),
        "{:?}\n{}",
        get_text(port, "/healthz"),
        dump(&out)
    );

    // Another process holds the write lock: the daemon cannot write its state.
    let db = rusqlite::Connection::open(state.join("livewatch.db")).unwrap();
    db.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (status, body) = get_text(port, "/healthz").expect("/healthz answers");
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("unhealthy: state database"), "{body}");
    db.execute_batch("ROLLBACK").unwrap();
    drop(db);

    let mut seen = HashMap::new();
    assert!(
        wait_for(LONG, || {
            let r = get_text(port, "/healthz");
            *seen.entry(format!("{r:?}")).or_insert(0) += 1;
            r.is_some_and(|(s, _)| s == 200)
        }),
        "healthy again after the lock is gone: {seen:?}"
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(LONG), Some(0), "{}", dump(&out));
}
