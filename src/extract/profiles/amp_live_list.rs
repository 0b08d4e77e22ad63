//! Any AMP live list (`amp-live-list`): the AMP spec fixes the layout, `<amp-live-list>` >
//! `[items]` > one child per post with an `id` and `data-sort-time` (epoch ms), optionally
//! `data-update-time`. Seen on The Independent's AMP pages; works for any AMP live blog.
//!
//! Merge: HTML first. The shown time (`amp-timeago[datetime]`) is what readers see and is
//! taken as published, `data-sort-time` when there is none (they differ by minutes on some
//! Independent posts). JSON-LD (`#liveblogPost<N>` ↔ `post-<N>`) fills missing fields.

use super::{Field, Layout, Merge, Profile};

pub(super) static PROFILE: Profile = Profile {
    name: "amp-live-list",
    hosts: &[],
    markers: &["amp-live-list"],
    layout: Layout::Posts {
        post: "amp-live-list > [items] > [id]",
        exclude: &[],
    },
    id: None,
    headline: Some(Field::Text("h2, h3")),
    published: &[
        Field::Attr("amp-timeago[datetime]", "datetime"),
        Field::Attr("", "data-sort-time"),
    ],
    updated: &[Field::Attr("", "data-update-time")],
    byline: None,
    body: None,
    drop: &["amp-timeago"],
    merge: Merge::HTML_FIRST,
    zone: None,
    hook: None,
};
