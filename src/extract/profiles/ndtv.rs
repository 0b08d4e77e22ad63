//! NDTV live blogs: `li.liv-blg_li`, each holding a microdata `liveBlogUpdate` with
//! `meta[itemprop=url|datePublished|dateModified|headline|articleBody]`.
//!
//! Merge: HTML first; the post's own microdata gives the times (ISO +05:30) and the id (the
//! url fragment, which is also the number in the `li` id `<n>_parent`). The visible
//! "21:06 (IST)" agrees with it.

use super::{Field, Layout, Merge, Profile};

pub(super) static PROFILE: Profile = Profile {
    name: "ndtv",
    hosts: &["ndtv.com"],
    markers: &["li.liv-blg_li"],
    layout: Layout::Posts {
        post: "li.liv-blg_li",
        exclude: &[],
    },
    id: Some(Field::Attr("meta[itemprop=\"url\"]", "content")),
    headline: Some(Field::Text(".liv-blg_ttl")),
    published: &[
        Field::Attr("meta[itemprop=\"datePublished\"]", "content"),
        Field::Text(".liv-blg_dte"),
    ],
    updated: &[Field::Attr("meta[itemprop=\"dateModified\"]", "content")],
    byline: None,
    body: Some(".liv-blg_txt"),
    drop: &[".liv-blg_dte", ".dat-cal"],
    merge: Merge::HTML_FIRST,
    zone: Some(chrono_tz::Tz::Asia__Kolkata),
    hook: None,
};
