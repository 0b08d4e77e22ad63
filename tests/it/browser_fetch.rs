//! The browser fetcher (`fetch = "browser"`, real Chromium through chromedriver): a blog
//! whose posts only its script renders, from a JSON endpoint of the same server.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::page_server::{PageServer, Reply};
use crate::common::*;

/// The shell: an empty feed container and a script that builds the posts from
/// /posts.json (ids, times, headlines, paragraphs).
const SHELL: &str = r#"<!DOCTYPE html><html><head><title>Storm live</title></head><body>
<main><h1>Storm live: the latest</h1><div id="live-feed" class="live-updates"></div></main>
<script>
fetch('/posts.json').then(r => r.json()).then(posts => {
  const feed = document.getElementById('live-feed');
  for (const p of posts) {
    const a = document.createElement('article');
    a.id = 'post-' + p.id;
    a.className = 'live-post';
    const t = document.createElement('time');
    t.setAttribute('datetime', p.time);
    t.textContent = p.time;
    const h = document.createElement('h2');
    h.textContent = p.headline;
    a.append(t, h);
    for (const para of p.body) {
      const e = document.createElement('p');
      e.textContent = para;
      a.append(e);
    }
    feed.append(a);
  }
});
</script></body></html>"#;

fn post(id: u32, minute: u32, headline: &str, body: &[&str]) -> Value {
    json!({"id": id, "time": format!("2026-12-01T10:{minute:02}:00Z"), "headline": headline, "body": body})
}

fn serve(server: &PageServer, posts: &[Value]) {
    server.set(
        "/posts.json",
        Reply::html(serde_json::to_vec(posts).unwrap()).header("Content-Type", "application/json"),
    );
}

fn base() -> Vec<Value> {
    vec![
        post(3, 30, "Roads closed in the north", &["Police closed three roads after trees fell across them overnight.", "Drivers are asked to avoid the area until the afternoon."]),
        post(2, 20, "Power cut for 4,000 homes", &["The grid operator says 4,000 homes lost power when a line came down near the river.", "Crews expect to restore it by evening."]),
        post(1, 10, "Storm warning raised to amber", &["Forecasters raised the warning to amber for the whole coast as winds reached 110 km/h.", "Ferries are cancelled for the day."]),
    ]
}

/// [`base`] with a fourth, newer post (post-4, "Schools shut tomorrow").
fn with_new_post() -> Vec<Value> {
    let mut posts = base();
    posts.insert(0, post(4, 40, "Schools shut tomorrow", &["The county says all schools stay shut tomorrow because of fallen trees on school routes."]));
    posts
}

/// The page server with the shell at /live and the first three posts.
fn blog() -> PageServer {
    let server = PageServer::start();
    server.set("/live", Reply::html(SHELL));
    serve(&server, &base());
    server
}

/// [`blog`], for a test that needs the browser (a missing one fails naming its package).
fn browser_blog() -> PageServer {
    require_program("chromium", "chromium", "the browser fetcher tests");
    let what = "the browser fetcher tests (WebDriver)";
    require_program("chromedriver", "chromium-driver", what);
    blog()
}

/// A config with the `top` lines, one browser watch of `url` polled every 500 ms, and a
/// stdout JSON notifier.
fn browser_config(dir: &std::path::Path, top: &str, url: &str) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            "{top}\n\n[[watch]]\nurl = \"{url}\"\ninterval = \"500ms\"\nadaptive = false\nfetch = \"browser\"\n\n\
             [[notifier]]\nname = \"out\"\ntype = \"stdout\"\njson = true\n"
        ),
    )
}

/// The blog, and the daemon following it with `fetch = "browser"` and the `top` config
/// lines; its events go to `events.jsonl` in the returned folder.
fn run_browser_blog(top: &str) -> (PageServer, tempfile::TempDir, String, Proc) {
    let server = browser_blog();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/live");
    let cfg = browser_config(dir.path(), top, &url);
    let out = dir.path().join("events.jsonl");
    let d = run_daemon(&cfg, &dir.path().join("state"), &out);
    (server, dir, url, d)
}

fn kinds(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| {
            Some((
                e["kind"].as_str()?.to_string(),
                e["post"]["id"].as_str()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn without_the_browser_check_names_the_client_side_marker() {
    let server = blog();
    let out = livewatch()
        .args(["check", &server.url("/live")])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("an empty feed container")
            && text.contains("live-feed")
            && text.contains("livewatch check --browser"),
        "{text}"
    );
}

#[test]
fn check_browser_sees_the_posts_the_script_renders() {
    let server = browser_blog();
    let out = livewatch()
        .args(["check", "--json", "--browser", &server.url("/live")])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let posts: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let ids: Vec<&str> = posts.iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(ids, ["post-3", "post-2", "post-1"], "{text}");
    assert_eq!(posts[1]["published"], "2026-12-01T10:20:00Z", "{text}");
    assert!(
        posts[2]["body"]
            .as_str()
            .unwrap()
            .contains("Ferries are cancelled"),
        "{text}"
    );
}

#[test]
fn a_browser_watch_reports_new_edit_correction_and_removal() {
    let (server, dir, url, mut d) = run_browser_blog("");
    let out = dir.path().join("events.jsonl");
    let polled = |n: usize| server.requests("/posts.json").len() >= n;
    assert!(
        wait_for(Duration::from_secs(90), || polled(2)),
        "{}",
        dump(&out)
    );
    assert!(
        read_jsonl(&out).is_empty(),
        "the first look is a baseline\n{}",
        dump(&out)
    );

    let mut posts = with_new_post();
    // Serve `posts` and wait for the event `kind` of post `id`.
    let step = |posts: &[Value], kind: &str, id: &str| {
        serve(&server, posts);
        let want = (kind.to_string(), id.to_string());
        assert!(
            wait_for(Duration::from_secs(60), || kinds(&read_jsonl(&out))
                .contains(&want)),
            "no {kind} of {id}\n{}",
            dump(&out)
        );
    };
    step(&posts, "new", "post-4");

    // An edit: the number changes in the headline and the text.
    let edited = serde_json::to_string(&posts[2])
        .unwrap()
        .replace("4,000", "6,500");
    posts[2] = serde_json::from_str(&edited).unwrap();
    step(&posts, "edit", "post-2");

    // A correction: a paragraph starting "Correction:" is added.
    posts[1]["body"].as_array_mut().unwrap().push(json!(
        "Correction: an earlier version of this post said four roads were closed; it is three."
    ));
    step(&posts, "correction", "post-3");

    // A post taken down from the middle (one missing at the bottom may only have
    // scrolled off the page).
    posts.remove(2);
    step(&posts, "removed", "post-2");

    let events = read_jsonl(&out);
    let removed = events.iter().find(|e| e["kind"] == "removed").unwrap();
    assert_eq!(removed["previous"]["headline"], "Power cut for 6,500 homes");
    assert_eq!(removed["blog"]["url"], url.as_str());
    // Each change once: no flood from re-rendered pages.
    assert_eq!(kinds(&events).len(), 4, "{}", dump(&out));
    stop_daemon(&mut d, &out);
}

#[test]
fn an_unknown_fetch_value_is_a_config_error() {
    let (code, text) =
        config_check("[[watch]]\nurl = \"http://127.0.0.1:9/live\"\nfetch = \"chrome\"\n");
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("unknown fetch \"chrome\"") && text.contains("\"browser\""),
        "{text}"
    );
}

#[test]
fn without_chromium_a_browser_watch_names_the_packages_and_the_daemon_keeps_running() {
    let server = blog();
    server.set("/plain", Reply::html(SHELL));
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/live");
    let http_url = server.url("/plain");
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[watch]]\nurl = \"{url}\"\ninterval = \"500ms\"\nfetch = \"browser\"\n\n\
             [[watch]]\nurl = \"{http_url}\"\ninterval = \"500ms\"\n\n\
             [[notifier]]\nname = \"out\"\ntype = \"stdout\"\njson = true\n"
        ),
    );
    let out = dir.path().join("events.jsonl");
    let state = dir.path().join("state");
    // A PATH without chromium or chromedriver.
    let empty = tempfile::tempdir().unwrap();
    let mut d = run_daemon_env(&cfg, &state, &out, &[("PATH", empty.path())]);
    let status = |u: &str| {
        statuses(&state)
            .remove(u)
            .map(|v| v["status"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    assert!(
        wait_for(Duration::from_secs(30), || status(&url)
            .contains("chromium-driver")),
        "{}\n{}",
        status(&url),
        dump(&out)
    );
    assert!(status(&url).contains("chromium"), "{}", status(&url));
    // The other watch is polled meanwhile, and the daemon still runs.
    let before = server.requests("/plain").len();
    assert!(
        wait_for(Duration::from_secs(10), || server.requests("/plain").len()
            > before + 1),
        "{}",
        dump(&out)
    );
    assert!(d.wait_exit(Duration::from_millis(100)).is_none());
    stop_daemon(&mut d, &out);
}

#[test]
fn a_settle_selector_waits_for_posts_that_come_after_a_quiet_spell() {
    let server = browser_blog();
    // The script waits 3 s before it fetches: the DOM is quiet long before the posts come.
    server.set(
        "/late",
        Reply::html(SHELL.replace(
            "fetch('/posts.json')",
            "new Promise(r => setTimeout(r, 3000)).then(() => fetch('/posts.json'))",
        )),
    );
    let url = server.url("/late");
    let dir = tempfile::tempdir().unwrap();
    let check = |settle: &str| {
        let cfg = write_config(
            dir.path(),
            &format!("[[watch]]\nurl = \"{url}\"\nfetch = \"browser\"\n{settle}"),
        );
        let out = livewatch()
            .args(["check", "--json", &url, "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        (out.status.code(), output_text(&out))
    };
    let (code, text) = check("");
    assert_eq!(
        code,
        Some(1),
        "read at the first quiet spell: no posts yet\n{text}"
    );
    let (code, text) = check("settle = \"article.live-post\"\n");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("\"post-3\"") && text.contains("\"post-1\""),
        "{text}"
    );
}

/// A watch added through the API with `"fetch": "browser"` is read through the browser:
/// the page's own script fetches `/posts.json` (a plain GET of `/live` never does), and a
/// post the script renders is reported.
#[test]
fn a_watch_added_through_the_api_can_use_the_browser() {
    let server = browser_blog();
    let dir = tempfile::tempdir().unwrap();
    let d = crate::common::dashboard::Dash::start(dir.path(), &[]);
    let url = server.url("/live");
    let (status, w) = d.api(
        "POST",
        "/api/watches",
        Some(&json!({"url": url, "interval": "500ms", "fetch": "browser"})),
    );
    assert_eq!(status, 201, "{w}");
    assert_eq!(w["fetch"], "browser", "{w}");
    assert!(
        wait_for(Duration::from_secs(90), || server
            .requests("/posts.json")
            .len()
            >= 2),
        "the browser never ran the page's script\n{}",
        d.dump()
    );
    let posts = with_new_post();
    serve(&server, &posts);
    let e = d.wait_event("new", "Schools shut tomorrow");
    assert_eq!(e["blog"]["url"], url.as_str());
}

/// A browser past `browser_memory` is restarted (chromedriver and its browsers), and the
/// watch goes on: the next post is still reported.
#[test]
fn a_browser_past_its_memory_cap_is_restarted() {
    // Any running Chromium holds more than 1 MiB: every measurement restarts it.
    let (server, dir, _url, mut d) = run_browser_blog("browser_memory = \"1MiB\"");
    let out = dir.path().join("events.jsonl");
    let started = || log_of(&out).matches("started chromedriver").count();
    assert!(
        wait_for(Duration::from_secs(120), || started() >= 2),
        "the browser was not restarted\n{}",
        dump(&out)
    );
    assert!(
        log_of(&out).contains("grew past browser_memory"),
        "{}",
        dump(&out)
    );
    let posts = with_new_post();
    serve(&server, &posts);
    assert!(
        wait_for(Duration::from_secs(60), || kinds(&read_jsonl(&out))
            .contains(&("new".to_string(), "post-4".to_string()))),
        "{}",
        dump(&out)
    );
    stop_daemon(&mut d, &out);
}
