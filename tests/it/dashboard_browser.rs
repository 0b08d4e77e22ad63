//! The dashboard in a real Chromium (headless, through chromedriver) against the real
//! daemon on loopback: the blog list, the live stream as a local blog changes (a new post
//! without a reload, an edit with its word diff, a correction, a removal, the filters), a
//! post's history page, a post holding `<script>alert(1)</script>` shown as text, a
//! watch added through the page that is polled and still there after a restart, the open
//! page resuming its stream with `Last-Event-ID` across that restart, and the token prompt
//! on a non-loopback bind.
//!
//! With `LIVEWATCH_SCREENSHOT=PATH` the stream test saves its screenshot of the dashboard
//! there (`docs/dashboard.png` in the README was taken so).

use crate::common;

use std::time::Duration;

use common::browser::Browser;
use common::dashboard::{block_posts, blocks_page, Dash, LONG};
use common::notify::{gen_posts, live_page, GenPost, PageServer};
use common::*;
use serde_json::{json, Value};

const SCRIPT_TEXT: &str = "<script>alert(1)</script>";

/// Wait until every blog in `/blogs` has been polled.
fn all_polled(d: &Dash, n: usize) {
    assert!(
        wait_for(LONG, || {
            let (_, b) = d.api("GET", "/blogs", None);
            b.as_array()
                .is_some_and(|a| a.len() == n && a.iter().all(|b| b["last_poll_at"].is_string()))
        }),
        "blogs not polled\n{}",
        d.dump()
    );
}

/// The stream items' text, newest first.
fn stream_texts(b: &Browser) -> Vec<String> {
    let v = b.js("return [...document.querySelectorAll('#stream li')].map(li => li.textContent)");
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// Wait for a stream item of `kind` whose text contains `text`; returns its index among
/// the items of its blog (0 = top; another blog's events may come in between).
fn wait_item(b: &Browser, kind: &str, text: &str) -> usize {
    let v = b.wait_js(
        &format!("a {kind} item with {text:?} in the live stream"),
        "const items = [...document.querySelectorAll('#stream li')];
         const li = items.find(li => li.dataset.kind === arguments[0] && li.textContent.includes(arguments[1]));
         if (!li) return null;
         return items.filter(x => x.dataset.blog === li.dataset.blog).indexOf(li) + 1;",
        vec![json!(kind), json!(text)],
    );
    v.as_u64().unwrap() as usize - 1
}

fn no_script_ran(b: &Browser) {
    assert_eq!(b.dialog(), None, "no dialog opened");
    // The page's own two scripts and nothing else; the global the script would set is unset.
    let scripts = b.js("return [...document.scripts].map(s => s.getAttribute('src'))");
    assert_eq!(scripts.as_array().unwrap().len(), 2, "{scripts}");
    assert!(
        scripts.as_array().unwrap().iter().all(|s| s.is_string()),
        "only external scripts: {scripts}"
    );
}

#[test]
fn the_dashboard_follows_blogs_live_and_shows_a_posts_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut posts = gen_posts(2);
    posts[0].headline = "Harbour closed as the storm arrives".into();
    posts[1].headline = "Evacuation centres open in the old town".into();
    let storm = PageServer::start(live_page("Storm live: the coast braces", &posts));
    // The second blog has no structured data: its posts are read from the page's blocks.
    let mut council_posts = block_posts(3);
    let council = PageServer::start(blocks_page("City council budget vote live", &council_posts));
    // Nothing listens here: a failing blog.
    let dead = format!("http://127.0.0.1:{}/gone/", free_port());
    let d = Dash::start(dir.path(), &[&storm.url(), &council.url(), &dead]);
    all_polled(&d, 3);
    let storm_slug = d.watches()[0]["slug"].as_str().unwrap().to_string();

    let b = Browser::start();
    b.goto(&d.url("/"));
    // The blog list renders with the three blogs, their state and why.
    let rows = b.wait_js(
        "the blogs in the list",
        "const rows = [...document.querySelectorAll('#blogs tbody tr')];
         return rows.length === 3 ? rows.map(r => [r.textContent, r.querySelector('.status').textContent,
                                                   r.querySelector('.why').textContent]) : null;",
        vec![],
    );
    let row = |i: usize, j: usize| rows[i][j].as_str().unwrap().to_string();
    assert!(row(0, 0).contains("Storm live: the coast braces"), "{rows}");
    assert!(
        row(1, 0).contains("City council budget vote live"),
        "{rows}"
    );
    for i in 0..2 {
        assert!(["live", "quiet"].contains(&row(i, 1).as_str()), "{rows}");
    }
    assert!(
        row(1, 0).contains("Atom") && row(1, 0).contains("JSON"),
        "feed links: {rows}"
    );
    assert_eq!(row(2, 1), "failing", "{rows}");
    assert!(row(2, 2).contains("connect"), "and why: {rows}");
    b.wait_js(
        "the stream to connect",
        "return document.getElementById('conn').dataset.state === 'live'",
        vec![],
    );
    b.js("window.__loaded_once = 'yes'; return true");

    // A new post appears at the top without a reload.
    posts.push(GenPost {
        id: "post-3".into(),
        headline: "Ferry service suspended until Friday".into(),
        body: "The last ferry left at noon.\n\nNo crossings until the wind drops.".into(),
    });
    storm.set(live_page("Storm live: the coast braces", &posts));
    assert_eq!(
        wait_item(&b, "new", "Ferry service suspended until Friday"),
        0
    );
    assert_eq!(
        b.js("return window.__loaded_once"),
        json!("yes"),
        "no reload"
    );

    // An edit shows its word diff inline.
    posts[0].body =
        "Paragraph one of update 1, with several changed words.\n\nParagraph two of update 1."
            .into();
    storm.set(live_page("Storm live: the coast braces", &posts));
    let i = wait_item(&b, "edit", "Harbour closed");
    assert_eq!(i, 0, "the newest on top: {:?}", stream_texts(&b));
    let diff = b.js("const li = document.querySelector('#stream li.kind-edit');
         return {del: [...li.querySelectorAll('del')].map(e => e.textContent),
                 ins: [...li.querySelectorAll('ins')].map(e => e.textContent)};");
    assert_eq!(diff["del"], json!(["some"]), "{diff}");
    assert_eq!(diff["ins"], json!(["several changed"]), "{diff}");

    // A correction is marked as one.
    posts[1]
        .body
        .push_str("\n\nCorrection: An earlier version of this post named the wrong town.");
    storm.set(live_page("Storm live: the coast braces", &posts));
    wait_item(&b, "correction", "Evacuation centres");
    let badge = b.js(
        "const li = [...document.querySelectorAll('#stream li')].find(li => li.dataset.kind === 'correction');
         return [li.querySelector('.badge').textContent, li.querySelector('ins') && li.querySelector('ins').textContent];",
    );
    assert_eq!(badge[0], "Correction", "{badge}");
    assert!(
        badge[1]
            .as_str()
            .unwrap()
            .contains("Correction: An earlier version"),
        "{badge}"
    );

    // A post whose text holds a script tag shows it as text.
    council_posts.push(GenPost {
        id: "u4".into(),
        headline: "Reader message".into(),
        body: "A reader wrote &lt;script&gt;alert(1)&lt;/script&gt; in the form, with the \
               rest of the message about the budget vote kept for the record."
            .into(),
    });
    council.set(blocks_page("City council budget vote live", &council_posts));
    let ev = d.wait_event("new", "Reader message");
    assert!(
        ev["post"]["body"].as_str().unwrap().contains(SCRIPT_TEXT),
        "the post text holds the tag itself: {ev}"
    );
    wait_item(&b, "new", SCRIPT_TEXT);
    no_script_ran(&b);

    // A removal is struck through.
    let removed = posts.remove(2);
    storm.set(live_page("Storm live: the coast braces", &posts));
    wait_item(&b, "removed", &removed.headline);
    let struck = b.js(
        "const li = [...document.querySelectorAll('#stream li')].find(li => li.dataset.kind === 'removed');
         return [...li.querySelectorAll('s')].map(s => s.textContent).join(' ');",
    );
    assert!(
        struck.as_str().unwrap().contains(&removed.headline),
        "{struck}"
    );

    // The filters: by kind, by blog.
    let shown = |b: &Browser| -> Vec<String> {
        let v = b.js("return [...document.querySelectorAll('#stream li')].filter(li => !li.hidden).map(li => li.dataset.kind)");
        v.as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    };
    assert!(shown(&b).iter().any(|k| k == "new"));
    b.click("#filter-kinds input[value=new]");
    let kinds = shown(&b);
    assert!(
        !kinds.is_empty() && kinds.iter().all(|k| k != "new"),
        "{kinds:?}"
    );
    b.click("#filter-kinds input[value=new]");
    b.js_with(
        "const s = document.getElementById('filter-blog'); s.value = arguments[0];
         s.dispatchEvent(new Event('change')); return true",
        vec![json!(council.url())],
    );
    assert_eq!(shown(&b), ["new"], "the council blog's one event");
    b.js("const s = document.getElementById('filter-blog'); s.value = ''; s.dispatchEvent(new Event('change')); return true");
    assert!(shown(&b).len() >= 5, "{:?}", shown(&b));

    let shot = std::env::var_os("LIVEWATCH_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("dashboard.png"));
    b.screenshot(&shot);

    // The history page of the edited post, reached from its stream item, shows both
    // revisions and the diff between them.
    let href = b.js("return document.querySelector('#stream li.kind-edit a.history-link').href");
    b.click("#stream li.kind-edit a.history-link");
    assert!(
        href.as_str()
            .unwrap()
            .starts_with(&d.url(&format!("/blogs/{storm_slug}/posts/"))),
        "{href}"
    );
    let revs = b.wait_js(
        "two revisions on the history page",
        "const r = [...document.querySelectorAll('#revisions li.revision')];
         return r.length === 2 ? r.map(li => li.textContent) : null;",
        vec![],
    );
    let newest = revs[0].as_str().unwrap();
    let oldest = revs[1].as_str().unwrap();
    assert!(
        newest.contains("several changed words") && newest.contains("Edited"),
        "{newest}"
    );
    assert!(
        oldest.contains("with some words") && oldest.contains("First seen"),
        "{oldest}"
    );
    let diff = b.js("return [...document.querySelectorAll('#revisions del, #revisions ins')].map(e => e.tagName + ':' + e.textContent)");
    assert_eq!(diff, json!(["DEL:some", "INS:several changed"]));
    assert_eq!(
        b.js("return document.getElementById('post-title').textContent"),
        json!("Harbour closed as the storm arrives")
    );

    // A new revision appears on the open history page without a reload.
    b.js("window.__loaded_once = 'history'; return true");
    posts[0].body =
        "Paragraph one of update 1, now rewritten once more.\n\nParagraph two of update 1.".into();
    storm.set(live_page("Storm live: the coast braces", &posts));
    b.wait_js(
        "the third revision on the open history page",
        "return document.querySelectorAll('#revisions li.revision').length === 3",
        vec![],
    );
    assert_eq!(
        b.js("return window.__loaded_once"),
        json!("history"),
        "no reload"
    );

    // The corrected post's history highlights the note.
    let path = b.js_with(
        "return '/blogs/' + arguments[0] + '/posts/' + encodeURIComponent(arguments[1])",
        vec![
            json!(storm_slug),
            json!(ev_post_id(&d, "Evacuation centres")),
        ],
    );
    b.goto(&d.url(path.as_str().unwrap()));
    let note = b.wait_js(
        "the highlighted correction note",
        "const m = document.querySelector('#revisions li.kind-correction mark.correction-note');
         return m && m.textContent;",
        vec![],
    );
    assert!(
        note.as_str().unwrap().contains("named the wrong town"),
        "{note}"
    );

    // And the script post's page shows the tag as text too.
    let council_slug = d.watches()[1]["slug"].as_str().unwrap().to_string();
    let path = b.js_with(
        "return '/blogs/' + arguments[0] + '/posts/' + encodeURIComponent(arguments[1])",
        vec![json!(council_slug), json!(ev["post"]["id"])],
    );
    b.goto(&d.url(path.as_str().unwrap()));
    let text = b.wait_js(
        "the script post's history",
        "const r = document.querySelector('#revisions li.revision'); return r && r.textContent;",
        vec![],
    );
    assert!(text.as_str().unwrap().contains(SCRIPT_TEXT), "{text}");
    no_script_ran(&b);
}

/// The id of the post whose headline contains `headline`, from the delivered events.
fn ev_post_id(d: &Dash, headline: &str) -> Value {
    d.events()
        .into_iter()
        .find(|e| {
            e["post"]["headline"]
                .as_str()
                .unwrap_or("")
                .contains(headline)
        })
        .map(|e| e["post"]["id"].clone())
        .unwrap_or_else(|| panic!("no event about {headline:?}"))
}

#[test]
fn a_watch_added_through_the_page_is_polled_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let page = PageServer::start(live_page("Election night live", &gen_posts(3)));
    let mut d = Dash::start(dir.path(), &[]);
    let b = Browser::start();
    b.goto(&d.url("/"));
    b.wait_js(
        "the empty blog list",
        "return !document.getElementById('blogs-empty').hidden",
        vec![],
    );
    let fill = |url: &str, name: &str, interval: &str| {
        b.type_into("#add-watch [name=url]", url);
        b.type_into("#add-watch [name=name]", name);
        b.type_into("#add-watch [name=interval]", interval);
    };

    // A bad interval: the error is shown and the field marked; nothing is added.
    fill(&page.url(), "Election night", "soon");
    b.click("#add-button");
    let err = b.wait_js(
        "the validation error",
        "const i = document.querySelector('#add-watch [name=interval]');
         return i.getAttribute('aria-invalid') === 'true' && document.getElementById('add-error').textContent;",
        vec![],
    );
    assert!(err.as_str().unwrap().contains("soon"), "{err}");
    assert!(d.watches().is_empty());

    // Trying the URL shows what the extractor finds.
    fill(&page.url(), "Election night", "200ms");
    b.click("#try-button");
    let tried = b.wait_js(
        "the check result",
        "const c = document.getElementById('check-result'); return c.querySelector('ol') && c.textContent;",
        vec![],
    );
    assert!(tried.as_str().unwrap().contains("3 posts"), "{tried}");
    assert!(tried.as_str().unwrap().contains("layout:"), "{tried}");
    assert!(
        page.server.requests().len() <= 1,
        "trying is one fetch, not a watch"
    );

    b.click("#add-button");
    b.wait_js(
        "the new watch in the table",
        "const r = [...document.querySelectorAll('#watches tbody tr')].find(r => r.dataset.url === arguments[0]);
         return r && r.textContent.includes('api');",
        vec![json!(page.url())],
    );
    assert!(
        wait_for(LONG, || page.server.requests().len() >= 3),
        "the server sees GETs of the added watch\n{}",
        d.dump()
    );
    assert!(page.server.requests().iter().all(|r| r.method == "GET"));
    b.wait_js(
        "the blog in the blog list",
        "return [...document.querySelectorAll('#blogs tbody tr')].some(r => r.textContent.includes('Election night'))",
        vec![],
    );

    // A new post of the added watch comes into the stream.
    let mut posts = gen_posts(3);
    posts.push(GenPost {
        id: "post-4".into(),
        headline: "First results from the coast".into(),
        body: "Turnout is up by four points.".into(),
    });
    page.set(live_page("Election night live", &posts));
    wait_item(&b, "new", "First results from the coast");
    let first_id = b.js("return document.querySelector('#stream li').dataset.id");
    // Record the stream's requests from here on.
    b.js("window.__streams = []; const f = window.fetch;
          window.fetch = (u, o) => { if (String(u).endsWith('/events'))
              window.__streams.push((o && o.headers && o.headers['Last-Event-ID']) || null);
            return f(u, o); };
          return true");

    // Stopped, a post meanwhile, started again: the open page reconnects, resuming after
    // the last event it showed, and shows the new one without a reload.
    d.stop();
    b.wait_js(
        "the stream to notice",
        "return document.getElementById('conn').dataset.state === 'reconnecting'",
        vec![],
    );
    posts.push(GenPost {
        id: "post-5".into(),
        headline: "Recount ordered in two districts".into(),
        body: "The margin is under fifty votes.".into(),
    });
    page.set(live_page("Election night live", &posts));
    d.run();
    wait_item(&b, "new", "Recount ordered in two districts");
    let streams = b.js("return window.__streams");
    assert!(
        streams.as_array().unwrap().contains(&first_id),
        "reconnected with Last-Event-ID {first_id}: {streams}"
    );
    assert_eq!(
        b.js("return document.querySelectorAll('#stream li').length"),
        json!(2),
        "each event once"
    );

    // Restarted: still watched, still polled, still on the page.
    d.restart();
    let n = page.server.requests().len();
    assert!(
        wait_for(LONG, || page.server.requests().len() >= n + 2),
        "polled after the restart\n{}",
        d.dump()
    );
    b.goto(&d.url("/"));
    b.wait_js(
        "the watch after the restart",
        "const r = [...document.querySelectorAll('#watches tbody tr')].find(r => r.dataset.url === arguments[0]);
         return r && r.textContent.includes('Election night');",
        vec![json!(page.url())],
    );

    // Paused from the page: marked so, and the API agrees.
    b.click("#watches tbody tr button");
    b.wait_js(
        "the paused row",
        "const r = document.querySelector('#watches tbody tr'); return r && r.classList.contains('paused');",
        vec![],
    );
    assert!(wait_for(Duration::from_secs(5), || d.watches()[0]
        ["paused"]
        == true));
}

#[test]
fn on_a_non_loopback_bind_the_dashboard_asks_for_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let page = PageServer::start(live_page("Token blog live", &gen_posts(2)));
    let port = free_port();
    let token = "browser-Token-42";
    let text = common::dashboard::config_text(
        &format!("0.0.0.0:{port}"),
        "api_token = \"${LW_TEST_API_TOKEN}\"",
        &[&page.url()],
    );
    let d = Dash::start_with(dir.path(), port, &text, &[("LW_TEST_API_TOKEN", token)]);
    let b = Browser::start();
    b.goto(&d.url("/"));
    // No data without the token: the page asks for it.
    b.wait_js(
        "the token prompt",
        "return !document.getElementById('login').hidden && !!document.querySelector('#login input[type=password]')",
        vec![],
    );
    assert_eq!(
        b.js("return document.querySelectorAll('#watches tbody tr').length"),
        json!(0)
    );
    b.type_into("#login input[type=password]", "wrong");
    b.js("window.__before_sign_in = true; return true");
    b.click("#login button");
    b.wait_js(
        "the prompt again, on the reloaded page, after a wrong token",
        "return !window.__before_sign_in && !document.getElementById('login').hidden",
        vec![],
    );
    b.type_into("#login input[type=password]", token);
    b.click("#login button");
    let rows = b.wait_js(
        "the watch list with the token",
        "const r = document.querySelectorAll('#watches tbody tr'); return r.length && r[0].textContent;",
        vec![],
    );
    assert!(rows.as_str().unwrap().contains(&page.url()), "{rows}");
    b.wait_js(
        "the stream, read with the token",
        "return document.getElementById('conn').dataset.state === 'live'",
        vec![],
    );
    // A new post arrives through the authenticated stream.
    let mut posts = gen_posts(2);
    posts.push(GenPost {
        id: "post-3".into(),
        headline: "Polls close in the north".into(),
        body: "Counting starts at ten.".into(),
    });
    page.set(live_page("Token blog live", &posts));
    wait_item(&b, "new", "Polls close in the north");
}
