//! la Repubblica "diretta": `div.liveblog > section.liveblog__post`, ids `<article>_event<n>`.
//!
//! Merge: times from JSON-LD (`Structured`): the HTML `datetime` is Rome local time
//! mislabelled `Z`. Without JSON-LD the hook reads the HTML time as Europe/Rome instead.
//! Headline and text from the HTML (the JSON-LD `articleBody` has CMS placeholders such as
//! `[[ge:rep-locali:…]]`).

use chrono::{NaiveDateTime, Timelike};
use scraper::Html;

use super::{sel, Field, Layout, Merge, Prefer, Profile};
use crate::extract::{time, Context, Draft};

pub(super) static PROFILE: Profile = Profile {
    name: "repubblica",
    hosts: &["repubblica.it"],
    markers: &["div.liveblog section.liveblog__post"],
    layout: Layout::Posts {
        post: "div.liveblog > section.liveblog__post",
        exclude: &[],
    },
    id: None,
    headline: Some(Field::Text("h2.liveblog__post__title")),
    published: &[],
    updated: &[],
    byline: None,
    body: Some("div.liveblog__post__content"),
    drop: &["time", ".liveblog__post__title"],
    merge: Merge {
        times: Prefer::Structured,
        headline: Prefer::Html,
        byline: Prefer::Html,
        body: Prefer::Html,
    },
    zone: Some(chrono_tz::Tz::Europe__Rome),
    hook: Some(rome_local_times),
};

/// `datetime="2023-11-02T18:25Z"` means 18:25 in Rome.
#[allow(clippy::ptr_arg)] // the signature of every `Profile::hook`
fn rome_local_times(doc: &Html, _ctx: &Context, drafts: &mut Vec<Draft>) {
    let posts = doc.select(sel("div.liveblog > section.liveblog__post"));
    for (el, d) in posts.zip(drafts.iter_mut()) {
        let Some(raw) = el
            .select(sel("time.liveblog__post__pubdate[datetime]"))
            .find_map(|t| t.value().attr("datetime"))
        else {
            continue;
        };
        let naive = raw.trim().trim_end_matches(['Z', 'z']);
        let parsed = NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S"));
        if let Ok(t) = parsed {
            d.published =
                time::local_to_utc(t.date(), t.hour(), t.minute(), chrono_tz::Tz::Europe__Rome);
        }
    }
}
