//! Extraction and content-fingerprint cost per fixture page: `cargo bench --bench extract`
//! (`-- fingerprint` for the fingerprint alone). divan prints the time per
//! page and, with the byte counter, MB/s; a summary line per page gives ms and ms/MB.
//! `page`: the automatic chain (the profiled pages use their site profile); `generic`: the
//! same pages with the profiles off, so the layout analyser does the work; `unprofiled`:
//! pages of sites with no profile, through the automatic chain (the analyser again);
//! `generated`: the generated 1 MiB page (`benches/pages`); `fingerprint` and
//! `parse_only` (the html5ever parse alone, the floor of any full-DOM extraction) over
//! every page.

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

const UNPROFILED: &[&str] = &[
    "nzz-israel-gaza-ticker-2024-07-18",
    "sportsfr-lorient-lyon-direct-2020-09-27",
    "telegraph-airasia-latest-2014-12-31",
    "hutchnews-ap-the-latest-covid-2020-11-23",
];

/// Every page: the profiled and unprofiled fixtures and `benches/pages/generated-1mib`
/// (the ~1 MiB JSON-LD page `bench/urlwatch/page.py` writes, the issue-17 yardstick).
fn all() -> Vec<&'static str> {
    std::iter::once("generated-1mib")
        .chain(PAGES.iter().copied())
        .chain(UNPROFILED.iter().copied())
        .collect()
}

fn main() {
    divan::main();
}

fn load(stem: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/fixtures");
    let path = [
        dir.join("pages"),
        dir.join("unprofiled"),
        root.join("benches/pages"),
    ]
    .iter()
    .map(|d| d.join(format!("{stem}.html")))
    .find(|p| p.exists())
    .unwrap_or_else(|| dir.join("pages").join(format!("{stem}.html")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn fetched_at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-09-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

#[divan::bench(args = PAGES, sample_count = 30)]
fn page(bencher: Bencher, stem: &str) {
    run(bencher, stem, &Strategy::Auto);
}

#[divan::bench(args = PAGES, sample_count = 30)]
fn generic(bencher: Bencher, stem: &str) {
    run(bencher, stem, &Strategy::Named("generic".into()));
}

#[divan::bench(args = UNPROFILED, sample_count = 30)]
fn unprofiled(bencher: Bencher, stem: &str) {
    run(bencher, stem, &Strategy::Auto);
}

fn run(bencher: Bencher, stem: &str, strategy: &Strategy) {
    let body = load(stem);
    bencher.counter(BytesCount::of_slice(&body)).bench(|| {
        let page = Page {
            url: "",
            body: divan::black_box(&body),
            content_type: None,
            fetched_at: fetched_at(),
        };
        extract(&page, strategy)
    });
}

/// The content fingerprint of a page (`livewatch::fingerprint`): what a poll whose body
/// changed costs before it knows whether to parse (issue 17: ≤ 1 ms per MiB).
#[divan::bench(args = all(), sample_count = 30)]
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

/// A changed page of the generated kind through the automatic chain (JSON-LD and the
/// layout analyser; no profile matches it).
#[divan::bench(sample_count = 30)]
fn generated(bencher: Bencher) {
    run(bencher, "generated-1mib", &Strategy::Auto);
}

/// The html5ever parse alone (`scraper::Html::parse_document` of the decoded page): the
/// floor under every changed check that builds a DOM of the whole page.
#[divan::bench(args = all(), sample_count = 30)]
fn parse_only(bencher: Bencher, stem: &str) {
    let body = load(stem);
    let text = String::from_utf8_lossy(&body).into_owned();
    bencher
        .counter(BytesCount::of_slice(&body))
        .bench(|| scraper::Html::parse_document(divan::black_box(&text)));
}
