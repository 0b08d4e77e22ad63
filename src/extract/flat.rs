//! Flat feeds: no post container. A post is a run of siblings started by a marker and ending
//! at the next one; the run may cross the wrapper divs of one article body.
//!
//! Markers:
//! - a time marker: a heading or paragraph whose text starts with a clock
//!   (`<p><strong>17.00</strong> text…`, `<h5>11.04 Uhr: headline</h5>`, a "10 p.m." line,
//!   `<p><b>13:47</b></p>` followed by paragraphs, tweets or images);
//! - a separator line (`___`, `***`, `<hr>`), as in AP's "The Latest", where some posts have
//!   no time at all.
//!
//! Day headings between the posts ("Donnerstag, 18. 7.", "Tuesday 27 August 2024") date the
//! bare clocks of the posts under them (or above them, when the page puts a day's heading
//! after its posts); without any, the page's own date dates the newest post and a clock that
//! goes up while walking down a newest-first page means the day before.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::NaiveDate;
use ego_tree::NodeId;
use regex::Regex;
use scraper::{ElementRef, Html, Node};

use super::heading::zone_note;
use super::html_text::{clean_line, in_code, line_of, shown_text, text_of, Text};
use super::layout::{beside_feed, describe, link_ratio, score, Candidate, Layout};
use super::select::sel;
use super::time::{parse_clock_prefix, parse_day, Clock};
use super::{Context, Draft};

/// How far below a feed's root a marker may sit (wrapper divs of one article body).
const MAX_DEPTH: usize = 4;
/// Marker candidates looked at per page (a bound for pathological pages).
const MAX_MARKERS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Clock,
    Separator,
}

/// The flat-feed layouts of a page (at most three per marker kind), unscored order.
pub(super) fn flat_feeds(doc: &Html, ctx: &Context) -> Vec<Candidate> {
    let mut marks: Vec<(ElementRef<'_>, Kind)> = Vec::new();
    for el in doc
        .select(sel("p, h1, h2, h3, h4, h5, h6, div, li, dt, hr"))
        .take(MAX_MARKERS)
    {
        if let Some(k) = marker(el) {
            marks.push((el, k));
        }
    }
    let mut out = Vec::new();
    for kind in [Kind::Clock, Kind::Separator] {
        let of_kind: Vec<ElementRef<'_>> = marks
            .iter()
            .filter(|(_, k)| *k == kind)
            .map(|(e, _)| *e)
            .collect();
        if of_kind.len() < 2 {
            continue;
        }
        for root in roots(&of_kind) {
            let Some(root) = doc.tree.get(root).and_then(ElementRef::wrap) else {
                continue;
            };
            if let Some(c) = feed(root, &of_kind, kind, ctx) {
                out.push(c);
            }
        }
    }
    out
}

/// The first non-blank text inside an element (cheap test before the whole text is built).
fn first_text(el: ElementRef<'_>) -> Option<&str> {
    el.descendants().find_map(|n| match n.value() {
        Node::Text(t) if !t.trim().is_empty() && !in_code(n) => Some(&**t),
        _ => None,
    })
}

fn is_heading(name: &str) -> bool {
    matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

fn has_block_child(el: ElementRef<'_>) -> bool {
    el.children()
        .filter_map(ElementRef::wrap)
        .any(|c| super::html_text::is_block(c.value().name()) && c.value().name() != "li")
}

/// A separator line: only underscores, asterisks, dashes or dots (at least two).
fn is_separator(t: &str) -> bool {
    let t = t.trim();
    let marks = t.chars().filter(|c| !c.is_whitespace()).count();
    (2..=40).contains(&marks)
        && t.chars().all(|c| {
            c.is_whitespace() || matches!(c, '_' | '*' | '-' | '–' | '—' | '=' | '~' | '•' | '·')
        })
}

/// Whether `el` starts a post of a flat feed, and how.
fn marker(el: ElementRef<'_>) -> Option<Kind> {
    let name = el.value().name();
    if name == "hr" {
        return Some(Kind::Separator);
    }
    let first = first_text(el)?.trim_start();
    let c = first.chars().next()?;
    if !(c.is_ascii_digit() || matches!(c, '_' | '*' | '-' | '–' | '—' | '=' | '~')) {
        return None;
    }
    if matches!(name, "div" | "li") && has_block_child(el) {
        return None;
    }
    let len: usize = shown_text(el).map(str::len).sum();
    if len > 20_000 {
        return None;
    }
    let line = line_of(el);
    if is_separator(&line) {
        return Some(Kind::Separator);
    }
    let (clock, rest) = parse_clock_prefix(&line)?;
    // "5:00PM GMT 31 Dec 2014": the page's own dateline, not a post.
    if !rest.is_empty() && rest.chars().count() <= 40 && super::time::parse_date(rest).is_some() {
        return None;
    }
    if is_heading(name) || rest.is_empty() {
        return Some(Kind::Clock);
    }
    // A paragraph that starts with a clock: the clock is set apart (bold, its own element)
    // or followed by a separator, a zone or "Uhr" — not prose such as "10.30 was the time".
    let time_text = &line[..line.len() - rest.len()];
    let set_apart = el
        .children()
        .find(|n| match n.value() {
            Node::Text(t) => !t.trim().is_empty(),
            Node::Element(_) => true,
            _ => false,
        })
        .and_then(ElementRef::wrap)
        .is_some_and(|e| {
            matches!(
                e.value().name(),
                "strong" | "b" | "em" | "time" | "span" | "mark" | "a"
            ) && parse_clock_prefix(&line_of(e)).is_some()
        });
    let separated = time_text.trim_end().ends_with([':', '-', '–', '—', '|']);
    let lower = time_text.to_ascii_lowercase();
    (set_apart || separated || clock.zone.is_some() || lower.contains('m')).then_some(Kind::Clock)
}

/// Candidate roots of a feed: ancestors up to [`MAX_DEPTH`] above the markers, each kept
/// only where no deeper root holds the same markers; the three that hold the most.
fn roots(marks: &[ElementRef<'_>]) -> Vec<NodeId> {
    let mut count: HashMap<NodeId, (usize, usize)> = HashMap::new();
    for m in marks {
        for a in m.ancestors().take(MAX_DEPTH) {
            if a.value()
                .as_element()
                .is_some_and(|e| matches!(e.name(), "body" | "html"))
            {
                break;
            }
            let depth = a.ancestors().count();
            let e = count.entry(a.id()).or_insert((0, depth));
            e.0 += 1;
        }
    }
    let mut list: Vec<(NodeId, usize, usize)> = count
        .into_iter()
        .filter(|(_, (n, _))| *n >= 2)
        .map(|(id, (n, d))| (id, n, d))
        .collect();
    // Most markers first; for the same markers, the deepest root.
    list.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)));
    let mut kept: Vec<(NodeId, usize)> = Vec::new();
    for (id, n, _) in list {
        if kept.iter().any(|(_, kn)| *kn == n) {
            continue;
        }
        kept.push((id, n));
        if kept.len() == 3 {
            break;
        }
    }
    kept.into_iter().map(|(id, _)| id).collect()
}

enum Block<'a> {
    Mark(ElementRef<'a>),
    Day(NaiveDate),
    Content(ElementRef<'a>),
    Text(String),
}

/// The blocks of a feed root in page order, descending into wrappers that hold markers.
fn flatten<'a>(
    root: ElementRef<'a>,
    marks: &HashSet<NodeId>,
    holders: &HashSet<NodeId>,
    reference: Option<NaiveDate>,
    out: &mut Vec<Block<'a>>,
) {
    for child in root.children() {
        match child.value() {
            Node::Text(t) if !t.trim().is_empty() => out.push(Block::Text(clean_line(t))),
            Node::Element(e) => {
                let Some(el) = ElementRef::wrap(child) else {
                    continue;
                };
                if matches!(
                    e.name(),
                    "script" | "style" | "noscript" | "template" | "button" | "form" | "nav"
                ) {
                    continue;
                }
                if marks.contains(&el.id()) {
                    out.push(Block::Mark(el));
                } else if holders.contains(&el.id()) {
                    flatten(el, marks, holders, reference, out);
                } else if let Some(d) = day_heading(el, reference) {
                    out.push(Block::Day(d));
                } else {
                    out.push(Block::Content(el));
                }
            }
            _ => {}
        }
    }
}

/// A heading (or a short bold line) that is only a date.
fn day_heading(el: ElementRef<'_>, reference: Option<NaiveDate>) -> Option<NaiveDate> {
    let name = el.value().name();
    if !(is_heading(name) || matches!(name, "p" | "div" | "strong" | "b" | "dt")) {
        return None;
    }
    let len: usize = shown_text(el).map(str::len).sum();
    if len > 80 {
        return None;
    }
    parse_day(&line_of(el), reference)
}

struct Built {
    draft: Draft,
    clock: Option<Clock>,
    /// Day headings seen before this post (its index in `days`), or none.
    day_before: Option<usize>,
    day_after: Option<usize>,
}

/// The posts of one feed root.
fn feed(
    root: ElementRef<'_>,
    all: &[ElementRef<'_>],
    kind: Kind,
    ctx: &Context,
) -> Option<Candidate> {
    let root_depth = root.ancestors().count();
    let inside: Vec<ElementRef<'_>> = all
        .iter()
        .copied()
        .filter(|m| {
            let d = m.ancestors().count();
            d > root_depth
                && d - root_depth <= MAX_DEPTH
                && m.ancestors().any(|a| a.id() == root.id())
        })
        .collect();
    // A marker in an aside, a nav, a footer or a related list is not one of the feed's.
    let root_beside = beside_feed(root);
    let inside: Vec<ElementRef<'_>> = inside
        .into_iter()
        .filter(|m| root_beside || !beside_feed(*m))
        .collect();
    if inside.len() < 2 {
        return None;
    }
    // Markers that each sit alone in their own wrapper under the root are the times of
    // post containers: that is a feed of repeated blocks, not a flat one.
    let mut per_child: HashMap<NodeId, usize> = HashMap::new();
    for m in &inside {
        if let Some(top) = m.ancestors().take_while(|a| a.id() != root.id()).last() {
            *per_child.entry(top.id()).or_default() += 1;
        }
    }
    let alone = per_child.values().filter(|&&n| n == 1).count();
    if alone * 2 >= inside.len() {
        return None;
    }
    let marks: HashSet<NodeId> = inside.iter().map(|m| m.id()).collect();
    let mut holders: HashSet<NodeId> = HashSet::new();
    for m in &inside {
        for a in m.ancestors() {
            if a.id() == root.id() {
                break;
            }
            holders.insert(a.id());
        }
    }
    let reference = ctx
        .page_time
        .map(|t| t.with_timezone(&ctx.zone).date_naive())
        .or(ctx.page_day)
        .or_else(|| {
            ctx.fetched_at
                .map(|t| t.with_timezone(&ctx.zone).date_naive())
        });
    let mut blocks = Vec::new();
    flatten(root, &marks, &holders, reference, &mut blocks);
    let drafts = match kind {
        Kind::Clock => clock_posts(&blocks, ctx),
        Kind::Separator => separator_posts(&blocks),
    };
    if drafts.len() < 2 {
        return None;
    }
    // Links count only inside the posts (a box of links above the first one is no post).
    let start = match kind {
        Kind::Clock => blocks
            .iter()
            .position(|b| matches!(b, Block::Mark(_)))
            .unwrap_or(0),
        Kind::Separator => 0,
    };
    let ratio = link_ratio(blocks[start..].iter().filter_map(|b| match b {
        Block::Mark(e) | Block::Content(e) => Some(*e),
        _ => None,
    }));
    Some(Candidate {
        layout: Layout {
            kind: match kind {
                Kind::Clock => "flat feed (time markers)",
                Kind::Separator => "flat feed (separators)",
            },
            at: describe(root),
            posts: drafts.len(),
            score: score(&drafts, ratio, beside_feed(root)),
        },
        drafts,
    })
}

/// Add a block's text to a post being built.
fn push_text(text: &mut Text, b: &Block<'_>) {
    match b {
        Block::Content(e) => {
            let t = text_of(*e, &HashSet::new());
            text.paragraphs.extend(t.paragraphs);
            text.captions.extend(t.captions);
        }
        Block::Text(t) => text.paragraphs.push(t.clone()),
        _ => {}
    }
}

fn clock_posts(blocks: &[Block<'_>], ctx: &Context) -> Vec<Draft> {
    let mut built: Vec<Built> = Vec::new();
    let mut days: Vec<NaiveDate> = Vec::new();
    let mut current: Option<(Built, Text)> = None;
    let mut zone_now = None;
    let finish = |cur: &mut Option<(Built, Text)>, built: &mut Vec<Built>, days: &[NaiveDate]| {
        if let Some((mut b, t)) = cur.take() {
            b.draft.body = t.body();
            b.draft.captions.extend(t.captions);
            b.day_after = Some(days.len());
            built.push(b);
        }
    };
    for b in blocks {
        match b {
            Block::Mark(m) => {
                finish(&mut current, &mut built, &days);
                let (draft, mut clock, mut text) = marker_post(*m);
                if let Some(c) = clock.as_mut() {
                    if c.zone.is_none() {
                        c.zone = zone_now;
                    }
                }
                text.paragraphs.retain(|p| !p.is_empty());
                current = Some((
                    Built {
                        draft,
                        clock,
                        day_before: days.len().checked_sub(1),
                        day_after: None,
                    },
                    text,
                ));
            }
            Block::Day(d) => {
                finish(&mut current, &mut built, &days);
                days.push(*d);
            }
            Block::Content(e) => {
                let line_len: usize = shown_text(*e).map(str::len).sum();
                if line_len <= 120 {
                    if let Some(z) = zone_note(&line_of(*e)) {
                        // The note and what follows it belong to the page, not to this post.
                        finish(&mut current, &mut built, &days);
                        zone_now = Some(z);
                        continue;
                    }
                }
                if let Some((_, t)) = current.as_mut() {
                    push_text(t, b);
                }
            }
            Block::Text(_) => {
                if let Some((_, t)) = current.as_mut() {
                    push_text(t, b);
                }
            }
        }
    }
    finish(&mut current, &mut built, &days);
    // `day_after` was set to "how many day headings came before the end of this post":
    // the first heading after it has that index.
    for b in &mut built {
        b.day_after = b.day_after.filter(|&i| i < days.len());
    }
    date_posts(&mut built, &days, ctx);
    built.into_iter().map(|b| b.draft).collect()
}

/// The post a time marker starts: its headline (a heading's text after the clock) or the
/// first paragraph (a paragraph's text after the clock), its clock and id.
fn marker_post(m: ElementRef<'_>) -> (Draft, Option<Clock>, Text) {
    let line = line_of(m);
    let mut draft = Draft {
        id: m
            .value()
            .id()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        ..Draft::default()
    };
    let mut text = Text::default();
    let Some((clock, rest)) = parse_clock_prefix(&line) else {
        return (draft, None, text);
    };
    let time_text = line[..line.len() - rest.len()]
        .trim()
        .trim_end_matches([':', '-', '–', '—', '|'])
        .trim()
        .to_string();
    if is_heading(m.value().name()) {
        draft.headline = Some(rest.to_string()).filter(|r| !r.is_empty());
    } else {
        let t = text_of(m, &HashSet::new());
        let mut paras = t.paragraphs.into_iter();
        if let Some(first) = paras.next() {
            let rest = parse_clock_prefix(&first).map_or(first.as_str(), |(_, r)| r);
            text.paragraphs.push(rest.to_string());
        }
        text.paragraphs.extend(paras);
        text.captions = t.captions;
    }
    draft.prefix = vec![time_text];
    draft.clock = Some(clock);
    (draft, Some(clock), text)
}

/// Dates for the posts' clocks: from day headings (before or after the posts, whichever
/// the page does), else from the page's date with a day back each time the clock goes up.
fn date_posts(built: &mut [Built], days: &[NaiveDate], ctx: &Context) {
    if !days.is_empty() {
        let before_first = built.iter().any(|b| b.day_before.is_none());
        let after_last = built.iter().any(|b| b.day_after.is_none());
        let page_date = ctx
            .page_time
            .map(|t| t.with_timezone(&ctx.zone).date_naive())
            .or(ctx.page_day);
        // Headings after their day's posts: posts above the first heading and none below the
        // last, or the first heading is the page's own (latest) day.
        let headings_after = before_first && (!after_last || page_date == days.first().copied());
        for b in built.iter_mut() {
            let i = if headings_after {
                b.day_after
            } else {
                b.day_before
            };
            if let (Some(i), Some(clock)) = (i, b.clock) {
                b.draft.published = ctx.at_clock(clock, Some(days[i]));
                b.clock = None;
            }
        }
    }
    // The rest: newest first (clocks mostly go down the page) or oldest first.
    let idx: Vec<usize> = (0..built.len())
        .filter(|&i| built[i].clock.is_some())
        .collect();
    if idx.is_empty() {
        return;
    }
    let mins: Vec<i64> = built
        .iter()
        .map(|b| b.clock.map_or(0, |c| (c.hour * 60 + c.minute) as i64))
        .collect();
    let minutes = |i: usize| mins[i];
    let (mut down, mut up) = (0, 0);
    for w in idx.windows(2) {
        match minutes(w[1]).cmp(&minutes(w[0])) {
            std::cmp::Ordering::Less => down += 1,
            std::cmp::Ordering::Greater => up += 1,
            _ => {}
        }
    }
    let order: Vec<usize> = if up > down {
        idx.iter().rev().copied().collect()
    } else {
        idx
    };
    // The newest post's time from the page's date; older ones step a day back whenever the
    // clock goes up by more than an hour (a little disorder within a day is not a new day).
    let Some(&newest) = order.first() else { return };
    let Some(clock) = built[newest].clock else {
        return;
    };
    let Some(first) = ctx.at_clock(clock, None) else {
        return;
    };
    let tz = clock.zone.unwrap_or(ctx.zone);
    let mut day = first.with_timezone(&tz).date_naive();
    let mut prev = minutes(newest);
    built[newest].draft.published = Some(first);
    for &i in &order[1..] {
        let m = minutes(i);
        if m > prev + 60 {
            day = day.pred_opt().unwrap_or(day);
        }
        prev = m;
        if let Some(c) = built[i].clock {
            built[i].draft.published = ctx.at_clock(c, Some(day));
        }
    }
}

static KICKER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^a-z]{3,120}:$").expect("static regex"));

/// A paragraph in capitals that ends with a colon: a heading for what follows
/// ("HERE'S WHAT YOU NEED TO KNOW ABOUT THE VIRUS OUTBREAK:").
fn is_kicker(p: &str) -> bool {
    let letters = p.chars().filter(|c| c.is_alphabetic()).count();
    letters >= 3 && KICKER.is_match(p.trim()) && p.split_whitespace().count() <= 15
}

fn separator_posts(blocks: &[Block<'_>]) -> Vec<Draft> {
    let mut segments: Vec<Text> = vec![Text::default()];
    for b in blocks {
        match b {
            Block::Mark(_) => segments.push(Text::default()),
            _ => {
                if let Some(t) = segments.last_mut() {
                    push_text(t, b);
                }
            }
        }
    }
    segments
        .into_iter()
        .filter_map(|mut t| {
            let mut kicker = false;
            while t.paragraphs.first().is_some_and(|p| is_kicker(p)) {
                t.paragraphs.remove(0);
                kicker = true;
            }
            if t.paragraphs.is_empty() {
                return None;
            }
            // A kicker over a list of short lines: a box of links, not a post.
            let lines: Vec<&str> = t.paragraphs.iter().flat_map(|p| p.lines()).collect();
            if kicker && lines.len() >= 2 && lines.iter().all(|l| l.chars().count() < 160) {
                return None;
            }
            // A single short line with a web address: "Follow our coverage at https://…".
            if t.paragraphs.len() == 1 {
                let p = &t.paragraphs[0];
                if p.chars().count() < 250 && (p.contains("http") || p.contains("www.")) {
                    return None;
                }
            }
            Some(Draft {
                body: t.body(),
                captions: t.captions,
                ..Draft::default()
            })
        })
        .collect()
}
