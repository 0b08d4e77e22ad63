//! CNN live news (2020 "live story" layout): `#posts article[id^="h_"]`.
//!
//! Merge: the HTML shows only relative times ("16 min ago"; used, against the fetch time,
//! when the blob is missing or lacks the post), so times come from the
//! `window.__APOLLO_STATE__` blob (base64 of the Apollo cache JSON): `firstPublishDate` =
//! published, `lastPublishDate` = updated (it matches the visible relative time). The blob
//! also holds the posts beyond the first HTML page and the pinned summary post (a post of
//! its own, shown in the HTML without its id): they are added after the HTML posts. Text,
//! headline and byline come from the HTML where it has the post.

use std::collections::HashMap;

use base64::Engine;
use scraper::Html;
use serde_json::Value;

use super::{sel, Field, Layout, Merge, Profile};
use crate::extract::time::parse_stamp;
use crate::extract::{Context, Draft};

pub(super) static PROFILE: Profile = Profile {
    name: "cnn",
    hosts: &["cnn.com"],
    markers: &["#posts article[id^=\"h_\"]", "script#apollo-client"],
    layout: Layout::Posts {
        post: "#posts article[id^=\"h_\"]",
        exclude: &["article.ls-template"],
    },
    id: None,
    headline: Some(Field::Text("header h2")),
    // Only relative ("16 min ago"): resolved against the fetch time when the blob has no
    // time for the post.
    published: &[Field::Text("header span[class*=\"TimeTag\"]")],
    updated: &[],
    byline: Some(Field::Text("header p")),
    body: Some("div[class*=\"render-stellar-contentstyles__Content\"]"),
    drop: &["header"],
    merge: Merge::HTML_FIRST,
    zone: Some(chrono_tz::Tz::America__New_York),
    hook: Some(apollo_state),
};

/// Fill times from the state blob and add the posts only the blob has.
fn apollo_state(doc: &Html, _ctx: &Context, drafts: &mut Vec<Draft>) {
    let Some(state) = decode_state(doc) else {
        return;
    };
    let Some(Value::Object(map)) = Some(state) else {
        return;
    };
    let story = map
        .iter()
        .find(|(k, _)| k.starts_with("LivestoryWebData:"))
        .map(|(_, v)| v);
    // Post keys in the story's order (unpinned, then pinned), else every Post in map order.
    let mut keys: Vec<String> = Vec::new();
    if let Some(Value::Object(story)) = story {
        let refs = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.get("id")?.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        for (k, v) in story {
            if k.starts_with("unpinnedPosts") {
                keys.extend(refs(v));
            }
        }
        if let Some(v) = story.get("pinnedPosts") {
            keys.extend(refs(v));
        }
    }
    if keys.is_empty() {
        keys = map
            .keys()
            .filter(|k| k.starts_with("Post:"))
            .cloned()
            .collect();
    }
    let index: HashMap<String, usize> = drafts
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((d.id.clone()?, i)))
        .collect();
    for key in keys {
        let Some(post) = map.get(&key) else { continue };
        let Some(id) = post.get("id").and_then(Value::as_str) else {
            continue;
        };
        let published = post
            .get("firstPublishDate")
            .and_then(Value::as_str)
            .and_then(parse_stamp);
        let updated = post
            .get("lastPublishDate")
            .and_then(Value::as_str)
            .and_then(parse_stamp);
        match index.get(id) {
            Some(&i) if published.is_some() => {
                drafts[i].published = published;
                drafts[i].updated = updated;
                drafts[i].relative = false;
            }
            Some(_) => {}
            None => drafts.push(Draft {
                id: Some(id.to_string()),
                headline: plaintext(post.get("headline")).into_iter().next(),
                byline: plaintext(post.get("byline")).into_iter().next(),
                published,
                updated,
                body: plaintext(post.get("content")).join("\n\n"),
                ..Draft::default()
            }),
        }
    }
}

/// `window.__APOLLO_STATE__="<base64>"` → JSON.
fn decode_state(doc: &Html) -> Option<Value> {
    let script = doc.select(sel("script#apollo-client, script")).find(|s| {
        s.text()
            .next()
            .is_some_and(|t| t.contains("__APOLLO_STATE__"))
    })?;
    let text: String = script.text().collect();
    let start = text.find("__APOLLO_STATE__")?;
    let rest = text[start..].split_once('=')?.1.trim_start();
    let rest = rest.strip_prefix('"')?;
    let b64 = &rest[..rest.find('"')?];
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The `plaintext` strings of a `{"type":"json","json":[{"plaintext":…}, …]}` field.
fn plaintext(v: Option<&Value>) -> Vec<String> {
    v.and_then(|v| v.get("json"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("plaintext")?.as_str())
                .map(crate::extract::html_text::clean_line)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}
