//! Vendor feeds through the real daemon: a page that embeds a vendor live blog is swapped
//! for the vendor's feed (a local server serving the JSON shape the vendor's public code
//! produces); a new post, an edit and a deletion are reported from the feed, and `check`
//! and `status` say the feed is followed.

use crate::common;

use std::time::Duration;

use common::page_server::{PageServer, Reply};
use common::*;
use serde_json::{json, Value};

fn json_reply(v: &Value) -> Reply {
    Reply {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: v.to_string().into_bytes(),
    }
}

fn config(url: &str) -> String {
    format!(
        "[[watch]]\nurl = \"{url}\"\ninterval = \"200ms\"\nmax_interval = \"300ms\"\n\n\
         [[notifier]]\nname = \"out\"\ntype = \"stdout\"\njson = true\n"
    )
}

/// The daemon's status line for the blog at `url` ("" before its first poll).
fn blog_status(state: &std::path::Path, url: &str) -> String {
    statuses(state)
        .remove(url)
        .map(|v| v["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// (kind, post id) of the post events so far.
fn kinds(out: &std::path::Path) -> Vec<(String, String)> {
    read_jsonl(out)
        .iter()
        .filter(|e| e["post"].is_object())
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["post"]["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Run the daemon on `page_url`, and step the feed through `steps` (each set once the
/// events of the previous one arrived): the events expected after each step.
fn run_steps(
    server: &PageServer,
    feed_path: &str,
    page_url: &str,
    extractor: &str,
    steps: &[(Value, Vec<(&str, &str)>)],
    after: impl FnOnce(&std::path::Path),
) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &config(page_url));
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon(&cfg, &state, &out);
    let status = || blog_status(&state, page_url);
    let want = format!("ok: 3 posts ({extractor} feed)");
    assert!(
        wait_for(Duration::from_secs(30), || status() == want),
        "status {:?}, want {want:?}\n{}",
        status(),
        dump(&out)
    );
    let mut expected: Vec<(String, String)> = Vec::new();
    for (feed, events) in steps {
        server.set(feed_path, json_reply(feed));
        expected.extend(events.iter().map(|(k, id)| (k.to_string(), id.to_string())));
        assert!(
            wait_for(Duration::from_secs(20), || kinds(&out).len()
                >= expected.len()),
            "events {:?}, want {expected:?}\n{}",
            kinds(&out),
            dump(&out)
        );
    }
    // A few more polls: nothing more is reported (no second removal, no flapping).
    std::thread::sleep(Duration::from_millis(1500));
    after(&out);
    stop_daemon(&mut d, &out);
    assert_eq!(kinds(&out), expected, "{}", dump(&out));
    assert!(
        log_of(&out).contains("following its feed instead of the page"),
        "{}",
        log_of(&out)
    );
}

fn wp_entry(id: u64, text: &str, at: u64, revised: u64) -> Value {
    json!({
        "id": id, "type": if revised > at { "update" } else { "new" },
        "render": format!("<p>{text}</p>"), "content": text,
        "css_classes": "comment byuser", "timestamp": revised, "entry_time": at,
        "authors": [{"id": 1, "key": "ann", "name": "Ann Lee", "avatar": ""}],
        "share_link": format!("https://news.example/live/#{id}")
    })
}

fn wp_feed(entries: Vec<Value>) -> Value {
    let n = entries.len();
    json!({"entries": entries, "page": 1, "pages": 1, "total": n})
}

#[test]
fn wordpress_liveblog_feed_new_edit_and_deletion() {
    let server = PageServer::start();
    // The plugin's page: its settings and the container the script fills.
    let page = format!(
        r#"<!doctype html><html><head><title>Live: storm</title></head><body><h1>Live: storm</h1>
<script>var liveblog_settings = {{"permalink":"{p}","post_id":"77","use_rest_api":"1","endpoint_url":"{e}","key":"liveblog"}};</script>
<div id="wpcom-liveblog-container" class="77"></div></body></html>"#,
        p = server.url("/live/").replace('/', "\\/"),
        e = server.url("/wp-json/liveblog/v1/77/").replace('/', "\\/"),
    );
    server.set("/live/", Reply::html(page));
    let feed = "/wp-json/liveblog/v1/77/get-entries/1/0";
    let t = 1_764_583_200;
    let base = vec![
        wp_entry(103, "Winds reach 120 km/h on the coast.", t + 600, t + 600),
        wp_entry(102, "Schools close in the north.", t + 300, t + 300),
        wp_entry(101, "A storm warning is in force.", t, t),
    ];
    server.set(feed, json_reply(&wp_feed(base.clone())));

    // `check` follows the feed too.
    let out = livewatch()
        .args(["check", &server.url("/live/")])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("wordpress-liveblog embed: following its feed")
            && text.contains("3 posts (wordpress-liveblog feed)")
            && text.contains("id: 102"),
        "{text}"
    );

    let mut entries = vec![
        wp_entry(104, "Power is cut to 20,000 homes.", t + 900, t + 900),
        base[0].clone(),
        wp_entry(
            102,
            "Schools close in the north and east.",
            t + 300,
            t + 950,
        ),
        base[2].clone(),
    ];
    let step1 = wp_feed(entries.clone());
    // Deleted: the plugin's list no longer has it (page 1 of 1).
    entries.pop();
    let step2 = wp_feed(entries);
    run_steps(
        &server,
        feed,
        &server.url("/live/"),
        "wordpress-liveblog",
        &[
            (step1, vec![("new", "104"), ("edit", "102")]),
            (step2, vec![("removed", "101")]),
        ],
        |_| {},
    );
    assert!(
        server.requests("/live/").len() <= 3,
        "the page is not polled once the feed is followed: {} requests",
        server.requests("/live/").len()
    );
}

fn sf_post(id: &str, text: &str, minute: u32, edited: Option<u32>, deleted: bool) -> Value {
    let published = format!("2026-11-30T10:{minute:02}:00+00:00");
    let updated = format!("2026-11-30T10:{:02}:00+00:00", edited.unwrap_or(minute));
    json!({
        "_id": id, "_type": "posts", "post_status": "open", "sticky": false,
        "deleted": deleted, "_created": published, "_updated": updated,
        "published_date": published, "content_updated_date": updated,
        "groups": [
            {"id": "root", "refs": [{"idRef": "main"}], "role": "grpRole:NEP"},
            {"id": "main", "refs": [{"residRef": format!("{id}-i"), "item": {
                "_id": format!("{id}-i"), "item_type": "text", "text": format!("<p>{text}</p>"),
                "original_creator": {"display_name": "Kim Ode"}}}], "role": "grpRole:Main"}
        ]
    })
}

fn sf_feed(posts: Vec<Value>) -> Value {
    let n = posts.len();
    json!({"_items": posts, "_meta": {"page": 1, "max_results": 50, "total": n}})
}

#[test]
fn sourcefabric_liveblog_feed_new_edit_and_deletion_flag() {
    let server = PageServer::start();
    // The theme's page: its options blob names the API host and the blog.
    let page = format!(
        r#"<!doctype html><html><head><title>Live: election</title></head><body>
<div class="lb-timeline"></div>
<script type="text/javascript">window.LB = {{"api_host": "{}", "blog": {{"_id": "blog42", "title": "Election"}}, "settings": {{"postsPerPage": 10}}}};</script>
</body></html>"#,
        server.url("/")
    );
    server.set("/election", Reply::html(page));
    let feed = "/api/client_blogs/blog42/posts";
    let base = vec![
        sf_post("urn:p3", "Turnout is at 61 percent.", 30, None, false),
        sf_post("urn:p2", "Polls close at 18:00.", 20, None, false),
        sf_post("urn:p1", "Voting has begun.", 10, None, false),
    ];
    server.set(feed, json_reply(&sf_feed(base.clone())));
    let step1 = sf_feed(vec![
        sf_post("urn:p4", "First results are in.", 40, None, false),
        base[0].clone(),
        sf_post("urn:p2", "Polls close at 20:00.", 20, Some(41), false),
        base[2].clone(),
    ]);
    // The vendor flags the deleted post; it stays in the list.
    let step2 = sf_feed(vec![
        sf_post("urn:p4", "First results are in.", 40, None, false),
        base[0].clone(),
        sf_post("urn:p2", "Polls close at 20:00.", 20, Some(41), true),
        base[2].clone(),
    ]);
    run_steps(
        &server,
        feed,
        &server.url("/election"),
        "sourcefabric-liveblog",
        &[
            (step1, vec![("new", "urn:p4"), ("edit", "urn:p2")]),
            (step2, vec![("removed", "urn:p2")]),
        ],
        |out| {
            // The page is read again now and then: an embed that ends is noticed.
            server.set(
                "/election",
                Reply::html("<html><body><p>Moved.</p></body></html>"),
            );
            assert!(
                wait_for(Duration::from_secs(40), || log_of(out).contains(
                    "the page no longer embeds the sourcefabric-liveblog live blog"
                )),
                "{}",
                log_of(out)
            );
        },
    );
}

#[test]
fn check_names_a_vendor_embed_without_a_public_feed() {
    let server = PageServer::start();
    server.set(
        "/ticker",
        Reply::html(
            r#"<html><head><title>Live ticker</title></head><body><h1>Live</h1>
<tickaroo-liveblog liveblogId="6a1b2c3d" clientId="x"></tickaroo-liveblog></body></html>"#,
        ),
    );
    let out = livewatch()
        .args(["check", &server.url("/ticker")])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("vendor: Tickaroo live blog (liveblogId 6a1b2c3d) embed")
            && text.contains("does not run page scripts")
            && text.contains("fetch = \"browser\""),
        "{text}"
    );
    // The daemon's status says the same.
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/ticker");
    let cfg = write_config(dir.path(), &config(&url));
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon(&cfg, &state, &out);
    let status = || blog_status(&state, &url);
    assert!(
        wait_for(Duration::from_secs(30), || status().contains("Tickaroo")),
        "{}\n{}",
        status(),
        dump(&out)
    );
    assert!(
        status().contains("does not run page scripts")
            && status().contains("livewatch check --browser"),
        "{}",
        status()
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn a_page_whose_embedded_feed_fails_is_read_itself() {
    let server = PageServer::start();
    // The plugin's settings, and the posts in the page's own JSON-LD.
    let page = format!(
        r##"<!doctype html><html><head><title>Live: floods</title>
<script type="application/ld+json">{{"@context":"https://schema.org","@type":"LiveBlogPosting","headline":"Live: floods","liveBlogUpdate":[
{{"@type":"BlogPosting","@id":"#p2","headline":"Rivers rise","datePublished":"2026-11-30T10:05:00Z","articleBody":"The river is two metres above normal."}},
{{"@type":"BlogPosting","@id":"#p1","headline":"Warning issued","datePublished":"2026-11-30T10:00:00Z","articleBody":"A flood warning is in force for the valley."}}]}}</script>
</head><body><h1>Live: floods</h1>
<script>var liveblog_settings = {{"permalink":"{p}","post_id":"78","use_rest_api":"1","endpoint_url":"{e}","key":"liveblog"}};</script>
<div id="wpcom-liveblog-container" class="78"></div></body></html>"##,
        p = server.url("/live/").replace('/', "\\/"),
        e = server.url("/wp-json/liveblog/v1/78/").replace('/', "\\/"),
    );
    server.set("/live/", Reply::html(page));
    let feed = "/wp-json/liveblog/v1/78/get-entries/1/0";
    server.set(
        feed,
        Reply {
            status: 500,
            headers: vec![],
            body: b"down".to_vec(),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let page_url = server.url("/live/");
    let cfg = write_config(dir.path(), &config(&page_url));
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon(&cfg, &state, &out);
    let status = || blog_status(&state, &page_url);
    assert!(
        wait_for(Duration::from_secs(30), || status()
            .starts_with("ok: 2 posts")),
        "status {:?}\n{}",
        status(),
        dump(&out)
    );
    stop_daemon(&mut d, &out);
    assert!(
        !server.requests(feed).is_empty(),
        "the feed was never tried"
    );
    assert!(
        log_of(&out).contains("but its feed failed"),
        "{}",
        log_of(&out)
    );
}
