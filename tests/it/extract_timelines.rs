//! The same blogs at successive moments (`tests/fixtures/timelines/*/`): noise must not
//! change any post, and the set of post ids must change exactly as each step's op says.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use livewatch::extract::{extract, Page, Strategy};
use livewatch::model::Post;
use serde_json::Value;

use crate::common;

fn posts(dir: &Path, file: &str, fetched_at: DateTime<Utc>) -> Vec<Post> {
    let body = common::read_file(&dir.join(file));
    let page = Page {
        url: "",
        body: &body,
        content_type: Some("text/html; charset=utf-8"),
        fetched_at,
    };
    let ex = extract(&page, &Strategy::Auto);
    assert!(
        !ex.posts.is_empty(),
        "{}/{file}: no posts: {:?}",
        dir.display(),
        ex.attempts
    );
    ex.posts
}

/// What must stay identical across a noise step.
fn stable_view(
    p: &Post,
) -> (
    String,
    Option<String>,
    String,
    Vec<String>,
    Option<DateTime<Utc>>,
) {
    (
        p.id.clone(),
        p.headline.clone(),
        p.body.clone(),
        p.captions.clone(),
        p.published,
    )
}

fn ids(ps: &[Post]) -> BTreeSet<String> {
    ps.iter().map(|p| p.id.clone()).collect()
}

/// `op` word and its first number (`reveal 1`, `window 2`, `noise minutes=5`).
fn op_parts(op: &str) -> (&str, usize, i64) {
    let mut words = op.split_whitespace();
    let kind = words.next().unwrap_or("");
    let mut n = 0;
    let mut minutes = 3;
    for w in words {
        if let Ok(v) = w.parse() {
            n = v;
        }
        if let Some(m) = w.strip_prefix("minutes=") {
            minutes = m.parse().unwrap_or(3);
        }
    }
    if matches!(kind, "pin" | "unchanged") {
        minutes = 0;
    }
    (kind, n, minutes)
}

fn check_timeline(name: &str) {
    let dir = common::timeline_dir(name);
    let manifest: Value = common::manifest(name);
    let steps = manifest["steps"].as_array().unwrap();
    let first = steps[0]["file"].as_str().unwrap();
    // Start a few minutes after the newest stated time of the first step.
    let mut now = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let probe = posts(&dir, first, now);
    now = probe
        .iter()
        .filter_map(|p| p.updated.or(p.published))
        .max()
        .unwrap_or(now)
        + Duration::minutes(5);
    let mut prev = posts(&dir, first, now);
    for step in &steps[1..] {
        let file = step["file"].as_str().unwrap();
        let op = step["op"].as_str().unwrap();
        let (kind, n, minutes) = op_parts(op);
        now += Duration::minutes(minutes);
        let cur = posts(&dir, file, now);
        let (before, after) = (ids(&prev), ids(&cur));
        let added = after.difference(&before).count();
        let gone = before.difference(&after).count();
        let ctx = format!("{name}/{file} ({op})");
        match kind {
            "noise" | "unchanged" | "pin" => {
                let a: Vec<_> = prev.iter().map(stable_view).collect();
                let b: Vec<_> = cur.iter().map(stable_view).collect();
                assert_eq!(a, b, "{ctx}: posts changed");
            }
            "edit" | "correct" => {
                assert_eq!(before, after, "{ctx}: ids changed");
                let changed = prev
                    .iter()
                    .zip(&cur)
                    .filter(|(a, b)| stable_view(a) != stable_view(b))
                    .count();
                assert_eq!(changed, 1, "{ctx}: expected exactly one post to change");
            }
            "reveal" => assert_eq!((added, gone), (n, 0), "{ctx}"),
            "window" => assert_eq!((added, gone), (n, n), "{ctx}"),
            "delete" => assert_eq!((added, gone), (0, 1), "{ctx}"),
            other => panic!("{ctx}: unknown op {other}"),
        }
        prev = cur;
    }
}

#[test]
fn guardian() {
    check_timeline("guardian");
}

#[test]
fn cbsnews() {
    check_timeline("cbsnews");
}

#[test]
fn mirror() {
    check_timeline("mirror");
}

#[test]
fn cnn() {
    check_timeline("cnn");
}

/// CNN with its state blob removed: the posts carry only relative times.
#[test]
fn cnn_relative() {
    check_timeline("cnn-relative");
}

#[test]
fn every_timeline_is_covered() {
    let mut names: Vec<String> = common::list_dir(&common::timelines_dir())
        .into_iter()
        .filter_map(|p| {
            p.join("manifest.json")
                .exists()
                .then(|| p.file_name()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["cbsnews", "cnn", "cnn-relative", "guardian", "mirror"],
        "a new timeline needs its own test above"
    );
}
