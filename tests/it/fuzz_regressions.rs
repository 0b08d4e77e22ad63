//! Inputs for the fuzz targets in `fuzz/` (page bytes → posts, config text → config),
//! replayed as ordinary tests with the same mapping as the targets. A crash the fuzzer
//! finds goes in here as a case; none were found so far (see fuzz/README.md), so these
//! are the hostile shapes the fuzzer's corpus starts from.

use chrono::{TimeZone, Utc};
use livewatch::extract::{extract, Page, Strategy};

/// The same URL table as `fuzz/fuzz_targets/extract.rs` (the first byte selects).
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
const TYPES: &[Option<&str>] = &[
    None,
    Some("text/html; charset=utf-8"),
    Some("text/html; charset=windows-1252"),
    Some("text/html; charset=shift_jis"),
];

/// Run one extract-target input through every site URL and Content-Type.
fn extract_all_ways(body: &[u8]) {
    for url in URLS {
        for ct in TYPES {
            let page = Page {
                url,
                body,
                content_type: *ct,
                fetched_at: Utc.with_ymd_and_hms(2024, 8, 5, 12, 0, 0).unwrap(),
            };
            let _ = extract(&page, &Strategy::Auto);
        }
    }
}

#[test]
fn extract_survives_degenerate_pages() {
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"<".to_vec(),
        b"\xff\xfe\x00<html".to_vec(),
        b"<script type=\"application/ld+json\">".to_vec(),
        br#"<script type="application/ld+json">{"@type":"LiveBlogPosting","liveBlogUpdate":{"@type":"BlogPosting"}}</script>"#.to_vec(),
        br#"<script type="application/ld+json">[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[</script>"#.to_vec(),
        format!(
            r#"<script type="application/ld+json">{}{{"@type":"LiveBlogPosting"}}{}</script>"#,
            "[".repeat(200),
            "]".repeat(200)
        )
        .into_bytes(),
        br#"<article><time datetime="9999-99-99T99:99:99Z">x</time><h2>12.61 BST</h2></article>"#
            .to_vec(),
        format!("{}<article><h2>deep</h2></article>", "<div>".repeat(2000)).into_bytes(),
        br#"<meta charset="x-user-defined"><meta http-equiv="content-type" content="text/html; charset=utf-16">caf\xe9"#.to_vec(),
    ];
    for c in &cases {
        extract_all_ways(c);
    }
}

#[test]
fn config_parse_survives_degenerate_text() {
    let env = |k: &str| (k != "UNSET").then(|| format!("value-of-{k}"));
    for src in [
        "",
        "[[watch]]",
        "[[watch]]\nurl = \"\"",
        "[[watch]]\nurl = \"http://x\"\ninterval = \"99999999999999999999h\"",
        "[[watch]]\nurl = \"http://x\"\ninterval = \"0ms\"",
        "max_body = \"99999999999999999999GiB\"",
        "max_body = \"18446744073709551615GiB\"",
        "[[notifier]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"${UNSET}\"",
        "[[notifier]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"${\"",
        "[[notifier]]\nname = \"a\"\ntype = \"stdout\"\nmatch = \"(\"",
        "listen = \"not an address\"",
        "\u{feff}state_dir = 1",
    ] {
        let _ = livewatch::config::parse(src, "fuzz.toml", &env);
    }
}
