//! The generic extractor for sites without a profile: repeated sibling blocks that carry a
//! time and text, else headings that start with a time ("3.51 pm: …", "11.13 Uhr: …").

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use ego_tree::NodeId;
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};

use super::layout::{beside_feed, count_alnum, describe, link_ratio, score, Candidate};
use super::select::sel;

use super::html_text::{line_of, shown_text, text_of, Text};
pub(crate) use super::layout::Layout;
use super::time::{is_relative, parse_clock_prefix, parse_date, parse_stamp};
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
/// The text (bytes) a group member counts for at most when groups are compared.
const MEMBER_TEXT_CAP: usize = 200;
/// How far up from a time element a post container is looked for.
const MAX_UP: usize = 12;

/// Elements that may hold a post's time as text ("14:05", "10:15 a.m. ET",
/// "November 20, 2026 10:31 pm", "5 min ago"): `<time>` without `datetime`, and elements whose
/// class names a time or a date (`ncpost-timestamp`, `update-time`, `liveblog-meta-time`,
/// `uhrzeit`, `heure`, `hora`).
const TEXT_TIME_MARKS: &str = "time:not([datetime]), [class*=time], [class*=Time], [class*=date], [class*=Date], [class*=stamp], [class*=Stamp], [class*=clock], [class*=zeit], [class*=Zeit], [class*=heure], [class*=hora], [class*=orario]";
/// Elements that hold a post's author.
const BYLINES: &str = "[rel=author], [itemprop=author], [class*=author], [class*=Author], [class*=byline], [class*=Byline]";
/// Attributes that carry a post id on its container (besides `id`), in order of trust.
const ID_ATTRS: &[&str] = &[
    "data-post-id",
    "data-id",
    "data-entry-id",
    "data-update-id",
    "data-item-id",
];

/// What the analyser found: the posts of the best layout, that layout and the runner-up.
#[derive(Debug, Clone, Default)]
pub(crate) struct Analysis {
    pub posts: Vec<Draft>,
    pub chosen: Option<Layout>,
    pub runner_up: Option<Layout>,
}

/// Times written as text are looked for when the machine-readable ones give fewer posts
/// than this (a feed with a few embeds that carry a `datetime` is not yet a timed feed).
const TEXT_PASS_BELOW: usize = 6;

/// Posts found by the generic rules, in page order.
pub(crate) fn extract(doc: &Html, ctx: &Context) -> Vec<Draft> {
    analyse(doc, ctx).posts
}

/// Every layout the page could have — repeated sibling blocks with a time, flat runs of
/// siblings started by a time marker or split by `___` separators (across wrapper divs),
/// time-prefixed headings — each scored by the main text its posts hold; the best wins.
pub(crate) fn analyse(doc: &Html, ctx: &Context) -> Analysis {
    let guessed;
    let ctx = if ctx.zone_known {
        ctx
    } else {
        guessed = Context {
            zone: guess_zone(ctx),
            ..ctx.clone()
        };
        &guessed
    };
    // Machine-readable marks, and times written as text ("14:05", "16 min ago") for sites
    // that mark no machine time on some or all of their posts: the scores decide.
    let mut cands = container_posts(doc, ctx, false);
    if cands
        .first()
        .is_none_or(|c| c.drafts.len() < TEXT_PASS_BELOW)
    {
        cands.extend(container_posts(doc, ctx, true));
    }
    cands.extend(super::heading::time_headings(doc, ctx));
    cands.extend(super::flat::flat_feeds(doc, ctx));
    cands.retain(|c| !c.drafts.is_empty());
    cands.sort_by(|a, b| b.layout.score.total_cmp(&a.layout.score));
    let mut it = cands.into_iter();
    let Some(best) = it.next() else {
        return Analysis::default();
    };
    // The runner-up is another place on the page (a layout of the same posts found a second
    // way says nothing about doubt).
    let runner_up = it
        .find(|c| c.layout.at != best.layout.at || c.layout.posts != best.layout.posts)
        .map(|c| c.layout);
    Analysis {
        posts: best.drafts,
        chosen: Some(best.layout),
        runner_up,
    }
}

/// The zone of time-of-day stamps that state none, for a page no profile knows: the zone of
/// the site's country (by top-level domain) when it agrees with the offset the page states
/// in its meta times, else that offset, else the country's zone, else UTC.
fn guess_zone(ctx: &Context) -> Tz {
    let tld = ctx
        .page_url
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_string))
        .and_then(|h| country_zone(&h));
    let offset = ctx.page_offset.filter(|o| o.local_minus_utc() != 0);
    let at = ctx.page_time.or(ctx.fetched_at);
    match (offset, tld) {
        (Some(off), Some(tz))
            if at.is_none_or(|t| tz.offset_from_utc_datetime(&t.naive_utc()).fix() == off) =>
        {
            tz
        }
        (Some(off), tld) => fixed_zone(off).or(tld).unwrap_or(Tz::UTC),
        (None, Some(tz)) => tz,
        (None, None) => Tz::UTC,
    }
}

/// The zone of a country-code domain's country (one zone per country; big countries with
/// several zones are left out).
fn country_zone(host: &str) -> Option<Tz> {
    const TLDS: &[(&str, Tz)] = &[
        ("uk", Tz::Europe__London),
        ("ie", Tz::Europe__Dublin),
        ("de", Tz::Europe__Berlin),
        ("at", Tz::Europe__Vienna),
        ("ch", Tz::Europe__Zurich),
        ("fr", Tz::Europe__Paris),
        ("be", Tz::Europe__Brussels),
        ("nl", Tz::Europe__Amsterdam),
        ("lu", Tz::Europe__Luxembourg),
        ("it", Tz::Europe__Rome),
        ("es", Tz::Europe__Madrid),
        ("pt", Tz::Europe__Lisbon),
        ("dk", Tz::Europe__Copenhagen),
        ("se", Tz::Europe__Stockholm),
        ("no", Tz::Europe__Oslo),
        ("fi", Tz::Europe__Helsinki),
        ("pl", Tz::Europe__Warsaw),
        ("cz", Tz::Europe__Prague),
        ("gr", Tz::Europe__Athens),
        ("ua", Tz::Europe__Kyiv),
        ("il", Tz::Asia__Jerusalem),
        ("in", Tz::Asia__Kolkata),
        ("jp", Tz::Asia__Tokyo),
        ("kr", Tz::Asia__Seoul),
        ("sg", Tz::Asia__Singapore),
        ("hk", Tz::Asia__Hong_Kong),
        ("nz", Tz::Pacific__Auckland),
        ("za", Tz::Africa__Johannesburg),
        ("qa", Tz::Asia__Qatar),
    ];
    let tld = host.trim_end_matches('.').rsplit('.').next()?;
    TLDS.iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(tld))
        .map(|&(_, tz)| tz)
}

/// A fixed offset as a zone: whole hours as `Etc/GMT±N` (POSIX sign: UTC−5 is `Etc/GMT+5`),
/// +05:30 as India.
fn fixed_zone(off: chrono::FixedOffset) -> Option<Tz> {
    let secs = off.local_minus_utc();
    if secs == 19_800 {
        return Some(Tz::Asia__Kolkata);
    }
    if secs % 3600 != 0 {
        return None;
    }
    let hours = -secs / 3600;
    format!("Etc/GMT{hours:+}").parse().ok()
}

/// A time written as text, when the whole text is one: `Some(Some(t))` for a clock or a
/// date and clock, `Some(None)` for a relative time ("5 min ago": a post's time, but not
/// one to keep), `None` for anything else.
fn text_time(raw: &str, ctx: &Context) -> Option<Option<DateTime<Utc>>> {
    static LEAD: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(?:(?:last\s+)?updated|posted|published|aktualisiert|mis\s+à\s+jour|publié|actualizado|publicado|aggiornato|pubblicato)?\s*(?:at|on|um|à|a las|alle)?\s*[:,]?\s*").unwrap()
    });
    let s = raw.trim();
    if s.is_empty() || s.len() > 60 {
        return None;
    }
    let s = LEAD.find(s).map_or(s, |m| &s[m.end()..]);
    // A match minute ("91'", "45+2'"): the post's time mark, but no time of day.
    static MINUTE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\d{1,3}(?:\+\d{1,2})?\s*['’′]$").unwrap());
    if MINUTE.is_match(s) {
        return Some(None);
    }
    if let Some((clock, rest)) = parse_clock_prefix(s) {
        let rest = rest.trim().trim_start_matches([',', '·', '|', '-']).trim();
        if rest.is_empty() {
            return Some(ctx.at_clock(clock, None));
        }
        return match parse_date(rest) {
            Some(d) if rest.len() <= 32 => Some(ctx.at_clock(clock, Some(d))),
            _ => None,
        };
    }
    if let Some(d) = parse_date(s) {
        // "November 20, 2026 10:31 pm", "20 Nov 2026, 14:05": the clock after the date.
        let starts = s.char_indices().filter(|&(i, c)| {
            c.is_ascii_digit() && (i == 0 || !s.as_bytes()[i - 1].is_ascii_digit())
        });
        for (i, _) in starts {
            if let Some((clock, rest)) = parse_clock_prefix(&s[i..]) {
                if rest.trim().is_empty() {
                    return Some(ctx.at_clock(clock, Some(d)));
                }
            }
        }
        return None;
    }
    is_relative(s).then_some(None)
}

/// The text-time marks of a document: elements of [`TEXT_TIME_MARKS`] whose text is a time.
fn text_marks<'a>(
    root: impl Iterator<Item = ElementRef<'a>>,
    ctx: &Context,
) -> Vec<(ElementRef<'a>, Option<DateTime<Utc>>)> {
    root.filter_map(|e| {
        // Cheap length check before the text is collected.
        let len: usize = shown_text(e).map(str::len).sum();
        if len > 200 {
            return None;
        }
        text_time(&line_of(e), ctx).map(|t| (e, t))
    })
    .collect()
}

/// Sets of same-tag siblings that each contain a time mark (machine-readable marks only, or
/// with `text_times` also times written as text), best first (at most two).
///
/// Siblings are one feed when they share the tag and a class stem (`slider-ele left` /
/// `slider-ele right green`, `post` / `post key-event`, `entry--pinned`): items of one feed
/// alternate classes or carry an extra one for key events.
fn container_posts(doc: &Html, ctx: &Context, text_times: bool) -> Vec<Candidate> {
    let marks: Vec<ElementRef<'_>> = if text_times {
        text_marks(doc.select(sel(TEXT_TIME_MARKS)), ctx)
            .into_iter()
            .map(|(e, _)| e)
            .chain(doc.select(sel(TIME_MARKS)))
            .collect()
    } else {
        doc.select(sel(TIME_MARKS)).collect()
    };
    // Times in reader comments, "Most read"/related lists, asides and footers are not
    // posts; they count only when nothing else on the page forms a feed (a football
    // "direct" calls its own feed `match-comments`).
    let (inside, outside): (Vec<_>, Vec<_>) = marks.into_iter().partition(|m| !beside_feed(*m));
    if inside.len() >= 2 {
        let found = groups_of(doc, ctx, inside.clone());
        let real =
            |d: &Draft| d.headline.as_deref().map_or(0, count_alnum) + count_alnum(&d.body) >= 20;
        if found
            .iter()
            .any(|c| c.drafts.iter().filter(|d| real(d)).count() >= 2)
            || outside.is_empty()
        {
            return found;
        }
    }
    groups_of(doc, ctx, [inside, outside].concat())
}

/// The best two groups of same-tag siblings holding the given time marks.
fn groups_of<'a>(doc: &'a Html, ctx: &Context, marks: Vec<ElementRef<'a>>) -> Vec<Candidate> {
    // (parent, tag) → the distinct children that hold a time mark.
    let mut groups: HashMap<(NodeId, String), Vec<NodeId>> = HashMap::new();
    let mut seen: HashSet<(NodeId, NodeId)> = HashSet::new();
    for mark in marks {
        let mut node = *mark;
        for _ in 0..MAX_UP {
            let Some(parent) = node.parent() else { break };
            if let Node::Element(el) = node.value() {
                if seen.insert((parent.id(), node.id())) {
                    groups
                        .entry((parent.id(), el.name().to_string()))
                        .or_default()
                        .push(node.id());
                }
            }
            node = parent;
        }
    }
    // Each member counts by its text, capped: a feed of real posts outweighs a longer list
    // of headline links with times ("Most read", related stories), and more posts outweigh
    // a wrapper around the feed and a sidebar. Among equals, the innermost group.
    let mut ranked: Vec<(usize, std::cmp::Reverse<usize>, Vec<NodeId>)> = groups
        .into_values()
        .flat_map(|members| by_class_stem(doc, members))
        .filter(|members| members.len() >= 2)
        .map(|members| {
            let set: HashSet<NodeId> = members.iter().copied().collect();
            let lens: Vec<usize> = members
                .iter()
                .filter_map(|id| doc.tree.get(*id).and_then(ElementRef::wrap))
                .map(|e| span(e, &set).map(text_len).sum::<usize>())
                .collect();
            let score: usize = lens.iter().map(|&l| l.min(MEMBER_TEXT_CAP)).sum();
            let total: usize = lens.iter().sum();
            (score, std::cmp::Reverse(total), members)
        })
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse((r.0, r.1)));
    ranked
        .into_iter()
        .take(2)
        .filter_map(|(_, _, members)| group_candidate(doc, ctx, &members))
        .collect()
}

/// Split siblings of one tag into feeds by class: members that share a class stem (the
/// class without a BEM `--modifier`) are one feed; members without a class join the largest.
fn by_class_stem(doc: &Html, members: Vec<NodeId>) -> Vec<Vec<NodeId>> {
    let classes: Vec<Vec<String>> = members
        .iter()
        .map(|id| {
            doc.tree
                .get(*id)
                .and_then(ElementRef::wrap)
                .map(|e| {
                    e.value()
                        .classes()
                        .map(|c| c.split("--").next().unwrap_or(c).to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    // Union-find over members by shared stems.
    let mut parent: Vec<usize> = (0..members.len()).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, cs) in classes.iter().enumerate() {
        for c in cs {
            match first.get(c.as_str()) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    first.insert(c, i);
                }
            }
        }
    }
    let mut sets: HashMap<usize, Vec<NodeId>> = HashMap::new();
    let mut bare = Vec::new();
    for (i, id) in members.iter().enumerate() {
        if classes[i].is_empty() {
            bare.push(*id);
        } else {
            let r = root(&mut parent, i);
            sets.entry(r).or_default().push(*id);
        }
    }
    let mut out: Vec<Vec<NodeId>> = sets.into_values().collect();
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    match out.first_mut() {
        Some(big) if !bare.is_empty() => big.extend(bare),
        None if !bare.is_empty() => out.push(bare),
        _ => {}
    }
    // Page order inside each feed (members come in page order).
    let position: HashMap<NodeId, usize> =
        members.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    for v in &mut out {
        v.sort_by_key(|id| position.get(id).copied());
    }
    out
}

/// The posts of one group of sibling blocks.
fn group_candidate(doc: &Html, ctx: &Context, members: &[NodeId]) -> Option<Candidate> {
    let els: Vec<ElementRef<'_>> = members
        .iter()
        .filter_map(|id| doc.tree.get(*id).and_then(ElementRef::wrap))
        .collect();
    let first = *els.first()?;
    let parent = first.parent().and_then(ElementRef::wrap)?;
    let set: HashSet<NodeId> = members.iter().copied().collect();
    let posts: Vec<Draft> = els.iter().map(|el| block_post(*el, ctx)).collect();
    let empty = posts
        .iter()
        .filter(|d| d.body.is_empty() && d.headline.is_none())
        .count();
    let drafts: Vec<Draft> = if empty * 2 <= posts.len() {
        posts
            .into_iter()
            .filter(|d| !d.body.is_empty() || d.headline.is_some() || !d.captions.is_empty())
            .collect()
    } else {
        // The blocks hold only their time ("<dt>14:05</dt><dd>…</dd>", "<div class=time>…
        // </div><p>…</p>"): each post runs from its time to the next one.
        els.iter()
            .zip(posts)
            .map(|(el, mut d)| {
                let mut text = Text::default();
                let mut headline = None;
                for sib in span(*el, &set).skip(1) {
                    let mut skip = HashSet::new();
                    if headline.is_none() {
                        if let Some(h) = std::iter::once(sib)
                            .filter(|e| HEADINGS.matches(e))
                            .chain(sib.select(&HEADINGS))
                            .next()
                        {
                            skip.insert(h.id());
                            headline = Some(line_of(h)).filter(|h| !h.is_empty());
                            if h.id() == sib.id() {
                                continue;
                            }
                        }
                    }
                    let t = text_of(sib, &skip);
                    text.paragraphs.extend(t.paragraphs);
                    text.captions.extend(t.captions);
                }
                d.headline = d.headline.or(headline);
                d.body = text.body();
                d.captions.extend(text.captions);
                d
            })
            .filter(|d| !d.body.is_empty() || d.headline.is_some())
            .collect()
    };
    let ratio = link_ratio(els.iter().flat_map(|e| span(*e, &set)));
    let layout = Layout {
        kind: "repeated blocks",
        at: format!("{} > {}", describe(parent), tag_class(first)),
        posts: drafts.len(),
        score: score(&drafts, ratio, beside_feed(first)),
    };
    Some(Candidate { layout, drafts })
}

fn tag_class(e: ElementRef<'_>) -> String {
    match e
        .value()
        .attr("class")
        .and_then(|c| c.split_whitespace().next())
    {
        Some(c) => format!("{}.{c}", e.value().name()),
        None => e.value().name().to_string(),
    }
}

/// A group member and the siblings after it up to the next member of its group.
fn span<'a>(
    el: ElementRef<'a>,
    members: &'a HashSet<NodeId>,
) -> impl Iterator<Item = ElementRef<'a>> + 'a {
    std::iter::once(el).chain(
        el.next_siblings()
            .take_while(|n| !members.contains(&n.id()))
            .filter_map(ElementRef::wrap),
    )
}

fn text_len(e: ElementRef<'_>) -> usize {
    shown_text(e).map(|t| t.trim().len()).sum()
}

fn block_post(el: ElementRef<'_>, ctx: &Context) -> Draft {
    let mut skip = HashSet::new();
    let headline = el.select(&HEADINGS).next().map(|h| {
        skip.insert(h.id());
        line_of(h)
    });
    // Times written as text, and machine marks whose text is only the time ("13:00"), are
    // not body text.
    let marks = sel(TEXT_TIME_MARKS);
    let texts: Vec<(ElementRef<'_>, Option<DateTime<Utc>>)> = text_marks(
        std::iter::once(el)
            .filter(|e| marks.matches(e))
            .chain(el.select(marks)),
        ctx,
    );
    for (t, _) in &texts {
        skip.insert(t.id());
    }
    let machine: Vec<ElementRef<'_>> = el.select(sel(TIME_MARKS)).collect();
    for m in &machine {
        let line = line_of(*m);
        if line.is_empty() || text_time(&line, ctx).is_some() {
            skip.insert(m.id());
        }
    }
    // The time's link is the post's permalink ("<a href=…#post-12><time>…</time></a>").
    let permalink = machine
        .iter()
        .chain(texts.iter().map(|(t, _)| t))
        .find_map(|t| {
            std::iter::once(*t)
                .chain(
                    t.ancestors()
                        .filter_map(ElementRef::wrap)
                        .take_while(|a| a.id() != el.id())
                        .take(3),
                )
                .find(|a| a.value().name() == "a")
                .and_then(|a| a.value().attr("href"))
        });
    let by = el
        .select(sel(BYLINES))
        .filter(|b| !skip.contains(&b.id()))
        .find_map(|b| {
            let line = line_of(b);
            (2..=100)
                .contains(&line.chars().count())
                .then_some((b.id(), line))
        });
    let byline = by
        .map(|(id, b)| {
            skip.insert(id);
            b
        })
        .map(|b| {
            let t = b.trim();
            t.strip_prefix("By ")
                .or_else(|| t.strip_prefix("by "))
                .unwrap_or(t)
                .trim()
                .to_string()
        })
        .filter(|b| !b.is_empty());
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
    let published = shown
        .or_else(|| attr_time(PUBLISHED_ATTRS))
        .or_else(|| {
            el.select(sel("time"))
                .find_map(|t| ctx.clock_text(&line_of(t)))
        })
        .or_else(|| texts.iter().find_map(|(_, t)| *t));
    // Only a relative time ("16 min ago"): against the fetch time, when there is one.
    let relative = if published.is_none() {
        texts.iter().find_map(|(e, _)| ctx.relative(&line_of(*e)))
    } else {
        None
    };
    let published = published.or(relative);
    // The last-edit time: an attribute, else a later machine time in the post's footer or
    // marked as an update ("Updated at 12.08 BST").
    let updated = attr_time(UPDATED_ATTRS).or_else(|| {
        el.select(&TIMES)
            .filter(|t| {
                let class = t.value().attr("class").unwrap_or("").to_ascii_lowercase();
                let near = t
                    .parent()
                    .and_then(ElementRef::wrap)
                    .map(line_of)
                    .unwrap_or_default()
                    .to_lowercase();
                t.ancestors()
                    .take_while(|a| a.id() != el.id())
                    .filter_map(ElementRef::wrap)
                    .any(|a| a.value().name() == "footer")
                    || class.contains("updat")
                    || class.contains("modif")
                    || near.contains("updated")
                    || near.contains("aktualisiert")
                    || near.contains("mis à jour")
            })
            .filter_map(|t| parse_stamp(t.value().attr("datetime")?))
            .find(|t| published.is_some_and(|p| *t > p))
    });
    let id = post_id(el);
    let url = permalink.and_then(|href| {
        let base = ctx.page_url.as_ref()?;
        let u = base.join(href).ok()?;
        // A link to the page itself without a fragment says nothing about the post.
        (u.as_str() != base.as_str() && matches!(u.scheme(), "http" | "https"))
            .then(|| u.to_string())
    });
    // A block that is only its time holds no text of its own.
    let text = if skip.contains(&el.id()) {
        Text::default()
    } else {
        text_of(el, &skip)
    };
    Draft {
        id,
        url,
        byline,
        headline: headline.filter(|h| !h.is_empty()),
        published,
        updated,
        body: text.body(),
        captions: text.captions,
        relative: relative.is_some(),
        ..Draft::default()
    }
}

/// The publisher's id of a post container: its `id` or an id attribute ([`ID_ATTRS`], else
/// any `data-…-id`), else that of the one wrapper inside it that carries one (Sky's
/// `.ncpost-list-post > .ncpost-container[data-ncpost-id]`).
fn post_id(el: ElementRef<'_>) -> Option<String> {
    fn own(e: ElementRef<'_>, html_id: bool) -> Option<&str> {
        let v = e.value();
        html_id
            .then(|| v.id())
            .flatten()
            .or_else(|| ID_ATTRS.iter().find_map(|a| v.attr(a)))
            .or_else(|| {
                v.attrs()
                    .find(|(k, _)| k.starts_with("data-") && k.ends_with("id"))
                    .map(|(_, v)| v)
            })
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
    if let Some(id) = own(el, true) {
        return Some(id.to_string());
    }
    // The first element inside that carries a data id, if it wraps (nearly) the whole post.
    let inner = el
        .descendants()
        .skip(1)
        .filter_map(ElementRef::wrap)
        .take(8)
        .find(|d| own(*d, false).is_some())?;
    let whole: usize = shown_text(el).map(str::len).sum();
    let part: usize = shown_text(inner).map(str::len).sum();
    (part * 10 >= whole * 8).then(|| own(inner, false).map(str::to_string))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(page_time: &str, zone: Tz) -> Context {
        let t = DateTime::parse_from_rfc3339(page_time)
            .unwrap()
            .with_timezone(&Utc);
        Context {
            fetched_at: Some(t),
            page_time: Some(t),
            page_day: None,
            published_only: false,
            zone,
            zone_known: false,
            page_url: None,
            page_offset: None,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn times_written_as_text() {
        let c = ctx("2026-11-20T18:00:00Z", Tz::UTC);
        let t = |s: &str| text_time(s, &c);
        assert_eq!(t("15:02"), Some(Some(utc("2026-11-20T15:02:00Z"))));
        assert_eq!(t("10:15 a.m. ET"), Some(Some(utc("2026-11-20T15:15:00Z"))));
        assert_eq!(t("Updated 9:02"), Some(Some(utc("2026-11-20T09:02:00Z"))));
        assert_eq!(
            t("November 19, 2026 10:31 pm"),
            Some(Some(utc("2026-11-19T22:31:00Z")))
        );
        assert_eq!(
            t("19 Nov 2026, 14:05"),
            Some(Some(utc("2026-11-19T14:05:00Z")))
        );
        assert_eq!(
            t("3:18 a.m. ET, November 19, 2026"),
            Some(Some(utc("2026-11-19T08:18:00Z")))
        );
        // A relative time marks a post but is never kept as its time.
        assert_eq!(t("5 min ago"), Some(None));
        // Not a time: text after the clock, a date alone, prose, long text.
        assert_eq!(t("10:15 By Ann Lee"), None);
        assert_eq!(t("November 19, 2026"), None);
        assert_eq!(t("Live updates"), None);
        assert_eq!(t(&"9:00 ".repeat(20)), None);
    }

    #[test]
    fn a_clock_on_a_page_with_only_its_publication_time_takes_the_nearest_day() {
        let clock = |h, m| crate::extract::time::Clock {
            hour: h,
            minute: m,
            zone: None,
        };
        // Opened at 08:00, fetched in the evening: later clocks are that day ...
        let mut c = ctx("2026-11-20T08:00:00Z", Tz::UTC);
        c.published_only = true;
        c.fetched_at = Some(utc("2026-11-20T20:00:00Z"));
        assert_eq!(
            c.at_clock(clock(15, 15), None),
            Some(utc("2026-11-20T15:15:00Z"))
        );
        // ... a republication at 10:32 dates the morning's posts before it that day ...
        c.page_time = Some(utc("2026-11-20T10:32:00Z"));
        assert_eq!(
            c.at_clock(clock(0, 2), None),
            Some(utc("2026-11-20T00:02:00Z"))
        );
        // ... just after midnight, a late-evening clock is the day before ...
        c.page_time = Some(utc("2026-11-21T00:30:00Z"));
        c.fetched_at = Some(utc("2026-11-21T01:00:00Z"));
        assert_eq!(
            c.at_clock(clock(23, 50), None),
            Some(utc("2026-11-20T23:50:00Z"))
        );
        // ... and never more than 90 min after the fetch (02:00 tomorrow is nearer to the
        // page's 23:30 than 02:00 today, but not yet come).
        c.page_time = Some(utc("2026-11-20T23:30:00Z"));
        c.fetched_at = Some(utc("2026-11-20T23:35:00Z"));
        assert_eq!(
            c.at_clock(clock(2, 0), None),
            Some(utc("2026-11-20T02:00:00Z"))
        );
    }

    #[test]
    fn zone_guessed_from_domain_and_stated_offset() {
        let mut c = ctx("2026-07-01T12:00:00Z", Tz::UTC);
        c.page_url = url::Url::parse("https://www.example.de/live").ok();
        assert_eq!(guess_zone(&c), Tz::Europe__Berlin);
        // The stated offset agrees with the country (CEST): the country's zone.
        c.page_offset = chrono::FixedOffset::east_opt(7200);
        assert_eq!(guess_zone(&c), Tz::Europe__Berlin);
        // A .com page stating −04:00: that fixed offset.
        c.page_url = url::Url::parse("https://www.example.com/live").ok();
        c.page_offset = chrono::FixedOffset::west_opt(4 * 3600);
        assert_eq!(guess_zone(&c), "Etc/GMT+4".parse::<Tz>().unwrap());
        c.page_offset = chrono::FixedOffset::east_opt(19_800);
        assert_eq!(guess_zone(&c), Tz::Asia__Kolkata);
        // Nothing known: UTC.
        c.page_offset = None;
        assert_eq!(guess_zone(&c), Tz::UTC);
    }
}
