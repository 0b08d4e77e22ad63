//! Counters, gauges and the parse-time histogram behind `/metrics`, counted where things
//! happen (the poll loop, the delivery workers) through one process-wide handle,
//! [`global()`], which any part of the daemon can also read (e.g. per-blog telemetry via
//! [`Metrics::blog`]).
//!
//! Hand-rolled rather than a metrics crate: a dozen series with fixed names, rendered in
//! the Prometheus text format (0.0.4) with explicit histogram buckets. Plain atomics where
//! there is no label; a std `Mutex` around a small map where there is one — it is held
//! for a map update only, never across an `.await`, at most a few times per poll.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::EventKind;

/// Upper bounds (seconds) of the `livewatch_parse_seconds` buckets: extraction takes about
/// 2–18 ms on 1–3 MiB pages (docs/performance.md), so the buckets are dense around that.
pub const PARSE_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// What is known about one blog since this process started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlogStats {
    /// Fetch attempts.
    pub polls: u64,
    /// Failed polls (fetch errors and pages without posts).
    pub failures: u64,
    /// Events committed for this blog.
    pub events: u64,
    /// The last poll that worked (200 processed, 304, or an unchanged body).
    pub last_success: Option<DateTime<Utc>>,
    /// The last failure's message.
    pub last_error: Option<String>,
}

/// The most recent failure of any blog, for the systemd `STATUS=` line.
#[derive(Debug, Clone, PartialEq)]
pub struct LastError {
    pub blog: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

/// A histogram with fixed buckets ([`PARSE_BUCKETS`]).
#[derive(Debug, Default)]
struct Histogram {
    /// Per-bucket (not cumulative) counts; the last slot is `+Inf`.
    buckets: [AtomicU64; PARSE_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = PARSE_BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(PARSE_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every metric of the daemon.
#[derive(Debug, Default)]
pub struct Metrics {
    polls: AtomicU64,
    not_modified: AtomicU64,
    unchanged: AtomicU64,
    noise_only: AtomicU64,
    vendor_looks: AtomicU64,
    bytes: AtomicU64,
    fetch_errors: Mutex<BTreeMap<&'static str, u64>>,
    page_errors: AtomicU64,
    parse: Histogram,
    events: Mutex<BTreeMap<&'static str, u64>>,
    /// (notifier, result) → count.
    deliveries: Mutex<BTreeMap<(String, &'static str), u64>>,
    blogs: Mutex<BTreeMap<String, BlogStats>>,
    last_error: Mutex<Option<LastError>>,
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

/// Lock a map even if a panicking thread poisoned it: counters stay usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How a delivery attempt ended, the `result` label of `livewatch_deliveries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    /// Delivered.
    Ok,
    /// Failed; will be tried again.
    Retry,
    /// Refused for good or given up: moved to dead letters.
    Dead,
}

impl DeliveryResult {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Ok => "ok",
            DeliveryResult::Retry => "retry",
            DeliveryResult::Dead => "dead",
        }
    }
}

impl Metrics {
    /// A fetch of `blog` was attempted.
    pub fn poll(&self, blog: &str) {
        self.polls.fetch_add(1, Ordering::Relaxed);
        lock(&self.blogs).entry(blog.to_string()).or_default().polls += 1;
    }

    /// The server answered 304 Not Modified.
    pub fn not_modified(&self) {
        self.not_modified.fetch_add(1, Ordering::Relaxed);
    }

    /// A 200 whose body was identical to the last one (not parsed again).
    pub fn unchanged(&self) {
        self.unchanged.fetch_add(1, Ordering::Relaxed);
    }

    /// A 200 whose body changed but whose content fingerprint did not (not parsed).
    pub fn noise_only(&self) {
        self.noise_only.fetch_add(1, Ordering::Relaxed);
    }

    /// Fetches answered on the content fingerprint so far.
    pub fn noise_only_total(&self) -> u64 {
        self.noise_only.load(Ordering::Relaxed)
    }

    /// A page that names a vendor was parsed to look for the feed it embeds.
    pub fn vendor_look(&self) {
        self.vendor_looks.fetch_add(1, Ordering::Relaxed);
    }

    /// Pages parsed to look for a vendor feed so far.
    pub fn vendor_looks_total(&self) -> u64 {
        self.vendor_looks.load(Ordering::Relaxed)
    }

    /// A body of `n` bytes (decoded size) was received.
    pub fn bytes(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// A fetch failed with a [`crate::fetch::FetchError::class`].
    pub fn fetch_error(&self, blog: &str, class: &'static str, message: &str) {
        *lock(&self.fetch_errors).entry(class).or_default() += 1;
        self.failure(blog, message);
    }

    /// A page came back but yielded no usable posts.
    pub fn page_error(&self, blog: &str, message: &str) {
        self.page_errors.fetch_add(1, Ordering::Relaxed);
        self.failure(blog, message);
    }

    fn failure(&self, blog: &str, message: &str) {
        {
            let mut blogs = lock(&self.blogs);
            let b = blogs.entry(blog.to_string()).or_default();
            b.failures += 1;
            b.last_error = Some(message.to_string());
        }
        *lock(&self.last_error) = Some(LastError {
            blog: blog.to_string(),
            message: message.to_string(),
            at: Utc::now(),
        });
    }

    /// A poll of `blog` worked.
    pub fn success(&self, blog: &str, at: DateTime<Utc>) {
        lock(&self.blogs)
            .entry(blog.to_string())
            .or_default()
            .last_success = Some(at);
    }

    /// Extracting posts from one page took `d`.
    pub fn parse_time(&self, d: Duration) {
        self.parse.observe(d);
    }

    /// Events of `blog` were committed to the store.
    pub fn events(&self, blog: &str, kinds: impl IntoIterator<Item = EventKind>) {
        let mut n = 0;
        {
            let mut events = lock(&self.events);
            for k in kinds {
                *events.entry(k.as_str()).or_default() += 1;
                n += 1;
            }
        }
        if n > 0 {
            lock(&self.blogs)
                .entry(blog.to_string())
                .or_default()
                .events += n;
        }
    }

    /// One delivery attempt by `notifier` ended with `result`.
    pub fn delivery(&self, notifier: &str, result: DeliveryResult) {
        *lock(&self.deliveries)
            .entry((notifier.to_string(), result.as_str()))
            .or_default() += 1;
    }

    /// Forget blogs no longer watched (after a reload), so their series disappear.
    pub fn retain_blogs(&self, watched: &[&str]) {
        lock(&self.blogs).retain(|url, _| watched.contains(&url.as_str()));
    }

    /// What is known about one blog.
    pub fn blog(&self, url: &str) -> Option<BlogStats> {
        lock(&self.blogs).get(url).cloned()
    }

    /// The most recent failure of any blog.
    pub fn last_error(&self) -> Option<LastError> {
        lock(&self.last_error).clone()
    }

    /// Total fetch attempts.
    pub fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// Everything in the Prometheus text format. `outbox` is (pending, dead) deliveries,
    /// read from the store by the caller; `None` leaves those gauges out.
    pub fn render(&self, outbox: Option<(i64, i64)>) -> String {
        let mut o = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut o,
            "livewatch_polls_total",
            "Fetches attempted.",
            load(&self.polls),
        );
        counter(
            &mut o,
            "livewatch_not_modified_total",
            "Fetches answered 304 Not Modified.",
            load(&self.not_modified),
        );
        counter(
            &mut o,
            "livewatch_unchanged_total",
            "Fetches whose body was identical to the previous one (not parsed).",
            load(&self.unchanged),
        );
        counter(
            &mut o,
            "livewatch_noise_only_total",
            "Fetches whose body changed but not its content fingerprint: only noise changed (not parsed).",
            load(&self.noise_only),
        );
        counter(
            &mut o,
            "livewatch_vendor_looks_total",
            "Pages that name a live-blog vendor parsed to look for the feed they embed (only when their content fingerprint changed).",
            load(&self.vendor_looks),
        );
        counter(
            &mut o,
            "livewatch_fetched_bytes_total",
            "Body bytes received (after decompression).",
            load(&self.bytes),
        );
        header(
            &mut o,
            "livewatch_fetch_errors_total",
            "counter",
            "Failed fetches by class.",
        );
        for (class, n) in lock(&self.fetch_errors).iter() {
            let _ = writeln!(
                o,
                "livewatch_fetch_errors_total{{class=\"{}\"}} {n}",
                esc(class)
            );
        }
        counter(
            &mut o,
            "livewatch_page_errors_total",
            "Pages fetched that yielded no usable posts.",
            load(&self.page_errors),
        );

        header(
            &mut o,
            "livewatch_parse_seconds",
            "histogram",
            "Time to extract the posts of one page.",
        );
        let mut cumulative = 0;
        for (i, b) in PARSE_BUCKETS.iter().enumerate() {
            cumulative += load(&self.parse.buckets[i]);
            let _ = writeln!(
                o,
                "livewatch_parse_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        cumulative += load(&self.parse.buckets[PARSE_BUCKETS.len()]);
        let _ = writeln!(
            o,
            "livewatch_parse_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let sum = load(&self.parse.sum_nanos) as f64 / 1e9;
        let _ = writeln!(o, "livewatch_parse_seconds_sum {sum}");
        let _ = writeln!(
            o,
            "livewatch_parse_seconds_count {}",
            load(&self.parse.count)
        );

        header(
            &mut o,
            "livewatch_events_total",
            "counter",
            "Events committed, by kind.",
        );
        for (kind, n) in lock(&self.events).iter() {
            let _ = writeln!(o, "livewatch_events_total{{kind=\"{}\"}} {n}", esc(kind));
        }

        header(
            &mut o,
            "livewatch_deliveries_total",
            "counter",
            "Delivery attempts by notifier and result (ok, retry, dead).",
        );
        for ((notifier, result), n) in lock(&self.deliveries).iter() {
            let _ = writeln!(
                o,
                "livewatch_deliveries_total{{notifier=\"{}\",result=\"{result}\"}} {n}",
                esc(notifier)
            );
        }

        if let Some((pending, dead)) = outbox {
            gauge(
                &mut o,
                "livewatch_outbox_pending",
                "Deliveries waiting in the outbox.",
                pending as f64,
            );
            gauge(
                &mut o,
                "livewatch_outbox_dead",
                "Deliveries given up (dead letters; `livewatch outbox retry`).",
                dead as f64,
            );
        }

        let blogs = lock(&self.blogs);
        gauge(
            &mut o,
            "livewatch_blogs",
            "Blogs polled since the start (removed ones dropped on reload).",
            blogs.len() as f64,
        );
        header(
            &mut o,
            "livewatch_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful poll, per blog.",
        );
        for (url, b) in blogs.iter() {
            if let Some(t) = b.last_success {
                let secs = t.timestamp_millis() as f64 / 1000.0;
                let _ = writeln!(
                    o,
                    "livewatch_last_success_timestamp_seconds{{blog=\"{}\"}} {secs}",
                    esc(url)
                );
            }
        }
        o
    }
}

fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

fn counter(o: &mut String, name: &str, help: &str, v: u64) {
    header(o, name, "counter", help);
    let _ = writeln!(o, "{name} {v}");
}

fn gauge(o: &mut String, name: &str, help: &str, v: f64) {
    header(o, name, "gauge", help);
    let _ = writeln!(o, "{name} {v}");
}

/// Escape a label value (text format: backslash, double quote, newline).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_with_sum_and_count() {
        let m = Metrics::default();
        m.parse_time(Duration::from_micros(500));
        m.parse_time(Duration::from_millis(7));
        m.parse_time(Duration::from_secs(9));
        let out = m.render(None);
        assert!(out.contains("livewatch_parse_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(out.contains("livewatch_parse_seconds_bucket{le=\"0.01\"} 2\n"));
        assert!(out.contains("livewatch_parse_seconds_bucket{le=\"5\"} 2\n"));
        assert!(out.contains("livewatch_parse_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(out.contains("livewatch_parse_seconds_count 3\n"));
        assert!(
            out.contains("livewatch_parse_seconds_sum 9.0075\n"),
            "{out}"
        );
    }

    #[test]
    fn labels_are_escaped_and_blogs_forgotten_on_reload() {
        let m = Metrics::default();
        m.poll("http://a/\"x\"");
        m.success(
            "http://a/\"x\"",
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        );
        m.delivery("team", DeliveryResult::Retry);
        m.fetch_error("http://b/", "timeout", "timed out");
        let out = m.render(Some((3, 1)));
        assert!(out.contains(
            "livewatch_last_success_timestamp_seconds{blog=\"http://a/\\\"x\\\"\"} 1700000000\n"
        ));
        assert!(out.contains("livewatch_deliveries_total{notifier=\"team\",result=\"retry\"} 1\n"));
        assert!(out.contains("livewatch_fetch_errors_total{class=\"timeout\"} 1\n"));
        assert!(out.contains("livewatch_outbox_pending 3\n"));
        assert_eq!(m.last_error().unwrap().blog, "http://b/");
        assert_eq!(m.blog("http://b/").unwrap().failures, 1);
        m.retain_blogs(&["http://b/"]);
        assert!(m.blog("http://a/\"x\"").is_none());
        assert!(!m.render(None).contains("http://a/"));
    }

    #[test]
    fn events_counted_by_kind_and_blog() {
        let m = Metrics::default();
        m.events("u", [EventKind::New, EventKind::New, EventKind::Correction]);
        let out = m.render(None);
        assert!(out.contains("livewatch_events_total{kind=\"new\"} 2\n"));
        assert!(out.contains("livewatch_events_total{kind=\"correction\"} 1\n"));
        assert_eq!(m.blog("u").unwrap().events, 3);
    }
}
