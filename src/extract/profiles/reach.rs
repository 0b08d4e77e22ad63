//! Reach plc "live-event" blogs (Daily Mirror, Express, Daily Star, Manchester Evening
//! News, Liverpool Echo, WalesOnline, …): `div.live-event-entries > div.live-event-entry`.
//!
//! Merge: HTML first. The HTML shows the latest 30 entries while JSON-LD lists every update
//! (428 on the fixture): only the HTML posts are reported; JSON-LD (url `#<entry id>`) fills
//! missing fields. `data-post-time` / `data-last-modified-time` (epoch ms) are exact.
//! Key events show "KEY EVENT" where the byline goes: not a byline.

use scraper::Html;

use super::{Field, Layout, Merge, Profile};
use crate::extract::{Context, Draft};

pub(super) static PROFILE: Profile = Profile {
    name: "reach",
    hosts: &[
        "mirror.co.uk",
        "express.co.uk",
        "dailystar.co.uk",
        "dailyrecord.co.uk",
        "manchestereveningnews.co.uk",
        "liverpoolecho.co.uk",
        "walesonline.co.uk",
        "birminghammail.co.uk",
        "chroniclelive.co.uk",
        "bristolpost.co.uk",
        "irishmirror.ie",
        "belfastlive.co.uk",
    ],
    markers: &[".live-event-entries > .live-event-entry"],
    layout: Layout::Posts {
        post: ".live-event-entries > .live-event-entry",
        exclude: &[],
    },
    id: None,
    headline: Some(Field::Text(".entry-content > h3, .entry-content > h2")),
    published: &[Field::Attr("", "data-post-time")],
    updated: &[Field::Attr("", "data-last-modified-time")],
    byline: Some(Field::Text(".entry-info > mark")),
    body: Some(".entry-content"),
    drop: &[".entry-info"],
    merge: Merge::HTML_FIRST,
    zone: Some(chrono_tz::Tz::Europe__London),
    hook: Some(no_key_event_byline),
};

#[allow(clippy::ptr_arg)] // the signature of every `Profile::hook`
fn no_key_event_byline(_doc: &Html, _ctx: &Context, drafts: &mut Vec<Draft>) {
    for d in drafts {
        if d.byline
            .as_deref()
            .is_some_and(|b| b.eq_ignore_ascii_case("key event"))
        {
            d.byline = None;
        }
    }
}
