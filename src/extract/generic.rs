//! The generic extractor for sites without a profile: repeated sibling blocks that carry a
//! time and text, else headings that start with a time ("3.51 pm: …", "11.13 Uhr: …").

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::NaiveDate;
use ego_tree::NodeId;
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};

use super::profiles::sel;
use super::text::{line_of, text_of, Text};
use super::time::{parse_clock_prefix, parse_date, parse_stamp, zone};
use super::{Context, Draft};

/// Elements that carry a machine-readable post time.
const TIME_MARKS: &str = "time[datetime], amp-timeago[datetime], [data-sort-time], [data-post-time], [data-timestamp], [data-published], [data-publish-time], [data-time]";
/// Attributes with the first-published time, in order of trust.
const PUBLISHED_ATTRS: &[&str] = &[
    "data-post-time",
    "data-sort-time",
    "data-publish-time",
    "data-published",
    "data-timestamp",
    "data-time",
];
/// Attributes with the last-edit time.
const UPDATED_ATTRS: &[&str] = &[
    "data-last-modified-time",
    "data-update-time",
    "data-modified",
    "data-updated",
];

static HEADINGS: LazyLock<Selector> = LazyLock::new(|| Selector::parse("h1, h2, h3, h4").unwrap());
static TIMES: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("time[datetime], amp-timeago[datetime], [datetime]").unwrap());
/// How far up from a time element a post container is looked for.
const MAX_UP: usize = 12;

/// Posts found by the generic rules, in page order.
pub fn extract(doc: &Html, ctx: &Context) -> Vec<Draft> {
    let blocks = container_posts(doc, ctx);
    if blocks.len() >= 3 {
        return blocks;
    }
    let headed = time_headings(doc, ctx);
    if headed.len() >= 2 || headed.len() > blocks.len() {
        return headed;
    }
    blocks
}

/// The largest set of same-tag siblings that each contain a time mark.
fn container_posts(doc: &Html, ctx: &Context) -> Vec<Draft> {
    // (parent, tag, class) → the distinct children that hold a time mark.
    let mut groups: HashMap<(NodeId, String), Vec<NodeId>> = HashMap::new();
    let mut seen: HashSet<(NodeId, NodeId)> = HashSet::new();
    for mark in doc.select(sel(TIME_MARKS)) {
        let mut node = *mark;
        for _ in 0..MAX_UP {
            let Some(parent) = node.parent() else { break };
            if let Node::Element(el) = node.value() {
                if seen.insert((parent.id(), node.id())) {
                    let class = el.classes().next().unwrap_or("").to_string();
                    groups
                        .entry((parent.id(), format!("{}.{class}", el.name())))
                        .or_default()
                        .push(node.id());
                }
            }
            node = parent;
        }
    }
    let best = groups
        .into_values()
        .filter(|members| members.len() >= 2)
        // Most members; among equals the innermost (the later-created, deeper group has
        // the same count only when each member wraps exactly one post).
        .max_by_key(|members| members.len());
    let Some(members) = best else {
        return Vec::new();
    };
    members
        .into_iter()
        .filter_map(|id| doc.tree.get(id).and_then(ElementRef::wrap))
        .map(|el| block_post(el, ctx))
        .filter(|d| !d.body.is_empty() || d.headline.is_some())
        .collect()
}

fn block_post(el: ElementRef<'_>, ctx: &Context) -> Draft {
    let mut skip = HashSet::new();
    let headline = el.select(&HEADINGS).next().map(|h| {
        skip.insert(h.id());
        line_of(h)
    });
    let attr_time = |names: &[&str]| {
        names.iter().find_map(|a| {
            std::iter::once(el)
                .chain(el.select(sel("[data-post-time], [data-sort-time], [data-last-modified-time], [data-update-time], [data-publish-time], [data-published], [data-timestamp], [data-time], [data-modified], [data-updated]")))
                .find_map(|e| parse_stamp(e.value().attr(a)?))
        })
    };
    let shown = el
        .select(&TIMES)
        .find_map(|t| parse_stamp(t.value().attr("datetime")?));
    let published = shown.or_else(|| attr_time(PUBLISHED_ATTRS)).or_else(|| {
        el.select(sel("time"))
            .find_map(|t| ctx.clock_text(&line_of(t)))
    });
    let updated = attr_time(UPDATED_ATTRS);
    let id = el
        .value()
        .id()
        .or_else(|| el.value().attr("data-id"))
        .or_else(|| el.value().attr("data-post-id"))
        .map(str::to_string);
    let text = text_of(el, &skip);
    Draft {
        id,
        headline: headline.filter(|h| !h.is_empty()),
        published,
        updated,
        body: text.body(),
        captions: text.captions,
        ..Draft::default()
    }
}

/// Headings that start with a time, grouped by parent; the largest group.
fn time_headings(doc: &Html, ctx: &Context) -> Vec<Draft> {
    let mut by_parent: HashMap<NodeId, (String, usize)> = HashMap::new();
    for h in doc.select(sel("h2, h3, h4, p > strong:first-child")) {
        if parse_clock_prefix(&line_of(h)).is_some_and(|(_, rest)| !rest.is_empty()) {
            if let Some(p) = h.parent() {
                let e = by_parent
                    .entry(p.id())
                    .or_insert((h.value().name().to_string(), 0));
                e.1 += 1;
            }
        }
    }
    let Some((parent, (tag, _))) = by_parent
        .into_iter()
        .filter(|(_, (_, n))| *n >= 2)
        .max_by_key(|(_, (_, n))| *n)
    else {
        return Vec::new();
    };
    let Some(parent) = doc.tree.get(parent).and_then(ElementRef::wrap) else {
        return Vec::new();
    };
    let heads: Vec<ElementRef<'_>> = parent
        .children()
        .filter_map(ElementRef::wrap)
        .filter(|e| e.value().name() == tag)
        .collect();
    headed_posts(&heads, &[], false, ctx)
}

/// Posts that run from a time-prefixed heading to the next heading (of the `heading`
/// selector) or a `stop` element, for profiles without post containers. With `day_after`,
/// a heading that is only a date ("Dienstag, 27. August 2024") dates the posts above it
/// (newest-first tickers open each day with that heading, so it ends up below its posts).
pub fn heading_posts(
    doc: &Html,
    heading: &Selector,
    stop: &[&'static str],
    day_after: bool,
    ctx: &Context,
) -> Vec<Draft> {
    let heads: Vec<ElementRef<'_>> = doc.select(heading).collect();
    headed_posts(&heads, stop, day_after, ctx)
}

/// "All times below are in Beijing time." — a note that sets the zone of the headings after it.
fn zone_note(text: &str) -> Option<chrono_tz::Tz> {
    static NOTE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\W*(?:all )?times(?: below| here| shown)?(?: are)? (?:in )?([a-z ]{2,20}?)(?: time)?\W*$").unwrap()
    });
    if text.len() > 80 {
        return None;
    }
    NOTE.captures(text).and_then(|c| zone(c[1].trim()))
}

fn headed_posts(
    heads: &[ElementRef<'_>],
    stop: &[&'static str],
    day_after: bool,
    ctx: &Context,
) -> Vec<Draft> {
    let head_ids: HashSet<NodeId> = heads.iter().map(|h| h.id()).collect();
    let mut out: Vec<Draft> = Vec::new();
    let mut dates: Vec<Option<NaiveDate>> = Vec::new();
    let mut undated_from = 0;
    // A zone note before the first time heading applies from the start.
    let mut zone_now: Option<chrono_tz::Tz> = heads
        .iter()
        .find(|h| parse_clock_prefix(&line_of(**h)).is_some())
        .and_then(|first| {
            first
                .prev_siblings()
                .filter_map(ElementRef::wrap)
                .take(12)
                .find_map(|e| {
                    text_of(e, &HashSet::new())
                        .paragraphs
                        .iter()
                        .find_map(|p| zone_note(p))
                })
        });
    for h in heads {
        let line = line_of(*h);
        let Some((mut clock, rest)) =
            parse_clock_prefix(&line).filter(|(_, rest)| !rest.is_empty())
        else {
            if day_after && line.chars().count() < 60 {
                if let Some(d) = parse_date(&line) {
                    for slot in &mut dates[undated_from..] {
                        *slot = Some(d);
                    }
                    undated_from = dates.len();
                }
            }
            continue;
        };
        if clock.zone.is_none() {
            clock.zone = zone_now;
        }
        let mut text = Text::default();
        for sib in h.next_siblings() {
            if head_ids.contains(&sib.id()) {
                break;
            }
            match sib.value() {
                Node::Element(_) => {
                    let Some(e) = ElementRef::wrap(sib) else {
                        continue;
                    };
                    if stop.iter().any(|s| sel(s).matches(&e)) || heads_inside(e, &head_ids) {
                        break;
                    }
                    let t = text_of(e, &HashSet::new());
                    if let Some(z) = t.paragraphs.iter().find_map(|p| zone_note(p)) {
                        // The note and what follows it belong to the page, not to this post.
                        zone_now = Some(z);
                        break;
                    }
                    text.paragraphs.extend(t.paragraphs);
                    text.captions.extend(t.captions);
                }
                Node::Text(t) if !t.trim().is_empty() => {
                    text.paragraphs.push(super::text::clean_line(t))
                }
                _ => {}
            }
        }
        let time_text = line[..line.len() - rest.len()]
            .trim()
            .trim_end_matches([':', '-', '–', '|'])
            .trim()
            .to_string();
        out.push(Draft {
            headline: Some(rest.to_string()),
            body: text.body(),
            captions: text.captions,
            prefix: vec![time_text],
            clock: Some(clock),
            ..Draft::default()
        });
        dates.push(None);
    }
    for (d, date) in out.iter_mut().zip(dates) {
        if let Some(clock) = d.clock {
            d.published = ctx.at_clock(clock, date);
        }
    }
    out
}

fn heads_inside(e: ElementRef<'_>, heads: &HashSet<NodeId>) -> bool {
    e.descendants().any(|d| heads.contains(&d.id()))
}
