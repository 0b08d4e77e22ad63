//! TODO
use super::{Layout, Merge, Profile};

pub static PROFILE: Profile = Profile {
    name: "reach",
    hosts: &[],
    markers: &[],
    layout: Layout::Posts {
        post: "livewatch-none",
        exclude: &[],
    },
    id: None,
    headline: None,
    published: &[],
    updated: &[],
    byline: None,
    body: None,
    drop: &[],
    merge: Merge::HTML_FIRST,
    zone: None,
    hook: None,
};
