//! schema.org microdata: `itemtype=…/LiveBlogPosting` with `itemprop="liveBlogUpdate"`
//! items carrying `url`, `datePublished`, `dateModified`, `headline`, `articleBody`
//! (as `meta content` or element text).

use std::collections::HashSet;
use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};

use super::html_text::{line_of, text_of, text_of_fragment};
use super::time::parse_stamp;
use super::Draft;

static BLOG: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse(r#"[itemtype$="schema.org/LiveBlogPosting"]"#).unwrap());
static UPDATE: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse(r#"[itemprop~="liveBlogUpdate"]"#).unwrap());
static PROP: LazyLock<Selector> = LazyLock::new(|| Selector::parse("[itemprop]").unwrap());

/// The live blog updates in the page's microdata, or `None` without a LiveBlogPosting.
pub(crate) fn live_blog(doc: &Html) -> Option<Vec<Draft>> {
    doc.select(&BLOG).next()?;
    Some(doc.select(&UPDATE).map(update).collect())
}

/// The value of the first `itemprop` of that name inside `item` (not inside a nested item).
fn prop(item: ElementRef<'_>, name: &str) -> Option<String> {
    let el = item.select(&PROP).find(|e| {
        e.value()
            .attr("itemprop")
            .is_some_and(|p| p.split_whitespace().any(|p| p == name))
    })?;
    let v = el.value();
    let raw = v
        .attr("content")
        .or_else(|| v.attr("datetime"))
        .or_else(|| {
            if v.name() == "a" || v.name() == "link" {
                v.attr("href")
            } else {
                None
            }
        })
        .map(str::to_string)
        .unwrap_or_else(|| line_of(el));
    let raw = raw.trim().to_string();
    (!raw.is_empty()).then_some(raw)
}

/// One update item.
pub(crate) fn update(item: ElementRef<'_>) -> Draft {
    let url = prop(item, "url");
    let id = url
        .as_deref()
        .and_then(|u| u.rsplit_once('#'))
        .map(|(_, f)| f.to_string())
        .filter(|f| !f.is_empty());
    let body = match item
        .select(&PROP)
        .find(|e| e.value().attr("itemprop") == Some("articleBody"))
    {
        Some(e) if e.value().attr("content").is_some() => {
            text_of_fragment(e.value().attr("content").unwrap_or("")).body()
        }
        Some(e) => text_of(e, &HashSet::new()).body(),
        None => String::new(),
    };
    Draft {
        id,
        url,
        headline: prop(item, "headline").map(|h| text_of_fragment(&h).paragraphs.join(" ")),
        published: prop(item, "datePublished").and_then(|t| parse_stamp(&t)),
        updated: prop(item, "dateModified").and_then(|t| parse_stamp(&t)),
        body,
        ..Draft::default()
    }
}
