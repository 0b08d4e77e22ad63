use super::*;

const PAGE: &str = "https://news.example/2026/11/live-story/";

fn doc(body: &str) -> Html {
    Html::parse_document(&format!(
        "<html><head><title>Live: the story</title></head><body>{body}</body></html>"
    ))
}

fn reasons(body: &str) -> Vec<String> {
    let d = doc(body);
    diagnose(&d, &d.html(), PAGE)
        .into_iter()
        .map(|a| format!("{}: {}", a.extractor, a.reason))
        .collect()
}

fn one(body: &str) -> String {
    let r = reasons(body);
    assert_eq!(r.len(), 1, "{r:?}");
    r.into_iter().next().unwrap()
}

#[test]
fn vendor_embeds_are_named_with_their_ids_and_the_browser_fetch_advice() {
    let cases = [
        (
            r#"<tickaroo-liveblog liveblogId="5f1e2d3c4b" clientId="abc"></tickaroo-liveblog>"#,
            "Tickaroo live blog (liveblogId 5f1e2d3c4b)",
        ),
        (
            r#"<div class="scrbbl-embed" data-src="/event/3101957/82213"></div>"#,
            "ScribbleLive (event 3101957)",
        ),
        (
            r#"<div class="arena-liveblog" data-publisher="globo" data-event="k3Ty9"></div>"#,
            "Arena live blog (publisher globo, event k3Ty9)",
        ),
        (
            r#"<div class="live-center-embed" data-src="https://livecenter.norkon.net/frame/aftenposten/12345/default"></div>"#,
            "Live Center (Norkon) (tenant aftenposten, channel 12345)",
        ),
        (
            r#"<div id="LB24" data-eid="3118237"></div><script src="https://v.24liveblog.com/24.js"></script>"#,
            "24liveblog (event 3118237)",
        ),
    ];
    for (html, named) in cases {
        let r = one(html);
        assert!(r.starts_with(&format!("vendor: {named} embed")), "{r}");
        assert!(
            r.contains("does not run page scripts")
                && r.contains("fetch = \"browser\"")
                && r.contains("livewatch check --browser URL"),
            "{r}"
        );
    }
}

#[test]
fn followed_feeds_are_named_with_their_url() {
    let r = one(r#"<div id="wpcom-liveblog-container" class="4711"></div>"#);
    assert!(
        r.contains("WordPress Liveblog plugin embed (blog 4711)"),
        "{r}"
    );
    assert!(
        r.contains("https://news.example/wp-json/liveblog/v1/4711/get-entries/1/0"),
        "{r}"
    );
    let r = one(r#"<iframe src="https://news.liveblog.pro/embed/5a8fb"></iframe>"#);
    assert!(
        r.contains("Sourcefabric Liveblog embed (blog 5a8fb)"),
        "{r}"
    );
    assert!(
        r.contains("https://news.liveblog.pro/api/client_blogs/5a8fb/posts?max_results=50&source="),
        "{r}"
    );
    // The same address form on another host is not a live blog (YouTube's embeds).
    let yt = r#"<iframe src="https://www.youtube.com/embed/dQw4w9WgXcQ"></iframe>"#;
    assert!(reasons(yt).is_empty());
    let page = crate::extract::Page {
        url: PAGE,
        body: yt.as_bytes(),
        content_type: None,
        fetched_at: chrono::Utc::now(),
    };
    assert_eq!(discover_in(&page), None);
    let page = crate::extract::Page {
        body: br#"<div id="wpcom-liveblog-container" class="12"></div>"#,
        ..page
    };
    assert_eq!(discover_in(&page).map(|f| f.blog_id), Some("12".into()));
}

#[test]
fn client_side_markers_are_named() {
    let r = one(r#"<div class="feed" data-posts-endpoint="/api/live/42/posts"></div>"#);
    assert!(
        r.starts_with("client-side: the page loads its posts from its own endpoint (data-posts-endpoint=\"/api/live/42/posts\")"),
        "{r}"
    );
    let r = one(r#"<script id="__NEXT_DATA__" type="application/json">{"props":{}}</script>"#);
    assert!(r.contains("Next.js state blob (__NEXT_DATA__)"), "{r}");
    let r = one(r#"<script>window.__NUXT__={state:{}}</script>"#);
    assert!(r.contains("Nuxt state blob"), "{r}");
    let r = one(r#"<main><h1>Live</h1><div id="live-feed" class="updates"></div></main>"#);
    assert!(
        r.contains("an empty feed container (div#live-feed.updates)"),
        "{r}"
    );
    // A plain page says nothing.
    assert!(reasons("<main><p>Just an article.</p></main>").is_empty());
    // An empty container that is not a feed is no marker.
    assert!(reasons(r#"<div id="header" class="nav"></div>"#).is_empty());
}

#[test]
fn empty_page_extraction_carries_the_diagnosis() {
    let html = r#"<html><body><h1>Live</h1><tickaroo-liveblog liveblogId="abc"></tickaroo-liveblog></body></html>"#;
    let page = crate::extract::Page {
        url: PAGE,
        body: html.as_bytes(),
        content_type: None,
        fetched_at: chrono::Utc::now(),
    };
    let ex = crate::extract::extract(&page, &Default::default());
    assert!(ex.posts.is_empty());
    assert!(
        ex.attempts
            .iter()
            .any(|a| a.extractor == "vendor" && a.reason.contains("Tickaroo")),
        "{:?}",
        ex.attempts
    );
}

#[test]
fn wordpress_settings_give_the_stated_endpoint() {
    let raw = r#"<script>var liveblog_settings = {"permalink":"https:\/\/news.example\/p\/","post_id":"987","use_rest_api":"1","endpoint_url":"https:\/\/api.news.example\/wp-json\/liveblog\/v1\/987\/","key":"liveblog"};</script>"#;
    let d = doc(raw);
    let f = discover(&d, raw, PAGE).expect("a feed");
    assert_eq!(f.vendor, Vendor::WordPress);
    assert_eq!(f.blog_id, "987");
    assert_eq!(
        f.url,
        "https://api.news.example/wp-json/liveblog/v1/987/get-entries/1/0"
    );
    assert_eq!(f.title.as_deref(), Some("Live: the story"));
}

#[test]
fn wordpress_entries_become_posts_with_times_authors_and_links() {
    let f = Feed {
        vendor: Vendor::WordPress,
        url: "x".into(),
        blog_id: "1".into(),
        title: None,
        page_url: PAGE.into(),
    };
    let body = serde_json::json!({
        "entries": [
            {"id": 12, "type": "update", "render": "<p>Edited <b>text</b>.</p><p>Second.</p>",
             "content": "Edited text.", "timestamp": "1764590400", "entry_time": 1764586800,
             "authors": [{"id": 3, "name": "Ann Lee"}, {"id": 4, "name": "Bo Chen"}],
             "share_link": "https://news.example/p/#12"},
            {"id": 11, "type": "new", "render": "<p>First entry.</p>", "timestamp": 1764583200,
             "entry_time": 1764583200, "authors": []}
        ],
        "page": 1, "pages": 1, "total": 2
    });
    let got = f.read(body.to_string().as_bytes()).unwrap();
    assert!(got.complete);
    assert_eq!(got.posts.len(), 2);
    let p = &got.posts[0];
    assert_eq!(p.id, "12");
    assert_eq!(p.body, "Edited text.\n\nSecond.");
    assert_eq!(p.byline.as_deref(), Some("Ann Lee, Bo Chen"));
    assert_eq!(
        p.published.unwrap().to_rfc3339(),
        "2025-12-01T11:00:00+00:00"
    );
    assert_eq!(p.updated.unwrap().to_rfc3339(), "2025-12-01T12:00:00+00:00");
    assert_eq!(p.url.as_deref(), Some("https://news.example/p/#12"));
    let q = &got.posts[1];
    assert_eq!(
        (q.id.as_str(), q.updated, q.byline.as_deref()),
        ("11", None, None)
    );
    assert_eq!(q.url.as_deref(), Some(&*format!("{PAGE}#11")));
    // Not the expected shape: a clear error, no posts.
    let ex = f.extract(br#"{"error": "nope"}"#);
    assert!(ex.posts.is_empty());
    assert!(
        ex.attempts[0].reason.contains("expected shape"),
        "{:?}",
        ex.attempts
    );
    let ex = f.extract(b"<html>");
    assert!(
        ex.attempts[0].reason.contains("not JSON"),
        "{:?}",
        ex.attempts
    );
}

#[test]
fn sourcefabric_posts_with_items_edits_and_delete_flags() {
    let raw = r#"<script>window.LB = {"api_host": "//lb.example.org/", "blog": {"_id": "b1", "title": "x"}, "settings": {}};</script>"#;
    let d = doc(raw);
    let f = discover(&d, raw, PAGE).expect("a feed");
    assert_eq!(f.vendor, Vendor::Sourcefabric);
    assert!(
        f.url.starts_with(
            "https://lb.example.org/api/client_blogs/b1/posts?max_results=50&source=%7B"
        ),
        "{}",
        f.url
    );
    let body = serde_json::json!({
        "_items": [
            {"_id": "urn:p2", "post_status": "open", "deleted": false,
             "published_date": "2026-11-30T10:05:00+00:00",
             "content_updated_date": "2026-11-30T10:20:00+00:00",
             "groups": [{"id": "root", "refs": [{"idRef": "main"}]},
                        {"id": "main", "refs": [
                            {"residRef": "i1", "item": {"item_type": "text", "text": "<p>Rain <i>stops</i>.</p>",
                                "original_creator": {"display_name": "Kim Ode"}}},
                            {"residRef": "i2", "item": {"item_type": "quote", "meta": {"quote": "It is over.", "credit": "The mayor"}}},
                            {"residRef": "i3", "item": {"item_type": "image", "meta": {"caption": "The square", "credit": "AP"}}}
                        ]}]},
            {"_id": "urn:p1", "post_status": "open", "deleted": true,
             "published_date": "2026-11-30T10:00:00+00:00", "groups": []},
            {"_id": "urn:p0", "post_status": "draft", "published_date": "2026-11-30T09:00:00+00:00",
             "groups": [{"id": "main", "refs": [{"item": {"item_type": "text", "text": "draft"}}]}]}
        ],
        "_meta": {"total": 3}
    });
    let got = f.read(body.to_string().as_bytes()).unwrap();
    assert_eq!(got.deleted, vec!["urn:p1".to_string()]);
    assert!(got.complete);
    assert_eq!(got.posts.len(), 1);
    let p = &got.posts[0];
    assert_eq!(p.id, "urn:p2");
    assert_eq!(p.body, "Rain stops.\n\nIt is over.\n\n— The mayor");
    assert_eq!(p.captions, vec!["The square AP".to_string()]);
    assert_eq!(p.byline.as_deref(), Some("Kim Ode"));
    assert_eq!(p.updated.unwrap().to_rfc3339(), "2026-11-30T10:20:00+00:00");
}

#[test]
fn a_feed_deletion_is_removed_at_once() {
    use crate::diff::{compare_deleted, Known};
    use crate::model::{EventKind, Post};
    let known: Vec<Known> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, id)| Known::first_seen(Post::new(*id, format!("post {id}")), 1, i))
        .collect();
    let polled = vec![Post::new("a", "post a"), Post::new("c", "post c")];
    let out = compare_deleted(&known, &polled, 2, &["b".to_string()], false);
    let kinds: Vec<(EventKind, &str)> = out
        .changes
        .iter()
        .map(|c| (c.kind, c.post.id.as_str()))
        .collect();
    assert_eq!(kinds, vec![(EventKind::Removed, "b")]);
    // Missing from a complete list: removed at once too.
    let out = compare_deleted(&known, &polled, 2, &[], true);
    assert_eq!(out.changes.len(), 1);
    assert_eq!(out.changes[0].kind, EventKind::Removed);
    // Without the flag the same poll only counts it missing.
    let out = crate::diff::compare(&known, &polled, 2);
    assert!(out.changes.is_empty());
}
