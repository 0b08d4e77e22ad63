//! Built-in site profiles: selectors and a few rules per site, kept as data (one file per
//! site). A profile applies when the page's host ends with one of its `hosts` or when one of
//! its `markers` matches the page (so that fixture files, mirrors and sister sites on other
//! hosts work too).
//!
//! Adding a site: copy a file such as `guardian.rs`, fill in the selectors, add it to
//! [`ALL`]. Say in `merge` which source wins for which field, and why, in a comment.

mod amp_live_list;
mod br24;
mod cbsnews;
mod cnbc;
mod cnn;
mod guardian;
mod ndtv;
mod reach;
mod repubblica;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use scraper::{ElementRef, Html};

use super::html_text::{line_of, text_of};
pub use super::select::sel;
use super::time::{is_relative, parse_stamp};
use super::{Context, Draft};

/// Every built-in profile, in detection order (the first that matches wins).
pub static ALL: &[&Profile] = &[
    &guardian::PROFILE,
    &cnn::PROFILE,
    &cbsnews::PROFILE,
    &reach::PROFILE,
    &repubblica::PROFILE,
    &ndtv::PROFILE,
    &cnbc::PROFILE,
    &br24::PROFILE,
    &amp_live_list::PROFILE,
];

/// One site's way of laying out posts.
pub struct Profile {
    /// Extractor name (`Strategy::Named`), also reported in `Extraction.extractor`.
    pub name: &'static str,
    /// Host suffixes (`theguardian.com` matches `www.theguardian.com`).
    pub hosts: &'static [&'static str],
    /// CSS selectors; any match on the page selects the profile whatever the host.
    pub markers: &'static [&'static str],
    pub layout: Layout,
    /// Where the post id is; `None` = the post element's own `id`.
    pub id: Option<Field>,
    pub headline: Option<Field>,
    /// Tried in order; the first that parses wins.
    pub published: &'static [Field],
    pub updated: &'static [Field],
    pub byline: Option<Field>,
    /// The body element inside the post; `None` = the post itself.
    pub body: Option<&'static str>,
    /// Parts of the post that are not body text (header, footer, share bars, …).
    pub drop: &'static [&'static str],
    pub merge: Merge,
    /// The zone of times that state none ("11.13 Uhr:", "3.51 pm:").
    pub zone: Option<chrono_tz::Tz>,
    /// Site rules that are not selectors (state blobs, zones that change mid-page).
    pub hook: Option<fn(&Html, &Context, &mut Vec<Draft>)>,
}

/// How posts are delimited.
pub enum Layout {
    /// Each post is one element matching `post`; posts inside `exclude` (a pinned box) are
    /// copies and skipped.
    Posts {
        post: &'static str,
        exclude: &'static [&'static str],
    },
    /// No container: a post runs from a `heading` whose text starts with a time to the next
    /// such heading; `stop` elements end the last post.
    /// With `day_after`, a date-only heading dates the posts above it.
    Headings {
        heading: &'static str,
        stop: &'static [&'static str],
        day_after: bool,
    },
}

/// Where a value is inside a post.
#[derive(Clone, Copy)]
pub enum Field {
    /// The text of the first element matching the selector.
    Text(&'static str),
    /// An attribute of the first element matching the selector (`""` = the post itself).
    Attr(&'static str, &'static str),
}

/// Which source wins when HTML and structured data (JSON-LD / microdata) both have a field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Prefer {
    /// HTML when it has a value, else structured data.
    Html,
    /// Structured data when it has a value, else HTML.
    Structured,
    /// HTML only: the structured value is known to be wrong for this site.
    HtmlOnly,
}

/// Per-field merge rules.
#[derive(Clone, Copy, Debug)]
pub struct Merge {
    pub times: Prefer,
    pub headline: Prefer,
    pub byline: Prefer,
    pub body: Prefer,
}

impl Merge {
    pub const HTML_FIRST: Merge = Merge {
        times: Prefer::Html,
        headline: Prefer::Html,
        byline: Prefer::Html,
        body: Prefer::Html,
    };
}

/// The profile for this page: by host first, then by markers.
pub fn detect(host: Option<&str>, doc: &Html) -> Option<&'static Profile> {
    if let Some(host) = host {
        let host = host.to_ascii_lowercase();
        if let Some(p) = ALL.iter().find(|p| {
            p.hosts
                .iter()
                .any(|h| host == *h || host.ends_with(&format!(".{h}")))
        }) {
            return Some(p);
        }
    }
    ALL.iter()
        .find(|p| {
            p.markers
                .iter()
                .any(|m| doc.select(sel(m)).next().is_some())
        })
        .copied()
}

pub fn by_name(name: &str) -> Option<&'static Profile> {
    ALL.iter().find(|p| p.name == name).copied()
}

impl Profile {
    /// The posts as the HTML shows them (before merging with structured data).
    pub fn extract(&self, doc: &Html, ctx: &Context) -> Vec<Draft> {
        let mut drafts: Vec<Draft> = match self.layout {
            Layout::Posts { post, exclude } => {
                let excluded: HashSet<_> = exclude
                    .iter()
                    .flat_map(|e| doc.select(sel(e)))
                    .flat_map(|e| e.descendants().map(|n| n.id()).collect::<Vec<_>>())
                    .collect();
                doc.select(sel(post))
                    .filter(|el| !excluded.contains(&el.id()))
                    .map(|el| self.post(el, ctx))
                    .collect()
            }
            Layout::Headings {
                heading,
                stop,
                day_after,
            } => super::heading::heading_posts(doc, sel(heading), stop, day_after, ctx),
        };
        if drafts.is_empty() {
            // The site changed its markup (or the page is a variant the selectors do not
            // know): the layout analyser finds the posts the HTML shows, so that the
            // profile's other sources (a state blob) are not the only ones left.
            drafts = super::generic::extract(doc, ctx);
        }
        if let Some(hook) = self.hook {
            hook(doc, ctx, &mut drafts);
        }
        drafts
    }

    fn post(&self, el: ElementRef<'_>, ctx: &Context) -> Draft {
        let mut skip = HashSet::new();
        for d in self.drop {
            skip.extend(el.select(sel(d)).map(|e| e.id()));
        }
        let headline = self.headline.and_then(|f| field(el, f, &mut skip));
        let byline = self.byline.and_then(|f| field(el, f, &mut skip));
        let id = match self.id {
            None => el.value().id().map(str::to_string),
            // A permalink: its fragment is the id.
            Some(f) => field(el, f, &mut skip).map(|v| match v.rsplit_once('#') {
                Some((_, frag)) if !frag.is_empty() => frag.to_string(),
                _ => v,
            }),
        };
        let stated = self.published.iter().find_map(|&f| time_of(el, f, ctx));
        let updated = self.updated.iter().find_map(|&f| time(el, f, ctx));
        let body_el = self
            .body
            .and_then(|b| el.select(sel(b)).next())
            .unwrap_or(el);
        let text = text_of(body_el, &skip);
        let url = id.as_deref().and_then(|id| permalink(el, id, ctx));
        Draft {
            id,
            url,
            headline,
            byline,
            published: stated.map(|(t, _)| t),
            updated,
            body: text.body(),
            captions: text.captions,
            relative: stated.is_some_and(|(_, r)| r),
            ..Draft::default()
        }
    }
}

/// A field's value; text fields are added to `skip` so they do not repeat in the body.
pub fn field(el: ElementRef<'_>, f: Field, skip: &mut HashSet<ego_tree::NodeId>) -> Option<String> {
    let v = match f {
        Field::Text(s) => {
            let e = el.select(sel(s)).next()?;
            skip.insert(e.id());
            line_of(e)
        }
        Field::Attr("", a) => el.value().attr(a)?.trim().to_string(),
        Field::Attr(s, a) => el
            .select(sel(s))
            .find_map(|e| e.value().attr(a))?
            .trim()
            .to_string(),
    };
    (!v.is_empty()).then_some(v)
}

/// The post's permalink: a link inside it whose fragment is the post id (resolved against
/// the page URL), else the page URL with `#id` when the page has an http(s) URL.
pub fn permalink(el: ElementRef<'_>, id: &str, ctx: &Context) -> Option<String> {
    let base = ctx.page_url.as_ref();
    let join = |href: &str| match base {
        Some(b) => b.join(href).ok().map(|u| u.to_string()),
        None => url::Url::parse(href).ok().map(|u| u.to_string()),
    };
    let linked = el
        .select(sel("a[href*=\"#\"]"))
        .filter_map(|a| a.value().attr("href"))
        .find(|h| h.rsplit_once('#').is_some_and(|(_, f)| f == id))
        .and_then(join)
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    linked.or_else(|| {
        let b = base.filter(|b| matches!(b.scheme(), "http" | "https"))?;
        let mut u = b.clone();
        u.set_fragment(Some(id));
        Some(u.to_string())
    })
}

/// A time field (ISO or epoch attributes, or text in the forms `time::parse_*` knows), and
/// whether it was a relative time resolved against the fetch time.
pub fn time_of(el: ElementRef<'_>, f: Field, ctx: &Context) -> Option<(DateTime<Utc>, bool)> {
    let raw = raw_field(el, f)?;
    if is_relative(&raw) {
        return ctx.relative(&raw).map(|t| (t, true));
    }
    parse_stamp(&raw)
        .or_else(|| ctx.clock_text(&raw))
        .map(|t| (t, false))
}

fn raw_field(el: ElementRef<'_>, f: Field) -> Option<String> {
    Some(match f {
        Field::Text(s) => line_of(el.select(sel(s)).next()?),
        Field::Attr("", a) => el.value().attr(a)?.to_string(),
        Field::Attr(s, a) => el
            .select(sel(s))
            .find_map(|e| e.value().attr(a))?
            .to_string(),
    })
}

/// A time field: ISO or epoch attributes, or text in the forms `time::parse_*` knows. Relative
/// text is not used (it moves on every poll).
pub fn time(el: ElementRef<'_>, f: Field, ctx: &Context) -> Option<DateTime<Utc>> {
    time_of(el, f, ctx).filter(|(_, rel)| !rel).map(|(t, _)| t)
}
