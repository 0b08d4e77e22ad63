//! schema.org JSON-LD: `LiveBlogPosting` and its `liveBlogUpdate`s, found anywhere in the
//! page's `application/ld+json` blocks (top level, arrays, `@graph`, nested objects).
//!
//! Sloppy JSON is repaired where it is cheap to do so (trailing commas, raw control
//! characters in strings, HTML-escaped blocks); a block that still does not parse is
//! skipped and reported, never fatal.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use scraper::{Html, Selector};
use serde_json::Value;

use super::html_text::text_of_fragment;
use super::time::parse_stamp;
use super::Draft;

/// What the page's JSON-LD says about the live blog.
#[derive(Debug, Default)]
pub(crate) struct LiveBlog {
    pub updates: Vec<Draft>,
    pub coverage_end: Option<DateTime<Utc>>,
    pub date_published: Option<DateTime<Utc>>,
    pub date_modified: Option<DateTime<Utc>>,
}

/// Every JSON-LD block of the page, parsed where possible, with a note per failed block.
pub(crate) fn blocks(doc: &Html) -> (Vec<Value>, Vec<String>) {
    static SCRIPT: LazyLock<Selector> =
        LazyLock::new(|| Selector::parse(r#"script[type="application/ld+json" i]"#).unwrap());
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for (n, el) in doc.select(&SCRIPT).enumerate() {
        let raw: String = el.text().collect();
        match parse_lenient(&raw) {
            Ok(v) => values.push(v),
            Err(e) => errors.push(format!("JSON-LD block {}: {e}", n + 1)),
        }
    }
    (values, errors)
}

/// The live blog in the page's JSON-LD, if any block declares one.
pub(crate) fn live_blog(values: &[Value]) -> Option<LiveBlog> {
    let mut found: Option<LiveBlog> = None;
    walk(values, |v| {
        if !has_type(v, "LiveBlogPosting") {
            return true;
        }
        let blog = found.get_or_insert_with(LiveBlog::default);
        blog.coverage_end = blog
            .coverage_end
            .or_else(|| time_field(v, "coverageEndTime"));
        blog.date_published = blog
            .date_published
            .or_else(|| time_field(v, "datePublished"));
        blog.date_modified = blog.date_modified.or_else(|| time_field(v, "dateModified"));
        let mut updates = Vec::new();
        match v.get("liveBlogUpdate") {
            Some(Value::Array(items)) => updates.extend(items.iter()),
            Some(one @ Value::Object(_)) => updates.push(one),
            _ => {}
        }
        let mut drafts: Vec<Draft> = updates.into_iter().filter_map(update).collect();
        page_level_fields(v, &mut drafts);
        blog.updates.extend(drafts);
        false
    });
    found
}

/// The page's own publication and modification times from any JSON-LD article or web page
/// (`NewsArticle`, `ReportageNewsArticle`, `BlogPosting`, `WebPage`, …; articles first): the
/// date of bare clocks on pages without a live-blog block.
pub(crate) fn page_dates(values: &[Value]) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let mut article = (None, None);
    let mut page = (None, None);
    walk(values, |v| {
        let types: Vec<&str> = match v.get("@type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let slot = if types
            .iter()
            .any(|t| t.ends_with("Article") || t.ends_with("Posting"))
        {
            Some(&mut article)
        } else if types.iter().any(|t| t.ends_with("WebPage")) {
            Some(&mut page)
        } else {
            None
        };
        if let Some(slot) = slot {
            slot.0 = slot.0.or_else(|| time_field(v, "datePublished"));
            slot.1 = slot.1.or_else(|| time_field(v, "dateModified"));
        }
        // Not into a live blog's updates (their dates are the posts').
        !has_type(v, "LiveBlogPosting")
    });
    (article.0.or(page.0), article.1.or(page.1))
}

/// Visit every object of the JSON-LD values, depth first in document order; `visit` says
/// whether to go into the object's members. Iterative, with an explicit stack: the tree is as
/// deep as serde_json allows.
fn walk<'a>(values: &'a [Value], mut visit: impl FnMut(&'a Value) -> bool) {
    for v in values {
        let mut stack = vec![v];
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(items) => stack.extend(items.iter().rev()),
                Value::Object(map) if visit(v) => stack.extend(map.values().rev()),
                _ => {}
            }
        }
    }
}

/// Fields an update only repeats from the live blog itself are not the post's: the page's
/// author list as every post's byline, the page headline as its headline, and one time
/// shared by every update (the page's date, not each post's).
fn page_level_fields(blog: &Value, drafts: &mut [Draft]) {
    let page_author = author(blog);
    let page_headline =
        str_field(blog, "headline").map(|h| text_of_fragment(h).paragraphs.join(" "));
    for d in drafts.iter_mut() {
        if d.byline.is_some() && d.byline == page_author {
            d.byline = None;
        }
        if d.headline.is_some() && d.headline == page_headline {
            d.headline = None;
        }
    }
    if drafts.len() >= 2
        && drafts
            .iter()
            .all(|d| d.published.is_some() && d.published == drafts[0].published)
    {
        for d in drafts.iter_mut() {
            d.published = None;
            d.updated = None;
        }
    }
}

fn has_type(v: &Value, name: &str) -> bool {
    let is = |t: &str| t.rsplit(['/', ':']).next() == Some(name);
    match v.get("@type") {
        Some(Value::String(t)) => is(t),
        Some(Value::Array(ts)) => ts.iter().any(|t| t.as_str().is_some_and(is)),
        _ => false,
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    match v.get(key)? {
        Value::String(s) => Some(s.as_str()),
        Value::Array(a) => a.first()?.as_str(),
        _ => None,
    }
}

fn time_field(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    match v.get(key)? {
        Value::String(s) => parse_stamp(s),
        Value::Number(n) => parse_stamp(&n.to_string()),
        _ => None,
    }
}

/// A person's or organisation's name from `author` (string, object or array).
fn author(v: &Value) -> Option<String> {
    let names: Vec<&str> = match v.get("author")? {
        Value::String(s) => vec![s.as_str()],
        Value::Object(_) => v
            .get("author")
            .and_then(|a| str_field(a, "name"))
            .into_iter()
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|a| a.as_str().or_else(|| str_field(a, "name")))
            .collect(),
        _ => vec![],
    };
    let names: Vec<&str> = names
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// One `liveBlogUpdate` entry.
fn update(v: &Value) -> Option<Draft> {
    if !v.is_object() {
        return None;
    }
    let url = str_field(v, "url").map(str::to_string);
    let id = str_field(v, "@id")
        .or(url.as_deref())
        .map(|s| s.rsplit_once('#').map_or(s, |(_, frag)| frag).to_string())
        .filter(|s| !s.is_empty() && !s.contains('/'));
    let body = str_field(v, "articleBody")
        .or_else(|| str_field(v, "text"))
        .or_else(|| str_field(v, "description"))
        .map(text_of_fragment)
        .unwrap_or_default();
    let headline = str_field(v, "headline")
        .or_else(|| str_field(v, "name"))
        .map(|h| text_of_fragment(h).paragraphs.join(" "))
        .filter(|h| !h.is_empty());
    Some(Draft {
        id,
        url,
        headline,
        byline: author(v),
        published: time_field(v, "datePublished"),
        updated: time_field(v, "dateModified"),
        body: body.body(),
        captions: Vec::new(),
        ..Draft::default()
    })
}

/// serde_json, then the same after cheap repairs.
pub(crate) fn parse_lenient(raw: &str) -> Result<Value, String> {
    let raw = raw
        .trim()
        .trim_start_matches("<!--")
        .trim_end_matches("-->")
        .trim();
    let raw = raw.strip_prefix("//<![CDATA[").unwrap_or(raw);
    let raw = raw.strip_suffix("//]]>").unwrap_or(raw).trim();
    let first = match serde_json::from_str(raw) {
        Ok(v) => return Ok(v),
        Err(e) => e.to_string(),
    };
    let mut fixed = repair(raw);
    if let Ok(v) = serde_json::from_str(&fixed) {
        return Ok(v);
    }
    if fixed.contains("&quot;") || fixed.contains("&#34;") {
        fixed = repair(&unescape_html(raw));
        if let Ok(v) = serde_json::from_str(&fixed) {
            return Ok(v);
        }
    }
    Err(first)
}

/// Escape raw control characters inside strings and drop trailing commas before `}`/`]`.
fn repair(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 16);
    let mut in_str = false;
    let mut escaped = false;
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if in_str {
            match c {
                _ if escaped => {
                    escaped = false;
                    out.push(c);
                }
                '\\' => {
                    escaped = true;
                    out.push(c);
                }
                '"' => {
                    in_str = false;
                    out.push(c);
                }
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push(' '),
                c => out.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            ',' => {
                let rest = raw[i + 1..].trim_start();
                if !(rest.starts_with('}') || rest.starts_with(']')) {
                    out.push(c);
                }
            }
            c => out.push(c),
        }
        let _ = chars.peek();
    }
    out
}

fn unescape_html(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_trailing_commas_and_raw_newlines() {
        let v = parse_lenient("{\"a\": \"line\nbreak\", \"b\": [1, 2,],}").unwrap();
        assert_eq!(v["a"], "line\nbreak");
        assert_eq!(v["b"][1], 2);
        let v = parse_lenient("{&quot;a&quot;: 1}").unwrap();
        assert_eq!(v["a"], 1);
        assert!(parse_lenient("{\"a\": ").is_err());
    }

    #[test]
    fn finds_updates_in_graph_and_arrays() {
        let v = parse_lenient(
            r#"{"@graph": [{"@type": "WebPage"}, {"@type": ["LiveBlogPosting"], "coverageEndTime": "2023-01-01T10:00:00Z",
                "liveBlogUpdate": [{"@type": "BlogPosting", "@id": "https://x/y#p1", "headline": "H", "articleBody": "<p>A</p><p>B</p>",
                "datePublished": "2023-01-01T09:00:00+01:00", "author": {"name": "Jo"}}]}]}"#,
        )
        .unwrap();
        let blog = live_blog(&[v]).unwrap();
        assert_eq!(blog.updates.len(), 1);
        let u = &blog.updates[0];
        assert_eq!(u.id.as_deref(), Some("p1"));
        assert_eq!(u.body, "A\n\nB");
        assert_eq!(u.byline.as_deref(), Some("Jo"));
        assert_eq!(
            u.published.unwrap().to_rfc3339(),
            "2023-01-01T08:00:00+00:00"
        );
        assert!(blog.coverage_end.is_some());
    }
}
