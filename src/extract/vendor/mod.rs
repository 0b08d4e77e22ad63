//! Live blogs the page's HTML does not carry: vendor embeds and client-side rendering.
//!
//! - [`discover`]: a vendor live blog whose feed is public (the WordPress Liveblog
//!   plugin, Sourcefabric Liveblog) → the [`Feed`] to follow instead of the page. Its
//!   JSON gives exact post ids, edit times and (Sourcefabric) delete flags ([`Feed::read`]).
//! - [`diagnose`]: why a page without posts is empty — a vendor embed whose posts only
//!   its script loads (Tickaroo, ScribbleLive, Arena, Live Center, 24liveblog), or a
//!   client-side marker (a posts endpoint attribute, a framework state blob, an empty
//!   feed container) — and what to do.
//!
//! Pure: the parsed page (or the feed's bytes) in, values out; the daemon and `check`
//! do the fetching.

mod markers;
mod sourcefabric;
mod wordpress;

use scraper::Html;

use super::Attempt;
use crate::model::Post;

/// A vendor whose feed livewatch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    /// The WordPress Liveblog plugin (Automattic): `/wp-json/liveblog/v1/<post>/…`.
    WordPress,
    /// Sourcefabric Liveblog: `api/client_blogs/<blog>/posts`.
    Sourcefabric,
}

impl Vendor {
    /// The name shown as the extractor (`check`, `status`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Vendor::WordPress => "wordpress-liveblog",
            Vendor::Sourcefabric => "sourcefabric-liveblog",
        }
    }
}

/// A vendor feed found on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Feed {
    pub vendor: Vendor,
    /// The URL to poll instead of the page.
    pub url: String,
    /// The vendor's id of the blog (the WordPress post id, the Sourcefabric blog id).
    pub blog_id: String,
    /// The page's title, for the events (the feed has none).
    pub title: Option<String>,
    /// The page the feed was found on (post permalinks are anchors on it).
    pub page_url: String,
}

/// What one read of a feed holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FeedPosts {
    /// The posts shown, newest first.
    pub posts: Vec<Post>,
    /// Ids the vendor flags as deleted.
    pub deleted: Vec<String>,
    /// The response lists every post of the blog (one page holds them all).
    pub complete: bool,
}

impl Feed {
    /// `extract::Extraction::extractor` for posts read from this feed.
    pub(crate) fn extractor(&self) -> String {
        format!("{} feed", self.vendor.name())
    }

    /// Read one response of the feed.
    pub(crate) fn read(&self, body: &[u8]) -> Result<FeedPosts, String> {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            format!(
                "the {} feed {} is not JSON: {e}",
                self.vendor.name(),
                self.url
            )
        })?;
        let mut out = match self.vendor {
            Vendor::WordPress => wordpress::read(&v, &self.page_url),
            Vendor::Sourcefabric => sourcefabric::read(&v),
        }
        .ok_or_else(|| {
            format!(
                "the {} feed {} does not have the expected shape",
                self.vendor.name(),
                self.url
            )
        })?;
        out.posts
            .retain(|p| !p.body.is_empty() || p.headline.is_some());
        out.posts.sort_by_key(|p| std::cmp::Reverse(p.published));
        Ok(out)
    }

    /// The extraction of one read of the feed (no posts and the reason when it fails).
    pub(crate) fn extract(&self, body: &[u8]) -> super::Extraction {
        let mut out = super::Extraction {
            title: self.title.clone(),
            extractor: self.extractor(),
            ..Default::default()
        };
        match self.read(body) {
            Ok(f) => {
                out.posts = f.posts;
                out.deleted = f.deleted;
                out.complete = f.complete;
                if out.posts.is_empty() {
                    out.attempts.push(Attempt {
                        extractor: self.extractor(),
                        reason: format!("the feed {} lists no posts", self.url),
                    });
                }
            }
            Err(reason) => out.attempts.push(Attempt {
                extractor: self.extractor(),
                reason,
            }),
        }
        out
    }
}

/// The vendor feed a page embeds, if livewatch can read it.
pub(crate) fn discover(doc: &Html, raw: &str, page_url: &str) -> Option<Feed> {
    let base = url::Url::parse(page_url).ok()?;
    let (vendor, url, blog_id) = wordpress::discover(doc, raw, &base)
        .map(|(u, id)| (Vendor::WordPress, u, id))
        .or_else(|| {
            sourcefabric::discover(doc, raw, &base).map(|(u, id)| (Vendor::Sourcefabric, u, id))
        })?;
    Some(Feed {
        vendor,
        url,
        blog_id,
        title: super::title(doc),
        page_url: page_url.to_string(),
    })
}

/// Do the page's bytes name a vendor whose feed [`discover`] may find? A cheap test
/// (one regex pass each, no parse) that most pages fail.
pub(crate) fn mentioned(body: &[u8]) -> bool {
    wordpress::mentioned(body) || sourcefabric::mentioned(body)
}

/// [`discover`] on page bytes (decoded and parsed here, only when the bytes name a
/// vendor: the daemon asks on every fetched page whose content changed).
pub(crate) fn discover_in(page: &super::Page<'_>) -> Option<Feed> {
    if !mentioned(page.body) {
        return None;
    }
    let text = super::decode::decode(page.body, page.content_type);
    let doc = Html::parse_document(&super::depth::bound(&text));
    discover(&doc, &text, page.url)
}

/// Why a page without posts is empty: one [`Attempt`] per vendor embed or client-side
/// marker found, each saying what it is and what to do.
pub(crate) fn diagnose(doc: &Html, raw: &str, page_url: &str) -> Vec<Attempt> {
    let mut out = Vec::new();
    if let Some(f) = discover(doc, raw, page_url) {
        out.push(Attempt {
            extractor: "vendor".into(),
            reason: format!(
                "{} embed (blog {}): its posts come from the feed {}; livewatch follows it when it fetches the page's URL (watch or check the URL, not a saved file)",
                match f.vendor {
                    Vendor::WordPress => "WordPress Liveblog plugin",
                    Vendor::Sourcefabric => "Sourcefabric Liveblog",
                },
                f.blog_id,
                f.url
            ),
        });
    }
    out.extend(markers::embeds(doc).into_iter().map(|reason| Attempt {
        extractor: "vendor".into(),
        reason,
    }));
    if out.is_empty() {
        out.extend(
            markers::client_side(doc, raw)
                .into_iter()
                .map(|reason| Attempt {
                    extractor: "client-side".into(),
                    reason,
                }),
        );
    }
    out
}

/// Seconds since the epoch (number or numeric string) to a time.
fn unix(v: &serde_json::Value) -> Option<chrono::DateTime<chrono::Utc>> {
    let n = v
        .as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
    chrono::DateTime::from_timestamp(n, 0)
}

/// A JSON id (number or string) as text.
fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The JSON object assigned in a script: the text after `marker` up to its `{`, read as
/// one JSON value (`var liveblog_settings = {…};`, `window.LB = {…};`).
fn assigned_object(raw: &str, marker: &str) -> Option<serde_json::Value> {
    let mut from = 0;
    while let Some(i) = raw[from..].find(marker) {
        let rest = &raw[from + i + marker.len()..];
        let start = rest.find('{')?;
        // Only `= {` (whitespace between), not some later object.
        if rest[..start]
            .trim()
            .trim_start_matches('=')
            .trim()
            .is_empty()
        {
            let mut it =
                serde_json::Deserializer::from_str(&rest[start..]).into_iter::<serde_json::Value>();
            if let Some(Ok(v)) = it.next() {
                return Some(v);
            }
        }
        from += i + marker.len();
    }
    None
}

#[cfg(test)]
mod tests;
