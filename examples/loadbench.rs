//! Load bench: the real daemon against N local live blogs.
//!
//! ```sh
//! cargo run --release --example loadbench -- --blogs 10000 --interval 60s --change-rate 0.01 --duration 180s
//! ```
//!
//! Two processes, so that the daemon's CPU and memory are measured alone:
//!
//! - the **page server** (this program re-run with `--serve`) serves N distinct blogs
//!   built from the fixture pages in `tests/fixtures/pages`: each blog is one page
//!   (cycling over the pages; `--page FILE` adds one), with fresh noise outside the posts
//!   on every request (an ad slot's token and refresh counter, a nonce'd ad script and an
//!   "Updated N min ago" stamp, so the body hash changes on every poll; the content
//!   fingerprint sees through it, and `--noise ids` adds a fresh element id, which it
//!   does not), and with probability `--change-rate` per request a real new
//!   post (a copy of the page's newest post with a new id and a token `lwb<blog>x<k>` in
//!   its text) that stays on the page from then on. It records when each post first went
//!   out. `--etag-share F` makes that share of blogs noise-free with an `ETag`, so they
//!   answer 304 until a post appears.
//! - the **daemon process** (this one) runs `livewatch::daemon::Daemon` as `livewatch run`
//!   does: real config, real SQLite file in a temp dir, a `webhook` notifier pointed at a
//!   receiver in this process (cheap: a few events per second).
//!
//! Phases: (1) a micro phase runs the daemon's own per-blog check (`BlogTask::poll_once`:
//! fetch → fingerprint → extract → diff → store) K times per page and class (noise only,
//! a new post, unchanged body, 304) and reports the median process CPU per check and the
//! share of noise-only checks answered on the fingerprint; (2) the load phase starts
//! every blog, waits until each has its silent baseline, lets new posts appear for
//! `--duration`, then stops them and waits (up to `--grace`) until every post that was
//! served has reached the webhook. Posts served but not delivered are "missed".

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use livewatch::config::{self, parse_duration, Watch};
use livewatch::daemon::{poll::BlogTask, Daemon, Shared};
use livewatch::diff::{compare, Known};
use livewatch::extract::profiles::{Layout, ALL};
use livewatch::extract::{extract, Page, Strategy};
use livewatch::fetch::{error_chain, Fetcher};
use livewatch::store::Store;
use rand::RngExt;
use scraper::{ElementRef, Html, Selector};

const USAGE: &str = "usage: loadbench [--blogs N] [--interval D] [--change-rate R] [--duration D]
                 [--grace D] [--per-host N] [--etag-share F] [--micro K] [--classes C,..]
                 [--pages DIR] [--page FILE].. [--noise quiet|ids]

  --blogs N        live blogs served and watched (default 100)
  --interval D     poll interval of every watch, adaptive polling off (default 60s)
  --change-rate R  share of polls that bring a new post (default 0.01)
  --duration D     measured time after every blog has its baseline (default 60s)
  --grace D        longest wait for served posts to be delivered (default interval + 10s)
  --per-host N     the daemon's per_host limit; all blogs share one host (default 8)
  --etag-share F   share of blogs without noise that answer 304 when unchanged (default 0)
  --micro K        checks per page and class in the micro phase, 0 = skip (default 20)
  --classes C,..   micro-phase classes: changed (noise only), post (a new post on
                   every request), same (unchanged body), etag (304); default all
                   (one class alone is handy under a profiler)
  --pages DIR      fixture pages (default tests/fixtures/pages)
  --page FILE      one more live-blog page (repeatable)
  --noise KIND     what changes on every request: quiet (default: an ad slot's
                   token and refresh counter, a nonce'd ad script, an \"Updated N
                   min ago\" stamp; the content fingerprint ignores all of it) or ids
                   (the ad slot gets a new element id each time: ids are read by the
                   extractors, so every poll is parsed — the pre-fingerprint case)";

/// The micro phase's classes, in table order.
const MICRO_CLASSES: [&str; 4] = ["changed", "post", "same", "etag"];

/// The token placeholder inside a post template.
const TOKEN: &str = "LWBTOKEN";

#[derive(Debug, Clone)]
struct Args {
    blogs: usize,
    interval: Duration,
    change_rate: f64,
    duration: Duration,
    grace: Option<Duration>,
    per_host: usize,
    etag_share: f64,
    micro: usize,
    classes: Vec<String>,
    pages: std::path::PathBuf,
    extra_pages: Vec<std::path::PathBuf>,
    /// `--noise ids`: a fresh element id in the noise.
    noise_ids: bool,
}

fn parse_args(argv: &[String]) -> Result<(bool, Args), String> {
    let mut a = Args {
        blogs: 100,
        interval: Duration::from_secs(60),
        change_rate: 0.01,
        duration: Duration::from_secs(60),
        grace: None,
        per_host: 8,
        etag_share: 0.0,
        micro: 20,
        classes: MICRO_CLASSES.iter().map(|c| c.to_string()).collect(),
        pages: std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/pages"
        )),
        extra_pages: Vec::new(),
        noise_ids: false,
    };
    let mut serve = false;
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        if k == "--serve" {
            serve = true;
            continue;
        }
        if k == "-h" || k == "--help" {
            return Err(USAGE.to_string());
        }
        let v = it
            .next()
            .ok_or_else(|| format!("{k} needs a value\n{USAGE}"))?;
        let num = |v: &str| v.replace(['_', ','], "");
        let bad = |e: &dyn std::fmt::Display| format!("{k} {v}: {e}");
        match k.as_str() {
            "--blogs" => a.blogs = num(v).parse().map_err(|e| bad(&e))?,
            "--interval" => a.interval = parse_duration(v)?,
            "--change-rate" => a.change_rate = v.parse().map_err(|e| bad(&e))?,
            "--duration" => a.duration = parse_duration(v)?,
            "--grace" => a.grace = Some(parse_duration(v)?),
            "--per-host" => a.per_host = v.parse().map_err(|e| bad(&e))?,
            "--etag-share" => a.etag_share = v.parse().map_err(|e| bad(&e))?,
            "--micro" => a.micro = v.parse().map_err(|e| bad(&e))?,
            "--classes" => {
                a.classes = v.split(',').map(|c| c.trim().to_string()).collect();
                if let Some(c) = a
                    .classes
                    .iter()
                    .find(|c| !MICRO_CLASSES.contains(&c.as_str()))
                {
                    return Err(format!("--classes: unknown class {c}\n{USAGE}"));
                }
            }
            "--pages" => a.pages = v.into(),
            "--page" => a.extra_pages.push(v.into()),
            "--noise" => {
                a.noise_ids = match v.as_str() {
                    "quiet" => false,
                    "ids" => true,
                    _ => return Err(format!("--noise: quiet or ids\n{USAGE}")),
                }
            }
            _ => return Err(format!("unknown option {k}\n{USAGE}")),
        }
    }
    if a.blogs == 0 || !(0.0..=1.0).contains(&a.change_rate) || !(0.0..=1.0).contains(&a.etag_share)
    {
        return Err(format!("--blogs must be > 0, rates within 0..1\n{USAGE}"));
    }
    if a.interval < config::MIN_INTERVAL {
        return Err(format!(
            "--interval must be at least {:?}",
            config::MIN_INTERVAL
        ));
    }
    Ok((serve, a))
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (serve, args) = match parse_args(&argv) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    // The daemon's own runtime (thread limits, malloc arena limit), as `livewatch run`.
    let rt = livewatch::cli::runtime().expect("tokio runtime");
    let r = if serve {
        rt.block_on(server::run(args))
    } else {
        rt.block_on(bench(args))
    };
    if let Err(e) = r {
        eprintln!("loadbench: {e}");
        std::process::exit(1);
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64
}

// ---------------------------------------------------------------------------------------
// Pages: a fixture split around the spot where new posts go.

/// One fixture page, ready to serve with noise and extra posts.
struct Template {
    name: String,
    /// Up to and including the `<body …>` tag (noise goes right after it).
    head: Bytes,
    /// From after `<body …>` to the newest post.
    mid: Bytes,
    /// The newest post and everything after it.
    tail: Bytes,
    /// A new post's HTML with [`TOKEN`] where its token goes.
    post: String,
    posts: usize,
    extractor: String,
    /// How new posts are made: `profile` (the profile's selectors, the page's own bytes)
    /// or `copied` (the newest post copied in the parsed page, served re-serialised).
    how: &'static str,
}

impl Template {
    fn len(&self) -> usize {
        self.head.len() + self.mid.len() + self.tail.len()
    }

    fn new_post(&self, token: &str) -> Bytes {
        Bytes::from(self.post.replace(TOKEN, token))
    }

    /// The whole body: head, noise, the extra posts (newest first), the page.
    fn body(&self, noise: Option<Bytes>, extra: &[Bytes]) -> Vec<Bytes> {
        let mut parts = Vec::with_capacity(extra.len() + 4);
        parts.push(self.head.clone());
        parts.extend(noise);
        parts.push(self.mid.clone());
        parts.extend(extra.iter().rev().cloned());
        parts.push(self.tail.clone());
        parts
    }
}

/// The noise of request `n`: with `ids`, the ad slot's element id changes too.
fn noise(n: u64, ids: bool) -> Bytes {
    let hex = blake3::hash(&n.to_le_bytes()).to_hex();
    let id = if ids { &hex[..16] } else { "top" };
    Bytes::from(format!(
        "<div class=\"ad-slot\" id=\"ad-{id}\" data-ad-slot=\"{}\" data-refresh=\"{n}\"></div><script nonce=\"{}\">window.adRefresh={n};</script><span class=\"page-updated\">Updated {} min ago</span>",
        &hex[..16],
        &hex[16..32],
        n % 59 + 1
    ))
}

fn concat(parts: &[Bytes]) -> Vec<u8> {
    parts.iter().flat_map(|b| b.iter().copied()).collect()
}

/// Is `el`, or one of its ancestors, matched by one of `sels`?
fn inside(el: ElementRef<'_>, sels: &[Selector]) -> bool {
    std::iter::once(el)
        .chain(el.ancestors().filter_map(ElementRef::wrap))
        .any(|a| sels.iter().any(|s| s.matches(&a)))
}

/// Where the element starts in `src`: found by its `id`, else by its first text.
fn locate(src: &str, el: ElementRef<'_>) -> Option<usize> {
    let tag = format!("<{}", el.value().name());
    let at = if let Some(id) = el.value().id() {
        [
            format!("id=\"{id}\""),
            format!("id='{id}'"),
            format!("id={id}"),
        ]
        .iter()
        .find_map(|p| src.find(p.as_str()))?
    } else {
        let text = el.text().map(str::trim).find(|t| t.len() >= 4)?;
        let probe: String = text.chars().take(16).collect();
        src.find(probe.as_str())?
    };
    src[..at].rfind(tag.as_str())
}

fn ex(body: &[u8]) -> livewatch::extract::Extraction {
    extract(
        &Page {
            url: "http://127.0.0.1:1/b/0",
            body,
            content_type: Some("text/html; charset=utf-8"),
            fetched_at: chrono::Utc::now(),
        },
        &Strategy::Auto,
    )
}

/// Build a page's new-post template, checked on the real extractor and diff (noise alone
/// gives no event, each inserted post exactly one `new`). A page a site profile reads
/// gets its post copied by the profile's selectors, in the page's own bytes; any other
/// page (or a profiled one where that fails) gets its newest post copied in the parsed
/// page ([`copies`]), and is served as html5ever serialises it.
fn template(name: &str, bytes: &[u8]) -> Result<Template, String> {
    let src = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let base = ex(bytes);
    let mut why = Vec::new();
    let profile_name = base.extractor.split('+').next().unwrap_or("");
    if let Some(profile) = ALL.iter().find(|p| p.name == profile_name) {
        match profile_copy(src, &base, profile)
            .and_then(|(start, post)| checked(name, bytes.to_vec(), start, post, "profile"))
        {
            Ok(t) => return Ok(t),
            Err(e) => why.push(format!("profile {profile_name}: {e}")),
        }
    }
    match copies(src, &base) {
        Ok(cands) => {
            let n = cands.len();
            let mut last = None;
            for c in cands {
                match checked(name, c.page, c.start, c.post, "copied") {
                    Ok(t) => return Ok(t),
                    Err(e) => last = Some(e),
                }
            }
            why.push(format!(
                "no copy of the newest post works ({n} tried; last: {})",
                last.unwrap_or_else(|| "none".into())
            ));
        }
        Err(e) => why.push(e),
    }
    Err(format!("extractor {}: {}", base.extractor, why.join("; ")))
}

/// The newest post copied by a site profile's selectors: where it starts in `src`, and
/// its HTML with [`TOKEN`] in its text and ids.
fn profile_copy(
    src: &str,
    base: &livewatch::extract::Extraction,
    profile: &livewatch::extract::profiles::Profile,
) -> Result<(usize, String), String> {
    let doc = Html::parse_document(src);
    match &profile.layout {
        Layout::Posts { post, exclude } => {
            let sel = Selector::parse(post).map_err(|e| e.to_string())?;
            let excl: Vec<Selector> = exclude
                .iter()
                .filter_map(|s| Selector::parse(s).ok())
                .collect();
            let el = doc
                .select(&sel)
                .find(|e| !inside(*e, &excl))
                .ok_or("no post element")?;
            let start = locate(src, el).ok_or("post element not found in the source")?;
            let mut html = el.html();
            // The marker goes at the start of the post's body element (else before its
            // first paragraph), so that it is in the extracted text.
            let para = format!("<p>Bench update {TOKEN}: a new post from the load bench.</p>");
            let body = profile
                .body
                .and_then(|b| Selector::parse(b).ok())
                .and_then(|s| el.select(&s).next())
                .map(|b| b.html())
                .and_then(|b| Some(html.find(&b)? + b.find('>')? + 1));
            match body.or_else(|| html.find("<p>").or_else(|| html.find("<p "))) {
                Some(i) => html.insert_str(i, &para),
                None => {
                    let close = html.rfind("</").ok_or("post element has no end tag")?;
                    html.insert_str(close, &para);
                }
            }
            // A new id: the element's own, and the post id where it is a URL fragment.
            if let Some(id) = el.value().id() {
                html = html.replacen(&format!("id=\"{id}\""), &format!("id=\"{id}{TOKEN}\""), 1);
            }
            if let Some(p) = base.posts.first() {
                html = html.replace(&format!("#{}\"", p.id), &format!("#{}{TOKEN}\"", p.id));
            }
            Ok((start, html))
        }
        Layout::Headings { heading, .. } => {
            let sel = Selector::parse(heading).map_err(|e| e.to_string())?;
            let el = doc
                .select(&sel)
                .find(|e| {
                    e.text()
                        .collect::<String>()
                        .trim_start()
                        .starts_with(|c: char| c.is_ascii_digit())
                })
                .ok_or("no time heading")?;
            let start = locate(src, el).ok_or("heading not found in the source")?;
            let html = format!(
                "{}<p>Bench update {TOKEN}: a new post from the load bench.</p>",
                el.html()
            );
            Ok((start, html))
        }
    }
}

/// One way to add a post to a page: the page's bytes, where new posts go, and a new
/// post's HTML with [`TOKEN`] in its text and ids.
struct Copy {
    page: Vec<u8>,
    start: usize,
    post: String,
}

/// Ways to copy the newest post of any page, whatever layout the extractor read it from:
/// in the parsed page, find a text of the newest post and one of the next post, take the
/// children of their nearest common ancestor from the one holding the first to the one
/// holding the second (a block, or a flat run of siblings such as heading, time and
/// paragraphs), shifted back by up to three siblings (where a run starts before the text
/// found, e.g. with its time marker), with a token added to that text and to every id in
/// the copy. The caller keeps the first that the real extractor and diff accept.
fn copies(src: &str, base: &livewatch::extract::Extraction) -> Result<Vec<Copy>, String> {
    use ego_tree::NodeId;
    use scraper::node::{Comment, Node};
    let (Some(p0), Some(p1)) = (base.posts.first(), base.posts.get(1)) else {
        return Err(format!(
            "{} posts: two are needed to copy one",
            base.posts.len()
        ));
    };
    let mut doc = Html::parse_document(src);
    let norm = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    // A text node of `own`'s body (long enough to be its own, not `other`'s; the token
    // goes there, where the post's text is read), in page order; else of its headline.
    let anchor = |doc: &Html, own: &livewatch::model::Post, other: &livewatch::model::Post| {
        let hay = |p: &livewatch::model::Post, head: bool| {
            let h = if head { p.headline.as_deref() } else { None };
            format!("{} {}", h.unwrap_or(""), p.body)
        };
        for (min, head) in [(16, false), (6, false), (16, true), (6, true)] {
            let (own, other) = (hay(own, head), hay(other, head));
            let found = doc.root_element().descendants().find(|n| {
                let Node::Text(t) = n.value() else {
                    return false;
                };
                if n.ancestors().any(|a| {
                    a.value().as_element().is_some_and(|e| {
                        matches!(e.name(), "script" | "style" | "noscript" | "template")
                    })
                }) {
                    return false;
                }
                let t = norm(t);
                t.chars().count() >= min && own.contains(&t) && !other.contains(&t)
            });
            if let Some(n) = found {
                return Some(n.id());
            }
        }
        None
    };
    let n0 = anchor(&doc, p0, p1).ok_or("no text of the newest post found in the page")?;
    let n1 = anchor(&doc, p1, p0).ok_or("no text of the second post found in the page")?;
    let path = |id: NodeId| -> Vec<NodeId> {
        let n = doc.tree.get(id).expect("node");
        std::iter::once(id)
            .chain(n.ancestors().map(|a| a.id()))
            .collect()
    };
    let (a0, a1) = (path(n0), path(n1));
    let lca_at = a0
        .iter()
        .position(|id| a1.contains(id))
        .ok_or("the two posts share no ancestor")?;
    if lca_at == 0 {
        return Err("the two posts' texts are one node".into());
    }
    let lca = a0[lca_at];
    let c0 = a0[lca_at - 1];
    let c1 = a1[a1.iter().position(|id| *id == lca).expect("common") - 1];
    let kids: Vec<NodeId> = doc
        .tree
        .get(lca)
        .expect("node")
        .children()
        .map(|c| c.id())
        .collect();
    // Siblings that count: elements and text that is not blank.
    let sig: Vec<usize> = kids
        .iter()
        .enumerate()
        .filter(|(_, id)| match doc.tree.get(**id).expect("node").value() {
            Node::Element(_) => true,
            Node::Text(t) => !t.trim().is_empty(),
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    let at = |c: NodeId| sig.iter().position(|&i| kids[i] == c);
    let (i0, i1) = (
        at(c0).ok_or("post 1 not among the siblings")?,
        at(c1).ok_or("post 2 not among the siblings")?,
    );
    let (lo, hi) = (i0.min(i1), i0.max(i1));
    let mut shifts: Vec<(usize, usize)> = (0..=3)
        .flat_map(|k| (0..=3).map(move |j| (k, j)))
        .filter(|&(k, j)| k <= lo && j < hi - lo)
        .collect();
    shifts.sort_by_key(|&(k, j)| (k + j, k.abs_diff(j)));
    // The token goes into the text found (then back), and into every id of the copy.
    static IDS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(\s(?:id|data-[\w-]*id|name)=")([^"]*)""#).unwrap()
    });
    static FRAGMENTS: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r##"(\shref="[^"#]*#)([^"]*)""##).unwrap());
    let marked = match doc.tree.get(n0).expect("node").value() {
        Node::Text(t) => t.text.clone(),
        _ => unreachable!("anchors are text nodes"),
    };
    let set_text = |doc: &mut Html, text: &str| {
        if let Node::Text(t) = doc.tree.get_mut(n0).expect("node").value() {
            t.text = text.into();
        }
    };
    let mut out = Vec::new();
    for (k, j) in shifts {
        let (from, to) = (sig[lo - k], sig[hi - j]);
        set_text(&mut doc, &format!("{marked} Bench update {TOKEN}."));
        let mut post = String::new();
        for id in &kids[from..to] {
            let n = doc.tree.get(*id).expect("node");
            match n.value() {
                Node::Element(_) => post.push_str(&ElementRef::wrap(n).expect("element").html()),
                Node::Text(t) => post.push_str(
                    &t.replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;"),
                ),
                _ => {}
            }
        }
        set_text(&mut doc, &marked);
        let post = IDS.replace_all(&post, format!("${{1}}${{2}}{TOKEN}\""));
        let post = FRAGMENTS
            .replace_all(&post, format!("${{1}}${{2}}{TOKEN}\""))
            .into_owned();
        if !post.contains(TOKEN) {
            continue;
        }
        let mark = doc
            .tree
            .get_mut(kids[from])
            .expect("node")
            .insert_before(Node::Comment(Comment {
                comment: "LWBINSERT".into(),
            }))
            .id();
        let page = doc.html();
        doc.tree.get_mut(mark).expect("node").detach();
        let Some(start) = page.find("<!--LWBINSERT-->") else {
            continue;
        };
        let page = format!(
            "{}{}",
            &page[..start],
            &page[start + "<!--LWBINSERT-->".len()..]
        );
        out.push(Copy {
            page: page.into_bytes(),
            start,
            post,
        });
    }
    Ok(out)
}

/// Split a page around `start` (where new posts go) and check its template with the real
/// extractor and diff.
fn checked(
    name: &str,
    bytes: Vec<u8>,
    start: usize,
    post: String,
    how: &'static str,
) -> Result<Template, String> {
    let src = std::str::from_utf8(&bytes).map_err(|_| "not UTF-8".to_string())?;
    let body_open = src
        .find("<body")
        .and_then(|i| src[i..].find('>').map(|j| i + j + 1))
        .ok_or("no <body> tag")?;
    if start < body_open {
        return Err("the newest post is before <body>".into());
    }
    let base = ex(&bytes);
    let b = Bytes::from(bytes);
    let t = Template {
        name: name.to_string(),
        head: b.slice(..body_open),
        mid: b.slice(body_open..start),
        tail: b.slice(start..),
        post,
        posts: base.posts.len(),
        extractor: base.extractor.clone(),
        how,
    };
    // Check with the real extractor and diff.
    let known: Vec<Known> = ex(&concat(&t.body(Some(noise(1, true)), &[])))
        .posts
        .into_iter()
        .enumerate()
        .map(|(i, p)| Known::first_seen(p, 0, i))
        .collect();
    let changes = |extra: &[Bytes]| {
        let posts = ex(&concat(&t.body(Some(noise(2, true)), extra))).posts;
        compare(&known, &posts, 1).changes
    };
    let c = changes(&[]);
    if !c.is_empty() {
        return Err(format!("noise alone gives {} events", c.len()));
    }
    let c = changes(&[t.new_post("lwb0x1"), t.new_post("lwb0x2")]);
    let ok = c.len() == 2
        && c.iter().all(|c| c.kind == livewatch::model::EventKind::New)
        && ["lwb0x1", "lwb0x2"]
            .iter()
            .all(|tok| c.iter().any(|c| c.post.body.contains(tok)));
    if !ok {
        let kinds: Vec<String> = c
            .iter()
            .map(|c| format!("{} {}", c.kind, c.post.id))
            .collect();
        return Err(format!("two inserted posts give {kinds:?}"));
    }
    Ok(t)
}

fn load_templates(
    dir: &std::path::Path,
    extra: &[std::path::PathBuf],
) -> Result<Vec<Template>, String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".html"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let bytes = std::fs::read(dir.join(&n)).map_err(|e| format!("{n}: {e}"))?;
        match template(&n, &bytes) {
            Ok(t) => out.push(t),
            Err(e) => eprintln!("loadbench: page {n} left out: {e}"),
        }
    }
    // Pages named on the command line must work.
    for p in extra {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let name = p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        out.push(template(&name, &bytes).map_err(|e| format!("--page {}: {e}", p.display()))?);
    }
    if out.is_empty() {
        return Err(format!("no usable page in {}", dir.display()));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// The page server (child process).

mod server {
    use super::*;

    /// One served blog.
    struct Blog {
        page: usize,
        etag: bool,
        /// Inserted posts, oldest first.
        posts: Vec<Bytes>,
    }

    /// A new post as the server saw it.
    #[derive(Default, Clone, Copy)]
    struct Served {
        blog: u32,
        k: u32,
        /// When the response that first carried it started (the post "appears").
        appeared_ns: u64,
        /// When that response's last byte was handed to the connection.
        sent_ns: u64,
    }

    struct Srv {
        templates: Vec<Template>,
        blogs: Vec<Mutex<Blog>>,
        rate: f64,
        live: AtomicBool,
        nonce: AtomicU64,
        full: AtomicU64,
        same: AtomicU64,
        not_modified: AtomicU64,
        served: Mutex<Vec<Served>>,
        noise_ids: bool,
        /// The posts added so far to each page of the micro phase's `post` class.
        micro_posts: Vec<Mutex<Vec<Bytes>>>,
    }

    pub async fn run(args: Args) -> Result<(), String> {
        let templates = load_templates(&args.pages, &args.extra_pages)?;
        let every = if args.etag_share > 0.0 {
            (1.0 / args.etag_share).round().max(1.0) as usize
        } else {
            usize::MAX
        };
        let blogs = (0..args.blogs)
            .map(|i| {
                Mutex::new(Blog {
                    page: i % templates.len(),
                    etag: every != usize::MAX && i % every == 0,
                    posts: Vec::new(),
                })
            })
            .collect();
        let pages: Vec<serde_json::Value> = templates
            .iter()
            .map(|t| {
                serde_json::json!({"name": t.name, "bytes": t.len(), "posts": t.posts, "extractor": t.extractor, "how": t.how})
            })
            .collect();
        let n_pages = templates.len();
        let srv = Arc::new(Srv {
            templates,
            blogs,
            rate: args.change_rate,
            live: AtomicBool::new(false),
            nonce: AtomicU64::new(1000),
            full: AtomicU64::new(0),
            same: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
            served: Mutex::new(Vec::new()),
            noise_ids: args.noise_ids,
            micro_posts: (0..n_pages).map(|_| Mutex::new(Vec::new())).collect(),
        });
        let app = Router::new()
            .route("/b/{i}", get(blog))
            .route("/m/{class}/{page}", get(micro))
            .route("/_bench/stats", get(stats))
            .route("/_bench/live/{on}", post(live))
            .with_state(srv);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        // The parent reads this one line, then talks HTTP.
        let mut out = std::io::stdout();
        writeln!(out, "{}", serde_json::json!({"port": port, "pages": pages}))
            .and_then(|_| out.flush())
            .map_err(|e| e.to_string())?;
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    }

    fn html(
        parts: Vec<Bytes>,
        etag: Option<String>,
        on_sent: Option<(Arc<Srv>, usize)>,
    ) -> Response {
        let chunks = futures_util::stream::iter(parts.into_iter().map(Ok::<_, std::io::Error>));
        // Polled only once every chunk above was taken by the connection.
        let done = futures_util::stream::once(async move {
            if let Some((srv, idx)) = on_sent {
                srv.served.lock().unwrap()[idx].sent_ns = now_ns();
            }
            Ok(Bytes::new())
        });
        let mut r = Response::builder()
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-cache");
        if let Some(e) = etag {
            r = r.header(header::ETAG, e);
        }
        r.body(Body::from_stream(futures_util::StreamExt::chain(
            chunks, done,
        )))
        .expect("valid response")
    }

    async fn blog(
        State(srv): State<Arc<Srv>>,
        Path(i): Path<usize>,
        headers: HeaderMap,
    ) -> Response {
        let appeared = now_ns();
        let Some(b) = srv.blogs.get(i) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let (parts, etag, on_sent) = {
            let mut b = b.lock().unwrap();
            let t = &srv.templates[b.page];
            let mut on_sent = None;
            if srv.live.load(Ordering::Relaxed) && rand::rng().random_bool(srv.rate) {
                let k = b.posts.len() as u32 + 1;
                b.posts.push(t.new_post(&format!("lwb{i}x{k}")));
                let mut served = srv.served.lock().unwrap();
                served.push(Served {
                    blog: i as u32,
                    k,
                    appeared_ns: appeared,
                    sent_ns: 0,
                });
                on_sent = Some((srv.clone(), served.len() - 1));
            }
            if b.etag {
                let tag = format!("\"{i}-{}\"", b.posts.len());
                let inm = headers
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok());
                if inm == Some(tag.as_str()) {
                    srv.not_modified.fetch_add(1, Ordering::Relaxed);
                    return Response::builder()
                        .status(StatusCode::NOT_MODIFIED)
                        .header(header::ETAG, tag)
                        .body(Body::empty())
                        .expect("valid response");
                }
                srv.same.fetch_add(1, Ordering::Relaxed);
                (t.body(None, &b.posts), Some(tag), on_sent)
            } else {
                srv.full.fetch_add(1, Ordering::Relaxed);
                let n = srv.nonce.fetch_add(1, Ordering::Relaxed);
                (
                    t.body(Some(noise(n, srv.noise_ids)), &b.posts),
                    None,
                    on_sent,
                )
            }
        };
        html(parts, etag, on_sent)
    }

    /// The micro phase's blogs: `changed` (noise on every request), `same` (identical
    /// bytes), `etag` (304 on a matching `If-None-Match`). Never any new post.
    async fn micro(
        State(srv): State<Arc<Srv>>,
        Path((class, page)): Path<(String, usize)>,
        headers: HeaderMap,
    ) -> Response {
        let Some(t) = srv.templates.get(page) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        match class.as_str() {
            "changed" => {
                let n = srv.nonce.fetch_add(1, Ordering::Relaxed);
                html(t.body(Some(noise(n, srv.noise_ids)), &[]), None, None)
            }
            "post" => {
                // One more post on every request (they stay), with fresh noise.
                let n = srv.nonce.fetch_add(1, Ordering::Relaxed);
                let posts = {
                    let mut extra = srv.micro_posts[page].lock().unwrap();
                    extra.push(t.new_post(&format!("lwm{page}x{n}")));
                    extra.clone()
                };
                html(t.body(Some(noise(n, srv.noise_ids)), &posts), None, None)
            }
            "same" => html(t.body(None, &[]), None, None),
            "etag" => {
                let tag = format!("\"p{page}\"");
                if headers
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok())
                    == Some(&tag)
                {
                    return Response::builder()
                        .status(StatusCode::NOT_MODIFIED)
                        .header(header::ETAG, tag)
                        .body(Body::empty())
                        .expect("valid response");
                }
                html(t.body(None, &[]), Some(tag), None)
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }

    async fn stats(State(srv): State<Arc<Srv>>) -> Response {
        let served: Vec<[u64; 4]> = srv
            .served
            .lock()
            .unwrap()
            .iter()
            .map(|s| [s.blog as u64, s.k as u64, s.appeared_ns, s.sent_ns])
            .collect();
        let body = serde_json::json!({
            "full": srv.full.load(Ordering::Relaxed),
            "same": srv.same.load(Ordering::Relaxed),
            "not_modified": srv.not_modified.load(Ordering::Relaxed),
            "served": served,
        });
        Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("valid response")
    }

    async fn live(State(srv): State<Arc<Srv>>, Path(on): Path<u8>) -> StatusCode {
        srv.live.store(on == 1, Ordering::Relaxed);
        StatusCode::NO_CONTENT
    }
}

// ---------------------------------------------------------------------------------------
// Measuring the daemon process.

/// CPU time (user + system) of this process so far.
fn cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads nothing else.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A `/proc/self/status` field in kB (`VmHWM`, `VmRSS`).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Reset `VmHWM` to the current RSS (Linux ≥ 4.0), so each phase has its own peak.
/// What glibc's heap holds at the end: in use, and free but kept (`mallinfo2`).
fn heap() -> String {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters.
        let m = unsafe { libc::mallinfo2() };
        let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
        format!(
            " (heap: {:.1} MiB in use, {:.1} MiB free but kept, {:.1} MiB mmapped)",
            mib(m.uordblks),
            mib(m.fordblks),
            mib(m.hblkhd)
        )
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    String::new()
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median, min and max.
fn summary(v: &mut [f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// The page-server child; killed when dropped.
struct PageServer {
    child: Child,
    base: String,
    pages: Vec<serde_json::Value>,
    http: reqwest::Client,
}

impl Drop for PageServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PageServer {
    fn start(args: &Args) -> Result<PageServer, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args([
                "--serve",
                "--blogs",
                &args.blogs.to_string(),
                "--change-rate",
                &args.change_rate.to_string(),
                "--etag-share",
                &args.etag_share.to_string(),
                "--pages",
                &args.pages.display().to_string(),
                "--noise",
                if args.noise_ids { "ids" } else { "quiet" },
            ])
            .args(
                args.extra_pages
                    .iter()
                    .flat_map(|p| ["--page".to_string(), p.display().to_string()]),
            )
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the page server: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let hello: serde_json::Value = serde_json::from_str(&line)
            .map_err(|_| format!("the page server did not start: {line:?}"))?;
        let port = hello["port"].as_u64().ok_or("no port")?;
        Ok(PageServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
            pages: hello["pages"].as_array().cloned().unwrap_or_default(),
            http: reqwest::Client::new(),
        })
    }

    async fn stats(&self) -> Result<Stats, String> {
        let mut r = self
            .http
            .get(format!("{}/_bench/stats", self.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let mut body = Vec::new();
        while let Some(c) = r.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&c);
        }
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        let served = v["served"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| {
                        let x = x.as_array()?;
                        let g = |i: usize| x.get(i).and_then(|v| v.as_u64()).unwrap_or(0);
                        Some((format!("lwb{}x{}", g(0), g(1)), g(2), g(3)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Stats {
            full: n("full"),
            same: n("same"),
            not_modified: n("not_modified"),
            served,
        })
    }

    async fn set_live(&self, on: bool) -> Result<(), String> {
        self.http
            .post(format!("{}/_bench/live/{}", self.base, on as u8))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

struct Stats {
    full: u64,
    same: u64,
    not_modified: u64,
    /// (token, appeared ns, sent ns)
    served: Vec<(String, u64, u64)>,
}

impl Stats {
    fn checks(&self) -> u64 {
        self.full + self.same + self.not_modified
    }
}

/// What the webhook receiver saw.
#[derive(Default)]
struct Received {
    /// token → receive time (first delivery).
    posts: HashMap<String, u64>,
    /// Deliveries that were not a `new` event with a bench token (should stay 0).
    unexpected: Vec<String>,
    duplicates: u64,
}

async fn start_receiver() -> Result<(String, Arc<Mutex<Received>>), String> {
    let got = Arc::new(Mutex::new(Received::default()));
    let token = regex::Regex::new(r"lwb\d+x\d+").expect("valid regex");
    let g = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: Bytes| {
            let at = now_ns();
            let g = g.clone();
            let token = token.clone();
            async move {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let kind = v["kind"].as_str().unwrap_or("?");
                let text = v["post"]["body"].as_str().unwrap_or("");
                let mut g = g.lock().unwrap();
                match token.find(text) {
                    Some(t) if kind == "new" => {
                        if g.posts.insert(t.as_str().to_string(), at).is_some() {
                            g.duplicates += 1;
                        }
                    }
                    _ => {
                        let what = format!("{kind}: {}", v["id"].as_str().unwrap_or("?"));
                        g.unexpected.push(what);
                    }
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://127.0.0.1:{port}/hook"), got))
}

fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split(':')
                .nth(1)
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {model}")
}

// ---------------------------------------------------------------------------------------
// The micro phase: the daemon's own per-blog check, one at a time.

async fn micro(args: &Args, srv: &PageServer) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Store::open(dir.path()).map_err(|e| error_chain(&e))?;
    let fetcher = Fetcher::new(config::FetchSettings::default()).map_err(|e| e.to_string())?;
    let shared = Arc::new(Shared::standalone(store, fetcher, 3));
    println!(
        "micro phase: CPU per check of the daemon's BlogTask::poll_once (fetch, fingerprint, extract, diff, store), median of {} (min–max)",
        args.micro
    );
    let w = 22;
    println!(
        "  {:<48} {:>6} {:>w$} {:>w$} {:>w$} {:>w$}",
        "page", "KiB", "noise only", "new post", "unchanged body", "304"
    );
    let mut all: [Vec<f64>; 4] = Default::default();
    let mut per_mb: [Vec<f64>; 2] = Default::default();
    let fp0 = livewatch::metrics::global().noise_only_total();
    let mut noise_checks = 0;
    for (p, page) in srv.pages.iter().enumerate() {
        let mut row = Vec::new();
        for (c, class) in MICRO_CLASSES.iter().enumerate() {
            if !args.classes.iter().any(|k| k == class) {
                row.push("-".to_string());
                continue;
            }
            let mut watch = Watch::new(format!("{}/m/{class}/{p}", srv.base));
            watch.adaptive = false;
            let task = BlogTask::new(shared.clone(), watch, Arc::new(Vec::new()));
            // The first poll is the silent baseline; one more warms the caches.
            task.poll_once().await;
            task.poll_once().await;
            let mut v = Vec::with_capacity(args.micro);
            for _ in 0..args.micro {
                let c0 = cpu();
                task.poll_once().await;
                v.push(ms(cpu() - c0));
            }
            if c == 0 {
                noise_checks += args.micro + 1;
            }
            all[c].extend(v.iter().copied());
            let s = summary(&mut v);
            if c < 2 {
                let bytes = page["bytes"].as_f64().unwrap_or(1.0);
                per_mb[c].push(s.0 / (bytes / (1024.0 * 1024.0)));
            }
            row.push(format!("{:.3} ({:.3}–{:.3}) ms", s.0, s.1, s.2));
        }
        println!(
            "  {:<48} {:>6.0} {:>w$} {:>w$} {:>w$} {:>w$}",
            page["name"]
                .as_str()
                .unwrap_or("?")
                .trim_end_matches(".html"),
            page["bytes"].as_f64().unwrap_or(0.0) / 1024.0,
            row[0],
            row[1],
            row[2],
            row[3]
        );
    }
    let row: Vec<String> = all
        .iter_mut()
        .map(|v| {
            let s = summary(v);
            format!("{:.3} ({:.3}–{:.3}) ms", s.0, s.1, s.2)
        })
        .collect();
    println!(
        "  {:<48} {:>6} {:>w$} {:>w$} {:>w$} {:>w$}",
        "all pages", "", row[0], row[1], row[2], row[3]
    );
    for (c, what) in ["noise-only check", "new-post check"].iter().enumerate() {
        if per_mb[c].is_empty() {
            continue;
        }
        let s = summary(&mut per_mb[c]);
        println!(
            "  {what} per MiB of page: median {:.2} ms (pages {:.2}–{:.2})",
            s.0, s.1, s.2
        );
    }
    if noise_checks > 0 {
        let on_fp = livewatch::metrics::global().noise_only_total() - fp0;
        println!(
            "  noise-only checks on the fingerprint path: {on_fp} of {noise_checks} ({:.1} %)",
            100.0 * on_fp as f64 / noise_checks as f64
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The load phase.

async fn bench(args: Args) -> Result<(), String> {
    let srv = PageServer::start(&args)?;
    let total: f64 = srv.pages.iter().filter_map(|p| p["bytes"].as_f64()).sum();
    println!(
        "loadbench: {} blogs, interval {}, change rate {}, measured {}, per_host {}, etag share {}",
        args.blogs,
        humantime::format_duration(args.interval),
        args.change_rate,
        humantime::format_duration(args.duration),
        args.per_host,
        args.etag_share
    );
    println!(
        "machine: {}; pages: {} (mean {:.0} KiB)",
        machine(),
        srv.pages.len(),
        total / srv.pages.len().max(1) as f64 / 1024.0
    );
    if args.micro > 0 {
        micro(&args, &srv).await?;
    }

    let (hook, received) = start_receiver().await?;
    let mut toml = format!(
        "per_host = {}\n[[notifier]]\nname = \"bench\"\ntype = \"webhook\"\nurl = \"{hook}\"\nburst = 0\n",
        args.per_host
    );
    let interval = humantime::format_duration(args.interval).to_string();
    for i in 0..args.blogs {
        toml.push_str(&format!(
            "[[watch]]\nurl = \"{}/b/{i}\"\ninterval = \"{interval}\"\nadaptive = false\n",
            srv.base
        ));
    }
    let cfg = config::parse(&toml, "loadbench", &|_| None).map_err(|e| e.to_string())?;
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;

    reset_peak();
    let rss0 = status_kb("VmRSS");
    let (c0, t0) = (cpu(), Instant::now());
    let mut daemon = Daemon::new(cfg, state.path().to_path_buf()).map_err(|e| error_chain(&e))?;
    daemon.start();
    // Baselines: every blog's first poll is silent; new posts only start after.
    let mut last_print = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let done: i64 = daemon
            .store()
            .call(|s| s.baselines_taken())
            .await
            .map_err(|e| error_chain(&e))?;
        if done as usize >= args.blogs {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(10) {
            eprintln!("loadbench: {done} of {} baselines", args.blogs);
            last_print = Instant::now();
        }
    }
    let (base_cpu, base_wall) = (cpu() - c0, t0.elapsed());
    let base_peak = status_kb("VmHWM");
    println!(
        "startup: every blog's baseline in {:.1} s wall, {:.1} s CPU ({:.1} ms per blog); RSS before {:.1} MiB, peak {:.1} MiB",
        base_wall.as_secs_f64(),
        base_cpu.as_secs_f64(),
        ms(base_cpu) / args.blogs as f64,
        mb(rss0),
        mb(base_peak)
    );

    reset_peak();
    let s0 = srv.stats().await?;
    let polls0 = livewatch::metrics::global().polls();
    let fp0 = livewatch::metrics::global().noise_only_total();
    let (c0, t0) = (cpu(), Instant::now());
    srv.set_live(true).await?;
    tokio::time::sleep(args.duration).await;
    srv.set_live(false).await?;
    let (cpu_w, wall) = (cpu() - c0, t0.elapsed());
    let polls = livewatch::metrics::global().polls() - polls0;
    let on_fp = livewatch::metrics::global().noise_only_total() - fp0;
    let s1 = srv.stats().await?;
    let (peak, rss) = (status_kb("VmHWM"), status_kb("VmRSS"));

    // Grace: wait until every served post has been delivered.
    let grace = args
        .grace
        .unwrap_or(args.interval + Duration::from_secs(10));
    let g0 = Instant::now();
    let served = &s1.served;
    loop {
        let all = {
            let r = received.lock().unwrap();
            served.iter().all(|(t, _, _)| r.posts.contains_key(t))
        };
        if all || g0.elapsed() >= grace {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waited = g0.elapsed();
    let s2 = srv.stats().await?;
    daemon.shutdown(Duration::from_secs(5)).await;

    let r = received.lock().unwrap();
    let missed: Vec<&String> = served
        .iter()
        .filter(|(t, _, _)| !r.posts.contains_key(t))
        .map(|(t, _, _)| t)
        .collect();
    let mut appear: Vec<f64> = Vec::new();
    let mut sent: Vec<f64> = Vec::new();
    for (t, a, s) in served {
        if let Some(&at) = r.posts.get(t) {
            appear.push((at.saturating_sub(*a)) as f64 / 1e6);
            if *s > 0 {
                sent.push((at.saturating_sub(*s)) as f64 / 1e6);
            }
        }
    }
    appear.sort_by(f64::total_cmp);
    sent.sort_by(f64::total_cmp);
    let secs = wall.as_secs_f64();
    let checks = s1.checks() - s0.checks();
    let (full, same, nm) = (
        s1.full - s0.full,
        s1.same - s0.same,
        s1.not_modified - s0.not_modified,
    );
    println!("steady state ({secs:.1} s, new posts on):");
    println!(
        "  checks/s          {:.1}  ({checks} checks: {full} changed body, {same} unchanged body, {nm} 304; daemon counted {polls} polls)",
        checks as f64 / secs
    );
    println!(
        "  fingerprint path  {:.1} % of polls  ({on_fp} of {polls}: body changed, content fingerprint not, not parsed)",
        100.0 * on_fp as f64 / polls.max(1) as f64
    );
    println!(
        "  CPU               {:.1} % of one core ({:.2} s CPU); {:.3} ms per check (all classes)",
        100.0 * cpu_w.as_secs_f64() / secs,
        cpu_w.as_secs_f64(),
        ms(cpu_w) / checks.max(1) as f64
    );
    println!(
        "  RSS               peak {:.1} MiB, at the end {:.1} MiB{}",
        mb(peak),
        mb(rss),
        heap()
    );
    println!(
        "  events/s          {:.2}  ({} new posts served, {} delivered)",
        served.len() as f64 / secs,
        served.len(),
        served.len() - missed.len()
    );
    println!(
        "  post appeared on the server → webhook   p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        pct(&appear, 0.5),
        pct(&appear, 0.99),
        pct(&appear, 1.0)
    );
    println!(
        "  response sent (fetch done) → webhook    p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        pct(&sent, 0.5),
        pct(&sent, 0.99),
        pct(&sent, 1.0)
    );
    println!(
        "  missed events     {}  (after waiting {:.1} s of grace {}; {} polls in the grace)",
        missed.len(),
        waited.as_secs_f64(),
        humantime::format_duration(grace),
        s2.checks() - s1.checks()
    );
    println!(
        "  other deliveries  {} unexpected, {} duplicates",
        r.unexpected.len(),
        r.duplicates
    );
    for m in missed.iter().take(10) {
        println!("    missed {m}");
    }
    for u in r.unexpected.iter().take(10) {
        println!("    unexpected {u}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every live-blog page of the repository, profiled or not, gives a checked template
    /// (noise alone no event, each inserted post one `new`), but CNN's, whose posts live
    /// only in a base64 state blob (no HTML to copy).
    #[test]
    fn every_fixture_page_gives_a_template() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut copied = 0;
        for dir in ["pages", "unprofiled"] {
            let mut names: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".html"))
                .collect();
            names.sort();
            assert!(!names.is_empty(), "no pages in {dir}");
            for n in names {
                let bytes = std::fs::read(root.join(dir).join(&n)).unwrap();
                match template(&n, &bytes) {
                    Ok(t) => {
                        assert!(t.post.contains(TOKEN), "{n}: no token in the new post");
                        if dir == "unprofiled" {
                            assert_eq!(t.how, "copied", "{n}");
                        }
                        if t.how == "copied" {
                            copied += 1;
                        }
                    }
                    Err(e) => assert!(n.starts_with("cnn-"), "{dir}/{n}: {e}"),
                }
            }
        }
        assert!(copied >= 4, "only {copied} pages copied");
    }
}
