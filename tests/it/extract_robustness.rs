//! Hostile and huge inputs: extraction returns (never panics) in bounded time.

use std::time::Instant;

use crate::common;

use chrono::{DateTime, Utc};
use livewatch::extract::{extract, Extraction, Page, Strategy};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn run(body: &[u8]) -> Extraction {
    extract(
        &Page {
            url: "https://example.org/live",
            body,
            content_type: None,
            fetched_at: now(),
        },
        &Strategy::Auto,
    )
}

#[test]
fn hundred_thousand_posts() {
    let mut html = String::from("<html><body><div class=feed>");
    for i in 0..100_000u32 {
        let (h, m) = (i / 60 % 24, i % 60);
        html.push_str(&format!(
            "<div class=entry id=p{i}><h2>Post {i}</h2><time datetime='2024-04-01T{h:02}:{m:02}:00Z'>x</time><p>Body {i}</p></div>"
        ));
    }
    html.push_str("</div></body></html>");
    let t = Instant::now();
    let ex = run(html.as_bytes());
    assert_eq!(ex.posts.len(), 100_000);
    eprintln!(
        "100,000 posts ({} MB): {:?}",
        html.len() / 1_000_000,
        t.elapsed()
    );
}

#[test]
fn twenty_megabyte_jsonld_block() {
    let mut updates = Vec::new();
    let filler = "word ".repeat(200);
    let mut size = 0;
    let mut i = 0;
    while size < 20_000_000 {
        let u = format!(
            "{{\"@type\":\"BlogPosting\",\"url\":\"https://e.org/live#u{i}\",\"headline\":\"H{i}\",\"datePublished\":\"2024-04-01T10:00:00Z\",\"articleBody\":\"{i} {filler}\"}}"
        );
        size += u.len();
        updates.push(u);
        i += 1;
    }
    let html = format!(
        "<html><head><script type=\"application/ld+json\">{{\"@type\":\"LiveBlogPosting\",\"liveBlogUpdate\":[{}]}}</script></head><body></body></html>",
        updates.join(",")
    );
    let ex = run(html.as_bytes());
    assert_eq!(ex.posts.len(), i);
    assert_eq!(ex.extractor, "jsonld");
}

#[test]
fn ten_thousand_deep_nesting() {
    let html = format!(
        "<html><body>{}<div class=entry><h2>Deep</h2><time datetime='2024-04-01T10:00:00Z'></time><p>text</p></div>{}</body></html>",
        "<div><span>".repeat(5_000),
        "</span></div>".repeat(5_000)
    );
    let _ = run(html.as_bytes());
    let unclosed = "<div>".repeat(10_000);
    let _ = run(unclosed.as_bytes());
}

#[test]
fn nesting_beyond_the_bound_is_flattened_before_parsing() {
    // 200,000 levels: quadratic in html5ever (hours at the body cap) unless flattened.
    let deep = format!(
        "<html><body>{}<h1>Deep</h1><p>the text at the bottom</p>{}</body></html>",
        "<div>".repeat(200_000),
        "</div>".repeat(200_000)
    );
    let bounded = livewatch::extract::depth::bound(&deep);
    assert_eq!(
        bounded.matches("<div>").count(),
        livewatch::extract::depth::MAX_DEPTH - 2,
        "html and body count too"
    );
    assert!(bounded.contains("<p>the text at the bottom</p>"));
    // Real pages are passed on untouched.
    for path in common::list_dir(&common::pages_dir()) {
        if path.extension().is_some_and(|e| e == "html") {
            let bytes = common::read_file(&path);
            let page = String::from_utf8_lossy(&bytes);
            assert!(
                matches!(
                    livewatch::extract::depth::bound(&page),
                    std::borrow::Cow::Borrowed(_)
                ),
                "{path:?} was changed"
            );
        }
    }
    let _ = run(deep.as_bytes());
}

#[test]
fn truncated_and_invalid_bytes() {
    let page =
        common::read_file(&common::pages_dir().join("guardian-russia-ukraine-war-2023-05-15.html"));
    for cut in [1, 1000, 100_000, 300_001, page.len() - 7] {
        let _ = run(&page[..cut]);
    }
    let mut garbled = page.clone();
    for i in (0..garbled.len()).step_by(997) {
        garbled[i] = 0xff;
    }
    let ex = run(&garbled);
    assert!(!ex.posts.is_empty());
}
