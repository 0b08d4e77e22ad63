//! A feed layout the analysers consider ([`Layout`], with its posts a [`Candidate`]) and
//! how layouts are compared: by the main text their posts hold ([`score`]), discounted for
//! links and for lying beside the feed. Shared by the block analyser ([`super::generic`]),
//! the flat-feed one ([`super::flat`]) and the heading layout ([`super::heading`]).

use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Node};

use super::Draft;

/// A layout the analyser considered: what kind of feed, where, and how strongly the page's
/// main text supports it (`check` prints the chosen one and the runner-up).
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// `repeated blocks`, `flat feed (time markers)`, `flat feed (separators)`,
    /// `time headings`.
    pub kind: &'static str,
    /// Where the feed is: a short CSS path of its root.
    pub at: String,
    /// How many posts it gives.
    pub posts: usize,
    /// Main-text mass of those posts (letters, capped per post), discounted for link
    /// density and for lying beside the feed (aside, nav, footer, related lists).
    pub score: f64,
}

pub(super) struct Candidate {
    pub(super) layout: Layout,
    pub(super) drafts: Vec<Draft>,
}

/// The text a post counts for at most when layouts are compared.
const POST_TEXT_CAP: usize = 1000;

/// Letters and digits of the drafts' text (capped per post), times `weight`.
pub(crate) fn score(drafts: &[Draft], link_ratio: f64, beside: bool) -> f64 {
    let mass: usize = drafts
        .iter()
        .map(|d| {
            let n = d.headline.as_deref().map_or(0, count_alnum) + count_alnum(&d.body);
            n.min(POST_TEXT_CAP)
        })
        .sum();
    let links = (1.0 - link_ratio).clamp(0.0, 1.0);
    let side = if beside { 0.25 } else { 1.0 };
    (mass as f64) * links * links * side
}

pub(super) fn count_alnum(s: &str) -> usize {
    s.chars().filter(|c| c.is_alphanumeric()).count()
}

/// Share of the elements' text that sits inside links.
pub(super) fn link_ratio<'a>(els: impl Iterator<Item = ElementRef<'a>>) -> f64 {
    use ego_tree::iter::Edge;
    let (mut all, mut linked) = (0usize, 0usize);
    for e in els {
        // One walk, counting how many links are open.
        let mut in_link = 0usize;
        for edge in e.traverse() {
            match edge {
                Edge::Open(n) => match n.value() {
                    Node::Text(t) if !super::html_text::in_code(n) => {
                        let len = t.trim().len();
                        all += len;
                        if in_link > 0 {
                            linked += len;
                        }
                    }
                    Node::Element(el) if el.name() == "a" => in_link += 1,
                    _ => {}
                },
                Edge::Close(n) => {
                    if n.value().as_element().is_some_and(|el| el.name() == "a") {
                        in_link = in_link.saturating_sub(1);
                    }
                }
            }
        }
    }
    if all == 0 {
        0.0
    } else {
        linked as f64 / all as f64
    }
}

/// `tag#id` or `tag.class` of an element and up to two ancestors: where a layout is.
pub(super) fn describe(el: ElementRef<'_>) -> String {
    let one = |e: ElementRef<'_>| {
        let v = e.value();
        match (
            v.id(),
            v.attr("class").and_then(|c| c.split_whitespace().next()),
        ) {
            (Some(id), _) if !id.is_empty() => format!("{}#{id}", v.name()),
            (_, Some(c)) => format!("{}.{c}", v.name()),
            _ => v.name().to_string(),
        }
    };
    let mut parts = vec![one(el)];
    for a in el.ancestors().filter_map(ElementRef::wrap).take(2) {
        if matches!(a.value().name(), "body" | "html") {
            break;
        }
        let stop = a.value().id().is_some();
        parts.push(one(a));
        if stop {
            break;
        }
    }
    parts.reverse();
    parts.join(" > ")
}

/// Whether an element lies in a part of the page that is not the feed: `<aside>`, `<nav>`,
/// `<footer>`, or a block whose class or id names comments, related or popular stories.
pub(super) fn beside_feed(el: ElementRef<'_>) -> bool {
    static BESIDE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)(^|[\s_-])(comments?|comment-list|disqus|related|recommended|recommendations|most-?read|most-?popular|popular|trending|more-stories)($|[\s_-])").unwrap()
    });
    el.ancestors().filter_map(ElementRef::wrap).any(|a| {
        let v = a.value();
        matches!(v.name(), "aside" | "nav" | "footer")
            || v.attr("class").is_some_and(|c| BESIDE.is_match(c))
            || v.attr("id").is_some_and(|c| BESIDE.is_match(c))
    })
}
