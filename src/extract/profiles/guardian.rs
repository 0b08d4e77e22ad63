//! The Guardian (DCR renderer): `#liveblog-body article[id^="block-"]`.
//!
//! Merge: the HTML wins everything. The JSON-LD `liveBlogUpdate` entries carry the block ids
//! but every one has the page's own `datePublished`/`dateModified` and the page headline, so
//! JSON-LD times and headlines are wrong per post (`HtmlOnly`); its `articleBody` is only
//! used when a block has no text in the HTML.
//! The pinned box (`#pinned-post`) holds an id-less copy of a block: skipped.

use super::{Field, Layout, Merge, Prefer, Profile};

pub(super) static PROFILE: Profile = Profile {
    name: "guardian",
    hosts: &["theguardian.com", "guardian.co.uk"],
    markers: &["#liveblog-body article[id^=\"block-\"]"],
    layout: Layout::Posts {
        post: "#liveblog-body article[id^=\"block-\"], article.block[id^=\"block-\"]",
        exclude: &["#pinned-post"],
    },
    id: None,
    headline: Some(Field::Text("header h2")),
    published: &[Field::Attr("header time[datetime]", "datetime")],
    updated: &[Field::Attr("footer time[datetime]", "datetime")],
    byline: Some(Field::Attr("header img[alt]", "alt")),
    body: None,
    drop: &[
        "header",
        "footer",
        "[data-spacefinder-type$=\"TweetBlockElement\"]",
    ],
    merge: Merge {
        times: Prefer::HtmlOnly,
        headline: Prefer::HtmlOnly,
        byline: Prefer::Html,
        body: Prefer::Html,
    },
    zone: None,
    hook: None,
};
