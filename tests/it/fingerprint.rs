//! The content fingerprint (`livewatch::fingerprint`) is sound: over every fixture page,
//! every timeline step and randomised noise, equal fingerprints mean equal posts (as the
//! diff sees them), and every step that brings an event changes the fingerprint. And the
//! daemon answers a noise-only poll on the fingerprint, without a parse, across a restart.

use std::collections::{HashMap, HashSet};

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use livewatch::config::{FetchSettings, Watch};
use livewatch::daemon::poll::{BlogTask, PollResult};
use livewatch::daemon::Shared;
use livewatch::diff::normalize;
use livewatch::extract::{extract, Page, Strategy};
use livewatch::fetch::{Fetched, Fetcher, Response, Validators};
use livewatch::fingerprint::{fingerprint, strip_tracking, watch_key, Fingerprint, STATE_MARKERS};
use livewatch::model::Post;
use livewatch::store::{BlogStatus, Store};
use proptest::prelude::{
    any, prop_assert, prop_assert_eq, prop_oneof, proptest, Just, ProptestConfig, TestCaseError,
};
use proptest::strategy::Strategy as _;
use regex::Regex;

use crate::common;

const URL: &str = "https://live.example/blog";
const CT: &str = "text/html; charset=utf-8";

fn fp_of(body: &[u8]) -> Option<Fingerprint> {
    fingerprint(
        &watch_key(&Strategy::Auto),
        &Strategy::Auto,
        URL,
        Some(CT),
        body,
    )
}

fn posts(body: &[u8], at: DateTime<Utc>) -> Vec<Post> {
    extract(
        &Page {
            url: URL,
            body,
            content_type: Some(CT),
            fetched_at: at,
        },
        &Strategy::Auto,
    )
    .posts
}

/// A post as the diff sees it: id, normalised content, link without tracking, byline,
/// and its times unless they depend on the fetch time (relative times, bare clocks on a
/// dateless page).
type View = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn view(ps: &[Post], clocked: &HashSet<String>) -> Vec<View> {
    let mut v: Vec<View> = ps
        .iter()
        .map(|p| {
            let masked = clocked.contains(&p.id);
            (
                p.id.clone(),
                normalize::fingerprint(p),
                p.url.as_deref().map(strip_tracking),
                p.byline.clone(),
                p.published.filter(|_| !masked),
                p.updated.filter(|_| !masked),
            )
        })
        .collect();
    // The diff matches posts by id; their order on the page only places new ones.
    v.sort();
    v
}

/// Posts whose times move with the fetch time alone.
fn clocked(body: &[u8], a: DateTime<Utc>, b: DateTime<Utc>) -> HashSet<String> {
    let (pa, pb) = (posts(body, a), posts(body, b));
    type Times = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let times: HashMap<&str, Times> = pb
        .iter()
        .map(|p| (p.id.as_str(), (p.published, p.updated)))
        .collect();
    pa.iter()
        .filter(|p| times.get(p.id.as_str()) != Some(&(p.published, p.updated)))
        .map(|p| p.id.clone())
        .collect()
}

fn pages() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    for dir in [common::pages_dir(), common::fixtures().join("unprofiled")] {
        for p in common::list_dir(&dir) {
            if p.extension().is_some_and(|e| e == "html") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, common::read_file(&p)));
            }
        }
    }
    assert!(out.len() >= 12, "fixture pages missing: {}", out.len());
    out
}

static PAGES: std::sync::LazyLock<Vec<(String, Vec<u8>)>> = std::sync::LazyLock::new(pages);

/// One kind of noise, applied with a seed.
#[derive(Debug, Clone, Copy)]
enum Noise {
    /// The clock moves on `k` minutes: every "N min ago" becomes "N+k min ago".
    Clock(i64),
    /// Cache-busters and tracking parameters in URLs get new values.
    Busters,
    /// JavaScript (not JSON-LD, not a state blob) gets new numbers.
    Scripts,
    /// Nonces, ad-slot tokens and refresh counters get new values.
    Nonces,
    /// The first two attributes of tags swap places.
    AttrOrder,
    /// Whitespace runs between tags grow.
    Whitespace,
    /// Comments appear after closing tags.
    Comments,
}

fn mutate(html: &str, noise: Noise, seed: u64) -> String {
    let hex = format!("{:x}", seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    match noise {
        Noise::Clock(k) => Regex::new(r"\b(\d+) (min|mins|minutes) ago\b")
            .unwrap()
            .replace_all(html, |c: &regex::Captures<'_>| {
                format!("{} {} ago", c[1].parse::<i64>().unwrap() + k, &c[2])
            })
            .into_owned(),
        Noise::Busters => {
            Regex::new(r"([?&](?:cb|utm_source|utm_campaign|fbclid|_)=)[A-Za-z0-9._-]+")
                .unwrap()
                .replace_all(html, |c: &regex::Captures<'_>| format!("{}{hex}", &c[1]))
                .into_owned()
                // Asset URLs: a new hash in every stylesheet/script/image URL.
                .replace(".css\"", &format!(".css?v={hex}\""))
                .replace(".js\"", &format!(".js?v={hex}\""))
                .replace(".jpg\"", &format!(".jpg?cb={hex}\""))
        }
        Noise::Scripts => {
            let script = Regex::new(r"(?s)<script(?: [^>]*)?>(.*?)</script>").unwrap();
            script
                .replace_all(html, |c: &regex::Captures<'_>| {
                    let whole = &c[0];
                    let open_end = whole.find('>').unwrap();
                    let open = &whole[..open_end];
                    let data =
                        open.contains("json") || STATE_MARKERS.iter().any(|m| c[1].contains(m));
                    // Only what a browser runs is script noise: a script whose type is
                    // not a JavaScript MIME type ("didomi/javascript", "text/template") is a
                    // data block, which the fingerprint hashes like JSON.
                    if data || !runs_as_javascript(open) {
                        whole.to_string()
                    } else {
                        format!("{}>var lw{hex}={seed};{}</script>", open, &c[1])
                    }
                })
                .into_owned()
        }
        Noise::Nonces => {
            let s = Regex::new(r#"(nonce|data-token|data-ad-slot|data-refresh)="[^"]*""#)
                .unwrap()
                .replace_all(html, |c: &regex::Captures<'_>| {
                    format!("{}=\"{hex}\"", &c[1])
                })
                .into_owned();
            Regex::new(r"<body[^>]*>")
                .unwrap()
                .replacen(&s, 1, format!("$0<div class=\"ad-slot\" data-refresh=\"{seed}\" data-ad-slot=\"{hex}\"></div><script nonce=\"{hex}\">window.ads={seed}</script>"))
                .into_owned()
        }
        Noise::AttrOrder => outside_raw_text(html, |h| {
            Regex::new(r#"<([a-z][a-z0-9-]*) ([a-z-]+="[^"<>]*") ([a-z-]+="[^"<>]*")"#)
                .unwrap()
                .replace_all(h, |c: &regex::Captures<'_>| {
                    if seed % 2 == 0 || c[2].split('=').next() == c[3].split('=').next() {
                        c[0].to_string()
                    } else {
                        format!("<{} {} {}", &c[1], &c[3], &c[2])
                    }
                })
                .into_owned()
        }),
        Noise::Whitespace => {
            let pad = " ".repeat(1 + (seed % 3) as usize);
            outside_raw_text(html, |h| {
                Regex::new(r">(\s+)<")
                    .unwrap()
                    .replace_all(h, |c: &regex::Captures<'_>| format!(">{}{pad}\n<", &c[1]))
                    .into_owned()
            })
        }
        Noise::Comments => outside_raw_text(html, |h| {
            h.replacen(
                "</p>",
                &format!("</p><!-- lw {hex} -->"),
                1 + (seed % 50) as usize,
            )
            .replacen(
                "</div>",
                &format!("</div><!--{seed}-->"),
                1 + (seed % 50) as usize,
            )
        }),
    }
}

/// Does a `<script …` open tag hold JavaScript (no `type`, an empty one, `module`, or a
/// JavaScript MIME type, as the HTML standard lists them)?
fn runs_as_javascript(open: &str) -> bool {
    let ty = Regex::new(r#"(?i)\btype\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#)
        .unwrap()
        .captures(open)
        .map(|c| {
            c.get(1)
                .or(c.get(2))
                .or(c.get(3))
                .map_or("", |m| m.as_str())
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match ty.as_deref() {
        None | Some("") | Some("module") => true,
        Some(t) => matches!(
            t,
            "text/javascript"
                | "application/javascript"
                | "application/x-javascript"
                | "text/ecmascript"
                | "application/ecmascript"
                | "text/x-javascript"
                | "text/x-ecmascript"
        ),
    }
}

/// `f` applied to the markup outside comments and raw-text elements (scripts, titles, iframes …: their text is the
/// parser's raw text: a server reformatting its markup does not reach into it).
fn outside_raw_text(html: &str, f: impl Fn(&str) -> String) -> String {
    let raw = Regex::new(r"(?is)<!--.*?-->|<(script|noscript|title|iframe|textarea|style|xmp|noembed|noframes)\b.*?</(script|noscript|title|iframe|textarea|style|xmp|noembed|noframes)\s*>").unwrap();
    let mut out = String::with_capacity(html.len() + 1024);
    let mut last = 0;
    for m in raw.find_iter(html) {
        out.push_str(&f(&html[last..m.start()]));
        out.push_str(m.as_str());
        last = m.end();
    }
    out.push_str(&f(&html[last..]));
    out
}

/// The page a mutation starts from: the ad slot goes in once.
fn html_or_raw(html: &str, raw: &[u8], noise: Noise) -> String {
    match noise {
        Noise::Nonces => String::from_utf8_lossy(raw).into_owned(),
        _ => html.to_string(),
    }
}

/// Every kind of noise but the clock and URLs, at once: what the fingerprint ignores.
fn quiet_noise(html: &str, seed: u64) -> String {
    [
        Noise::Nonces,
        Noise::Scripts,
        Noise::AttrOrder,
        Noise::Whitespace,
        Noise::Comments,
    ]
    .iter()
    .fold(html.to_string(), |h, n| mutate(&h, *n, seed))
}

fn noise_strategy() -> impl proptest::strategy::Strategy<Value = (usize, Noise, u64)> {
    let noise = prop_oneof![
        (1i64..40).prop_map(Noise::Clock),
        Just(Noise::Busters),
        Just(Noise::Scripts),
        Just(Noise::Nonces),
        Just(Noise::AttrOrder),
        Just(Noise::Whitespace),
        Just(Noise::Comments),
    ];
    (0..PAGES.len(), noise, any::<u64>())
}

/// One page under one noise: equal fingerprints ⇒ equal posts; and the noise the
/// fingerprint is built to ignore is ignored (else nothing would be saved).
fn noise_case(page: usize, noise: Noise, seed: u64) -> Result<(), TestCaseError> {
    let (name, raw) = &PAGES[page];
    let html = String::from_utf8_lossy(raw).into_owned();
    let t0 = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
    let t1 = match noise {
        Noise::Clock(k) => t0 + Duration::minutes(k),
        _ => t0,
    };
    // An inserted ad slot is in both pages compared (its tokens differ).
    let html = match noise {
        Noise::Nonces => mutate(&html, noise, seed ^ 1),
        _ => html,
    };
    let changed = mutate(&html_or_raw(&html, raw, noise), noise, seed);
    let (a, b) = (fp_of(html.as_bytes()), fp_of(changed.as_bytes()));
    prop_assert!(a.is_some(), "{name}: no fingerprint");
    if a == b {
        let mask = clocked(html.as_bytes(), t0, t1);
        let before = view(&posts(html.as_bytes(), t0), &mask);
        let after = view(&posts(changed.as_bytes(), t1), &mask);
        prop_assert_eq!(
            before,
            after,
            "{}: {:?} kept the fingerprint but changed the posts",
            name,
            noise
        );
    } else {
        // Only the clock (relative times whose word boundary is unsure) and URLs
        // outside assets may change it; the rest must be ignored.
        prop_assert!(
            matches!(noise, Noise::Clock(_) | Noise::Busters),
            "{}: {:?} changed the fingerprint",
            name,
            noise
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// [`noise_case`] under random noise, pages and seeds.
    #[test]
    fn equal_fingerprint_means_equal_posts_under_noise((page, noise, seed) in noise_strategy()) {
        noise_case(page, noise, seed)?;
    }
}

/// [`noise_case`] for every page and every kind of noise (two seeds each), so no pair
/// is left to the random draw.
#[test]
fn every_page_under_every_kind_of_noise() {
    for page in 0..PAGES.len() {
        for seed in [0, 7] {
            for noise in [
                Noise::Clock(3),
                Noise::Busters,
                Noise::Scripts,
                Noise::Nonces,
                Noise::AttrOrder,
                Noise::Whitespace,
                Noise::Comments,
            ] {
                if let Err(e) = noise_case(page, noise, seed) {
                    panic!("{e}");
                }
            }
        }
    }
}

/// Every step of every timeline against the one before: equal fingerprints mean equal
/// posts; a step with an expected event changes the fingerprint; identical bytes keep it.
#[test]
fn timeline_steps_change_the_fingerprint_exactly_when_posts_change() {
    let mut noise_steps = (0, 0);
    for dir in common::list_dir(&common::timelines_dir()) {
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let manifest = common::manifest(&name);
        let steps = manifest["steps"].as_array().unwrap();
        let mut now = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let read = |f: &str| common::read_file(&dir.join(f));
        let mut prev = read(steps[0]["file"].as_str().unwrap());
        for step in &steps[1..] {
            let file = step["file"].as_str().unwrap();
            let op = step["op"].as_str().unwrap();
            let minutes = if op.starts_with("pin") || op.starts_with("unchanged") {
                0
            } else {
                op.split_whitespace()
                    .find_map(|w| w.strip_prefix("minutes=")?.parse().ok())
                    .unwrap_or(3)
            };
            let next = now + Duration::minutes(minutes);
            let cur = read(file);
            let (a, b) = (fp_of(&prev), fp_of(&cur));
            let ctx = format!("{name}/{file} ({op})");
            assert!(a.is_some() && b.is_some(), "{ctx}: no fingerprint");
            let expect = step["expect"].as_array().unwrap();
            if !expect.is_empty() {
                assert_ne!(
                    a, b,
                    "{ctx}: an event is expected but the fingerprint is the same"
                );
            }
            if op.starts_with("unchanged") {
                assert_eq!(a, b, "{ctx}: identical bytes, another fingerprint");
            }
            if op.starts_with("noise") {
                noise_steps.1 += 1;
                noise_steps.0 += usize::from(a == b);
            }
            if a == b {
                let mask = clocked(&prev, now, next);
                assert_eq!(
                    view(&posts(&prev, now), &mask),
                    view(&posts(&cur, next), &mask),
                    "{ctx}: same fingerprint, other posts"
                );
            }
            prev = cur;
            now = next;
        }
    }
    eprintln!(
        "timeline noise steps on the fingerprint: {} of {}",
        noise_steps.0, noise_steps.1
    );
    assert!(noise_steps.1 >= 5, "too few noise steps: {noise_steps:?}");
}

/// Every fixture page has a fingerprint; a one-letter change in any post changes it.
#[test]
fn every_fixture_page_has_a_fingerprint_that_sees_its_posts() {
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
    for (name, raw) in PAGES.iter() {
        let fp = fp_of(raw);
        assert!(fp.is_some(), "{name}: no fingerprint");
        let html = String::from_utf8_lossy(raw);
        let ps = posts(raw, at);
        // A word of each of the first posts' body, changed in the page: if the page
        // still has that word where the extractor reads it, the fingerprint changes.
        for p in ps.iter().take(5) {
            let Some(word) = p.body.split_whitespace().find(|w| {
                w.len() >= 6
                    && w.chars().all(|c| c.is_alphabetic())
                    && html.matches(*w).count() == 1
            }) else {
                continue;
            };
            let edited = html.replacen(word, &format!("{word}x"), 1);
            let after = posts(edited.as_bytes(), at);
            if view(&after, &HashSet::new()) != view(&ps, &HashSet::new()) {
                assert_ne!(
                    fp_of(edited.as_bytes()),
                    fp,
                    "{name}: edit of {word:?} kept the fingerprint"
                );
            }
        }
    }
}

fn task(store: &Store) -> BlogTask {
    let fetcher = Fetcher::new(FetchSettings::default()).unwrap();
    let shared = Arc::new(Shared::standalone(store.clone(), fetcher, 3));
    let mut w = Watch::new(URL);
    w.adaptive = false;
    BlogTask::new(shared, w, Arc::new(Vec::new()))
}

fn page(body: Vec<u8>) -> Fetched {
    Fetched::Page(Response {
        final_url: URL.into(),
        hash: livewatch::fetch::body_hash(&body),
        len: body.len(),
        body,
        content_type: Some(CT.into()),
        validators: Validators::default(),
    })
}

/// The daemon's poll path over a timeline: after each step, the same step with fresh
/// noise is answered on the fingerprint (no parse: the metric counts it, the status says
/// so), also after a restart, while every step with news still gives its events.
#[tokio::test]
async fn the_daemon_answers_noise_on_the_fingerprint_and_still_reports_news() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let name = "guardian";
    let tl = common::timeline_dir(name);
    let manifest = common::manifest(name);
    let steps = manifest["steps"].as_array().unwrap();
    let mut t = task(&store);
    let mut at = Utc::now();
    let metrics = livewatch::metrics::global();
    for (i, step) in steps.iter().enumerate() {
        let op = step["op"].as_str().unwrap();
        let html = common::read_text(&tl.join(step["file"].as_str().unwrap()));
        let seed = 2 * i as u64;
        at += Duration::minutes(3);
        let r = t
            .handle(Ok(page(quiet_noise(&html, seed).into_bytes())), at)
            .await;
        let PollResult::Ok { events, .. } = r else {
            panic!("{name} step {i} ({op}): {r:?}");
        };
        // Fresh noise on the same step: no parse, no event.
        if i == steps.len() / 2 {
            // A restart keeps the fingerprint with the blog's state.
            drop(t);
            t = task(&store);
        }
        let before = metrics.noise_only_total();
        at += Duration::minutes(1);
        let r = t
            .handle(Ok(page(quiet_noise(&html, seed + 1).into_bytes())), at)
            .await;
        // A removal is confirmed by the second look, which is this one.
        let PollResult::Ok {
            events: confirmed, ..
        } = r
        else {
            panic!("{name} step {i} ({op}): {r:?}");
        };
        if i > 0 {
            let expect = step["expect"].as_array().unwrap();
            let removals = expect.iter().filter(|e| e["kind"] == "removed").count();
            assert_eq!(
                (events, confirmed),
                (expect.len() - removals, removals),
                "{name} step {i} ({op}): events"
            );
        }
        // Other tests in this binary poll too: the counter only grows.
        assert!(
            metrics.noise_only_total() > before,
            "{name} step {i} ({op}): noise was parsed"
        );
        let status = store.find_blog(URL).unwrap().unwrap().status;
        assert_eq!(status, BlogStatus::NoiseOnly, "{name} step {i}");
    }
}

/// A page that names a live-blog vendor (here a link into a `liveblog…/` path, as many
/// news sites have) but embeds no feed is parsed to look for one only when its content
/// changed: fresh noise is answered on the fingerprint without that parse, a new post
/// is still reported.
#[tokio::test]
async fn a_page_naming_a_vendor_is_not_parsed_for_noise() {
    let server = common::page_server::PageServer::start();
    let url = server.url("/live");
    let link = r#"<a href="/news/liveblog-2026/">More live coverage</a>"#;
    let posts = [
        ("p2", "Second", "The second post of the day.", 2),
        ("p1", "First", "The first post of the day.", 1),
    ];
    let page = |posts: &[(&str, &str, &str, u32)], n: u64| {
        let html = common::page_server::live_page(posts, "", link);
        quiet_noise(&html, n)
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let fetcher = Fetcher::new(FetchSettings::default()).unwrap();
    let shared = Arc::new(Shared::standalone(store.clone(), fetcher, 3));
    let mut w = Watch::new(&url);
    w.adaptive = false;
    let t = BlogTask::new(shared, w, Arc::new(Vec::new()));
    let metrics = livewatch::metrics::global();
    server.set("/live", common::page_server::Reply::html(page(&posts, 1)));
    let looks = metrics.vendor_looks_total();
    assert!(matches!(t.poll_once().await, PollResult::Ok { .. }));
    assert!(
        metrics.vendor_looks_total() > looks,
        "the first page was not looked at"
    );
    assert_eq!(store.find_blog(&url).unwrap().unwrap().polls, 1);
    for n in 2..5 {
        server.set("/live", common::page_server::Reply::html(page(&posts, n)));
        let (looks, noise) = (metrics.vendor_looks_total(), metrics.noise_only_total());
        let r = t.poll_once().await;
        assert!(matches!(r, PollResult::Ok { events: 0, .. }), "{r:?}");
        // No other test of this binary fetches through `poll_once`, so the count of looks
        // is this task's; the noise counter only grows (others answer noise too).
        assert_eq!(
            metrics.vendor_looks_total(),
            looks,
            "noise {n}: parsed to look for a feed"
        );
        assert!(metrics.noise_only_total() > noise, "noise {n} was parsed");
        let status = store.find_blog(&url).unwrap().unwrap().status;
        assert_eq!(status, BlogStatus::NoiseOnly, "noise {n}");
    }
    let more = [
        ("p3", "Third", "A third post, news at last.", 3),
        posts[0],
        posts[1],
    ];
    server.set("/live", common::page_server::Reply::html(page(&more, 9)));
    let looks = metrics.vendor_looks_total();
    let r = t.poll_once().await;
    assert!(matches!(r, PollResult::Ok { events: 1, .. }), "{r:?}");
    assert!(
        metrics.vendor_looks_total() > looks,
        "a changed page names a vendor: looked again"
    );
}
