//! HTML → plain text, for extraction: an element's text as paragraphs separated by one
//! blank line, captions apart, no scripts, styles, embeds, share widgets or ad slots. The
//! walk is iterative (the tree can be 10,000 levels deep). String helpers that know nothing
//! of HTML are in [`crate::text`].

use std::collections::HashSet;
use std::sync::LazyLock;

use ego_tree::iter::Edge;
use ego_tree::NodeId;
use regex::Regex;
use scraper::{ElementRef, Node};

/// The text of a post (or part of one).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    pub paragraphs: Vec<String>,
    pub captions: Vec<String>,
}

impl Text {
    pub(crate) fn body(&self) -> String {
        self.paragraphs.join("\n\n")
    }
}

/// The text of `el` as a reader sees it: its text nodes but those of scripts and styles.
/// Length and ratio tests use it, so that the lean parse (which leaves JavaScript and CSS
/// out of the tree, [`crate::markup::prune`]) gives the same answers.
pub(crate) fn shown_text<'a>(el: ElementRef<'a>) -> impl Iterator<Item = &'a str> + 'a {
    el.descendants().filter_map(|n| match n.value() {
        Node::Text(t) if !in_code(n) => Some(&**t),
        _ => None,
    })
}

/// Whether the text node `n` is the content of a script or a style.
pub(crate) fn in_code(n: ego_tree::NodeRef<'_, Node>) -> bool {
    n.parent()
        .and_then(|p| {
            p.value()
                .as_element()
                .map(|e| matches!(e.name(), "script" | "style"))
        })
        .unwrap_or(false)
}

/// Elements whose whole subtree never is post text.
fn is_skipped(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "svg"
            | "iframe"
            | "object"
            | "embed"
            | "video"
            | "audio"
            | "canvas"
            | "button"
            | "form"
            | "input"
            | "select"
            | "textarea"
            | "nav"
            | "amp-ad"
            | "amp-embed"
            | "amp-social-share"
            | "amp-twitter"
            | "amp-instagram"
            | "amp-facebook"
            | "amp-youtube"
            | "amp-iframe"
            | "gu-island"
            | "time"
            | "head"
    )
}

pub(crate) fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "aside"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "blockquote"
            | "pre"
            | "table"
            | "tr"
            | "figure"
            | "figcaption"
            | "main"
            | "hr"
    )
}

/// Class/id words that mark chrome inside a post: share bars, ads, "read more" teasers.
fn is_chrome(el: &scraper::node::Element) -> bool {
    static CHROME: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)(^|[\s_-])(share|sharing|social|advert|advertisement|ad-slot|ad-container|adslot|dfp|related|read-?more|newsletter|promo|outbrain|taboola|visually-hidden|sr-only)($|[\s_-])").unwrap()
    });
    if el.attr("hidden").is_some() || el.attr("aria-hidden") == Some("true") {
        return true;
    }
    el.attr("class").is_some_and(|c| CHROME.is_match(c))
        || el.attr("id").is_some_and(|c| CHROME.is_match(c))
        || el
            .attr("data-component")
            .is_some_and(|c| CHROME.is_match(c))
}

/// Walk `root` and collect its text. `skip` holds nodes (headline, byline, time, footer …)
/// whose subtrees the caller already took apart. Captions of `figure`s go to `captions`;
/// the rest of a figure (images, embeds) is dropped.
pub(crate) fn text_of(root: ElementRef<'_>, skip: &HashSet<NodeId>) -> Text {
    let mut out = Text::default();
    let mut para = String::new();
    // While inside a skipped subtree: its root id. While inside a figcaption: its id.
    let mut skipping: Option<NodeId> = None;
    let mut caption: Option<(NodeId, String)> = None;
    let mut in_figure = 0usize;
    for edge in root.traverse() {
        match edge {
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(t) => {
                        let t: &str = t;
                        if let Some((_, cap)) = caption.as_mut() {
                            cap.push_str(t);
                        } else if in_figure == 0 {
                            para.push_str(t);
                        }
                    }
                    Node::Element(el) => {
                        let name = el.name();
                        if node.id() != root.id()
                            && (skip.contains(&node.id()) || is_skipped(name) || is_chrome(el))
                        {
                            // An embed keeps its own text (a tweet's fallback text, a title)
                            // apart, so that a post that is only an embed is still a post.
                            if matches!(name, "iframe" | "amp-twitter" | "amp-iframe")
                                && !skip.contains(&node.id())
                            {
                                let cap = embed_text(node);
                                if !cap.is_empty() && !out.captions.contains(&cap) {
                                    out.captions.push(cap);
                                }
                            }
                            skipping = Some(node.id());
                            continue;
                        }
                        if name == "li" || name == "tr" {
                            // List items and table rows: lines of one paragraph.
                            if !para.trim().is_empty() {
                                para.push('\n');
                            }
                        } else if matches!(name, "td" | "th") {
                            let line = para.rsplit('\n').next().unwrap_or("");
                            if !line.trim().is_empty() {
                                para.push_str(" | ");
                            }
                        } else if name == "br" {
                            para.push('\n');
                        } else if name == "figure"
                            || name.starts_with("amp-img")
                            || name == "picture"
                        {
                            in_figure += 1;
                        } else if name == "figcaption" {
                            caption = Some((node.id(), String::new()));
                        } else if is_block(name) {
                            flush(&mut para, &mut out.paragraphs);
                        }
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                    continue;
                }
                if skipping.is_some() {
                    continue;
                }
                if let Node::Element(el) = node.value() {
                    let name = el.name();
                    if caption.as_ref().is_some_and(|(id, _)| *id == node.id()) {
                        let cap = caption
                            .take()
                            .map(|(_, c)| clean_line(&c))
                            .unwrap_or_default();
                        if !cap.is_empty() && !out.captions.contains(&cap) {
                            out.captions.push(cap);
                        }
                    } else if name == "figure" || name.starts_with("amp-img") || name == "picture" {
                        in_figure = in_figure.saturating_sub(1);
                    } else if name == "li" || name == "tr" {
                        para.push('\n');
                    } else if is_block(name) {
                        flush(&mut para, &mut out.paragraphs);
                    }
                }
            }
        }
    }
    flush(&mut para, &mut out.paragraphs);
    out
}

/// The text an embed shows without scripts: its `title`, else the fallback markup inside it
/// (an `<iframe>`'s `<noframe>` text arrives as raw text), tags removed.
fn embed_text(node: ego_tree::NodeRef<'_, Node>) -> String {
    static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]*>").unwrap());
    let inner: String = node
        .descendants()
        .filter_map(|n| n.value().as_text().map(|t| t.to_string()))
        .collect();
    let inner = clean_line(&TAG.replace_all(&inner, " "));
    let text = if inner.is_empty() {
        node.value()
            .as_element()
            .and_then(|e| e.attr("title"))
            .map(clean_line)
            .unwrap_or_default()
    } else {
        inner
    };
    crate::text::truncate(&text, 500)
}

/// Text of an element in one line (headlines, bylines, time text).
pub(crate) fn line_of(el: ElementRef<'_>) -> String {
    let t = text_of(el, &HashSet::new());
    clean_line(&t.paragraphs.join(" "))
}

fn flush(para: &mut String, out: &mut Vec<String>) {
    if para.trim().is_empty() {
        para.clear();
        return;
    }
    let lines: Vec<String> = para
        .split('\n')
        .map(clean_line)
        .filter(|l| !l.is_empty())
        .collect();
    para.clear();
    let p = lines.join("\n");
    if !p.is_empty() {
        out.push(p);
    }
}

/// Collapse whitespace, drop CMS placeholders such as `[[ge:rep-locali:repubblica:419430007]]`.
pub(crate) fn clean_line(s: &str) -> String {
    static PLACEHOLDER: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\[\[[a-z]+:[^\]]*\]\]").unwrap());
    let s = if s.contains("[[") {
        PLACEHOLDER.replace_all(s, " ").into_owned()
    } else {
        s.to_string()
    };
    crate::text::collapse_ws(&s.replace('\u{a0}', " "))
}

/// Plain text from an HTML fragment or a text with HTML entities (JSON-LD `articleBody`
/// sometimes holds either): tags become paragraph breaks where they are blocks.
pub(crate) fn text_of_fragment(s: &str) -> Text {
    if !s.contains('<') && !s.contains('&') {
        return Text {
            paragraphs: s
                .split("\n\n")
                .map(|p| {
                    p.split('\n')
                        .map(clean_line)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .filter(|p| !p.is_empty())
                .collect(),
            captions: Vec::new(),
        };
    }
    let frag = scraper::Html::parse_fragment(&super::depth::bound(s));
    let text = text_of(frag.root_element(), &HashSet::new());
    // Markup that was HTML-escaped once more (`&lt;p&gt;`): parse the decoded text again.
    let body = text.body();
    if s.contains("&lt;") && (body.contains("</") || body.contains("<p")) {
        let again = scraper::Html::parse_fragment(&super::depth::bound(&body));
        return text_of(again.root_element(), &HashSet::new());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use scraper::Html;

    #[test]
    fn paragraphs_captions_and_chrome() {
        let html = Html::parse_fragment(
            "<div><p>One &amp; <b>two</b></p><script>x()</script><figure><img><figcaption>A cap</figcaption></figure>\
             <div class='share-bar'>Share</div><p>Three<br>four</p>[[ge:rep-locali:repubblica:1]]</div>",
        );
        let t = text_of(html.root_element(), &HashSet::new());
        assert_eq!(t.paragraphs, vec!["One & two", "Three\nfour"]);
        assert_eq!(t.captions, vec!["A cap"]);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = format!("{}text{}", "<div>".repeat(10_000), "</div>".repeat(10_000));
        let doc = Html::parse_document(&html);
        let t = text_of(doc.root_element(), &HashSet::new());
        assert!(t.body().contains("text"));
    }
}
