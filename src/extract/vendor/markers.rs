//! Embeds whose posts only the vendor's script loads, and the signs of a page that
//! renders its posts in the browser: each a sentence saying what it is and what to do.

use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Html};

use super::super::select::sel;

const BROWSER: &str = "a plain fetch does not run page scripts, so it cannot see them: set fetch = \"browser\" on the watch (try it with livewatch check --browser URL), or watch the blog's feed if it has one";

/// The first element matching `css`, and an attribute of it (any of `attrs`, trimmed).
fn first<'a>(doc: &'a Html, css: &'static str, attrs: &[&str]) -> Option<(ElementRef<'a>, String)> {
    let el = doc.select(sel(css)).next()?;
    let v = attrs
        .iter()
        .find_map(|a| el.value().attr(a))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    Some((el, v))
}

/// `what (detail)` or `what`.
fn named(what: &str, detail: Option<String>) -> String {
    match detail.filter(|d| !d.is_empty()) {
        Some(d) => format!("{what} ({d})"),
        None => what.to_string(),
    }
}

fn embed(what: &str, detail: Option<String>) -> String {
    format!(
        "{} embed: its posts are loaded by the vendor's script and are not in the HTML; {BROWSER}",
        named(what, detail)
    )
}

/// Vendor embeds without a feed livewatch reads.
pub(super) fn embeds(doc: &Html) -> Vec<String> {
    let mut out = Vec::new();
    // Tickaroo: <tickaroo-liveblog liveblogId="…" clientId="…"> (attribute names are
    // lower-cased by the parser).
    if let Some((_, id)) = first(
        doc,
        "tickaroo-liveblog",
        &["liveblogid", "data-liveblog-id"],
    )
    .or_else(|| {
        first(
            doc,
            "[data-tickaroo-liveblog-id]",
            &["data-tickaroo-liveblog-id"],
        )
    }) {
        out.push(embed(
            "Tickaroo live blog",
            Some(format!("liveblogId {id}")).filter(|_| !id.is_empty()),
        ));
    }
    // ScribbleLive: <div class="scrbbl-embed" data-src="/event/<id>…">.
    if let Some((_, src)) = first(doc, ".scrbbl-embed", &["data-src"]) {
        static EVENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"/event/(\d+)").unwrap());
        let id = EVENT.captures(&src).map(|c| format!("event {}", &c[1]));
        out.push(embed("ScribbleLive", id));
    }
    // Arena: <div class="arena-liveblog" data-publisher="…" data-event="…">.
    if let Some((el, event)) = first(
        doc,
        ".arena-liveblog, [data-arena-event]",
        &["data-event", "data-arena-event"],
    ) {
        let publisher = el.value().attr("data-publisher").unwrap_or("").trim();
        let detail = match (publisher.is_empty(), event.is_empty()) {
            (false, false) => Some(format!("publisher {publisher}, event {event}")),
            (true, false) => Some(format!("event {event}")),
            _ => None,
        };
        out.push(embed("Arena live blog", detail));
    }
    // Live Center (Norkon): <div class="live-center-embed" data-src="…/frame/<tenant>/<id>/…">.
    if let Some((_, src)) = first(doc, ".live-center-embed", &["data-src", "src"]) {
        static FRAME: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"/frame/([\w.-]+)/(\d+)").unwrap());
        let id = FRAME
            .captures(&src)
            .map(|c| format!("tenant {}, channel {}", &c[1], &c[2]));
        out.push(embed("Live Center (Norkon)", id));
    }
    // 24liveblog: <div id="LB24" data-eid="…"> plus its script, or its iframe.
    let lb24 = first(
        doc,
        "#LB24, [id^=LB24_], [data-eid][class*=lb24]",
        &["data-eid"],
    )
    .or_else(|| {
        first(
            doc,
            r#"script[src*="24liveblog.com"], iframe[src*="24liveblog.com"]"#,
            &["data-eid"],
        )
    });
    if let Some((_, eid)) = lb24 {
        out.push(embed(
            "24liveblog",
            Some(format!("event {eid}")).filter(|_| !eid.is_empty()),
        ));
    }
    out
}

/// Signs of posts rendered in the browser from data the HTML does not hold.
pub(super) fn client_side(doc: &Html, raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((_, endpoint)) = first(doc, "[data-posts-endpoint]", &["data-posts-endpoint"]) {
        out.push(format!(
            "the page loads its posts from its own endpoint (data-posts-endpoint=\"{}\"); {BROWSER}",
            crate::text::truncate(&endpoint, 120)
        ));
    }
    let blobs = [
        ("script#__NEXT_DATA__", "__NEXT_DATA__", "Next.js"),
        ("script#__NUXT_DATA__", "__NUXT__", "Nuxt"),
        ("", "window.__INITIAL_STATE__", "an initial-state"),
        ("", "window.__APOLLO_STATE__", "an Apollo"),
        ("", "window.__PRELOADED_STATE__", "a preloaded-state"),
    ];
    for (css, marker, framework) in blobs {
        let found =
            (!css.is_empty() && doc.select(sel(css)).next().is_some()) || raw.contains(marker);
        if found {
            out.push(format!(
                "{framework} state blob ({marker}) without posts livewatch recognises: the page renders them in the browser; {BROWSER}"
            ));
            break;
        }
    }
    if let Some(c) = empty_feed(doc) {
        out.push(format!(
            "an empty feed container ({c}): its posts are filled in by a script; {BROWSER}"
        ));
    }
    out
}

/// A container named like a live feed that holds no text: `div#live-feed.updates`.
fn empty_feed(doc: &Html) -> Option<String> {
    static FEEDISH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)(live|blog|feed|posts|updates|entries|stream|timeline|ticker)").unwrap()
    });
    static LIVEISH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)(live|blog|ticker|feed|updates)").unwrap());
    doc.select(sel(
        "div[id], div[class], section[id], section[class], ol[class], ul[class]",
    ))
    .find(|el| {
        let v = el.value();
        let names = format!(
            "{} {}",
            v.id().unwrap_or(""),
            v.classes().collect::<Vec<_>>().join(" ")
        );
        let hits = FEEDISH.find_iter(&names).count();
        hits >= 2
            && LIVEISH.is_match(&names)
            && el.text().all(|t| t.trim().is_empty())
            && !el.descendants().any(|d| {
                d.value()
                    .as_element()
                    .is_some_and(|e| matches!(e.name(), "img" | "iframe" | "video"))
            })
    })
    .map(|el| {
        let v = el.value();
        let mut s = v.name().to_string();
        if let Some(id) = v.id() {
            s.push('#');
            s.push_str(id);
        }
        for c in v.classes().take(3) {
            s.push('.');
            s.push_str(c);
        }
        s
    })
}
