//! Page bytes → posts: the whole extractor chain must never panic (or hang) on any input.
//!
//! The first byte picks the page's URL (which selects a site profile) and its
//! Content-Type header; the rest is the body. The seed corpus (see README.md) prefixes
//! each fixture page with the byte of its own site.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use livewatch::extract::{extract, Page, Strategy};

/// Site URLs, indexed by the low 4 bits of the first byte.
const URLS: &[&str] = &[
    "https://example.org/live/blog",
    "https://www.theguardian.com/world/live/2023/may/15/x",
    "https://edition.cnn.com/world/live-news/x/index.html",
    "https://www.cbsnews.com/live-updates/x/",
    "https://www.cnbc.com/2020/02/20/x.html",
    "https://www.mirror.co.uk/news/uk-news/x-33372811",
    "https://www.br.de/nachrichten/x",
    "https://www.ndtv.com/cricket/x",
    "https://www.repubblica.it/esteri/2023/11/02/diretta/x/",
    "https://www.independent.co.uk/sport/football/x.html?amp",
];

/// Content-Type headers, indexed by bits 4-5 of the first byte.
const TYPES: &[Option<&str>] = &[
    None,
    Some("text/html; charset=utf-8"),
    Some("text/html; charset=windows-1252"),
    Some("text/html; charset=shift_jis"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let page = Page {
        url: URLS[(sel & 0x0f) as usize % URLS.len()],
        body,
        content_type: TYPES[((sel >> 4) & 0x03) as usize],
        fetched_at: Utc.with_ymd_and_hms(2024, 8, 5, 12, 0, 0).unwrap(),
    };
    let _ = extract(&page, &Strategy::Auto);
});
