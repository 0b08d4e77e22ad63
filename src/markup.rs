//! Byte-level HTML scanning shared by the content [fingerprint](crate::fingerprint) and
//! the lean parse of [`crate::extract`]: the tokenizer's rules for tags, attributes,
//! comments and raw text, without a DOM.
//!
//! [`prune`] gives the page without the bytes no extractor reads, for a leaner parse: the
//! content of JavaScript `<script>` elements and of `<style>` elements, cut out before html5ever
//! builds its tree (the elements stay, empty). On a typical live blog that is a quarter
//! to three quarters of the page, text the tokenizer would copy into the DOM only for
//! every extractor to skip it.
//!
//! It leaves out exactly what the content fingerprint leaves out of scripts and
//! styles, by the same tokenizer rules: JSON-LD and other data scripts, and scripts that
//! hold a state blob a profile reads ([`STATE_MARKERS`]), are kept. Where the
//! scanner would not vouch for a page (a script that may hide markup: `<!--` … `<script`)
//! nothing is cut; inside `<svg>` and `<math>`, where `<script>` and `<style>` are not raw
//! text for the parser, nothing is cut either.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use memchr::memmem;

/// Markers of the script state blobs that extractors read (`window.__APOLLO_STATE__` on
/// CNN): a script whose text holds one of them is hashed whole. Kept in step with
/// `src/extract` by a test that looks for such names there.
pub const STATE_MARKERS: &[&str] = &[
    "__APOLLO_STATE__",
    "__NEXT_DATA__",
    "__NUXT__",
    "__INITIAL_STATE__",
    "__PRELOADED_STATE__",
    "__INITIAL_DATA__",
];

/// Elements whose content is raw text (not markup) in the HTML tokenizer, and whether
/// that text counts.
pub(crate) fn raw_text(name: &[u8]) -> Option<bool> {
    match name {
        b"style" => Some(false),
        b"title" | b"textarea" | b"noscript" | b"iframe" | b"noembed" | b"noframes" | b"xmp" => {
            Some(true)
        }
        _ => None,
    }
}

/// Is `ty` (a `<script type>`, trimmed, lowercase) JavaScript?
pub(crate) fn javascript(ty: &[u8]) -> bool {
    let ty = ty.split(|&b| b == b';').next().unwrap_or(ty);
    let ty = trim(ty);
    ty.is_empty()
        || ty == b"module"
        || matches!(
            ty,
            b"text/javascript"
                | b"application/javascript"
                | b"application/x-javascript"
                | b"text/ecmascript"
                | b"application/ecmascript"
                | b"text/jscript"
                | b"text/livescript"
                | b"text/x-javascript"
                | b"text/x-ecmascript"
                | b"text/javascript1.0"
                | b"text/javascript1.1"
                | b"text/javascript1.2"
                | b"text/javascript1.3"
                | b"text/javascript1.4"
                | b"text/javascript1.5"
                | b"text/jsx"
        )
}

pub(crate) fn trim(b: &[u8]) -> &[u8] {
    let s = b.iter().position(|c| !is_ws(*c)).unwrap_or(b.len());
    let e = b.iter().rposition(|c| !is_ws(*c)).map_or(s, |e| e + 1);
    &b[s..e]
}

#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// Whether a script's text holds a state blob ([`STATE_MARKERS`]).
pub(crate) fn state_blob(content: &[u8]) -> bool {
    let finder = memmem::Finder::new(b"__");
    finder.find_iter(content).any(|p| {
        STATE_MARKERS
            .iter()
            .any(|m| content[p..].starts_with(m.as_bytes()))
    })
}

/// Past the next `>` from `at`.
pub(crate) fn skip_to_gt(b: &[u8], at: usize) -> usize {
    memchr::memchr(b'>', &b[at.min(b.len())..]).map_or(b.len(), |p| at + p + 1)
}

/// The attributes of a tag from `at` (after its name) to its `>`: (name, value) pairs.
/// Returns where the tag ends and whether it was self-closing; `None` when the body ends
/// inside the tag (the tokenizer drops it).
pub(crate) fn attributes<'a>(
    b: &'a [u8],
    mut i: usize,
    out: &mut Vec<(&'a [u8], &'a [u8])>,
) -> Option<(usize, bool)> {
    let n = b.len();
    loop {
        while i < n && (is_ws(b[i]) || b[i] == b'/') {
            if b[i] == b'/' && b.get(i + 1) == Some(&b'>') {
                return Some((i + 2, true));
            }
            i += 1;
        }
        if i >= n {
            return None;
        }
        if b[i] == b'>' {
            return Some((i + 1, false));
        }
        // Name: up to whitespace, `/`, `>` or `=` (a leading `=` belongs to the name).
        let s = i;
        i += 1;
        while i < n && !is_ws(b[i]) && b[i] != b'/' && b[i] != b'>' && b[i] != b'=' {
            i += 1;
        }
        let name = &b[s..i];
        while i < n && is_ws(b[i]) {
            i += 1;
        }
        if i < n && b[i] == b'=' {
            i += 1;
            while i < n && is_ws(b[i]) {
                i += 1;
            }
            if i >= n {
                return None;
            }
            match b[i] {
                q @ (b'"' | b'\'') => {
                    let vs = i + 1;
                    let ve = memchr::memchr(q, &b[vs..]).map(|p| vs + p)?;
                    out.push((name, &b[vs..ve]));
                    i = ve + 1;
                }
                b'>' => {
                    out.push((name, b""));
                }
                _ => {
                    let vs = i;
                    while i < n && !is_ws(b[i]) && b[i] != b'>' {
                        i += 1;
                    }
                    out.push((name, &b[vs..i]));
                }
            }
        } else {
            out.push((name, b""));
        }
    }
}

/// Where `</name` (any case, followed by whitespace, `/` or `>`) starts from `at`.
pub(crate) fn find_end_tag(b: &[u8], at: usize, name: &[u8]) -> Option<usize> {
    let mut from = at;
    while let Some(p) = memchr::memchr(b'<', &b[from..]) {
        let s = from + p;
        if b.get(s + 1) != Some(&b'/') {
            from = s + 1;
            continue;
        }
        let after = s + 2;
        let e = after + name.len();
        if e <= b.len()
            && b[after..e].eq_ignore_ascii_case(name)
            && b.get(e)
                .is_none_or(|c| is_ws(*c) || *c == b'/' || *c == b'>')
        {
            return Some(s);
        }
        from = s + 2;
    }
    None
}

/// Cut less than this, or less than two fifths of the page, and the parse saves about what
/// the scan and the copy cost (script data is cheap to tokenize): the page is parsed whole.
const WORTH: usize = 8 * 1024;

/// `text` without the content of its JavaScript and CSS elements, or `text` itself when
/// there is little to cut or the page is one the scanner cannot vouch for.
pub fn prune(text: &str) -> Cow<'_, str> {
    // A quick upper bound first: most pages have too little inline code to be worth the
    // scan.
    if !worth_len(code_bound(text.as_bytes()), text.len()) {
        return Cow::Borrowed(text);
    }
    match cuts(text.as_bytes()) {
        Some(c) if worth(&c, text.len()) => Cow::Owned(cut_out(text, &c)),
        _ => Cow::Borrowed(text),
    }
}

/// [`prune`] whatever the size of the cut (`None`: nothing may be cut): what the tests
/// compare the whole page with.
pub fn prune_all(text: &str) -> Option<String> {
    cuts(text.as_bytes()).map(|c| cut_out(text, &c))
}

fn worth(cuts: &[Range<usize>], len: usize) -> bool {
    worth_len(cuts.iter().map(Range::len).sum(), len)
}

fn worth_len(cut: usize, len: usize) -> bool {
    cut >= WORTH && cut * 5 >= len * 2
}

/// At least as many bytes as [`cuts`] can cut (lowercase `<script`…`</script` and
/// `<style`…`</style` spans; a page that writes them in capitals is simply not pruned).
fn code_bound(b: &[u8]) -> usize {
    static FINDERS: LazyLock<[(memmem::Finder<'static>, memmem::Finder<'static>); 2]> =
        LazyLock::new(|| {
            [
                (
                    memmem::Finder::new(b"<script"),
                    memmem::Finder::new(b"</script"),
                ),
                (
                    memmem::Finder::new(b"<style"),
                    memmem::Finder::new(b"</style"),
                ),
            ]
        });
    let mut total = 0;
    for (open, close) in FINDERS.iter() {
        let mut i = 0;
        while let Some(p) = open.find(&b[i..]) {
            let s = i + p;
            let Some(e) = close.find(&b[s..]) else {
                break;
            };
            total += e;
            i = s + e;
        }
    }
    total
}

fn cut_out(text: &str, cuts: &[Range<usize>]) -> String {
    let cut: usize = cuts.iter().map(Range::len).sum();
    let mut out = String::with_capacity(text.len() - cut);
    let mut at = 0;
    for r in cuts {
        // Every cut starts after a `>` and ends at a `<`: char boundaries.
        out.push_str(&text[at..r.start]);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// The byte ranges to cut, in order; `None` when nothing may be cut.
fn cuts(b: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut cuts = Vec::new();
    let mut attrs = Vec::with_capacity(16);
    // Open `<svg>` / `<math>` elements: foreign content, where the parser reads a
    // `<script>`'s content as markup.
    let mut foreign = 0usize;
    let n = b.len();
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'<', &b[i..]) {
        let lt = i + p;
        match b.get(lt + 1) {
            Some(c) if c.is_ascii_alphabetic() => {
                let name_end = name_end(b, lt + 1);
                // Only names of up to 9 letters matter here ("plaintext").
                let raw = &b[lt + 1..name_end];
                let mut low = [0u8; 9];
                let name: &[u8] = match low.get_mut(..raw.len()) {
                    Some(l) => {
                        for (d, c) in l.iter_mut().zip(raw) {
                            *d = c.to_ascii_lowercase();
                        }
                        l
                    }
                    None => b"",
                };
                attrs.clear();
                let Some((end, self_closing)) = attributes(b, name_end, &mut attrs) else {
                    break;
                };
                i = end;
                match name {
                    b"svg" | b"math" if !self_closing => foreign += 1,
                    b"plaintext" => break,
                    // In HTML content `<script/>` still starts script data (the parser
                    // ignores the slash); in foreign content it is an empty element.
                    b"script" | b"style" if foreign == 0 => {
                        let stop = find_end_tag(b, end, name).unwrap_or(n);
                        let content = &b[end..stop];
                        if name == b"script" {
                            if hides_markup(content) {
                                return None;
                            }
                            let ty = attrs
                                .iter()
                                .find(|(k, _)| k.eq_ignore_ascii_case(b"type"))
                                .map(|(_, v)| v.to_ascii_lowercase());
                            let data = ty.as_deref().is_some_and(|t| !javascript(t));
                            if !(data || state_blob(content)) && stop > end {
                                cuts.push(end..stop);
                            }
                        } else if stop > end {
                            cuts.push(end..stop);
                        }
                        i = stop;
                    }
                    other if foreign == 0 && raw_text(other).is_some() => {
                        i = find_end_tag(b, end, other).unwrap_or(n);
                    }
                    _ => {}
                }
            }
            Some(b'/') => match b.get(lt + 2) {
                Some(c) if c.is_ascii_alphabetic() => {
                    let name_end = name_end(b, lt + 2);
                    let name = &b[lt + 2..name_end];
                    if name.eq_ignore_ascii_case(b"svg") || name.eq_ignore_ascii_case(b"math") {
                        foreign = foreign.saturating_sub(1);
                    }
                    let mut scratch = Vec::new();
                    let Some((end, _)) = attributes(b, name_end, &mut scratch) else {
                        break;
                    };
                    i = end;
                }
                Some(b'>') => i = lt + 3,
                Some(_) => i = skip_to_gt(b, lt + 2),
                None => break,
            },
            Some(b'!') => i = declaration_end(b, lt + 2, foreign > 0),
            Some(b'?') => i = skip_to_gt(b, lt + 2),
            _ => i = lt + 1,
        }
    }
    Some(cuts)
}

/// Where a tag name starting at `at` ends.
pub(crate) fn name_end(b: &[u8], at: usize) -> usize {
    b[at..]
        .iter()
        .position(|&c| is_ws(c) || c == b'/' || c == b'>')
        .map_or(b.len(), |p| at + p)
}

/// `<!--` … `<script` in a script: the tokenizer's escaped states may end it later than
/// its first `</script>` (the fingerprint gives up on such a page too).
pub(crate) fn hides_markup(content: &[u8]) -> bool {
    memmem::find(content, b"<!--").is_some_and(|c| {
        content[c..]
            .windows(7)
            .any(|w| w.eq_ignore_ascii_case(b"<script"))
    })
}

/// Where a `<!…` declaration from `at` (after the `!`) ends: a comment at its `-->` or
/// `--!>`, CDATA (only in foreign content) at its `]]>`, anything else at its `>`.
fn declaration_end(b: &[u8], at: usize, foreign: bool) -> usize {
    let rest = &b[at..];
    if rest.starts_with(b"--") {
        return comment_end(b, at + 2);
    }
    if foreign && rest.starts_with(b"[CDATA[") {
        return memmem::find(rest, b"]]>").map_or(b.len(), |e| at + e + 3);
    }
    skip_to_gt(b, at)
}

/// Where a comment whose text starts at `body` (after `<!--`) ends: `<!-->` and
/// `<!--->` at once, else after the first `-->` or `--!>`.
pub(crate) fn comment_end(b: &[u8], body: usize) -> usize {
    if b[body..].starts_with(b">") {
        return body + 1;
    }
    if b[body..].starts_with(b"->") {
        return body + 2;
    }
    let end = memmem::find(&b[body..], b"-->").map_or(b.len(), |e| body + e + 3);
    let bang = memmem::find(&b[body..end.min(b.len())], b"--!>").map(|e| body + e + 4);
    bang.map_or(end, |x| x.min(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(html: &str) -> Option<String> {
        prune_all(html)
    }

    #[test]
    fn javascript_and_css_are_cut_and_their_tags_kept() {
        assert_eq!(
            cut("<head><style>p{x:1}</style><script>var a = '<b>';</script></head><p>Hi</p>")
                .unwrap(),
            "<head><style></style><script></script></head><p>Hi</p>"
        );
        assert_eq!(
            cut(r#"<script type="module" nonce=x>go()</script><SCRIPT type="text/javascript">f()</SCRIPT >"#)
                .unwrap(),
            r#"<script type="module" nonce=x></script><SCRIPT type="text/javascript"></SCRIPT >"#
        );
    }

    #[test]
    fn data_and_state_blobs_are_kept() {
        for html in [
            r#"<script type="application/ld+json">{"@type":"LiveBlogPosting"}</script>"#,
            r#"<script id="__NEXT_DATA__" type="application/json">{"props":{}}</script>"#,
            r#"<script>window.__APOLLO_STATE__="e30="</script>"#,
            r#"<script type="text/template"><div class="post">{{x}}</div></script>"#,
        ] {
            assert_eq!(cut(html).unwrap(), html);
        }
    }

    #[test]
    fn what_only_looks_like_a_script_is_left_alone() {
        for html in [
            "<!-- <script>x()</script> -->",
            "<!--> <script>x()</script>",
            "<textarea><script>x()</script></textarea>",
            "<title><style>a</style></title>",
            "<svg><script>x()</script><style>a</style></svg>",
            "<p title='<script>x()</script>'>t</p>",
            "<svg><![CDATA[ <script>x()</script> ]]></svg>",
        ] {
            let want = if html.starts_with("<!-->") {
                "<!--> <script></script>"
            } else {
                html
            };
            assert_eq!(cut(html).unwrap(), want, "{html}");
        }
        // After the foreign element ends, scripts are HTML again.
        assert_eq!(
            cut("<svg><script>a</script></svg><script>b</script>").unwrap(),
            "<svg><script>a</script></svg><script></script>"
        );
        // A bogus comment in HTML content ends at its first `>`.
        assert_eq!(
            cut("<![CDATA[ x > <script>b</script> ]]>").unwrap(),
            "<![CDATA[ x > <script></script> ]]>"
        );
    }

    #[test]
    fn a_self_closed_script_still_starts_script_data() {
        assert_eq!(
            cut(r#"<script src="a.js"/>var s = "<style>";</script><style>p{}</style><p>x</p>"#)
                .unwrap(),
            r#"<script src="a.js"/></script><style></style><p>x</p>"#
        );
    }

    #[test]
    fn an_escaped_script_cuts_nothing() {
        assert_eq!(cut("<script><!-- <script>x</script> --></script>"), None);
        let page = format!(
            "<script><!--<script>{}</script></script>",
            "x".repeat(WORTH * 2)
        );
        assert!(matches!(prune(&page), Cow::Borrowed(_)));
    }

    #[test]
    fn a_large_cut_is_made_and_a_small_one_is_not() {
        let small = "<script>x()</script><p>a</p>";
        assert!(matches!(prune(small), Cow::Borrowed(_)));
        let js = "f(1);".repeat(WORTH);
        let page = format!("<p>a</p><script>{js}</script><p>ä</p>");
        assert_eq!(prune(&page), "<p>a</p><script></script><p>ä</p>");
    }

    #[test]
    fn a_page_cut_off_inside_a_tag_ends_the_cuts() {
        assert_eq!(
            cut("<style>a</style><p title=\"x").unwrap(),
            "<style></style><p title=\"x"
        );
    }
}
