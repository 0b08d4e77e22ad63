//! BR24 news tickers: no post container and no ids. A post runs from an `h2` "11.13 Uhr:
//! headline" to the next `h2`; the day is the date-only `h2` ("Dienstag, 27. August 2024")
//! that follows that day's posts. Times are Europe/Berlin.
//!
//! Merge: there is no structured live-blog data (JSON-LD is a NewsArticle), so HTML only.

use super::{Layout, Merge, Profile};

pub(super) static PROFILE: Profile = Profile {
    name: "br24",
    hosts: &["br.de"],
    markers: &["[class^=\"ArticleModuleText_wrapper\"] h2"],
    layout: Layout::Headings {
        heading: "[class^=\"RichText_richText\"] h2",
        stop: &[],
        day_after: true,
    },
    id: None,
    headline: None,
    published: &[],
    updated: &[],
    byline: None,
    body: None,
    drop: &[],
    merge: Merge::HTML_FIRST,
    zone: Some(chrono_tz::Tz::Europe__Berlin),
    hook: None,
};
