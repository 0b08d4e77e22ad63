//! A bound on element nesting before the HTML parser sees a page.
//!
//! html5ever's tree builder spends time proportional to the depth of its stack of open
//! elements on every tag, so a page of nothing but nested `<div>`s costs quadratic time:
//! 30,000 deep took 2 s, 100,000 deep 24 s, and the 16 MiB body cap allows 3 million
//! (hours of one core). Real pages nest a few dozen levels, rarely more than 200.
//!
//! [`bound`] scans the markup once (tags, comments, raw-text elements such as `<script>`,
//! quoted attributes) and keeps a running depth of the elements that stay open (not void,
//! not implicitly closed like `<p>` or `<li>`; `<x/>` only closes itself inside SVG/MathML,
//! as in HTML). Start tags beyond [`MAX_DEPTH`] are dropped with their end tags; all text
//! is kept. A page within the bound is returned as it is, without a copy.

use std::borrow::Cow;

use crate::markup::find_end_tag;

/// The deepest nesting passed on to the parser.
pub const MAX_DEPTH: usize = 512;

/// Elements that never hold content.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen", "basefont", "bgsound", "frame",
];
/// Elements that the parser closes by itself when a sibling starts (often left unclosed).
const IMPLIED: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "tbody", "thead", "tfoot", "rb",
    "rt", "rp", "rtc", "colgroup", "caption",
];
/// Elements whose content is text up to their end tag.
const RAW: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
];

/// The markup with nesting deeper than [`MAX_DEPTH`] flattened (see the module docs).
pub fn bound(html: &str) -> Cow<'_, str> {
    bound_to(html, MAX_DEPTH)
}

fn bound_to(html: &str, max: usize) -> Cow<'_, str> {
    let b = html.as_bytes();
    let mut out: Option<String> = None;
    // Bytes of `html` already handled (copied to `out` or dropped).
    let mut done = 0;
    let mut depth = 0usize;
    let mut excess = 0usize;
    let mut foreign = 0usize;
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'<', &b[i..]) {
        let start = i + p;
        let rest = &b[start..];
        if rest.starts_with(b"<!--") {
            i = find(b, start + 4, b"-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            i = memchr::memchr(b'>', &b[start..]).map_or(b.len(), |e| start + e + 1);
            continue;
        }
        let closing = rest.get(1) == Some(&b'/');
        let name_at = start + 1 + usize::from(closing);
        let name_len = b[name_at..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b':')
            .count();
        if name_len == 0 || !b[name_at].is_ascii_alphabetic() {
            i = start + 1;
            continue;
        }
        // Compared without a lowercase copy: this scan runs on every parsed page.
        let name = &b[name_at..name_at + name_len];
        let Some(end) = tag_end(b, name_at + name_len) else {
            break;
        };
        let self_closing = b[end - 1] == b'/';
        let counted = !one_of(VOID, name) && !one_of(IMPLIED, name);
        let is_foreign = one_of(&["svg", "math"], name);
        let mut drop = false;
        if closing {
            if counted {
                if excess > 0 {
                    excess -= 1;
                    drop = true;
                } else {
                    depth = depth.saturating_sub(1);
                }
                if is_foreign {
                    foreign = foreign.saturating_sub(1);
                }
            }
        } else if counted && !(self_closing && foreign > 0) {
            if depth >= max {
                excess += 1;
                drop = true;
            } else {
                depth += 1;
                if is_foreign {
                    foreign += 1;
                }
            }
        }
        if drop {
            let o = out.get_or_insert_with(|| String::with_capacity(html.len()));
            o.push_str(&html[done..start]);
            done = end + 1;
        }
        i = end + 1;
        if !closing && one_of(RAW, name) {
            // Skip to the end tag; it is handled as a tag on the next round.
            i = find_end_tag(b, i, name).unwrap_or(b.len());
        }
    }
    match out {
        None => Cow::Borrowed(html),
        Some(mut o) => {
            o.push_str(&html[done..]);
            Cow::Owned(o)
        }
    }
}

/// The `>` that ends a tag whose name ends at `from`, skipping quoted attribute values
/// (a quote after `=`).
fn tag_end(b: &[u8], from: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    let mut last = b' ';
    for (k, &c) in b[from..].iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if (c == b'"' || c == b'\'') && last == b'=' => quote = Some(c),
            None if c == b'>' => return Some(from + k),
            None => {}
        }
        if !c.is_ascii_whitespace() {
            last = c;
        }
    }
    None
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(&b[from..], needle).map(|p| from + p)
}

/// Whether the tag `name` (any case) is in `list` (lowercase).
fn one_of(list: &[&str], name: &[u8]) -> bool {
    list.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_markup_is_not_copied() {
        let page = "<html><body><div class=a><p>one<p>two<ul><li>x<li>y</ul>\
                    <script>var s = '<div><div><div>';</script><br><img src=x>\
                    <svg><path d='M0'/><path/></svg><!-- <div><div> --></div></body></html>";
        assert!(matches!(bound_to(page, 4), Cow::Borrowed(_)));
    }

    #[test]
    fn deep_nesting_is_flattened_and_text_kept() {
        let deep = format!(
            "<body>{}deep text{}<p>after</p></body>",
            "<div>".repeat(50),
            "</div>".repeat(50)
        );
        let out = bound_to(&deep, 10);
        assert_eq!(out.matches("<div>").count(), 9, "{out}");
        assert_eq!(out.matches("</div>").count(), 9);
        assert!(out.contains("deep text") && out.contains("<p>after</p>"));
        // `<div/>` is not self-closing in HTML: it nests too.
        let slashed = "<div/>".repeat(50);
        assert_eq!(bound_to(&slashed, 10).matches("<div/>").count(), 10);
        // Unclosed at the end, quoted `>` in attributes.
        let odd = format!(
            "{}<a title='x>y' href=\"a>b\">t</a>",
            "<span class='a>b'>".repeat(30)
        );
        let out = bound_to(&odd, 10);
        assert_eq!(out.matches("<span").count(), 10);
        assert!(out.ends_with("t</a>") || out.contains(">t"), "{out}");
    }

    #[test]
    fn tag_names_in_any_case() {
        let page = format!(
            "<SCRIPT>{}</Script>{}<BR><P>x{}",
            "<div>".repeat(100),
            "<DiV>".repeat(30),
            "</DIV>".repeat(30)
        );
        let out = bound_to(&page, 10);
        assert_eq!(out.matches("<DiV>").count(), 10, "{out}");
        assert_eq!(out.matches("</DIV>").count(), 10);
        assert_eq!(
            out.matches("<div>").count(),
            100,
            "script content untouched"
        );
    }

    #[test]
    fn scripts_and_comments_do_not_count() {
        let page = format!(
            "<script>{}</script><style>{}</style><!--{}--><div>ok</div>",
            "<div>".repeat(100),
            "<b>".repeat(100),
            "<i>".repeat(100)
        );
        assert!(matches!(bound_to(&page, 5), Cow::Borrowed(_)));
    }
}
