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
        "{stem} (extractor {}): page check failed:\n{out}\nattempts: {:?}",
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

/// Guardian: each post's permalink (the link on its time), and no post gets the page-level
/// JSON-LD author list as its byline (only the one block that shows its author has one).
#[test]
fn guardian_posts_have_permalinks_and_only_their_own_bylines() {
    let ex = run("guardian-russia-ukraine-war-2023-05-15", &Strategy::Auto);
    assert_eq!(ex.posts.len(), 10);
    for p in &ex.posts {
        let url = p
            .url
            .as_deref()
            .unwrap_or_else(|| panic!("{}: no url", p.id));
        assert!(
            url.starts_with("https://www.theguardian.com/") && url.ends_with(&format!("#{}", p.id)),
            "{}: {url}",
            p.id
        );
        assert!(
            p.byline.as_deref().is_none_or(|b| !b.contains(',')),
            "{}: byline {:?}",
            p.id,
            p.byline
        );
    }
    let bylines: Vec<&str> = ex
        .posts
        .iter()
        .filter_map(|p| p.byline.as_deref())
        .collect();
    assert_eq!(bylines, ["Jennifer Rankin"]);
}

/// `livewatch check`: the layout line, its score and the runner-up; relative times of a
/// saved file stay null unless `--at` gives its fetch time.
#[test]
fn check_prints_the_layout_and_resolves_relative_times_only_with_at() {
    let nzz = page_path("nzz-israel-gaza-ticker-2024-07-18");
    let out = common::livewatch().arg("check").arg(&nzz).output().unwrap();
    let text = common::output_text(&out);
    assert!(out.status.success(), "{text}");
    let layout = text
        .lines()
        .find(|l| l.starts_with("layout: "))
        .unwrap_or_else(|| panic!("no layout line: {text}"));
    assert!(
        layout.contains("flat feed (time markers)") && layout.contains("12 posts, score "),
        "{layout}"
    );
    assert!(text.lines().any(|l| l.starts_with("runner-up: ")), "{text}");

    // CNN with its state blob removed: only "16 min ago" in the HTML.
    let page = common::timeline_dir("cnn-relative").join("00.html");
    let published = |extra: &[&str]| -> Vec<serde_json::Value> {
        let out = common::livewatch()
            .arg("check")
            .arg(&page)
            .arg("--json")
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::output_text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["published"].clone())
            .collect()
    };
    let without = published(&[]);
    assert_eq!(without.len(), 7);
    assert!(without.iter().all(|p| p.is_null()), "{without:?}");
    let with = published(&["--at", "2020-02-19T11:42:00Z"]);
    assert_eq!(with.len(), 7);
    assert!(
        with.iter()
            .all(|p| p.as_str().is_some_and(|t| t.starts_with("2020-02-19T"))),
        "{with:?}"
    );
    // A bad --at is a usage error.
    let out = common::livewatch()
        .args(["check", "--at", "yesterday"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
}
