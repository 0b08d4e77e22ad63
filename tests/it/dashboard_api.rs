//! The watch API and the post history API of the real daemon (README "Dashboard and
//! API"): watches added, paused, resumed and removed over HTTP, persisted across restarts
//! and SIGHUP; the config's watches read-only; validation errors naming the field; the
//! token on a non-loopback bind; a post's revisions with their diffs; `/api/check`.

use crate::common;

use std::time::Duration;

use common::dashboard::{block_posts, blocks_page, config_text, Dash, LONG};
use common::http::request;
use common::notify::{gen_posts, live_page, PageServer};
use common::*;
use serde_json::{json, Value};

fn polls(page: &PageServer) -> usize {
    page.server.requests().len()
}

/// Wait until `page` has seen `n` more requests than `since`.
fn polled(page: &PageServer, since: usize, n: usize) -> bool {
    wait_for(LONG, || polls(page) >= since + n)
}

fn by_source<'a>(list: &'a [Value], source: &str) -> Vec<&'a Value> {
    list.iter().filter(|w| w["source"] == source).collect()
}

#[test]
fn watches_are_added_paused_resumed_removed_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let configured = PageServer::start(live_page("Configured blog", &gen_posts(2)));
    let added = PageServer::start(live_page("Added blog", &gen_posts(3)));
    let mut d = Dash::start(dir.path(), &[&configured.url()]);

    let list = d.watches();
    assert_eq!(list.len(), 1, "{list:?}");
    let cfg_watch = &list[0];
    assert_eq!(cfg_watch["source"], "config");
    assert_eq!(cfg_watch["read_only"], true);
    assert_eq!(cfg_watch["url"], configured.url());
    for key in ["id", "url", "name", "interval", "paused", "source", "slug"] {
        assert!(cfg_watch.get(key).is_some(), "{key} missing: {cfg_watch}");
    }

    let (status, w) = d.api(
        "POST",
        "/api/watches",
        Some(&json!({"url": added.url(), "name": "Added blog", "interval": "200ms"})),
    );
    assert_eq!(status, 201, "{w}");
    assert_eq!(w["source"], "api");
    assert_eq!(w["paused"], false);
    assert_eq!(w["name"], "Added blog");
    assert_eq!(w["interval_seconds"], 0.2);
    let id = w["id"].as_str().unwrap().to_string();
    let slug = w["slug"].as_str().unwrap().to_string();
    assert_ne!(
        slug,
        cfg_watch["slug"].as_str().unwrap(),
        "slugs are unique"
    );
    assert!(
        polled(&added, 0, 3),
        "an added watch is polled\n{}",
        d.dump()
    );
    // It is a blog like the config's: in /blogs with its feeds.
    let (_, blogs) = d.api("GET", "/blogs", None);
    let blog = blogs
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["url"] == added.url())
        .unwrap_or_else(|| panic!("not in /blogs: {blogs}"))
        .clone();
    assert_eq!(blog["slug"], slug.as_str());
    assert!(wait_for(LONG, || {
        let (s, _) = d.api("GET", &format!("/blogs/{slug}/feed.json"), None);
        s == 200
    }));

    // The same URL again, or the config's URL: refused, naming the field.
    for url in [added.url(), configured.url()] {
        let (status, e) = d.api("POST", "/api/watches", Some(&json!({ "url": url })));
        assert_eq!(status, 409, "{e}");
        assert_eq!(e["field"], "url");
    }

    // Pause: no more polls (one under way may finish).
    let (status, p) = d.api("POST", &format!("/api/watches/{id}/pause"), None);
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["paused"], true);
    // Time for the task to stop, even on a busy machine.
    std::thread::sleep(Duration::from_millis(1000));
    let paused_at = polls(&added);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        polls(&added) <= paused_at + 1,
        "a paused watch is not polled: {} → {}",
        paused_at,
        polls(&added)
    );

    // SIGHUP re-reads the config: the API watch stays, still paused.
    d.signal("HUP");
    std::thread::sleep(Duration::from_millis(1000));
    let after_hup = d.watches();
    let api = by_source(&after_hup, "api");
    assert_eq!(api.len(), 1, "{after_hup:?}");
    assert_eq!(api[0]["paused"], true);
    assert!(polls(&added) <= paused_at + 1, "still paused after SIGHUP");

    // Resume: polled again.
    let (status, r) = d.api("POST", &format!("/api/watches/{id}/resume"), None);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["paused"], false);
    let before = polls(&added);
    assert!(polled(&added, before, 2), "resumed: polled again");

    // A restart: the watch is still there, with its id, and polled.
    d.restart();
    let list = d.watches();
    let api = by_source(&list, "api");
    assert_eq!(api.len(), 1, "{list:?}");
    assert_eq!(api[0]["id"], id.as_str());
    assert_eq!(api[0]["url"], added.url());
    let before = polls(&added);
    assert!(
        polled(&added, before, 2),
        "polled after a restart\n{}",
        d.dump()
    );
    // `livewatch status` names it too.
    let st = statuses(&d.state);
    assert_eq!(st[&added.url()]["name"], "Added blog", "{st:?}");

    // The config's watch is read-only.
    let cfg_id = cfg_watch["id"].as_str().unwrap();
    for (method, path) in [
        ("DELETE", format!("/api/watches/{cfg_id}")),
        ("POST", format!("/api/watches/{cfg_id}/pause")),
        ("POST", format!("/api/watches/{cfg_id}/resume")),
    ] {
        let (status, e) = d.api(method, &path, None);
        assert_eq!(status, 409, "{method} {path}: {e}");
        assert!(e["error"].as_str().unwrap().contains("config"), "{e}");
    }

    // Remove: gone from the list and no longer polled; removing again is a 404.
    let (status, _) = d.api("DELETE", &format!("/api/watches/{id}"), None);
    assert_eq!(status, 204);
    let list = d.watches();
    assert!(by_source(&list, "api").is_empty(), "{list:?}");
    // Time for the task to stop, even on a busy machine.
    std::thread::sleep(Duration::from_millis(1000));
    let gone_at = polls(&added);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        polls(&added) <= gone_at + 1,
        "a removed watch is not polled"
    );
    let (status, e) = d.api("DELETE", &format!("/api/watches/{id}"), None);
    assert_eq!(status, 404, "{e}");
    d.restart();
    assert!(
        by_source(&d.watches(), "api").is_empty(),
        "removed stays removed"
    );
}

#[test]
fn bad_watch_requests_are_json_errors_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let page = PageServer::start(live_page("Blog", &gen_posts(1)));
    let d = Dash::start(dir.path(), &[]);
    let url = page.url();
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "url"),
        (json!({"url": ""}), "url"),
        (json!({"url": 42}), "url"),
        (json!({"url": "ftp://example.org/live"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": url, "interval": "soon"}), "interval"),
        (json!({"url": url, "interval": "10ms"}), "interval"),
        (json!({"url": url, "interval": true}), "interval"),
        (json!({"url": url, "name": ""}), "name"),
        (json!({"url": url, "notify": ["nobody"]}), "notify"),
        (json!({"url": url, "notify": "out"}), "notify"),
        (json!({"url": url, "extractor": "nope"}), "extractor"),
        (
            json!({"url": url, "selectors": {"post": "div[["}}),
            "selectors.post",
        ),
        (
            json!({"url": url, "selectors": {"post": "article", "body": "p::"}}),
            "selectors.body",
        ),
        (
            json!({"url": url, "selectors": {"pots": "article"}}),
            "selectors",
        ),
        (json!({"url": url, "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let (status, e) = d.api("POST", "/api/watches", Some(&body));
        assert_eq!(status, 400, "{body} → {e}");
        assert_eq!(e["field"], field, "{body} → {e}");
        assert!(
            !e["error"].as_str().unwrap_or("").is_empty(),
            "{body} → {e}"
        );
    }
    // Not JSON, not an object, not sent as JSON.
    let r = d.call(
        "POST",
        "/api/watches",
        &[("Content-Type", "application/json")],
        None,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let e: Value = serde_json::from_str(&r.body).unwrap();
    assert!(e["field"].is_null() && e["error"].is_string(), "{e}");
    let (status, e) = d.api("POST", "/api/watches", Some(&json!([url])));
    assert_eq!(status, 400, "{e}");
    let form = format!("url={url}");
    let r = request(
        d.port,
        "POST",
        "/api/watches",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    )
    .unwrap();
    assert_eq!(r.status, 415, "a form post is refused: {}", r.body);
    // A page of another site cannot write, even on loopback without a token.
    let r = d.call(
        "POST",
        "/api/watches",
        &[("Origin", "http://evil.example")],
        Some(&json!({ "url": url })),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // Nor can a page whose host name was pointed at 127.0.0.1 (DNS rebinding).
    let raw = |host: &str| {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
        write!(
            c,
            "GET /api/watches HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    };
    let rebound = raw("evil.example:80");
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    for host in ["localhost", "[::1]:9", "127.0.0.2:1"] {
        let ok = raw(host);
        assert!(ok.starts_with("HTTP/1.1 200"), "{host}: {ok}");
    }
    assert!(d.watches().is_empty(), "no bad request added a watch");
    // A good one with every field.
    let (status, w) = d.api(
        "POST",
        "/api/watches",
        Some(
            &json!({"url": url, "name": "Blog", "interval": 30, "notify": ["out"],
                     "selectors": {"post": "article", "headline": "h2"}}),
        ),
    );
    assert_eq!(status, 201, "{w}");
    assert_eq!(w["interval"], "30s");
    assert_eq!(w["notify"], json!(["out"]));
    assert_eq!(w["extractor"], "css");
    assert_eq!(w["selectors"]["post"], "article");
    let (status, e) = d.api("DELETE", "/api/watches/api-999", None);
    assert_eq!(status, 404, "{e}");
}

#[test]
fn a_non_loopback_listen_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let page = PageServer::start(live_page("Blog", &gen_posts(1)));
    let port = free_port();
    // Without a token the daemon refuses to start, saying why.
    let open = config_text(&format!("0.0.0.0:{port}"), "", &[]);
    let cfg = write_config(dir.path(), &open);
    let out = livewatch()
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--state")
        .arg(dir.path().join("refused"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", output_text(&out));
    let text = output_text(&out);
    assert!(
        text.contains("api_token") && text.contains("loopback"),
        "{text}"
    );
    let check = livewatch()
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!check.status.success(), "{}", output_text(&check));
    assert!(output_text(&check).contains("api_token"));

    // With one: bound on every address, reached here through 127.0.0.1.
    let token = "s3cret-Token-for-tests";
    let text = config_text(
        &format!("0.0.0.0:{port}"),
        "api_token = \"${LW_TEST_API_TOKEN}\"",
        &[],
    );
    let d = Dash::start_with(dir.path(), port, &text, &[("LW_TEST_API_TOKEN", token)]);
    let body = json!({ "url": page.url() });
    let bearer = format!("Bearer {token}");
    let wrong = "Bearer not-the-token".to_string();
    for (method, path, b) in [
        ("POST", "/api/watches", Some(&body)),
        ("GET", "/api/watches", None),
        ("POST", "/api/check", Some(&body)),
        ("DELETE", "/api/watches/api-1", None),
        ("POST", "/api/watches/api-1/pause", None),
        ("GET", "/", None),
        ("GET", "/blogs/live/posts/1", None),
    ] {
        for auth in [None, Some(&wrong)] {
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|a| ("Authorization", a.as_str())).collect();
            let r = d.call(method, path, &headers, b);
            assert_eq!(r.status, 401, "{method} {path} with {auth:?}: {}", r.body);
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|h| h.starts_with("Bearer")),
                "{method} {path}"
            );
        }
    }
    let (status, e) = d.api("POST", "/api/watches", Some(&body));
    assert_eq!(status, 401);
    assert!(e["error"].as_str().unwrap().contains("token"), "{e}");
    assert!(d.watches_with(&bearer).is_empty(), "nothing was added");
    let r = d.call(
        "POST",
        "/api/watches",
        &[("Authorization", &bearer)],
        Some(&body),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let r = d.call("GET", "/", &[("Authorization", &bearer)], None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<title>livewatch</title>"));
    assert_eq!(d.watches_with(&bearer).len(), 1);
    assert!(
        polled(&page, 0, 1),
        "the watch added with the token is polled"
    );
}

impl Dash {
    fn watches_with(&self, bearer: &str) -> Vec<Value> {
        let r = self.call("GET", "/api/watches", &[("Authorization", bearer)], None);
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str::<Vec<Value>>(&r.body).unwrap()
    }
}

#[test]
fn a_posts_history_has_every_revision_and_check_shows_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut posts = gen_posts(2);
    let page = PageServer::start(live_page("History blog", &posts));
    let d = Dash::start(dir.path(), &[&page.url()]);
    let slug = d.watches()[0]["slug"].as_str().unwrap().to_string();
    assert!(polled(&page, 0, 2));
    std::thread::sleep(Duration::from_millis(400));

    posts[0].body =
        "Paragraph one of update 1, with several changed words.\n\nParagraph two of update 1."
            .into();
    page.set(live_page("History blog", &posts));
    let edit = d.wait_event("edit", "several changed words");
    let post_id = edit["post"]["id"].as_str().unwrap().to_string();
    posts[0].body.push_str(
        "\n\nCorrection: An earlier version of this post gave the wrong number of updates.",
    );
    page.set(live_page("History blog", &posts));
    d.wait_event("correction", "Correction: An earlier version");

    let path = format!("/api/blogs/{slug}/posts/{}", percent_encode(&post_id));
    let (status, h) = d.api("GET", &path, None);
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["blog"]["slug"], slug.as_str());
    assert_eq!(h["removed"], false);
    let revs = h["revisions"].as_array().unwrap();
    assert_eq!(revs.len(), 3, "{h}");
    for (i, r) in revs.iter().enumerate() {
        assert_eq!(r["revision"], i as u64, "{r}");
        assert!(r["seen_at"].is_string() && r["post"].is_object(), "{r}");
        assert_eq!(r["post"]["id"], post_id.as_str());
    }
    assert!(revs[0]["diff"].is_null(), "the first revision has no diff");
    assert_eq!(revs[0]["kind"], "new");
    assert!(
        revs[0]["post"]["body"]
            .as_str()
            .unwrap()
            .contains("with some words"),
        "{}",
        revs[0]
    );
    let d1 = revs[1]["diff"].as_str().unwrap();
    assert!(
        d1.contains("[-some-]") && d1.contains("{+several changed+}"),
        "{d1}"
    );
    assert_eq!(revs[1]["kind"], "edit");
    assert_eq!(revs[2]["kind"], "correction");
    let added = revs[2]["corrections_added"].as_array().unwrap();
    assert_eq!(added.len(), 1, "{}", revs[2]);
    assert!(revs[2]["diff"].as_str().unwrap().contains("{+Correction:"));

    for bad in [
        format!("/api/blogs/{slug}/posts/no-such-post"),
        format!("/api/blogs/no-such-blog/posts/{}", percent_encode(&post_id)),
    ] {
        let (status, e) = d.api("GET", &bad, None);
        assert_eq!(status, 404, "{bad}: {e}");
        assert!(e["error"].is_string());
    }

    // The newest events, for the dashboard's first view.
    let (status, recent) = d.api("GET", "/api/events?limit=2", None);
    assert_eq!(status, 200);
    let kinds: Vec<&str> = recent
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["edit", "correction"], "oldest first: {recent}");

    // Trying a URL: the posts `check --json` prints, and the layout chosen.
    let other = PageServer::start(blocks_page("Storm live", &block_posts(4)));
    let (status, c) = d.api("POST", "/api/check", Some(&json!({"url": other.url()})));
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["title"], "Storm live");
    assert_eq!(c["posts"].as_array().unwrap().len(), 4, "{c}");
    assert_eq!(c["posts"][0]["headline"], "Update 4 on the storm");
    assert!(c["layout"]["kind"].is_string(), "{c}");
    assert_eq!(c["layout"]["posts"], 4, "{c}");
    let (status, c) = d.api(
        "POST",
        "/api/check",
        Some(&json!({"url": other.url(), "selectors": {"post": "article", "headline": "h2"}})),
    );
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["posts"].as_array().unwrap().len(), 4, "{c}");
    let dead = format!("http://127.0.0.1:{}/live", free_port());
    let (status, e) = d.api("POST", "/api/check", Some(&json!({ "url": dead })));
    assert_eq!(status, 502, "{e}");
    assert_eq!(e["field"], "url");
    let (status, e) = d.api(
        "POST",
        "/api/check",
        Some(&json!({"url": "file:///etc/passwd"})),
    );
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["field"], "url");
    assert!(
        other.server.requests().len() <= 2,
        "check does not watch the page"
    );
}

/// Percent-encode a path segment.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
