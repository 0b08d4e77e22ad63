//! Sourcefabric Liveblog (liveblog/liveblog, its default theme), written from its public
//! code (never checked against a live response).
//!
//! The page: the theme's `window.LB = {"api_host": "https://host/", "blog": {"_id": …}}`,
//! or an embed whose address is `//host/embed/<blog>`, `//host/api/client_blogs/<blog>`
//! or `//host/<tenant>/blogs/<blog>` (the forms the theme's own build accepts; the first
//! and last only on a host named `…liveblog…`, as the hosted service's are). The feed:
//! `<api_host>api/client_blogs/<blog>/posts?max_results=N&source=<Elasticsearch query>`,
//! an Eve list: `{"_items": [{"_id", "_updated", "published_date",
//! "content_updated_date", "deleted", "post_status", "sticky", "groups": [{"id": "root"},
//! {"id": "main", "refs": [{"item": {"item_type", "text", "meta", "original_creator":
//! {"display_name"}}}]}]}], "_meta": {"total"}}`. Deleted posts stay in the index with
//! `"deleted": true`; the query asks for open posts, newest first, deleted ones included
//! so that their flag is seen.

use std::sync::LazyLock;

use regex::Regex;
use scraper::Html;
use serde_json::Value;

use super::super::select::sel;
use super::{id_text, FeedPosts};
use crate::extract::html_text::text_of_fragment;
use crate::model::Post;

/// Posts asked for per poll.
const MAX_RESULTS: u32 = 50;

/// Cheap pre-check on the raw page.
pub(super) fn mentioned(raw: &[u8]) -> bool {
    static ANY: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
        regex::bytes::Regex::new(r"(?i)api_host|client_blogs|liveblog[^/\s\x22']*/").unwrap()
    });
    ANY.is_match(raw)
}

/// (feed URL, blog id) of the live blog on the page.
pub(super) fn discover(doc: &Html, raw: &str, base: &url::Url) -> Option<(String, String)> {
    if let Some(lb) = super::assigned_object(raw, "LB") {
        if let (Some(host), Some(id)) = (lb["api_host"].as_str(), id_text(&lb["blog"]["_id"])) {
            let host = base.join(host).ok()?;
            return Some((posts_url(host.as_str(), &id), id));
        }
    }
    static EMBED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?i)(https?:)?//([^/]+)/(?:api/client_blogs|embed|[^/]+/blogs)/(\w+)")
            .unwrap()
    });
    doc.select(sel("iframe[src], [data-src]")).find_map(|el| {
        let src = el.value().attr("src").or(el.value().attr("data-src"))?;
        let c = EMBED.captures(src.trim())?;
        // `//host/embed/<id>` is also YouTube's form: only a Liveblog host, or its API.
        let host = c[2].to_ascii_lowercase();
        if !host.contains("liveblog") && !src.contains("/api/client_blogs/") {
            return None;
        }
        let scheme = c
            .get(1)
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| format!("{}:", base.scheme()));
        let id = c[3].to_string();
        Some((posts_url(&format!("{scheme}//{}/", &c[2]), &id), id))
    })
}

fn posts_url(host: &str, id: &str) -> String {
    let host = host.trim_end_matches('/');
    let query = serde_json::json!({
        "query": {"filtered": {"filter": {"and": [{"term": {"post_status": "open"}}]}}},
        "sort": [{"published_date": {"order": "desc", "missing": "_last", "unmapped_type": "long"}}]
    });
    let mut u = format!("{host}/api/client_blogs/{id}/posts?max_results={MAX_RESULTS}&source=");
    u.extend(url::form_urlencoded::byte_serialize(
        query.to_string().as_bytes(),
    ));
    u
}

/// The posts of one response.
pub(super) fn read(v: &Value) -> Option<FeedPosts> {
    let items = v.get("_items")?.as_array()?;
    let mut out = FeedPosts {
        complete: v["_meta"]["total"]
            .as_u64()
            .is_some_and(|n| n <= items.len() as u64),
        ..Default::default()
    };
    for post in items {
        let Some(id) = id_text(&post["_id"]) else {
            continue;
        };
        if post["deleted"] == Value::Bool(true) {
            out.deleted.push(id);
            continue;
        }
        if post["post_status"].as_str().is_some_and(|s| s != "open") {
            continue;
        }
        let mut p = Post::new(id, String::new());
        let mut paragraphs = Vec::new();
        for item in refs(post) {
            item_text(item, &mut paragraphs, &mut p.captions);
            if p.byline.is_none() {
                p.byline = item["original_creator"]["display_name"]
                    .as_str()
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_string);
            }
        }
        p.body = paragraphs.join("\n\n");
        let time = |k: &str| crate::extract::time::parse_stamp(post[k].as_str()?);
        p.published = time("published_date").or_else(|| time("_created"));
        p.updated = time("content_updated_date")
            .or_else(|| time("_updated"))
            .filter(|t| Some(*t) > p.published);
        out.posts.push(p);
    }
    Some(out)
}

/// The items of a post's main group, in order.
fn refs(post: &Value) -> impl Iterator<Item = &Value> {
    post["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["id"].as_str() != Some("root"))
        .flat_map(|g| g["refs"].as_array().into_iter().flatten())
        .map(|r| &r["item"])
        .filter(|i| i.is_object())
}

/// One item's text: text and comments as HTML, a quote with its credit, an image's
/// caption, an embed's title and description.
fn item_text(item: &Value, paragraphs: &mut Vec<String>, captions: &mut Vec<String>) {
    let meta = &item["meta"];
    fn s(v: &Value) -> Option<&str> {
        v.as_str().map(str::trim).filter(|s| !s.is_empty())
    }
    match item["item_type"].as_str().unwrap_or("text") {
        "image" => {
            let caption: Vec<&str> = [s(&meta["caption"]), s(&meta["credit"])]
                .into_iter()
                .flatten()
                .collect();
            if !caption.is_empty() {
                captions.push(text_of_fragment(&caption.join(" ")).body());
            }
        }
        "quote" => {
            if let Some(q) = s(&meta["quote"]) {
                paragraphs.push(text_of_fragment(q).body());
            }
            if let Some(c) = s(&meta["credit"]) {
                paragraphs.push(format!("— {}", text_of_fragment(c).body()));
            }
        }
        "embed" => {
            for k in ["title", "description"] {
                if let Some(t) = s(&meta[k]) {
                    paragraphs.push(text_of_fragment(t).body());
                }
            }
        }
        _ => {
            if let Some(t) = s(&item["text"]) {
                let t = text_of_fragment(t);
                paragraphs.extend(t.paragraphs);
                captions.extend(t.captions);
            }
        }
    }
    paragraphs.retain(|p| !p.is_empty());
}
