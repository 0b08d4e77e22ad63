//! The content fingerprint of a page: one streaming pass over the body bytes (no DOM, no
//! decoding) that hashes what the extractors and the diff can see, with the diff's
//! normalisation, and leaves out what they cannot:
//!
//! - **in**: tag names in order (the structure the analyser and the selectors see),
//!   text with whitespace runs collapsed to one space, relative times ("3 min ago") and
//!   counters ("12 comments") dropped as [`crate::diff::normalize`] drops them, every
//!   attribute but the [`noise`](attribute_read) ones (sorted by name, so their order does
//!   not count; `href` without tracking parameters), the text of JSON-LD and other data
//!   scripts, of scripts holding a state blob a profile reads ([`STATE_MARKERS`]), of
//!   `<title>`, `<textarea>`, `<noscript>`, `<iframe>` and the like; the page URL, the
//!   `Content-Type`, the watch's strategy and [`VERSION`] (a new build or a new config
//!   never reuses an old fingerprint).
//! - **out**: comments, processing instructions, JavaScript (but for state blobs), CSS,
//!   `nonce`/`integrity`/`style`/`src`/`srcset`/event-handler attributes, `data-*`
//!   attributes no extractor reads (ad-slot refresh counters, tracking tokens), tracking
//!   and cache-buster query parameters of links.
//!
//! The rule is one-sided: equal fingerprints must mean equal posts (a page whose posts
//! changed never takes the shortcut), while a fingerprint that changed with only noise
//! merely costs a parse. So whenever the scanner is unsure — a relative time whose word
//! boundary lies across a tag, a script that may hide markup (`<!--` … `<script`), a
//! page not in an ASCII-compatible charset — it keeps the bytes, or gives no
//! fingerprint at all ([`fingerprint`] returns `None`: always parse).

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use memchr::memmem;

use crate::extract::Strategy;

pub use crate::markup::STATE_MARKERS;
use crate::markup::{
    attributes, comment_end, find_end_tag, hides_markup, is_ws, javascript, name_end, raw_text,
    skip_to_gt, state_blob,
};

/// Bumped whenever what the fingerprint covers changes, or how it is hashed (2: the
/// normalised stream by xxh3-128 and its length, no longer blake3).
pub const VERSION: u32 = 2;

/// A page's content fingerprint: xxh3-128 of the normalised stream, its length and a
/// tag. Not a cryptographic hash: equal fingerprints stand for equal content against
/// chance, not against someone who controls part of the page and wants a change of the
/// rest missed (they would have to foresee that change).
pub type Fingerprint = [u8; 32];

/// Query parameters that only track the reader or bust caches, dropped from `href`s.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "cb",
    "cachebuster",
    "cache_bust",
    "_",
];

/// What of a watch decides how its pages are read: part of every fingerprint.
pub fn watch_key(strategy: &Strategy) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(format!("livewatch {} fp{VERSION}\0", env!("CARGO_PKG_VERSION")).as_bytes());
    h.update(format!("{strategy:?}").as_bytes());
    *h.finalize().as_bytes()
}

/// The fingerprint of a page fetched from `url`, or `None` when the scanner cannot vouch
/// for it (the page must then be parsed).
pub fn fingerprint(
    key: &[u8; 32],
    strategy: &Strategy,
    url: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<Fingerprint> {
    // UTF-16 (BOM) or a charset that is not ASCII-compatible: the scanner would not see
    // the markup.
    if body.starts_with(&[0xFE, 0xFF]) || body.starts_with(&[0xFF, 0xFE]) {
        return None;
    }
    if let Some(ct) = content_type {
        let ct = ct.to_ascii_lowercase();
        if ct.contains("utf-16") || ct.contains("utf-32") || ct.contains("utf-7") {
            return None;
        }
    }
    let mut s = Scanner {
        out: Out::new(),
        all_attrs: matches!(strategy, Strategy::Css(_)),
        attrs: Vec::with_capacity(16),
        lower: Vec::with_capacity(32),
    };
    s.out.buf.extend_from_slice(key);
    s.out.buf.extend_from_slice(url.as_bytes());
    s.out.buf.push(b'\0');
    s.out
        .buf
        .extend_from_slice(content_type.unwrap_or("").as_bytes());
    s.out.buf.push(b'\0');
    s.scan(body)?;
    Some(s.out.finish())
}

/// Is the `href` query parameter `name` one that only tracks or busts caches?
fn tracking_param(name: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with(b"utm_") || TRACKING_PARAMS.iter().any(|p| p.as_bytes() == lower)
}

/// `url` without tracking and cache-buster query parameters (the fragment is kept: post
/// ids live there). Also used by the tests to compare post URLs.
pub fn strip_tracking(url: &str) -> String {
    let mut out = Vec::with_capacity(url.len());
    push_href(&mut out, url.as_bytes());
    String::from_utf8(out).unwrap_or_else(|_| url.to_string())
}

fn push_href(out: &mut Vec<u8>, v: &[u8]) {
    let Some(q) = memchr::memchr(b'?', v) else {
        out.extend_from_slice(v);
        return;
    };
    let frag = memchr::memchr(b'#', &v[q..]).map_or(v.len(), |f| q + f);
    out.extend_from_slice(&v[..q]);
    let mut first = true;
    for pair in v[q + 1..frag].split(|&b| b == b'&') {
        let name = pair.split(|&b| b == b'=').next().unwrap_or(pair);
        if pair.is_empty() || tracking_param(name) {
            continue;
        }
        out.push(if first { b'?' } else { b'&' });
        first = false;
        out.extend_from_slice(pair);
    }
    out.extend_from_slice(&v[frag..]);
}

/// Does an extractor (or the diff) read this attribute? `name` is lowercase.
pub fn attribute_read(name: &[u8], all_attrs: bool) -> bool {
    if all_attrs {
        // A user's CSS selectors may test any attribute.
        return true;
    }
    if name.len() > 2 && name.starts_with(b"on") {
        return false; // event handlers
    }
    if matches!(
        name,
        b"nonce"
            | b"integrity"
            | b"style"
            | b"src"
            | b"srcset"
            | b"sizes"
            | b"ping"
            | b"data-src"
            | b"data-srcset"
            | b"data-lazy-src"
    ) {
        return false;
    }
    let Some(rest) = name.strip_prefix(b"data-") else {
        return true;
    };
    // `data-*`: the id and time attributes the extractors read, and any name that looks
    // like a post's id, time, kind or link (conservative: when in doubt, it counts).
    const READ: &[&str] = &[
        "time",
        "date",
        "modif",
        "updat",
        "publish",
        "stamp",
        "sort",
        "component",
        "post",
        "entry",
        "live",
        "url",
        "href",
        "link",
        "title",
        "head",
        "author",
        "byline",
        "type",
        "kind",
        "role",
        "state",
        "status",
        "pin",
        "block",
        "item",
        "key",
        "card",
        "article",
        "update",
        "event",
    ];
    // One automaton for all the words (a `memmem::find` per word built a searcher each
    // time: most of the cost of a tag with `data-*` attributes).
    static WORDS: LazyLock<AhoCorasick> =
        LazyLock::new(|| AhoCorasick::new(READ).expect("literal words"));
    rest.ends_with(b"id") || WORDS.is_match(rest)
}

/// A byte that may be part of a word for the diff's `\b` (any non-ASCII byte counts).
#[inline]
fn wordish(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Could the diff's relative-time pattern match in `t`? Each of its forms needs one of
/// these words with a space on the side the pattern puts one (ASCII case ignored), so
/// the regex runs on few text nodes. The test is one-sided: a text turned away keeps all
/// its bytes (more in the fingerprint, never less), so a form this misses (one spaced by
/// a thin space, say) only costs a parse when it ticks.
fn may_be_time(t: &[u8]) -> bool {
    /// Each word, and whether the pattern needs a space before it (else after it).
    const WORDS: &[(&str, bool)] = &[
        ("ago", true),
        ("now", true),
        ("fa", true),
        ("vor", false),
        ("il", false),
        ("hace", false),
    ];
    static ANY: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(WORDS.iter().map(|w| w.0))
            .expect("literal words")
    });
    // A space for `\s`: ASCII whitespace or the last byte of a UTF-8 no-break space.
    let space = |b: Option<&u8>| b.is_some_and(|b| is_ws(*b) || *b == 0xA0);
    ANY.find_overlapping_iter(t).any(|m| {
        let (a, e) = (m.start(), m.end());
        let (word, before) = WORDS[m.pattern().as_usize()];
        if before {
            let after_ok = word != "fa" || t.get(e).is_none_or(|b| !wordish(*b));
            a > 0 && space(t.get(a - 1)) && after_ok
        } else if word == "il" {
            // `il\s+y\s+a`: not the "il " of "April 5".
            let mut j = e;
            while j < t.len() && (is_ws(t[j]) || t[j] == 0xA0 || t[j] == 0xC2) {
                j += 1;
            }
            j > e && t.get(j).is_some_and(|b| b.eq_ignore_ascii_case(&b'y'))
        } else {
            space(t.get(e)) || t.get(e) == Some(&0xC2)
        }
    })
}

/// Could the diff's counter pattern ("12 comments", "1.2k shares") match in `t`? One of
/// its words right after a number (spaces and a `k`/`m` between). One-sided as
/// [`may_be_time`].
fn may_be_counter(t: &[u8]) -> bool {
    const WORDS: &[&str] = &["comment", "share", "like", "view", "reaction", "repl"];
    static ANY: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(WORDS)
            .expect("literal words")
    });
    ANY.find_iter(t).any(|m| {
        let mut j = m.start();
        let skip_ws = |mut j: usize| {
            while j > 0 && (is_ws(t[j - 1]) || matches!(t[j - 1], 0xA0 | 0xC2)) {
                j -= 1;
            }
            j
        };
        j = skip_ws(j);
        if j > 0 && matches!(t[j - 1], b'k' | b'K' | b'm' | b'M') {
            j = skip_ws(j - 1);
        }
        j > 0 && (t[j - 1].is_ascii_digit() || matches!(t[j - 1], b',' | b'.'))
    })
}

/// What replaces a dropped relative time or counter.
const DROPPED: u8 = 0x01;

/// The normalised stream, hashed in blocks.
struct Out {
    h: xxhash_rust::xxh3::Xxh3,
    /// Bytes hashed so far.
    len: u64,
    buf: Vec<u8>,
    /// A whitespace run waits to be written as one space.
    space: bool,
    /// The last text byte written (across tags) could be part of a word.
    word: bool,
    /// A dropped match ended where a text node ended: whether its `\b` holds depends on
    /// the next text. (position of the [`DROPPED`] byte in `buf`, the bytes dropped)
    pending: Option<(usize, Vec<u8>)>,
}

impl Out {
    fn new() -> Self {
        Out {
            h: xxhash_rust::xxh3::Xxh3::new(),
            len: 0,
            buf: Vec::with_capacity(64 * 1024),
            space: false,
            word: false,
            pending: None,
        }
    }

    #[inline]
    fn maybe_flush(&mut self) {
        if self.buf.len() >= 60 * 1024 && self.pending.is_none() {
            self.hash_buf();
        }
    }

    /// Hash what is in `buf` and empty it.
    fn hash_buf(&mut self) {
        self.h.update(&self.buf);
        self.len += self.buf.len() as u64;
        self.buf.clear();
    }

    /// Settle a pending drop once the next text byte is known (`None`: the end).
    fn settle(&mut self, next_word: bool) {
        if let Some((at, raw)) = self.pending.take() {
            if next_word {
                // "3 min ago" + "x" across a tag: one word for the diff, no match.
                self.buf.splice(at..at + 1, raw);
            }
        }
    }

    /// A tag that starts a new paragraph of text: no word goes on across it.
    fn boundary(&mut self) {
        self.settle(false);
        self.word = false;
    }

    /// A structural token (tag); whitespace before it is written first.
    fn token(&mut self, t: &[u8]) {
        if self.space {
            self.buf.push(b' ');
            self.space = false;
        }
        self.buf.extend_from_slice(t);
    }

    /// Raw bytes (script data, titles), framed.
    fn raw(&mut self, t: &[u8]) {
        self.token(b"\x02");
        self.buf.extend_from_slice(&(t.len() as u64).to_le_bytes());
        if self.buf.len() + t.len() > 60 * 1024 && self.pending.is_none() {
            self.hash_buf();
            self.h.update(t);
            self.len += t.len() as u64;
        } else {
            self.buf.extend_from_slice(t);
        }
    }

    /// The text of `<title>`, `<noscript>`, `<textarea>` and the like: one text node
    /// for the parser, whitespace collapsed as the diff does; no relative times dropped.
    fn raw_text(&mut self, t: &[u8]) {
        self.token(b"\x03");
        let mut space = false;
        for &b in t {
            if is_ws(b) {
                space = true;
            } else {
                if space {
                    self.buf.push(b' ');
                    space = false;
                }
                self.buf.push(b);
            }
        }
        self.buf.push(b'\x03');
        self.maybe_flush();
    }

    /// A text node's bytes: whitespace collapsed, relative times and counters dropped.
    fn text(&mut self, t: &[u8]) {
        let Some(&first) = t.first() else {
            return;
        };
        if t.iter().any(u8::is_ascii_digit) {
            let (time, counter) = (may_be_time(t), may_be_counter(t));
            if time || counter {
                self.numbers(t, time, counter);
                return;
            }
        }
        if self.pending.is_some() {
            self.settle(!is_ws(first) && wordish(first));
        }
        // Whitespace runs to one space, the words between them copied whole.
        let mut i = 0;
        while i < t.len() {
            if is_ws(t[i]) {
                self.space = true;
                i += 1;
                continue;
            }
            let start = i;
            while i < t.len() && !is_ws(t[i]) {
                i += 1;
            }
            if self.space {
                self.buf.push(b' ');
                self.space = false;
            }
            self.buf.extend_from_slice(&t[start..i]);
        }
        self.word = !self.space && self.buf.last().is_some_and(|b| wordish(*b));
        self.maybe_flush();
    }

    /// A text node with a digit in it: relative times and counters dropped as the diff
    /// drops them, where their word boundaries are certain.
    fn numbers(&mut self, t: &[u8], time: bool, counter: bool) {
        let mut c = Vec::with_capacity(t.len());
        let mut sp = false;
        for &b in t {
            if is_ws(b) {
                sp = true;
            } else {
                if sp && !c.is_empty() {
                    c.push(b' ');
                }
                sp = false;
                c.push(b);
            }
        }
        let trailing = sp;
        if is_ws(t[0]) {
            self.space = true;
        }
        if self.pending.is_some() {
            self.settle(!self.space && wordish(c[0]));
        }
        if self.space {
            self.buf.push(b' ');
            self.space = false;
            self.word = false;
        }
        let before_word = self.word;
        let base = self.buf.len();
        match std::str::from_utf8(&c) {
            Ok(s) => {
                let (s1, p1) = if time {
                    drop_matches(s, &RELATIVE, before_word, trailing)
                } else {
                    (s.to_string(), None)
                };
                let (s2, p2) = if counter {
                    drop_matches(&s1, &COUNTER, before_word, trailing)
                } else {
                    (s1, None)
                };
                self.buf.extend_from_slice(s2.as_bytes());
                if let Some(raw) = p2.or(p1) {
                    if s2.as_bytes().last() == Some(&DROPPED) {
                        self.pending = Some((base + s2.len() - 1, raw));
                    }
                }
            }
            Err(_) => self.buf.extend_from_slice(&c),
        }
        self.space = trailing;
        self.word = !trailing
            && self
                .buf
                .last()
                .is_some_and(|b| wordish(*b) || *b == DROPPED);
        self.maybe_flush();
    }

    fn finish(mut self) -> Fingerprint {
        self.settle(false);
        self.hash_buf();
        let mut fp = [0u8; 32];
        fp[..16].copy_from_slice(&self.h.digest128().to_le_bytes());
        fp[16..24].copy_from_slice(&self.len.to_le_bytes());
        fp[24..].copy_from_slice(b"lw-fp-x3");
        fp
    }
}

use crate::diff::normalize::{COUNTER, RELATIVE_TIME as RELATIVE};

/// `s` with each match of `re` whose word boundaries are certain replaced by
/// [`DROPPED`]; and the bytes of a match that ends `s` (when no whitespace follows it in
/// the text node), whose boundary the next text decides.
fn drop_matches(
    s: &str,
    re: &regex::Regex,
    before_word: bool,
    trailing: bool,
) -> (String, Option<Vec<u8>>) {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut pending = None;
    let boundary = |p: u8| !wordish(p) && p != DROPPED;
    for m in re.find_iter(s) {
        let (a, e) = (m.start(), m.end());
        let before = if a == 0 {
            !before_word
        } else {
            boundary(bytes[a - 1])
        };
        let after = e == bytes.len() || boundary(bytes[e]);
        if !(before && after) {
            continue;
        }
        out.push_str(&s[last..a]);
        out.push(DROPPED as char);
        if e == bytes.len() && !trailing {
            pending = Some(bytes[a..e].to_vec());
        }
        last = e;
    }
    out.push_str(&s[last..]);
    (out, pending)
}

struct Scanner<'a> {
    out: Out,
    all_attrs: bool,
    attrs: Vec<(&'a [u8], &'a [u8])>,
    /// An attribute name in lowercase (reused from tag to tag).
    lower: Vec<u8>,
}

/// Where a start tag ended, and its name when it changes how what follows is read.
struct Tag {
    end: usize,
    name: Option<&'static [u8]>,
    self_closing: bool,
}

impl<'a> Scanner<'a> {
    fn scan(&mut self, b: &'a [u8]) -> Option<()> {
        let mut i = 0;
        let n = b.len();
        while i < n {
            let Some(lt) = memchr::memchr(b'<', &b[i..]).map(|p| i + p) else {
                self.out.text(&b[i..]);
                break;
            };
            if lt > i {
                self.out.text(&b[i..lt]);
            }
            let rest = &b[lt + 1..];
            match rest.first() {
                Some(c) if c.is_ascii_alphabetic() => {
                    let tag = self.start_tag(b, lt + 1)?;
                    i = tag.end;
                    if tag.self_closing {
                        continue;
                    }
                    let Some(name) = tag.name else {
                        continue;
                    };
                    if name == b"script" {
                        i = self.script(b, i)?;
                    } else if name == b"plaintext" {
                        self.out.raw(&b[i..]);
                        return Some(());
                    } else if let Some(counts) = raw_text(name) {
                        let end = find_end_tag(b, i, name).unwrap_or(n);
                        if counts {
                            self.out.raw_text(&b[i..end]);
                        }
                        i = end;
                    }
                }
                Some(b'/') => match rest.get(1) {
                    Some(c) if c.is_ascii_alphabetic() => {
                        i = self.end_tag(b, lt + 2)?;
                    }
                    Some(b'>') => i = lt + 3,
                    // `</ …>` and `</1>`: a bogus comment, to the next `>`.
                    Some(_) => i = skip_to_gt(b, lt + 2),
                    None => {
                        self.out.text(b"</");
                        i = n;
                    }
                },
                Some(b'!') => i = self.markup_declaration(b, lt + 2),
                Some(b'?') => i = skip_to_gt(b, lt + 2),
                _ => {
                    self.out.text(b"<");
                    i = lt + 1;
                }
            }
        }
        Some(())
    }

    /// `<!--…-->` (skipped), `<![CDATA[…]]>` (kept: text in SVG/MathML), a doctype
    /// (kept: it decides the parser's mode), other bogus comments (skipped).
    fn markup_declaration(&mut self, b: &'a [u8], at: usize) -> usize {
        let rest = &b[at..];
        if rest.starts_with(b"--") {
            return comment_end(b, at + 2);
        }
        if rest.starts_with(b"[CDATA[") {
            let body = at + 7;
            let end = memmem::find(&b[body..], b"]]>").map_or(b.len(), |e| body + e);
            self.out.raw(&b[body..end]);
            return (end + 3).min(b.len());
        }
        let end = skip_to_gt(b, at);
        if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"doctype") {
            self.out.raw(&b[at..end]);
        }
        end
    }

    /// A start tag at `at` (its name's first letter): tag token with the attributes
    /// read, sorted by name. `None` at a tag cut off by the end of the body.
    fn start_tag(&mut self, b: &'a [u8], at: usize) -> Option<Tag> {
        let i = name_end(b, at);
        let raw_name = &b[at..i];
        self.attrs.clear();
        let (end, self_closing) = attributes(b, i, &mut self.attrs)?;
        let out = &mut self.out;
        out.token(b"<");
        let name_at = out.buf.len();
        out.buf.extend(raw_name.iter().map(u8::to_ascii_lowercase));
        let special = known_name(&out.buf[name_at..]);
        let block = breaks_words(&out.buf[name_at..]);
        if block {
            out.boundary();
        }
        // A stylesheet, icon or preload `<link>`: its `href` is an asset URL (with a
        // cache-buster), not something an extractor follows.
        let asset_link = &out.buf[name_at..] == b"link"
            && self
                .attrs
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(b"rel") && asset_rel(&v.to_ascii_lowercase()));
        // Sorted by name (stable: the first of duplicates wins, as in the parser).
        self.attrs.sort_by(|x, y| cmp_lower(x.0, y.0));
        let mut prev: Option<&[u8]> = None;
        let lk = &mut self.lower;
        for &(k, v) in &self.attrs {
            if prev.is_some_and(|p| p.eq_ignore_ascii_case(k)) {
                continue;
            }
            prev = Some(k);
            lk.clear();
            lk.extend(k.iter().map(u8::to_ascii_lowercase));
            if !attribute_read(lk, self.all_attrs)
                || (asset_link && *lk == b"href" && !self.all_attrs)
            {
                continue;
            }
            out.buf.push(b' ');
            out.buf.extend_from_slice(lk);
            out.buf.push(b'=');
            let len_at = out.buf.len();
            out.buf.extend_from_slice(&[0; 4]);
            if *lk == b"href" {
                push_href(&mut out.buf, v);
            } else {
                out.buf.extend_from_slice(v);
            }
            let len = (out.buf.len() - len_at - 4) as u32;
            out.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
        }
        out.buf.push(if self_closing { b'/' } else { b'>' });
        out.maybe_flush();
        Some(Tag {
            end,
            name: special,
            // `<script/>` and `<title/>` still open raw text in HTML.
            self_closing: self_closing && special.is_none(),
        })
    }

    fn end_tag(&mut self, b: &'a [u8], at: usize) -> Option<usize> {
        let i = name_end(b, at);
        let name = &b[at..i];
        let mut scratch = Vec::new();
        let (end, _) = attributes(b, i, &mut scratch)?;
        self.out.token(b"</");
        let name_at = self.out.buf.len();
        self.out.buf.extend(name.iter().map(u8::to_ascii_lowercase));
        if breaks_words(&self.out.buf[name_at..]) {
            self.out.boundary();
        }
        self.out.buf.push(b'>');
        Some(end)
    }

    /// A `<script>`'s content from `at`: hashed when it is data (JSON-LD, JSON) or holds
    /// a state blob, skipped when it is other JavaScript. Returns where its end tag starts.
    fn script(&mut self, b: &'a [u8], at: usize) -> Option<usize> {
        let ty = self
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(b"type"))
            .map(|(_, v)| v.to_ascii_lowercase());
        let end = find_end_tag(b, at, b"script").unwrap_or(b.len());
        let content = &b[at..end];
        // `<!--` … `<script` in a script: the tokenizer's escaped states may end the
        // script later than the first `</script>`; don't guess.
        if hides_markup(content) {
            return None;
        }
        let data = ty.as_deref().is_some_and(|t| !javascript(t));
        if data || state_blob(content) {
            self.out.raw(content);
        }
        Some(end)
    }
}

/// The lowercase names that change how the scanner reads what follows.
fn known_name(lower: &[u8]) -> Option<&'static [u8]> {
    const NAMES: &[&[u8]] = &[
        b"script",
        b"style",
        b"title",
        b"textarea",
        b"noscript",
        b"iframe",
        b"noembed",
        b"noframes",
        b"xmp",
        b"plaintext",
    ];
    NAMES.iter().find(|n| **n == lower).copied()
}

/// A `<link rel>` naming only assets.
fn asset_rel(rel: &[u8]) -> bool {
    const ASSETS: &[&[u8]] = &[
        b"stylesheet",
        b"preload",
        b"prefetch",
        b"preconnect",
        b"dns-prefetch",
        b"modulepreload",
        b"icon",
        b"apple-touch-icon",
        b"manifest",
        b"mask-icon",
    ];
    let mut words = rel
        .split(|b| is_ws(*b))
        .filter(|w| !w.is_empty())
        .peekable();
    words.peek().is_some() && words.all(|w| ASSETS.contains(&w))
}

/// Tags the extractors' text walk turns into paragraph or line breaks.
fn breaks_words(lower: &[u8]) -> bool {
    std::str::from_utf8(lower).is_ok_and(|n| {
        crate::extract::html_text::is_block(n) || matches!(n, "br" | "li" | "td" | "th" | "body")
    })
}

fn cmp_lower(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.iter()
        .map(u8::to_ascii_lowercase)
        .cmp(b.iter().map(u8::to_ascii_lowercase))
}

#[cfg(test)]
mod tests;
