//! CNBC live updates: no post container and no ids. A post runs from an
//! `h2.ArticleBody-subtitle` "3.51 pm: headline" to the next one. Notes such as "All times
//! below are in Beijing time." set the zone of the headings after them (one page switches
//! from Beijing to Eastern time); the date is the page's, a day earlier when the time would
//! be after the page's last update. The byline is a trailing "- Name" of the last paragraph.
//!
//! Merge: JSON-LD is a NewsArticle without updates, so HTML only.

use scraper::Html;

use super::{Layout, Merge, Profile};
use crate::extract::{Context, Draft};

pub(super) static PROFILE: Profile = Profile {
    name: "cnbc",
    hosts: &["cnbc.com"],
    markers: &["h2.ArticleBody-subtitle"],
    layout: Layout::Headings {
        heading: "h2.ArticleBody-subtitle",
        stop: &[],
        day_after: false,
    },
    id: None,
    headline: None,
    published: &[],
    updated: &[],
    byline: None,
    body: None,
    drop: &[],
    merge: Merge::HTML_FIRST,
    zone: Some(chrono_tz::Tz::America__New_York),
    hook: Some(trailing_byline),
};

/// "… said on Thursday. - Reuters" / "— Weizhen Tan" at the end of a post → byline.
#[allow(clippy::ptr_arg)] // the signature of every `Profile::hook`
fn trailing_byline(_doc: &Html, _ctx: &Context, drafts: &mut Vec<Draft>) {
    for d in drafts {
        let start = d.body.rfind("\n\n").map_or(0, |i| i + 2);
        let last = &d.body[start..];
        let Some(dash) = last
            .rfind(" - ")
            .map(|i| i + 1)
            .or_else(|| last.rfind(['—', '–']))
        else {
            continue;
        };
        let name = last[dash..].trim_start_matches(['—', '–', '-']).trim();
        let words = name.split_whitespace().count();
        if (1..=5).contains(&words) && name.len() < 60 && !name.ends_with(['.', '"', '”']) {
            d.byline = Some(name.to_string());
            d.body = d.body[..start + dash].trim_end().to_string();
        }
    }
}
