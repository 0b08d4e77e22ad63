//! The WordPress Liveblog plugin (Automattic/liveblog), written from its public code
//! (never checked against a live response).
//!
//! The page: `var liveblog_settings = {…, "post_id": 123, "endpoint_url":
//! "https://site/wp-json/liveblog/v1/123/", "use_rest_api": 1, …}` (`wp_localize_script`)
//! and `<div id="wpcom-liveblog-container" class="123">`. The feed:
//! `<endpoint_url>get-entries/1/0`, the plugin's paged list (page 1 = the newest entries,
//! updates and deletions already applied): `{"entries": [{"id", "type", "render",
//! "content", "timestamp", "entry_time", "authors": [{"name"}], "share_link"}], "page",
//! "pages", "total"}`. `entry_time` is when the entry was first published, `timestamp`
//! the time of its latest revision (an update's own time). The list has updates and
//! deletions applied: a deleted entry is simply gone, which is certain only when the one
//! page holds every entry (`"pages": 1`).

use scraper::Html;
use serde_json::Value;

use super::super::select::sel;
use super::{id_text, unix, FeedPosts};
use crate::extract::html_text::text_of_fragment;
use crate::model::Post;

/// Cheap pre-check on the raw page.
pub(super) fn mentioned(raw: &[u8]) -> bool {
    static ANY: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
        regex::bytes::Regex::new("liveblog_settings|wpcom-liveblog-container").unwrap()
    });
    ANY.is_match(raw)
}

/// (feed URL, post id) of the plugin's live blog on the page.
pub(super) fn discover(doc: &Html, raw: &str, base: &url::Url) -> Option<(String, String)> {
    if let Some(s) = super::assigned_object(raw, "liveblog_settings") {
        let id = id_text(&s["post_id"]);
        let rest = s["use_rest_api"] != 0 && s["use_rest_api"] != "0";
        let endpoint = s["endpoint_url"]
            .as_str()
            .filter(|u| u.contains("liveblog/v1"));
        if let (Some(id), Some(endpoint), true) = (id.clone(), endpoint, rest) {
            let endpoint = base.join(endpoint).ok()?;
            return Some((entries_url(endpoint.as_str()), id));
        }
        if let Some(id) = id.filter(|id| id.bytes().all(|b| b.is_ascii_digit())) {
            return Some((default_endpoint(base, &id)?, id));
        }
    }
    let el = doc.select(sel("#wpcom-liveblog-container")).next()?;
    let id = el
        .value()
        .classes()
        .find(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))?;
    Some((default_endpoint(base, id)?, id.to_string()))
}

/// The REST endpoint at the site's root (pretty permalinks), for a page that only shows
/// the container.
fn default_endpoint(base: &url::Url, id: &str) -> Option<String> {
    let u = base.join(&format!("/wp-json/liveblog/v1/{id}/")).ok()?;
    Some(entries_url(u.as_str()))
}

/// The newest page of entries under an endpoint (`…/liveblog/v1/123/`). "0" as the last
/// known entry: none (the plugin then pages from the newest entry).
fn entries_url(endpoint: &str) -> String {
    let sep = if endpoint.ends_with('/') { "" } else { "/" };
    format!("{endpoint}{sep}get-entries/1/0")
}

/// The posts of one response.
pub(super) fn read(v: &Value, page_url: &str) -> Option<FeedPosts> {
    let entries = v.get("entries")?.as_array()?;
    let mut out = FeedPosts {
        // Page 1 of 1: every entry is here, so one missing was deleted.
        complete: v["pages"].as_u64().is_some_and(|n| n <= 1),
        ..Default::default()
    };
    for e in entries {
        let Some(id) = id_text(&e["id"]) else {
            continue;
        };
        if e["type"].as_str() == Some("delete") {
            out.deleted.push(id);
            continue;
        }
        let html = e["render"]
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| e["content"].as_str())
            .unwrap_or("");
        let text = text_of_fragment(html);
        let mut p = Post::new(id.clone(), text.body());
        p.captions = text.captions;
        let revised = unix(&e["timestamp"]);
        p.published = unix(&e["entry_time"]).or(revised);
        p.updated = revised.filter(|t| Some(*t) != p.published);
        let names: Vec<&str> = e["authors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str())
                    .filter(|n| !n.trim().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        p.byline = (!names.is_empty()).then(|| names.join(", "));
        p.url = e["share_link"]
            .as_str()
            .map(str::to_string)
            .or_else(|| Some(format!("{}#{id}", page_url.split('#').next().unwrap_or(""))));
        out.posts.push(p);
    }
    Some(out)
}
