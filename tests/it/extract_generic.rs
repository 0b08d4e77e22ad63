//! The generic extractor on markup no site profile knows, modelled on live-blog platforms
//! beyond the fixture sites (pages in `tests/pages/generic/`, written for these tests):
//! post times written only as text ("15:02", "10:15 a.m. ET", "November 20, 2026 10:31 pm"),
//! ids in `data-…-id` attributes on an inner wrapper, epoch stamps on a `<span>`, bylines in
//! their own element, permalinks on the time, and a "Most read" list with more items than
//! the feed has posts.

use chrono::{DateTime, Utc};
use livewatch::extract::{extract, Extraction, Page, Strategy};
use livewatch::model::Post;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn page(name: &str) -> String {
    let path = format!("{}/tests/pages/generic/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run_at(html: &str, url: &str, fetched: &str) -> Extraction {
    extract(
        &Page {
            url,
            body: html.as_bytes(),
            content_type: Some("text/html; charset=utf-8"),
            fetched_at: at(fetched),
        },
        &Strategy::Auto,
    )
}

/// (id, headline, byline, published) of a post.
type Row = (String, Option<String>, Option<String>, Option<String>);

/// The rows of the posts, newest first.
fn summary(posts: &[Post]) -> Vec<Row> {
    posts
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                p.headline.clone(),
                p.byline.clone(),
                p.published.map(|t| t.to_rfc3339()),
            )
        })
        .collect()
}

fn row(id: &str, headline: Option<&str>, byline: Option<&str>, published: &str) -> Row {
    (
        id.to_string(),
        headline.map(str::to_string),
        byline.map(str::to_string),
        Some(at(published).to_rfc3339()),
    )
}

/// No body may keep the time or the byline that the post states apart.
fn assert_clean_bodies(ex: &Extraction) {
    for p in &ex.posts {
        assert!(!p.body.is_empty(), "{}: empty body", p.id);
        if let Some(b) = &p.byline {
            assert!(
                !p.body.contains(b.as_str()),
                "{}: byline in body: {:?}",
                p.id,
                p.body
            );
        }
        let first = p.body.split_whitespace().next().unwrap_or("");
        assert!(
            !first.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "{}: body starts with a time: {:?}",
            p.id,
            p.body
        );
    }
}

#[test]
fn text_clocks_with_ids_on_an_inner_wrapper() {
    // A UK site (.co.uk): "15:02" is London time; the page was modified at 15:10 UTC.
    let ex = run_at(
        &page("ncpost-text-clock.html"),
        "https://news.example.co.uk/story/politics-latest-123",
        "2026-11-20T15:12:00Z",
    );
    assert_eq!(ex.extractor, "generic", "{:?}", ex.attempts);
    assert_eq!(
        summary(&ex.posts),
        vec![
            row(
                "3003",
                Some("Minister resigns over leaked memo"),
                Some("Jane Doe, political reporter"),
                "2026-11-20T15:02:00Z"
            ),
            row(
                "3002",
                Some("PM to make statement at 4pm"),
                Some("John Roe, reporter"),
                "2026-11-20T14:40:00Z"
            ),
            row(
                "3001",
                Some("Opposition calls for inquiry"),
                None,
                "2026-11-20T14:05:00Z"
            ),
        ]
    );
    assert_clean_bodies(&ex);
    assert_eq!(
        ex.posts[0].body,
        "The minister said she had lost the confidence of colleagues after the memo was published.\n\nMore follows."
    );
}

#[test]
fn us_clocks_with_zone_and_a_longer_sidebar() {
    // Only a publication time (08:00 −05:00) is stated; the posts come after it that day.
    // The "Most read" list has five dated items, the feed three posts: the feed wins.
    let ex = run_at(
        &page("us-clock-sidebar.html"),
        "https://www.example.com/live/storm",
        "2026-11-20T16:00:00Z",
    );
    assert_eq!(
        summary(&ex.posts),
        vec![
            row(
                "update-9c1f",
                Some("Power out for 200,000 customers"),
                Some("Ann Lee"),
                "2026-11-20T15:15:00Z"
            ),
            row(
                "update-9c1e",
                Some("Governor declares emergency"),
                Some("Ann Lee"),
                "2026-11-20T14:48:00Z"
            ),
            row(
                "update-9c1d",
                Some("Schools closed"),
                Some("Bo Kim"),
                "2026-11-20T14:02:00Z"
            ),
        ]
    );
    assert_clean_bodies(&ex);
}

#[test]
fn epoch_stamp_on_a_span_with_a_permalink() {
    let ex = run_at(
        &page("epoch-span.html"),
        "https://www.example.org/liveblog-november-26-2026/",
        "2026-11-26T16:00:00Z",
    );
    let urls: Vec<Option<&str>> = ex.posts.iter().map(|p| p.url.as_deref()).collect();
    assert_eq!(
        urls,
        vec![
            Some("https://example.org/liveblog_entry/x"),
            Some("https://example.org/liveblog_entry/y"),
            Some("https://example.org/liveblog_entry/z"),
        ]
    );
    assert_eq!(ex.posts[0].id, "liveblog-entry-4455");
    assert_eq!(ex.posts[0].published, Some(at("2026-11-26T15:00:00Z")));
    assert_eq!(
        ex.posts[0].headline.as_deref(),
        Some("Rocket sirens sound in the north")
    );
    assert_clean_bodies(&ex);
}

#[test]
fn wordpress_liveblog_date_then_clock() {
    // "November 20, 2026 10:31 pm" on a .co.uk site: London, which is UTC in November.
    let ex = run_at(
        &page("wordpress-liveblog.html"),
        "https://www.example.co.uk/election-live/",
        "2026-11-20T23:00:00Z",
    );
    assert_eq!(
        summary(&ex.posts),
        vec![
            row(
                "liveblog-entry-812",
                None,
                Some("Sam Ortiz"),
                "2026-11-20T22:31:00Z"
            ),
            row(
                "liveblog-entry-811",
                None,
                Some("Sam Ortiz"),
                "2026-11-20T21:58:00Z"
            ),
            row(
                "liveblog-entry-810",
                None,
                Some("Lee Park"),
                "2026-11-20T21:15:00Z"
            ),
        ]
    );
    assert_eq!(
        ex.posts[0].url.as_deref(),
        Some("https://www.example.co.uk/election-live/#liveblog-entry-812")
    );
    assert_clean_bodies(&ex);
}

#[test]
fn text_clock_posts_without_ids_keep_their_ids_across_edits() {
    // Strip the publisher ids: ids are then derived from the stated time, which must not
    // move when a post is edited.
    let strip = |html: &str| {
        html.replace(" data-ncpost-id=", " data-x=")
            .replace(" id=\"ncpost-list-post-title-", " data-t=\"")
            .replace(" aria-labelledby=", " data-l=")
    };
    let url = "https://news.example.co.uk/story/politics-latest-123";
    let before = strip(&page("ncpost-text-clock.html"));
    let after = before.replace(
        "Downing Street confirmed the prime minister will address the Commons this afternoon.",
        "Downing Street confirmed the prime minister will address the Commons at 4pm.",
    );
    let a = run_at(&before, url, "2026-11-20T15:12:00Z");
    let b = run_at(&after, url, "2026-11-20T15:20:00Z");
    let ids = |e: &Extraction| e.posts.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(a.posts.len(), 3, "{:?}", a.attempts);
    assert!(
        a.posts.iter().all(|p| p.id.starts_with("lw-")),
        "{:?}",
        ids(&a)
    );
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(a.posts[1].body, b.posts[1].body);
}

#[test]
fn times_in_their_own_element_before_the_post() {
    // "<dt>12:20</dt><dd>…</dd>" on a German ticker (.de: Berlin time, CET in November).
    let ex = run_at(
        &page("dl-ticker-de.html"),
        "https://www.example.de/ticker/hochwasser",
        "2026-11-20T11:40:00Z",
    );
    type Seen<'a> = (Option<&'a str>, Option<DateTime<Utc>>, &'a str);
    let got: Vec<Seen<'_>> = ex
        .posts
        .iter()
        .map(|p| (p.headline.as_deref(), p.published, p.body.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Some("Pegel sinkt in Passau"),
                Some(at("2026-11-20T11:20:00Z")),
                "Der Pegel der Donau ist am Mittag erstmals gesunken."
            ),
            (
                None,
                Some(at("2026-11-20T10:45:00Z")),
                "Die Bahnstrecke zwischen München und Salzburg bleibt gesperrt."
            ),
            (
                None,
                Some(at("2026-11-20T09:05:00Z")),
                "Der Ministerpräsident besucht heute die Hochwassergebiete.\n\nEr will mit Helfern sprechen."
            ),
        ]
    );

    // "<div class=time>21:47</div><p>…</p><p>…</p>": a post runs to the next time.
    let ex = run_at(
        &page("time-separators.html"),
        "https://www.example.com/match-live",
        "2026-11-20T21:55:00Z",
    );
    let got: Vec<(Option<DateTime<Utc>>, &str)> = ex
        .posts
        .iter()
        .map(|p| (p.published, p.body.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Some(at("2026-11-20T21:47:00Z")),
                "Full time. A thrilling draw at the stadium, two goals each."
            ),
            (
                Some(at("2026-11-20T21:30:00Z")),
                "GOAL! A late equaliser from the edge of the box.\n\nThe crowd is on its feet."
            ),
            (
                Some(at("2026-11-20T21:02:00Z")),
                "Second half under way, no changes at the break."
            ),
        ]
    );
}

#[test]
fn reader_comments_with_more_text_do_not_beat_the_feed() {
    let post = |i: usize| {
        format!(
            "<article class='post' id='p{i}'><time datetime='2026-11-20T1{i}:00:00Z'>1{i}:00</time>\
             <h2>Update {i}</h2><p>What happened at the {i}th hour of the day, in a few words.</p></article>"
        )
    };
    let comment = |i: usize| {
        format!(
            "<li class='c'><time datetime='2026-11-20T19:{i:02}:00Z'>19:{i:02}</time><p>Reader {i} writes a long \
             comment about the coverage, longer than any post above, with opinions and more opinions, \
             going on for a while to be sure it is the longest text on the page.</p></li>"
        )
    };
    let html = format!(
        "<html><body><main class='live'>{}</main><section id='comments'><ol>{}</ol></section></body></html>",
        (1..=3).rev().map(post).collect::<String>(),
        (0..10).map(comment).collect::<String>()
    );
    let ex = run_at(&html, "https://example.com/live", "2026-11-20T20:00:00Z");
    let ids: Vec<&str> = ex.posts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["p3", "p2", "p1"], "{:?}", ex.attempts);
}
