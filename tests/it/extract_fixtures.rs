//! Every fixture page in `tests/fixtures/pages/`, extracted with `Strategy::Auto` and no
//! URL (the file path, as `livewatch check FILE` does), scored against its expected posts
//! by [`common::page_check`].

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use livewatch::extract::{extract, Extraction, Page, Strategy};

use crate::common;
use crate::common::page_check::{page_check_posts, PageCheck};

fn page_path(stem: &str) -> PathBuf {
    common::pages_dir().join(format!("{stem}.html"))
}

fn expected_path(stem: &str) -> PathBuf {
    common::pages_dir().join(format!("{stem}.expected.jsonl"))
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

fn check_generic(stem: &str) {
    let ex = run(stem, &Strategy::Named("generic".into()));
    let (ok, out) = page_check(stem, &ex, PageCheck::default());
    println!("{stem} [generic]: {out}");
    assert!(
        ok,
        "{stem}: the generic extractor failed page-check:\n{out}"
    );
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

#[test]
fn generic_cbsnews() {
    check_generic("cbsnews-democratic-debate-nevada-2020-02-20");
}

#[test]
fn generic_independent() {
    check_generic("independent-womens-world-cup-amp-2023-08-14");
}

#[test]
fn generic_mirror() {
    check_generic("mirror-uk-riots-2024-08-05");
}

#[test]
fn every_page_in_the_folder_is_covered() {
    let stems: Vec<String> = common::list_dir(&common::pages_dir())
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            name.strip_suffix(".html").map(str::to_string)
        })
        .collect();
    for stem in stems {
        let ex = run(&stem, &Strategy::Auto);
        assert!(
            !ex.posts.is_empty(),
            "{stem}: no posts; attempts {:?}",
            ex.attempts
        );
    }
}
