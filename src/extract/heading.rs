//! The heading layout: posts that run from a time-prefixed heading ("14:05 Minister
//! resigns") to the next one, for pages without post containers, with the notes that set
//! the zone of the times after them ("All times below are in Beijing time").

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::NaiveDate;
use ego_tree::NodeId;
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};

use super::html_text::{line_of, text_of, Text};
use super::layout::{beside_feed, describe, link_ratio, score, Candidate, Layout};
use super::select::sel;
use super::time::{parse_clock_prefix, parse_date, zone};
use super::{Context, Draft};

/// Headings that start with a time, grouped by parent; the largest group.
pub(super) fn time_headings(doc: &Html, ctx: &Context) -> Option<Candidate> {
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
    let (parent, (tag, _)) = by_parent
        .into_iter()
        .filter(|(_, (_, n))| *n >= 2)
        .max_by_key(|(_, (_, n))| *n)?;
    let parent = doc.tree.get(parent).and_then(ElementRef::wrap)?;
    let heads: Vec<ElementRef<'_>> = parent
        .children()
        .filter_map(ElementRef::wrap)
        .filter(|e| e.value().name() == tag)
        .collect();
    let drafts = headed_posts(&heads, &[], false, ctx);
    let ratio = link_ratio(std::iter::once(parent));
    Some(Candidate {
        layout: Layout {
            kind: "time headings",
            at: format!("{} > {tag}", describe(parent)),
            posts: drafts.len(),
            score: score(&drafts, ratio, beside_feed(parent)),
        },
        drafts,
    })
}

/// Posts that run from a time-prefixed heading to the next heading (of the `heading`
/// selector) or a `stop` element, for profiles without post containers. With `day_after`,
/// a heading that is only a date ("Dienstag, 27. August 2024") dates the posts above it
/// (newest-first tickers open each day with that heading, so it ends up below its posts).
pub(super) fn heading_posts(
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
pub(super) fn zone_note(text: &str) -> Option<chrono_tz::Tz> {
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
                    text.paragraphs.push(super::html_text::clean_line(t))
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
