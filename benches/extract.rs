//! Extraction and content-fingerprint cost per fixture page: `cargo bench --bench extract`
//! (`-- fingerprint` for the fingerprint alone). divan prints the time per
//! page and, with the byte counter, MB/s; a summary line per page gives ms and ms/MB.

use std::path::Path;

use chrono::{DateTime, Utc};
use divan::counter::BytesCount;
use divan::Bencher;
use livewatch::extract::{extract, Page, Strategy};

const PAGES: &[&str] = &[
    "guardian-russia-ukraine-war-2023-05-15",
    "cnn-coronavirus-outbreak-2020-02-19",
    "cbsnews-democratic-debate-nevada-2020-02-20",
    "independent-womens-world-cup-amp-2023-08-14",
    "mirror-uk-riots-2024-08-05",
    "repubblica-israele-hamas-2023-11-02",
    "ndtv-ind-vs-sl-cricket-2023-11-02",
    "cnbc-coronavirus-2020-02-20",
    "br24-nahost-ticker-2024-08-27",
];

fn main() {
    divan::main();
}

fn load(stem: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pages")
        .join(format!("{stem}.html"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn fetched_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-09-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

#[divan::bench(args = PAGES, sample_count = 30)]
fn page(bencher: Bencher, stem: &str) {
    let body = load(stem);
    bencher.counter(BytesCount::of_slice(&body)).bench(|| {
        let page = Page {
            url: "",
            body: divan::black_box(&body),
            content_type: None,
            fetched_at: fetched_at(),
        };
        extract(&page, &Strategy::Auto)
    });
}

/// The content fingerprint of a page (`livewatch::fingerprint`): what a poll whose body
/// changed costs before it knows whether to parse (issue 17: ≤ 1 ms per MiB).
#[divan::bench(args = PAGES, sample_count = 30)]
fn fingerprint(bencher: Bencher, stem: &str) {
    let body = load(stem);
    let key = livewatch::fingerprint::watch_key(&Strategy::Auto);
    bencher.counter(BytesCount::of_slice(&body)).bench(|| {
        livewatch::fingerprint::fingerprint(
            &key,
            &Strategy::Auto,
            "https://live.example/blog",
            Some("text/html; charset=utf-8"),
            divan::black_box(&body),
        )
    });
}
