//! Every fixture page in `tests/fixtures/pages/` and `tests/fixtures/unprofiled/` (sites
//! with no profile), extracted with `Strategy::Auto` and no URL (the file path, as
//! `livewatch check FILE` does), and again with the profiles off (`generic`: the layout
//! analyser with the page's structured data), scored against its expected posts by
//! [`common::page_check`].

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use livewatch::extract::{extract, Extraction, Page, Strategy};

use crate::common;
use crate::common::page_check::{page_check_posts, PageCheck};

/// The folder of a fixture page: `pages/`, else `unprofiled/`.
fn dir_of(stem: &str) -> PathBuf {
    let pages = common::pages_dir();
    if pages.join(format!("{stem}.html")).exists() {
        pages
    } else {
        common::fixtures().join("unprofiled")
    }
}

fn page_path(stem: &str) -> PathBuf {
    dir_of(stem).join(format!("{stem}.html"))
}

fn expected_path(stem: &str) -> PathBuf {
    dir_of(stem).join(format!("{stem}.expected.jsonl"))
}

/// A plausible fetch time: a few minutes after the newest time the page states.
fn fetched_at(stem: &str) -> DateTime<Utc> {
    let expected = common::read_text(&expected_path(stem));
    expected
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .flat_map(|v| {
            ["published", "updated"]
                .into_iter()
                .filter_map(move |k| v.get(k)?.as_str().map(str::to_string))
        })
        .filter_map(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
        .max()
        .unwrap_or_else(|| {
            DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc)
        })
        + Duration::minutes(5)
}

fn run(stem: &str, strategy: &Strategy) -> Extraction {
    let path = page_path(stem);
    let body = common::read_file(&path);
    let page = Page {
        url: path.to_str().unwrap(),
        body: &body,
        content_type: None,
        fetched_at: fetched_at(stem),
    };
    extract(&page, strategy)
}

/// Score the posts against the page's expected posts; returns (passed, the report).
fn page_check(stem: &str, ex: &Extraction, opts: PageCheck) -> (bool, String) {
    let report = page_check_posts(&expected_path(stem), &ex.posts, opts);
    (report.passed(), report.to_string())
}

fn check_auto(stem: &str) {
    let ex = run(stem, &Strategy::Auto);
    let times = PageCheck {
        require_times: true,
        ..PageCheck::default()
    };
    let (ok, out) = page_check(stem, &ex, times);
    println!("{stem} [{}]: {out}", ex.extractor);
    assert!(
        ok,
        "{stem} (extractor {}): page-check failed:\n{out}\nattempts: {:?}",
        ex.extractor, ex.attempts
    );
    // Newest first, each id once.
    let mut ids: Vec<&str> = ex.posts.iter().map(|p| p.id.as_str()).collect();
    assert!(
        ids.iter().all(|i| !i.is_empty()),
        "{stem}: a post without id"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), ex.posts.len(), "{stem}: duplicate ids");
    assert!(ex.title.is_some(), "{stem}: no title");
}

/// The layout analyser alone (no site profile), with times required unless `times` is
/// false (a page whose absolute times are only in a site's state blob).
fn check_generic(stem: &str, times: bool) {
    let ex = run(stem, &Strategy::Named("generic".into()));
    let opts = PageCheck {
        require_times: times,
        ..PageCheck::default()
    };
    let (ok, out) = page_check(stem, &ex, opts);
    println!("{stem} [generic]: {out}");
    assert!(
        ok,
        "{stem}: the generic extractor failed page-check:\n{out}\nlayout {:?}, runner-up {:?}",
        ex.layout, ex.runner_up
    );
    assert!(ex.layout.is_some(), "{stem}: no layout reported");
}

macro_rules! pages {
    ($($name:ident => $stem:literal),* $(,)?) => {
        $(#[test] fn $name() { check_auto($stem); })*
    };
}

pages! {
    guardian => "guardian-russia-ukraine-war-2023-05-15",
    cnn => "cnn-coronavirus-outbreak-2020-02-19",
    cbsnews => "cbsnews-democratic-debate-nevada-2020-02-20",
    independent => "independent-womens-world-cup-amp-2023-08-14",
    mirror => "mirror-uk-riots-2024-08-05",
    repubblica => "repubblica-israele-hamas-2023-11-02",
    ndtv => "ndtv-ind-vs-sl-cricket-2023-11-02",
    cnbc => "cnbc-coronavirus-2020-02-20",
    br24 => "br24-nahost-ticker-2024-08-27",
}

pages! {
    nzz => "nzz-israel-gaza-ticker-2024-07-18",
    sportsfr => "sportsfr-lorient-lyon-direct-2020-09-27",
    telegraph => "telegraph-airasia-latest-2014-12-31",
    hutchnews_ap => "hutchnews-ap-the-latest-covid-2020-11-23",
}

macro_rules! generic_pages {
    ($($name:ident => $stem:literal, $times:literal),* $(,)?) => {
        $(#[test] fn $name() { check_generic($stem, $times); })*
    };
}

generic_pages! {
    generic_guardian => "guardian-russia-ukraine-war-2023-05-15", true,
    // The HTML shows only "16 min ago"; the absolute times are in CNN's state blob, which
    // only its profile reads (a file has no fetch time to resolve the relative ones).
    generic_cnn => "cnn-coronavirus-outbreak-2020-02-19", false,
    generic_cbsnews => "cbsnews-democratic-debate-nevada-2020-02-20", true,
    generic_independent => "independent-womens-world-cup-amp-2023-08-14", true,
    generic_mirror => "mirror-uk-riots-2024-08-05", true,
    generic_repubblica => "repubblica-israele-hamas-2023-11-02", true,
    generic_ndtv => "ndtv-ind-vs-sl-cricket-2023-11-02", true,
    generic_cnbc => "cnbc-coronavirus-2020-02-20", true,
    generic_br24 => "br24-nahost-ticker-2024-08-27", true,
    generic_nzz => "nzz-israel-gaza-ticker-2024-07-18", true,
    generic_sportsfr => "sportsfr-lorient-lyon-direct-2020-09-27", true,
    generic_telegraph => "telegraph-airasia-latest-2014-12-31", true,
    generic_hutchnews_ap => "hutchnews-ap-the-latest-covid-2020-11-23", true,
}

#[test]
fn every_page_in_the_folders_is_covered() {
    let source = include_str!("extract_fixtures.rs");
    for dir in [common::pages_dir(), common::fixtures().join("unprofiled")] {
        for p in common::list_dir(&dir) {
            let Some(stem) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".html"))
            else {
                continue;
            };
            assert!(
                source.contains(&format!("\"{stem}\"")),
                "{stem}: no test in extract_fixtures.rs"
            );
            let ex = run(stem, &Strategy::Auto);
            assert!(
                !ex.posts.is_empty(),
                "{stem}: no posts; attempts {:?}",
                ex.attempts
            );
        }
    }
}

/// A saved file checked without a fetch time (`check FILE`): bare clocks still take their
/// day from the page, nothing takes it from the machine's clock.
#[test]
fn a_file_without_fetch_time_keeps_the_pages_own_times() {
    let stem = "nzz-israel-gaza-ticker-2024-07-18";
    let path = page_path(stem);
    let body = common::read_file(&path);
    let page = Page {
        url: path.to_str().unwrap(),
        body: &body,
        content_type: None,
        // Would be wrong for every post if it were used.
        fetched_at: Utc::now(),
    };
    let ex = livewatch::extract::extract_unclocked(&page, &Strategy::Auto);
    let opts = PageCheck {
        require_times: true,
        ..PageCheck::default()
    };
    let (ok, out) = page_check(stem, &ex, opts);
    assert!(ok, "{out}");
}
