//! CBS News live updates: `section.post-update[id^="content__post--"]`.
//!
//! Merge: HTML first. Its `data-sort-time` / `data-update-time` (epoch ms) are the exact
//! first-published and last-edit times; the JSON-LD updates have the same times but urls
//! (`#post-update27`) that do not match the HTML ids, so they are matched by headline and
//! only fill what the HTML lacks.

use super::{Field, Layout, Merge, Profile};

pub(super) static PROFILE: Profile = Profile {
    name: "cbsnews",
    hosts: &["cbsnews.com"],
    markers: &["section.post-update[id^=\"content__post--\"]"],
    layout: Layout::Posts {
        post: "section.post-update[id^=\"content__post--\"]",
        exclude: &[],
    },
    id: None,
    headline: Some(Field::Text(".post-update__headline")),
    published: &[Field::Attr("", "data-sort-time")],
    updated: &[Field::Attr("", "data-update-time")],
    byline: Some(Field::Text(".post-update__author")),
    body: Some(".post-update__bodytext"),
    drop: &[".post-update__footer", ".post-update__time-ago"],
    merge: Merge::HTML_FIRST,
    zone: Some(chrono_tz::Tz::America__New_York),
    hook: None,
};
