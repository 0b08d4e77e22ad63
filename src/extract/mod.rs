//! Extraction: page bytes + URL + fetch time → posts. Pure and synchronous: no network,
//! no clock (the fetch time is passed in), so every extractor is testable on a file.
//!
//! # The chain
//!
//! [`extract`] decodes the bytes (charset from BOM, `Content-Type`, `<meta>`), parses the
//! page once, then with [`Strategy::Auto`]:
//!
//! 1. reads schema.org structured data: JSON-LD `LiveBlogPosting`/`liveBlogUpdate`
//!    ([`jsonld`]) and microdata `itemprop="liveBlogUpdate"` ([`microdata`]);
//! 2. picks a built-in site profile ([`profiles`]) by host or by page markers, else the
//!    layout analyser ([`generic`]: repeated sibling blocks with a time, flat feeds of time
//!    markers or `___` separators across wrapper divs (`flat.rs`), time-prefixed headings —
//!    each layout scored by the main text its posts hold). A profile whose selectors find
//!    nothing falls back to the analyser, so its other sources (a state blob) are never
//!    the only ones;
//! 3. **merges** the HTML posts with the structured ones. With a profile, the HTML decides
//!    which posts the page shows (structured entries that match no HTML post are dropped
//!    when the HTML found posts), and the profile says which source wins for which field.
//!    Without one, the structured data lists the posts, plus the HTML posts of the same
//!    feed it does not list yet (it lags on real sites). With no HTML posts, the structured
//!    posts are the result.
//!
//! Times of day without a date take the day from a day heading, else the page's own dates
//! ([`Context::page_time`], [`Context::page_day`]), else the fetch time, never the machine's
//! clock ([`extract_unclocked`]: no fetch time, no day → `published` null).
//!
//! # Post ids (public interface)
//!
//! - The publisher's id when the page has one: the post element's HTML `id` (e.g.
//!   `block-646219928f08e408b758af95`, `h_90c1…`, `751105`, `419364605_event79`), else the
//!   JSON-LD `@id`/`url` fragment or microdata url fragment.
//! - Otherwise a derived id `lw-` + 16 hex digits of blake3 over what does not change when a
//!   post is edited: its first stated absolute time (`published`, or the time a heading
//!   starts with, resolved to UTC) plus its position among the posts with that same time
//!   counted from the oldest (`t:<rfc3339>#<n>`). A post with no absolute time at all is
//!   keyed by its headline (`h:<letters and digits of the headline>#<n>`), or, with no
//!   headline either, by the first 64 letters/digits of its body (`b:…#<n>`); only this
//!   last form changes when the start of the body is edited.
//! - Relative times ("16 min ago") are never used for ids. They give `published` only when
//!   the fetch time is known (the daemon, `check --at`), resolved against it; CSS-profile
//!   time fields take absolute times only.
//!
//! Posts come newest first; a pinned copy of a post is dropped (same id, or same headline
//! and body as another post).

pub(crate) mod css;
pub(crate) mod decode;
pub mod depth;
mod flat;
pub(crate) mod generic;
mod heading;
pub(crate) mod html_text;
pub(crate) mod jsonld;
mod layout;
pub(crate) mod microdata;
pub mod profiles;
mod select;
pub(crate) mod time;
pub(crate) mod vendor;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use scraper::{Html, Selector};
use serde::{Deserialize, Serialize};

use crate::model::Post;
use crate::text::{key, key_prefix};
use profiles::{Merge, Prefer};

/// One fetched page, as the extractors see it.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// The URL the page was fetched from (after redirects); used to resolve links.
    pub url: &'a str,
    /// The raw body bytes, in whatever charset the server sent.
    pub body: &'a [u8],
    /// The `Content-Type` header, if any (for the charset).
    pub content_type: Option<&'a str>,
    /// When the page was fetched: relative times ("16 min ago") resolve against it, and a
    /// bare clock ("18:00") on a page that states no date of its own takes its day from it.
    /// [`extract_unclocked`] ignores it (a saved file whose fetch time is unknown).
    pub fetched_at: DateTime<Utc>,
}

/// A user CSS profile from the config (`[watch.selectors]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selectors {
    /// Selects each post container.
    pub post: String,
    /// Inside a post: the element whose `id` (or text) is the post id. Default: the post's own `id`.
    pub id: Option<String>,
    pub headline: Option<String>,
    /// Inside a post: an element with a `datetime` attribute or time text.
    pub time: Option<String>,
    pub byline: Option<String>,
    pub body: Option<String>,
}

/// Which extractor to use for a watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Pick automatically (structured data merged with a site profile or the generic one).
    #[default]
    Auto,
    /// Only the named extractor (`jsonld`, `microdata`, `generic`, or a profile name).
    Named(String),
    /// The user's CSS selectors.
    Css(Selectors),
}

/// Signals that the blog has ended (used by adaptive polling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// schema.org `coverageEndTime`.
    CoverageEnd(DateTime<Utc>),
    /// A phrase on the page such as "This blog is now closed".
    Phrase(String),
}

/// What one extractor reported when it found nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub extractor: String,
    pub reason: String,
}

/// The result of extracting one page.
#[derive(Debug, Clone, Default)]
pub struct Extraction {
    /// The page title (`og:title`, else `<title>`).
    pub title: Option<String>,
    /// The posts, newest first, each exactly once (pinned copies removed).
    pub posts: Vec<Post>,
    /// Name of the extractor(s) that produced the posts, e.g. `guardian+jsonld`.
    pub extractor: String,
    /// Set when the page says the coverage has ended.
    pub closed: Option<Closed>,
    /// What was tried and why each failed (for `check` diagnostics).
    pub attempts: Vec<Attempt>,
    /// The layout the posts were read from (a site profile, or what the layout analyser
    /// chose), with its score.
    pub layout: Option<generic::Layout>,
    /// The analyser's second-best layout: a score near the chosen one's means a weak guess.
    pub runner_up: Option<generic::Layout>,
    /// Post ids a vendor feed flags as deleted ([`vendor`]): removed at once.
    pub deleted: Vec<String>,
    /// A vendor feed that lists every post of the blog: a known post missing from it
    /// was deleted (removed at once).
    pub complete: bool,
}

/// A post as one source saw it, before merging and before ids are settled.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub id: Option<String>,
    pub url: Option<String>,
    pub headline: Option<String>,
    pub byline: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub body: String,
    pub captions: Vec<String>,
    /// Text stated before the body (a time such as "12.50 BST") that must not start it.
    pub prefix: Vec<String>,
    /// The time of day a heading started with, for site rules that settle its date/zone.
    pub clock: Option<time::Clock>,
    /// `published` was resolved from a relative time ("12 min ago") against the fetch time:
    /// good to show, never used for a derived id (it shifts by a minute between polls).
    pub relative: bool,
}

/// What extractors know about the page as a whole.
#[derive(Debug, Clone)]
pub struct Context {
    /// When the page was fetched; `None` for a saved file checked without `--at`.
    pub fetched_at: Option<DateTime<Utc>>,
    /// The page's own date (last modified, else published — from a live-blog's JSON-LD, the
    /// page's meta tags or any JSON-LD article — else the fetch time): the date of
    /// time-of-day stamps such as "12.50 BST". `None`: no day anywhere, bare clocks give no
    /// time (never the machine's clock).
    pub page_time: Option<DateTime<Utc>>,
    /// The page's day when it states a date but no time (`<meta name="last-modified"
    /// content="2014-12-31">`): used for bare clocks only when `page_time` is `None`.
    pub page_day: Option<NaiveDate>,
    /// `page_time` is only the page's publication time (it states no modification time):
    /// not an upper bound for its posts' times.
    pub published_only: bool,
    /// The zone for stamps that state none ("11.13 Uhr", "3.51 pm").
    pub zone: Tz,
    /// Set when a site profile (or the user) chose `zone`; else it is only the default and
    /// the generic extractor may guess better from the page.
    pub zone_known: bool,
    /// The page's URL (after redirects), for resolving post permalinks.
    pub page_url: Option<url::Url>,
    /// The offset the page states in its own meta times (`article:published_time`
    /// "2026-11-20T08:00:00-05:00" → −05:00), a hint for time-of-day stamps without a zone.
    pub page_offset: Option<chrono::FixedOffset>,
}

impl Context {
    /// A time-of-day or clock-and-date text to UTC, the date taken from the page.
    pub fn clock_text(&self, raw: &str) -> Option<DateTime<Utc>> {
        if let Some(t) = time::parse_clock_and_date(raw, self.zone) {
            return Some(t);
        }
        let (clock, _) = time::parse_clock_prefix(raw)?;
        self.at_clock(clock, None)
    }

    /// A relative time ("16 min ago") against the fetch time; `None` without one.
    pub fn relative(&self, raw: &str) -> Option<DateTime<Utc>> {
        time::parse_relative(raw, self.fetched_at?)
    }

    /// A time of day on `date` (else on the page's date in that zone; a result later than
    /// the page's own time is taken to be the day before).
    pub fn at_clock(&self, clock: time::Clock, date: Option<NaiveDate>) -> Option<DateTime<Utc>> {
        let tz = clock.zone.unwrap_or(self.zone);
        match date {
            Some(d) => time::local_to_utc(d, clock.hour, clock.minute, tz),
            None => {
                let Some(page_time) = self.page_time else {
                    let d = self.page_day?;
                    return time::local_to_utc(d, clock.hour, clock.minute, tz);
                };
                let d = page_time.with_timezone(&tz).date_naive();
                let t = time::local_to_utc(d, clock.hour, clock.minute, tz)?;
                let slack = chrono::Duration::minutes(90);
                if self.published_only {
                    // Only the publication time is known, and pages use it both for when
                    // the blog opened (posts come after) and for its last republication
                    // (posts come before): the day that puts the post nearest to it.
                    let candidates = [d.pred_opt(), Some(d), d.succ_opt()];
                    return candidates
                        .into_iter()
                        .flatten()
                        .filter_map(|d| time::local_to_utc(d, clock.hour, clock.minute, tz))
                        .filter(|c| self.fetched_at.is_none_or(|f| *c <= f + slack))
                        .min_by_key(|c| (*c - page_time).num_seconds().abs())
                        .or(Some(t));
                }
                if t > page_time + slack {
                    time::local_to_utc(d.pred_opt()?, clock.hour, clock.minute, tz)
                } else {
                    Some(t)
                }
            }
        }
    }
}

/// End-of-coverage phrases (lowercase), in one table. Only whole, unambiguous statements.
pub const CLOSED_PHRASES: &[&str] = &[
    "this blog is now closed",
    "this live blog is now closed",
    "this live blog has now closed",
    "this live blog has ended",
    "this live coverage has ended",
    "our live coverage has ended",
    "this live coverage is now closed",
    "we've paused our live coverage",
    "we are pausing our live coverage",
    "this liveblog is now closed",
    "dieser liveblog ist beendet",
    "dieser ticker ist beendet",
    "der liveblog ist beendet",
    "dieser live-ticker ist beendet",
    "ce direct est terminé",
    "ce direct est désormais terminé",
    "le direct est terminé",
    "este directo ha finalizado",
    "la cobertura en vivo ha terminado",
    "este minuto a minuto ha finalizado",
    "la diretta è terminata",
    "questa diretta è terminata",
    "il live è terminato",
];

static OG_TITLE: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(r#"meta[property="og:title"], meta[name="og:title"]"#).unwrap()
});
static TITLE: LazyLock<Selector> = LazyLock::new(|| Selector::parse("title").unwrap());
static META_TIMES: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(
        r#"meta[property="article:modified_time"], meta[property="article:published_time"], meta[itemprop="dateModified"], meta[name="last-modified"]"#,
    )
    .unwrap()
});
static META_MODIFIED: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(
        r#"meta[property="article:modified_time"], meta[itemprop="dateModified"], meta[name="last-modified"]"#,
    )
    .unwrap()
});
static META_DAYS: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(
        r#"meta[property="article:modified_time"], meta[itemprop="dateModified"], meta[name="last-modified"], meta[property="article:published_time"], meta[itemprop="datePublished"], meta[name="date"], meta[name="DC.date.issued"], meta[name="dcterms.modified"]"#,
    )
    .unwrap()
});
static META_PUBLISHED: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(r#"meta[property="article:published_time"], meta[itemprop="datePublished"]"#)
        .unwrap()
});

/// Extract the posts of a page.
///
/// Returns an `Extraction` with no posts (and `attempts` saying why) when nothing was found.
/// Never panics on any input.
pub fn extract(page: &Page<'_>, strategy: &Strategy) -> Extraction {
    extract_at(page, strategy, Some(page.fetched_at))
}

/// [`extract`] for a saved page whose fetch time is unknown (`check FILE` without `--at`):
/// `page.fetched_at` is ignored, relative times ("12 min ago") give no time, and a bare
/// clock takes its day only from the page itself — never from the machine's clock.
pub fn extract_unclocked(page: &Page<'_>, strategy: &Strategy) -> Extraction {
    extract_at(page, strategy, None)
}

/// [`extract`], unless the page embeds a vendor feed ([`vendor::discover`], on the same
/// parse; only when its bytes name a vendor and the strategy is automatic): then that
/// feed, which the daemon follows instead of the page, and an empty extraction.
pub(crate) fn extract_looking(
    page: &Page<'_>,
    strategy: &Strategy,
) -> (Extraction, Option<vendor::Feed>) {
    extract_parsed(page, strategy, Some(page.fetched_at), true)
}

fn extract_at(
    page: &Page<'_>,
    strategy: &Strategy,
    fetched_at: Option<DateTime<Utc>>,
) -> Extraction {
    extract_parsed(page, strategy, fetched_at, false).0
}

fn extract_parsed(
    page: &Page<'_>,
    strategy: &Strategy,
    fetched_at: Option<DateTime<Utc>>,
    look: bool,
) -> (Extraction, Option<vendor::Feed>) {
    let text = decode::decode(page.body, page.content_type);
    let looking = look && *strategy == Strategy::Auto && vendor::mentioned(page.body);
    // The extractors read no JavaScript (but for state blobs) and no CSS: the tree is built
    // without them. Not for a vendor look (an embed's settings are JavaScript), nor for a
    // user's own selectors (which may name anything).
    let lean = if looking || matches!(strategy, Strategy::Css(_)) {
        Cow::Borrowed(&*text)
    } else {
        crate::markup::prune(&text)
    };
    let pruned = matches!(lean, Cow::Owned(_));
    let doc = Html::parse_document(&depth::bound(&lean));
    drop(lean);
    if looking {
        crate::metrics::global().vendor_look();
        if let Some(feed) = vendor::discover(&doc, &text, page.url) {
            // The feed is read instead of the page: no extraction of the page.
            return (Extraction::default(), Some(feed));
        }
    }
    let out = extract_doc(&doc, &text, page, strategy, fetched_at);
    if !out.posts.is_empty() {
        return (out, None);
    }
    // No post: the whole page, scripts included, to say why (a vendor embed, posts
    // rendered in the browser) — and to be sure the cut took none away.
    let (doc, mut out) = if pruned {
        drop(doc);
        let doc = Html::parse_document(&depth::bound(&text));
        let out = extract_doc(&doc, &text, page, strategy, fetched_at);
        (doc, out)
    } else {
        (doc, out)
    };
    if out.posts.is_empty() {
        out.attempts.extend(vendor::diagnose(&doc, &text, page.url));
    }
    (out, None)
}

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .host_str()
        .map(str::to_ascii_lowercase)
}

fn extract_doc(
    doc: &Html,
    raw: &str,
    page: &Page<'_>,
    strategy: &Strategy,
    fetched_at: Option<DateTime<Utc>>,
) -> Extraction {
    let mut out = Extraction {
        title: title(doc),
        ..Extraction::default()
    };
    let host = host_of(page.url);
    let (blocks, json_errors) = jsonld::blocks(doc);
    let blog = jsonld::live_blog(&blocks);
    let micro = microdata::live_blog(doc);
    let meta_time = |sel: &Selector| {
        doc.select(sel)
            .find_map(|m| time::parse_stamp(m.value().attr("content")?))
    };
    let article = jsonld::page_dates(&blocks);
    let modified = blog
        .as_ref()
        .and_then(|b| b.date_modified)
        .or_else(|| meta_time(&META_MODIFIED))
        .or(article.1);
    let published = blog
        .as_ref()
        .and_then(|b| b.date_published)
        .or_else(|| meta_time(&META_PUBLISHED))
        .or(article.0);
    // A day without a time ("2014-12-31" in a meta tag): the day of bare clocks when no
    // time is stated.
    let page_day = doc.select(&META_DAYS).find_map(|m| {
        let v = m.value().attr("content")?.trim();
        chrono::NaiveDate::parse_from_str(v.get(..10)?, "%Y-%m-%d").ok()
    });
    let mut ctx = Context {
        fetched_at,
        page_time: modified.or(published).or(fetched_at),
        page_day,
        published_only: modified.is_none() && published.is_some(),
        zone: Tz::UTC,
        zone_known: false,
        page_url: url::Url::parse(page.url).ok(),
        page_offset: doc.select(&META_TIMES).find_map(|m| {
            DateTime::parse_from_rfc3339(m.value().attr("content")?.trim())
                .ok()
                .map(|t| *t.offset())
        }),
    };
    let attempt = |out: &mut Extraction, name: &str, reason: String| {
        out.attempts.push(Attempt {
            extractor: name.to_string(),
            reason,
        })
    };
    let structured_name = if blog.as_ref().is_some_and(|b| !b.updates.is_empty()) {
        "jsonld"
    } else {
        "microdata"
    };
    let structured: Vec<Draft> = match (&blog, &micro) {
        (Some(b), _) if !b.updates.is_empty() => b.updates.clone(),
        (_, Some(m)) => m.clone(),
        _ => Vec::new(),
    };

    let (drafts, name): (Vec<Draft>, String) = match strategy {
        Strategy::Css(sels) => match css::extract(doc, sels, &ctx) {
            Ok(d) if !d.is_empty() => (d, "css".into()),
            Ok(_) => {
                attempt(
                    &mut out,
                    "css",
                    format!("the post selector {:?} matched nothing", sels.post),
                );
                (Vec::new(), String::new())
            }
            Err(e) => {
                attempt(&mut out, "css", e);
                (Vec::new(), String::new())
            }
        },
        Strategy::Named(n) if n == "jsonld" || n == "microdata" => {
            let d = if n == "jsonld" {
                blog.as_ref().map(|b| b.updates.clone()).unwrap_or_default()
            } else {
                micro.clone().unwrap_or_default()
            };
            if d.is_empty() {
                attempt(
                    &mut out,
                    n,
                    structured_reason(n, &blog, &micro, &json_errors),
                );
            }
            (d, n.clone())
        }
        // Profiles off: the layout analyser, with the page's structured data.
        Strategy::Named(n) if n == "generic" => {
            generic_chain(doc, &ctx, &structured, structured_name, &mut out)
        }
        Strategy::Named(n) => match profiles::by_name(n) {
            Some(p) => {
                if let Some(z) = p.zone {
                    ctx.zone = z;
                    ctx.zone_known = true;
                }
                let d = p.extract(doc, &ctx);
                if d.is_empty() {
                    attempt(
                        &mut out,
                        n,
                        format!("the {n} profile's selectors matched no post"),
                    );
                    (d, n.clone())
                } else if structured.is_empty() {
                    (d, n.clone())
                } else {
                    (
                        merge(d, &structured, p.merge),
                        format!("{n}+{structured_name}"),
                    )
                }
            }
            None => {
                attempt(&mut out, n, "no extractor by that name".into());
                (Vec::new(), String::new())
            }
        },
        Strategy::Auto => auto(
            doc,
            host.as_deref(),
            &mut ctx,
            &structured,
            structured_name,
            &blog,
            &micro,
            &json_errors,
            &mut out,
        ),
    };
    if out.layout.is_none() && !drafts.is_empty() {
        let kind = if profiles::by_name(name.split('+').next().unwrap_or("")).is_some() {
            "site profile"
        } else if name == "css" {
            "CSS selectors"
        } else {
            "structured data"
        };
        out.layout = Some(generic::Layout {
            kind,
            at: name.clone(),
            posts: drafts.len(),
            score: layout::score(&drafts, 0.0, false),
        });
    }
    out.extractor = name;
    out.posts = finalize(drafts);
    out.closed = closed(blog.as_ref(), raw, fetched_at.unwrap_or(page.fetched_at));
    if out.posts.is_empty() && out.attempts.is_empty() {
        attempt(&mut out, "auto", "no extractor found any post".into());
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn auto(
    doc: &Html,
    host: Option<&str>,
    ctx: &mut Context,
    structured: &[Draft],
    structured_name: &str,
    blog: &Option<jsonld::LiveBlog>,
    micro: &Option<Vec<Draft>>,
    json_errors: &[String],
    out: &mut Extraction,
) -> (Vec<Draft>, String) {
    let mut attempt = |name: &str, reason: String| {
        out.attempts.push(Attempt {
            extractor: name.to_string(),
            reason,
        })
    };
    if structured.is_empty() {
        attempt(
            "jsonld",
            structured_reason("jsonld", blog, micro, json_errors),
        );
        attempt(
            "microdata",
            structured_reason("microdata", blog, micro, json_errors),
        );
    }
    if let Some(p) = profiles::detect(host, doc) {
        if let Some(z) = p.zone {
            ctx.zone = z;
            ctx.zone_known = true;
        }
        let html = p.extract(doc, ctx);
        if !html.is_empty() {
            return if structured.is_empty() {
                (html, p.name.to_string())
            } else {
                (
                    merge(html, structured, p.merge),
                    format!("{}+{structured_name}", p.name),
                )
            };
        }
        attempt(
            p.name,
            format!(
                "the {} profile matched the page but its selectors found no post",
                p.name
            ),
        );
    }
    generic_chain(doc, ctx, structured, structured_name, out)
}

/// The layout analyser's posts, merged with the structured ones when the page has them.
fn generic_chain(
    doc: &Html,
    ctx: &Context,
    structured: &[Draft],
    structured_name: &str,
    out: &mut Extraction,
) -> (Vec<Draft>, String) {
    let analysis = generic::analyse(doc, ctx);
    out.layout = analysis.chosen;
    out.runner_up = analysis.runner_up;
    let html = analysis.posts;
    if !structured.is_empty() {
        if html.is_empty() {
            return (structured.to_vec(), structured_name.to_string());
        }
        // Structured data lists the posts (the generic HTML guess may be off); the HTML fills
        // in what it lacks, and adds the posts of the same feed that the structured data
        // does not list yet (it lags on real sites).
        let merged = merge_lagging(structured.to_vec(), html);
        return (merged, format!("{structured_name}+generic"));
    }
    if html.is_empty() {
        out.attempts.push(Attempt {
            extractor: "generic".into(),
            reason: "no repeated blocks with a time, no flat feed of time markers or separators, no time-prefixed headings".into(),
        });
        return (Vec::new(), String::new());
    }
    (html, "generic".into())
}

/// Structured posts merged with the HTML ones, plus the HTML posts that match none when the
/// HTML is the same feed (at least half of its posts match structured ones). HTML order
/// first, then the structured-only posts (an archive beyond the rendered page).
fn merge_lagging(structured: Vec<Draft>, html: Vec<Draft>) -> Vec<Draft> {
    let (merged, matched) = merge_matched(structured, &html, Merge::HTML_FIRST);
    let hits = matched.iter().filter(|m| m.is_some()).count();
    if hits == 0 || hits * 2 < html.len() {
        return merged;
    }
    let mut by_html: HashMap<usize, usize> = HashMap::new();
    for (i, m) in matched.iter().enumerate() {
        if let Some(j) = m {
            by_html.insert(*j, i);
        }
    }
    let mut slots: Vec<Option<Draft>> = merged.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len() + html.len());
    for (j, h) in html.into_iter().enumerate() {
        match by_html.get(&j) {
            Some(&i) => out.extend(slots[i].take()),
            None => out.push(h),
        }
    }
    out.extend(slots.into_iter().flatten());
    out
}

fn structured_reason(
    name: &str,
    blog: &Option<jsonld::LiveBlog>,
    micro: &Option<Vec<Draft>>,
    json_errors: &[String],
) -> String {
    if name == "jsonld" {
        let mut r = match blog {
            None => "no JSON-LD LiveBlogPosting".to_string(),
            Some(_) => "the JSON-LD LiveBlogPosting has no liveBlogUpdate".to_string(),
        };
        if !json_errors.is_empty() {
            r.push_str(&format!(" ({})", json_errors.join("; ")));
        }
        r
    } else {
        match micro {
            None => "no microdata LiveBlogPosting".into(),
            Some(_) => "the microdata LiveBlogPosting has no liveBlogUpdate".into(),
        }
    }
}

fn title(doc: &Html) -> Option<String> {
    doc.select(&OG_TITLE)
        .find_map(|m| m.value().attr("content").map(html_text::clean_line))
        .filter(|t| !t.is_empty())
        .or_else(|| {
            doc.select(&TITLE)
                .next()
                .map(|t| html_text::clean_line(&t.text().collect::<String>()))
        })
        .filter(|t| !t.is_empty())
}

/// `coverageEndTime` in the past, else an end phrase in the page's visible text.
fn closed(blog: Option<&jsonld::LiveBlog>, raw: &str, now: DateTime<Utc>) -> Option<Closed> {
    if let Some(end) = blog.and_then(|b| b.coverage_end) {
        if end <= now {
            return Some(Closed::CoverageEnd(end));
        }
    }
    // One pass over the page with its ASCII letters lowercased (same byte offsets): a
    // Unicode lowercase copy searched once per phrase cost a fifth of a changed page's
    // extraction, a `(?i)` regex alternation a tenth, an ASCII-case-insensitive
    // automaton (no SIMD prefilter) a sixth; this, a few hundred µs per MiB.
    let lower = raw.as_bytes().to_ascii_lowercase();
    for m in CLOSED_AC.find_iter(&lower) {
        if in_visible_text(raw, m.start()) {
            let found = raw[m.start()..m.end()].to_lowercase();
            let phrase = CLOSED_PHRASES.iter().find(|p| **p == found);
            return Some(Closed::Phrase(phrase.map_or(found, |p| p.to_string())));
        }
    }
    None
}

/// [`CLOSED_PHRASES`] as one automaton over the ASCII-lowercased page; a phrase with
/// accented letters ("terminé") also with those in uppercase ("terminÉ"), so a heading
/// in capitals is found too. Leftmost-first, in table order, as a regex alternation.
static CLOSED_AC: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
    let mut patterns: Vec<String> = Vec::new();
    for p in CLOSED_PHRASES {
        patterns.push(p.to_string());
        if !p.is_ascii() {
            patterns.push(
                p.chars()
                    .map(|c| {
                        if c.is_ascii() {
                            c
                        } else {
                            c.to_uppercase().next().unwrap_or(c)
                        }
                    })
                    .collect(),
            );
        }
    }
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(patterns)
        .expect("literal phrases")
});

/// Is byte `at` inside a text node (not a tag, attribute, script or style)?
fn in_visible_text(html: &str, at: usize) -> bool {
    let before = &html[..at];
    let (Some(gt), lt) = (before.rfind('>'), before.rfind('<')) else {
        return false;
    };
    if lt.is_some_and(|lt| lt > gt) {
        return false;
    }
    let Some(open) = before[..gt].rfind('<') else {
        return false;
    };
    let tag = &before.as_bytes()[open + 1..gt];
    let starts = |name: &str| {
        tag.get(..name.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(name.as_bytes()))
    };
    !(starts("script") || starts("style") || starts("noscript"))
}

/// The id key of a publisher id: the last `-`/`_`/`#`-separated token, without a leading
/// word when the rest is a number (`liveblogPost1288914` and `post-1288914` → `1288914`).
fn id_key(id: &str) -> String {
    let frag = id.rsplit('#').next().unwrap_or(id);
    let tok = frag
        .rsplit(|c: char| !c.is_alphanumeric())
        .find(|t| !t.is_empty())
        .unwrap_or(frag);
    let digits = tok.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    if digits.len() >= 3 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.to_string()
    } else {
        tok.to_ascii_lowercase()
    }
}

/// How many letters/digits of the body start identify a post when nothing else does.
const BODY_KEY: usize = 40;

/// Merge the posts of a primary source (usually HTML) with those of a secondary one: the
/// primary decides which posts there are; each field comes from the source `rules` prefer.
/// Secondary entries are matched by id key, then by a headline unique on both sides, then by
/// the start of the body.
pub fn merge(primary: Vec<Draft>, secondary: &[Draft], rules: Merge) -> Vec<Draft> {
    merge_matched(primary, secondary, rules).0
}

/// [`merge`], and for each primary post the index of the secondary one it was matched with.
fn merge_matched(
    primary: Vec<Draft>,
    secondary: &[Draft],
    rules: Merge,
) -> (Vec<Draft>, Vec<Option<usize>>) {
    let mut used = vec![false; secondary.len()];
    let mut matched = Vec::with_capacity(primary.len());
    let by_id: HashMap<String, usize> = secondary
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((id_key(s.id.as_deref()?), i)))
        .collect();
    let count = |ds: &mut dyn Iterator<Item = &Draft>| {
        let mut m: HashMap<String, usize> = HashMap::new();
        for d in ds {
            if let Some(h) = &d.headline {
                *m.entry(key(h)).or_default() += 1;
            }
        }
        m
    };
    let sec_heads = count(&mut secondary.iter());
    let pri_heads = count(&mut primary.iter());
    // Indexes, so that matching stays linear on pages with 100,000 posts.
    let mut by_head: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_start: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, s) in secondary.iter().enumerate() {
        if let Some(h) = &s.headline {
            by_head.entry(key(h)).or_default().push(i);
        }
        let sk = key_prefix(&s.body, BODY_KEY);
        if sk.chars().count() == BODY_KEY {
            by_start.entry(sk).or_default().push(i);
        }
    }
    let mut out = Vec::with_capacity(primary.len());
    for mut p in primary {
        let free = |list: Option<&Vec<usize>>, used: &[bool]| {
            list.and_then(|l| l.iter().copied().find(|&i| !used[i]))
        };
        let mut found =
            p.id.as_deref()
                .and_then(|id| by_id.get(&id_key(id)).copied())
                .filter(|&i| !used[i]);
        if found.is_none() {
            if let Some(h) = p.headline.as_deref().map(key).filter(|h| !h.is_empty()) {
                if sec_heads.get(&h) == Some(&1) && pri_heads.get(&h) == Some(&1) {
                    found = free(by_head.get(&h), &used);
                }
            }
        }
        if found.is_none() {
            let pk = key_prefix(&p.body, BODY_KEY);
            found = free(by_start.get(&pk), &used);
        }
        matched.push(found);
        if let Some(i) = found {
            used[i] = true;
            let s = &secondary[i];
            pick(&mut p.headline, &s.headline, rules.headline);
            // A headline cut off with "…" in one source is whole in the other.
            if let (Some(mine), Some(theirs)) = (&p.headline, &s.headline) {
                if rules.headline != Prefer::HtmlOnly && truncated_of(mine, theirs) {
                    p.headline = Some(theirs.clone());
                }
            }
            pick(&mut p.byline, &s.byline, rules.byline);
            if rules.times != Prefer::HtmlOnly {
                // Both times from one source, so published ≤ updated stays consistent.
                let sec_has = s.published.is_some();
                let take = match rules.times {
                    Prefer::Structured => sec_has,
                    // A stated time beats one resolved from "12 min ago".
                    _ => (p.published.is_none() || (p.relative && !s.relative)) && sec_has,
                };
                if take {
                    p.published = s.published;
                    p.updated = s.updated;
                    p.relative = s.relative;
                } else if p.updated.is_none()
                    && rules.times == Prefer::Html
                    && p.published == s.published
                {
                    p.updated = s.updated;
                }
            }
            let body_empty = p.body.trim().is_empty();
            if (rules.body == Prefer::Structured && !s.body.trim().is_empty())
                || (body_empty && rules.body != Prefer::HtmlOnly)
            {
                p.body = s.body.clone();
            }
            if p.id.is_none() {
                p.id = s.id.clone();
            }
            if p.url.is_none() {
                p.url = s.url.clone();
            }
        }
        out.push(p);
    }
    (out, matched)
}

/// `short` ends with an ellipsis and is the start of the longer `long`.
fn truncated_of(short: &str, long: &str) -> bool {
    let cut = short.trim_end();
    let Some(stem) = cut.strip_suffix('…').or_else(|| cut.strip_suffix("...")) else {
        return false;
    };
    let (a, b) = (key(stem), key(long));
    let n = a.chars().count().saturating_sub(6).max(1);
    b.chars().count() > n && key_prefix(stem, n) == key_prefix(long, n)
}

fn pick(mine: &mut Option<String>, theirs: &Option<String>, rule: Prefer) {
    match rule {
        Prefer::HtmlOnly => {}
        Prefer::Html => {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        Prefer::Structured => {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        }
    }
}

/// Clean, dedupe, settle ids and order: drafts in page order → posts newest first.
fn finalize(drafts: Vec<Draft>) -> Vec<Post> {
    let mut posts: Vec<Draft> = Vec::with_capacity(drafts.len());
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    let mut seen_content: HashMap<(String, String), usize> = HashMap::new();
    for mut d in drafts {
        tidy(&mut d);
        if d.body.is_empty() && d.headline.is_none() && d.captions.is_empty() {
            continue;
        }
        if let Some(id) = &d.id {
            if seen_ids.contains_key(id) {
                continue;
            }
        }
        let content = (
            d.headline.as_deref().map(key).unwrap_or_default(),
            key(&d.body),
        );
        if let Some(&i) = seen_content.get(&content) {
            // A pinned copy without an id: keep the one that has the id.
            if posts[i].id.is_none() && d.id.is_some() {
                posts[i] = d.clone();
                if let Some(id) = &d.id {
                    seen_ids.insert(id.clone(), i);
                }
            }
            continue;
        }
        if let Some(id) = &d.id {
            seen_ids.insert(id.clone(), posts.len());
        }
        seen_content.insert(content, posts.len());
        posts.push(d);
    }
    order_newest_first(&mut posts);
    derive_ids(&mut posts);
    posts
        .into_iter()
        .map(|d| Post {
            id: d.id.unwrap_or_default(),
            url: d.url,
            headline: d.headline,
            byline: d.byline,
            published: d.published,
            updated: d.updated,
            body: d.body,
            captions: d.captions,
        })
        .collect()
}

/// Trim fields; drop a headline, byline or time text repeated at the start of the body.
fn tidy(d: &mut Draft) {
    for f in [&mut d.headline, &mut d.byline, &mut d.id] {
        if let Some(s) = f {
            let t = html_text::clean_line(s);
            *f = (!t.is_empty()).then_some(t);
        }
    }
    let mut paras: Vec<String> = d
        .body
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    // (text, may be cut off the start of a paragraph): a byline only goes as a whole
    // paragraph ("Jennifer Rankin reports from Brussels" is body text).
    let mut prefixes: Vec<(String, bool)> = d.prefix.iter().map(|p| (p.clone(), true)).collect();
    prefixes.extend(d.headline.clone().map(|h| (h, true)));
    prefixes.extend(d.byline.clone().map(|b| (b, false)));
    prefixes.retain(|(p, _)| !key(p).is_empty());
    // Strip repeatedly: "12.50 BST" then the headline, in any order.
    let mut changed = true;
    while changed && !paras.is_empty() {
        changed = false;
        for (pre, cut) in &prefixes {
            let first = &paras[0];
            if first == pre || key(first) == key(pre) {
                paras.remove(0);
                changed = true;
                break;
            }
            if !cut {
                continue;
            }
            if let Some(rest) = first.strip_prefix(pre.as_str()) {
                // "Fire" is not cut off "Fire crews were called…": a short prefix only
                // goes when a separator follows it.
                let separated = rest
                    .trim_start()
                    .starts_with([':', '-', '–', '—', '|', '.']);
                let rest = rest
                    .trim_start_matches([':', ' ', '-', '–', '—', '|', '.'])
                    .trim();
                if !rest.is_empty()
                    && pre.len() > 3
                    && (separated || pre.split_whitespace().count() >= 3)
                {
                    paras[0] = rest.to_string();
                    changed = true;
                    break;
                }
            }
        }
        if paras.is_empty() {
            break;
        }
    }
    // Chrome at the end of a post: "Share", "Read more", a match minute ("91'").
    while paras.last().is_some_and(|p| is_trailing_chrome(p)) {
        paras.pop();
    }
    d.body = paras.join("\n\n");
    d.captions.retain(|c| !c.trim().is_empty());
}

/// A last paragraph that is page furniture, not the post's text.
fn is_trailing_chrome(p: &str) -> bool {
    static CHROME: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?i)^(?:share(?: this(?: post| update| article)?)?|share on (?:facebook|twitter|x)|read more|read the full (?:story|article)|copy link|link copied|show more|see more|continue reading|advertisement|anzeige|publicité|teilen|partager|condividi|compartir|mehr lesen|lire la suite|leggi anche|\d{1,3}(?:\+\d{1,2})?['’′]|(?:facebook|twitter|whatsapp|email|linkedin)(?:\s*[|·]\s*(?:facebook|twitter|whatsapp|email|linkedin))*)$").unwrap()
    });
    let t = p.trim();
    t.len() <= 60 && CHROME.is_match(t)
}

/// Newest first: reverse an oldest-first page; with every post timed, sort by time (stable).
fn order_newest_first(posts: &mut [Draft]) {
    let times: Vec<DateTime<Utc>> = posts.iter().filter_map(|p| p.published).collect();
    if times.len() >= 2 && times.first() < times.last() {
        posts.reverse();
    }
    if times.len() == posts.len() {
        posts.sort_by_key(|p| std::cmp::Reverse(p.published));
    }
}

/// The derived id of each post without a publisher id (rule in the module docs).
fn derive_ids(posts: &mut [Draft]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    // From the oldest, so a new post on top never shifts an older one's position.
    for d in posts.iter_mut().rev() {
        if d.id.is_some() {
            continue;
        }
        let stated = d.published.filter(|_| !d.relative);
        let base = match (stated, &d.headline) {
            (Some(t), _) => format!("t:{}", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            (None, Some(h)) if !key(h).is_empty() => format!("h:{}", key(h)),
            _ => format!("b:{}", key_prefix(&d.body, 64)),
        };
        let n = seen.entry(base.clone()).or_default();
        let material = format!("{base}#{n}");
        *n += 1;
        d.id = Some(derive_id(&material));
    }
}

/// `lw-` + the first 16 hex digits of blake3(material).
pub fn derive_id(material: &str) -> String {
    let hash = blake3::hash(material.as_bytes());
    format!("lw-{}", &hash.to_hex()[..16])
}

#[cfg(test)]
mod layout_tests;
#[cfg(test)]
mod tests;
