//! Scoring an extractor's posts against a fixture page's expected posts
//! (`tests/fixtures/pages/<page>.expected.jsonl`; the fields are described under
//! "Expected posts" in `tests/fixtures/pages/SOURCES.md`).
//!
//! Matching ignores case, whitespace and punctuation (letters and digits only, after
//! Unicode NFKC). An expected post with a headline matches an actual post with the same
//! headline (a leftover time prefix such as `3.51 pm:` / `12.31 Uhr:` is tolerated, and so
//! is a null headline when the body starts with it); where a headline repeats on the page
//! the first 60 letters/digits of the expected `text` must also occur in the actual
//! headline + body. Posts without a headline match on that text prefix alone; a post with
//! neither (only an embed) matches an actual post with no headline and no body text at the
//! same stated time. Each expected
//! post is paired with at most one actual post (maximum matching).
//!
//! Structured-only posts (an expected `source` other than `html`: `jsonld-only`,
//! `state-only`) are required only with [`PageCheck::include_structured_only`]; an actual
//! post matching one is never unexpected. Times (RFC 3339, any offset) agree within ±60 s;
//! the actual `published` may match `published` or any `published_alt`; a null `updated`
//! and one equal to `published` both mean "not edited"; posts whose page gives no absolute
//! time are not time-checked. Time mismatches fail only with [`PageCheck::require_times`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use regex::Regex;
use serde_json::Value;

use super::read_text;

/// How many letters/digits of an expected post's `text` must occur in the actual post.
const TEXT_KEY: usize = 60;
/// Tolerance of the time checks, in seconds.
const TOLERANCE: i64 = 60;

/// What is required besides the posts themselves.
#[derive(Clone, Copy, Debug, Default)]
pub struct PageCheck {
    /// `published`/`updated` must agree (±60 s) where the page states them.
    pub require_times: bool,
    /// The structured-only posts (JSON-LD or state blob only) are required too.
    pub include_structured_only: bool,
}

/// The result: counts, and one line per finding.
#[derive(Debug)]
pub struct Report {
    pub expected: usize,
    pub found: usize,
    pub missing: usize,
    pub duplicates: usize,
    pub unexpected: usize,
    pub time_mismatches: usize,
    /// `MISSING`, `DUPLICATE`, `UNEXPECTED`, `JSONLD-ONLY`/`STATE-ONLY` and `TIME` lines,
    /// then notes.
    pub lines: Vec<String>,
    pub require_times: bool,
}

impl Report {
    /// Nothing missing, duplicated or unexpected (and, when required, no time mismatch).
    pub fn passed(&self) -> bool {
        self.missing == 0
            && self.duplicates == 0
            && self.unexpected == 0
            && (self.time_mismatches == 0 || !self.require_times)
    }

    /// `expected N, found M, missing X, duplicates D, unexpected U, time mismatches T`
    pub fn summary(&self) -> String {
        format!(
            "expected {}, found {}, missing {}, duplicates {}, unexpected {}, time mismatches {}",
            self.expected,
            self.found,
            self.missing,
            self.duplicates,
            self.unexpected,
            self.time_mismatches
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            writeln!(f, "{l}")?;
        }
        write!(f, "{}", self.summary())
    }
}

/// Read JSON objects from a JSON-lines file or a file holding one JSON array; a missing
/// file or bad JSON fails naming the file (and line).
pub fn read_objects(path: &Path) -> Vec<Value> {
    let data = read_text(path);
    let items: Vec<Value> = if data.trim_start().starts_with('[') {
        serde_json::from_str(data.trim())
            .unwrap_or_else(|e| panic!("{}: not valid JSON: {e}", path.display()))
    } else {
        data.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}:{}: not valid JSON: {e}", path.display(), n + 1))
            })
            .collect()
    };
    for (n, it) in items.iter().enumerate() {
        assert!(
            it.is_object(),
            "{}: item {} is not a JSON object",
            path.display(),
            n + 1
        );
    }
    items
}

/// Score `actual` (post objects as `livewatch check --json` prints them: `id url headline
/// byline published updated body`) against the expected posts in `expected`.
pub fn page_check(expected: &Path, actual: &[Value], opts: PageCheck) -> Report {
    score(&read_objects(expected), actual, opts)
}

/// [`page_check`] of extracted posts.
pub fn page_check_posts<T: serde::Serialize>(
    expected: &Path,
    posts: &[T],
    opts: PageCheck,
) -> Report {
    let actual: Vec<Value> = posts
        .iter()
        .map(|p| serde_json::to_value(p).expect("a post serialises"))
        .collect();
    page_check(expected, &actual, opts)
}

/// Unicode NFKC.
pub fn nfkc(s: &str) -> String {
    icu_normalizer::ComposingNormalizerBorrowed::new_nfkc()
        .normalize(s)
        .into_owned()
}

/// The comparison key: NFKC, case-folded, letters and digits only.
fn key(v: Option<&Value>) -> String {
    let Some(s) = v.and_then(Value::as_str) else {
        return String::new();
    };
    let mut out = String::new();
    for c in nfkc(s).chars().flat_map(char::to_lowercase) {
        match c {
            // Full case folding beyond lower case, as far as it occurs in news text.
            'ß' => out.push_str("ss"),
            'ς' => out.push('σ'),
            c if c.is_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// A string field as Python's truthiness sees it: present, a string, not empty.
fn truthy<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    str_field(v, k).filter(|s| !s.is_empty())
}

static TIME_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{1,2}\d{2}(am|pm|uhr|h)?$").unwrap());

static RFC3339: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?\s*(Z|z|[+-][0-9]{2}:?[0-9]{2})$",
    )
    .unwrap()
});

/// RFC 3339 (lenient: seconds optional, `,` or `.` before fractions, space or `T`).
fn parse_time(v: Option<&Value>) -> Option<DateTime<FixedOffset>> {
    let s = v?.as_str()?.trim();
    let c = RFC3339.captures(s)?;
    let num = |i: usize| -> u32 { c.get(i).map_or(0, |m| m.as_str().parse().unwrap_or(0)) };
    let micros: u32 = c
        .get(7)
        .map_or(0, |m| format!("{:0<6.6}", m.as_str()).parse().unwrap_or(0));
    let zone = &c[8];
    let offset = if zone.eq_ignore_ascii_case("z") {
        0
    } else {
        let sign = if zone.starts_with('+') { 1 } else { -1 };
        let digits = zone[1..].replace(':', "");
        let h: i32 = digits[..2].parse().ok()?;
        let m: i32 = digits[2..].parse().ok()?;
        sign * (h * 3600 + m * 60)
    };
    let tz = FixedOffset::east_opt(offset)?;
    let date = NaiveDate::from_ymd_opt(c[1].parse().ok()?, num(2), num(3))?;
    let local = date.and_hms_micro_opt(num(4), num(5), num(6), micros)?;
    tz.from_local_datetime(&local).single()
}

fn close(a: Option<DateTime<FixedOffset>>, b: Option<DateTime<FixedOffset>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).num_milliseconds().abs() <= TOLERANCE * 1000,
        _ => false,
    }
}

/// A JSON value as a message shows it (`null` when absent).
fn shown(v: Option<&Value>) -> String {
    v.map_or("null".into(), Value::to_string)
}

/// `"headline or text or body"` (70 characters at most) and ` [id]`.
fn label(p: &Value) -> String {
    let s = ["headline", "text", "body"]
        .into_iter()
        .find_map(|k| truthy(p, k))
        .unwrap_or("");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = if s.chars().count() <= 70 {
        s
    } else {
        s.chars().take(69).chain(['…']).collect()
    };
    match truthy(p, "id") {
        Some(id) => format!("\"{s}\" [{id}]"),
        None => format!("\"{s}\""),
    }
}

struct Expected<'a> {
    d: &'a Value,
    hkey: String,
    tkey: String,
    need_text: bool,
    pinned: bool,
    source: String,
    structured_only: bool,
}

/// An actual post's keys: headline, body, both.
struct Actual<'a> {
    v: &'a Value,
    h: String,
    b: String,
    hb: String,
}

impl<'a> Expected<'a> {
    fn new(d: &'a Value, repeated: &HashSet<String>) -> Expected<'a> {
        let hkey = key(d.get("headline"));
        let tkey: String = key(d.get("text")).chars().take(TEXT_KEY).collect();
        let source = truthy(d, "source").unwrap_or("html").to_string();
        Expected {
            d,
            need_text: !hkey.is_empty() && repeated.contains(&hkey),
            hkey,
            tkey,
            pinned: d.get("pinned").is_some_and(is_true),
            structured_only: source != "html",
            source,
        }
    }

    fn headline_ok(&self, a: &Actual) -> bool {
        if a.h == self.hkey {
            return true;
        }
        if a.h.ends_with(&self.hkey) && TIME_PREFIX.is_match(&a.h[..a.h.len() - self.hkey.len()]) {
            return true;
        }
        a.h.is_empty() && a.b.starts_with(&self.hkey)
    }

    fn text_ok(&self, a: &Actual) -> bool {
        !self.tkey.is_empty() && a.hb.contains(&self.tkey)
    }

    fn matches(&self, a: &Actual) -> bool {
        if self.hkey.is_empty() && self.tkey.is_empty() {
            // A post with neither headline nor text (only an embed, e.g. a tweet): an actual
            // post without headline and body text, at the stated time.
            return a.hb.is_empty() && self.time_problems(a.v).is_empty() && self.timed();
        }
        if self.hkey.is_empty() {
            return self.text_ok(a);
        }
        if !self.headline_ok(a) {
            return false;
        }
        if self.need_text && !self.tkey.is_empty() {
            self.text_ok(a)
        } else {
            true
        }
    }

    /// Whether the page states an absolute time for this post.
    fn timed(&self) -> bool {
        self.d.get("published").is_some_and(|v| !v.is_null())
    }

    /// What disagrees in the times of the pair (empty when they agree).
    fn time_problems(&self, a: &Value) -> Vec<String> {
        let d = self.d;
        let mut wanted: Vec<&Value> = d.get("published").into_iter().collect();
        if let Some(alt) = d.get("published_alt").and_then(Value::as_array) {
            wanted.extend(alt);
        }
        let pubs: Vec<_> = wanted.iter().filter_map(|v| parse_time(Some(v))).collect();
        let updated = d.get("updated").filter(|v| !v.is_null());
        let mut out = Vec::new();
        if pubs.is_empty() && updated.is_none() {
            return out; // the page states no absolute time for this post
        }
        let (ap, au) = (parse_time(a.get("published")), parse_time(a.get("updated")));
        if !pubs.is_empty() && !pubs.iter().any(|p| close(ap, Some(*p))) {
            let want: Vec<&str> = wanted
                .iter()
                .filter_map(|v| v.as_str().filter(|s| !s.is_empty()))
                .collect();
            out.push(format!(
                "published: expected {}, got {}",
                want.join(" or "),
                shown(a.get("published"))
            ));
        }
        let eu = parse_time(updated);
        let edited = eu.is_some() && !pubs.iter().any(|p| close(eu, Some(*p)));
        let a_updated = a.get("updated").filter(|v| !v.is_null() && *v != "");
        if edited {
            if !close(au, eu) {
                out.push(format!(
                    "updated: expected {}, got {}",
                    str_field(d, "updated").unwrap_or(""),
                    shown(a.get("updated"))
                ));
            }
        } else {
            let ok = a_updated.is_none()
                || close(au, eu)
                || pubs.iter().any(|p| close(au, Some(*p)))
                || close(au, ap);
            if !ok {
                let want = truthy(d, "updated").unwrap_or("null (= published)");
                out.push(format!(
                    "updated: expected {want}, got {}",
                    shown(a.get("updated"))
                ));
            }
        }
        out
    }
}

fn is_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Kuhn's augmenting paths: expected in page order; where several actual posts fit (e.g.
/// a pinned copy reported twice), those whose times agree are tried first, then output
/// order. Returns expected index → actual index.
fn max_matching(exp: &[&Expected], act: &[Actual]) -> HashMap<usize, usize> {
    let cand: Vec<Vec<usize>> = exp
        .iter()
        .map(|e| {
            let mut c: Vec<usize> = (0..act.len()).filter(|&j| e.matches(&act[j])).collect();
            c.sort_by_key(|&j| (e.time_problems(act[j].v).len(), j));
            c
        })
        .collect();
    let mut owner: HashMap<usize, usize> = HashMap::new(); // actual -> expected
    fn try_assign(
        i: usize,
        cand: &[Vec<usize>],
        seen: &mut HashSet<usize>,
        owner: &mut HashMap<usize, usize>,
    ) -> bool {
        for &j in &cand[i] {
            if !seen.insert(j) {
                continue;
            }
            let free = match owner.get(&j) {
                None => true,
                Some(&k) => try_assign(k, cand, seen, owner),
            };
            if free {
                owner.insert(j, i);
                return true;
            }
        }
        false
    }
    for i in 0..exp.len() {
        try_assign(i, &cand, &mut HashSet::new(), &mut owner);
    }
    owner.into_iter().map(|(j, i)| (i, j)).collect()
}

/// Score `actual` against the expected post objects `expected`.
pub fn score(expected: &[Value], actual: &[Value], opts: PageCheck) -> Report {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for d in expected {
        if !d.get("pinned").is_some_and(is_true) && truthy(d, "headline").is_some() {
            *counts.entry(key(d.get("headline"))).or_default() += 1;
        }
    }
    let repeated: HashSet<String> = counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect();
    let all: Vec<Expected> = expected
        .iter()
        .map(|d| Expected::new(d, &repeated))
        .collect();
    let with_so = opts.include_structured_only;
    let (mut scope, mut pinned, mut so_only) = (Vec::new(), Vec::new(), Vec::new());
    for e in &all {
        if e.pinned {
            pinned.push(e);
        } else if with_so || !e.structured_only {
            scope.push(e);
        } else {
            so_only.push(e);
        }
    }
    let act: Vec<Actual> = actual
        .iter()
        .map(|v| {
            let (h, b) = (key(v.get("headline")), key(v.get("body")));
            Actual {
                v,
                hb: format!("{h}{b}"),
                h,
                b,
            }
        })
        .collect();
    let pairs = max_matching(&scope, &act);
    let used: HashSet<usize> = pairs.values().copied().collect();

    let mut lines = Vec::new();
    let mut missing = 0;
    for (i, e) in scope.iter().enumerate() {
        if !pairs.contains_key(&i) {
            missing += 1;
            let src = if e.structured_only {
                format!(" ({})", e.source)
            } else {
                String::new()
            };
            lines.push(format!("MISSING     {}{src}", label(e.d)));
        }
    }
    let (mut dups, mut unexpected) = (0, 0);
    for (j, a) in act.iter().enumerate() {
        if used.contains(&j) {
            continue;
        }
        let pin = pinned.iter().find(|e| e.matches(a));
        let twin = scope.iter().find(|e| e.matches(a));
        if let Some(e) = pin.or(twin) {
            dups += 1;
            let what = if pin.is_some() {
                "the pinned copy of"
            } else {
                "an already matched post"
            };
            lines.push(format!(
                "DUPLICATE   actual #{} {} repeats {what} {}",
                j + 1,
                label(a.v),
                label(e.d)
            ));
        } else if let Some(so) = so_only.iter().find(|e| e.matches(a)) {
            lines.push(format!(
                "{:<11} actual #{} {} (a {} post; not counted)",
                so.source.to_uppercase(),
                j + 1,
                label(a.v),
                so.source
            ));
        } else {
            unexpected += 1;
            lines.push(format!("UNEXPECTED  actual #{} {}", j + 1, label(a.v)));
        }
    }
    let mut tmis = 0;
    let mut sorted: Vec<(usize, usize)> = pairs.iter().map(|(i, j)| (*i, *j)).collect();
    sorted.sort();
    for (i, j) in sorted {
        for prob in scope[i].time_problems(act[j].v) {
            tmis += 1;
            lines.push(format!("TIME        {}: {prob}", label(scope[i].d)));
        }
    }
    if !opts.require_times && tmis > 0 {
        lines.push(format!(
            "note: {tmis} time mismatches not required (require_times)"
        ));
    }
    if !so_only.is_empty() {
        let kinds: std::collections::BTreeSet<&str> =
            so_only.iter().map(|e| e.source.as_str()).collect();
        lines.push(format!(
            "note: {} structured-only posts ({}) not required (include_structured_only)",
            so_only.len(),
            kinds.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    Report {
        expected: scope.len(),
        found: pairs.len(),
        missing,
        duplicates: dups,
        unexpected,
        time_mismatches: tmis,
        lines,
        require_times: opts.require_times,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(require_times: bool) -> PageCheck {
        PageCheck {
            require_times,
            include_structured_only: false,
        }
    }

    #[test]
    fn keys_ignore_case_space_punctuation_and_width() {
        assert_eq!(
            key(Some(&json!("Ｋyiv:  “Strikes”, 3.51 pm!"))),
            "kyivstrikes351pm"
        );
        assert_eq!(key(Some(&json!("Straße"))), "strasse");
        assert_eq!(key(None), "");
    }

    #[test]
    fn headline_text_prefix_time_prefix_and_repeats() {
        let exp = [
            json!({"id": "a", "headline": "Women's World Cup", "text": "England beat Colombia in the quarter final"}),
            json!({"id": "b", "headline": "Women's World Cup", "text": "Australia reach the semi finals after penalties"}),
            json!({"id": "c", "headline": null, "text": "A post without a headline that is long enough"}),
            json!({"id": "d", "headline": "Kyiv under attack"}),
        ];
        let act = [
            json!({"headline": "Women’s World Cup", "body": "Australia reach the semi-finals after penalties!"}),
            json!({"headline": "WOMEN'S WORLD CUP", "body": "England beat Colombia in the quarter-final."}),
            json!({"headline": null, "body": "A post without a headline, that is long enough."}),
            json!({"headline": "3.51 pm: Kyiv under attack", "body": "..."}),
        ];
        let r = score(&exp, &act, opts(false));
        assert!(r.passed(), "{r}");
        assert_eq!((r.expected, r.found), (4, 4), "{r}");
        // A repeated headline needs its text: a third copy with other text is unexpected.
        let mut more = act.to_vec();
        more.push(json!({"headline": "Women's World Cup", "body": "Something else entirely, not on the page at all"}));
        let r = score(&exp, &more, opts(false));
        assert_eq!((r.unexpected, r.duplicates), (1, 0), "{r}");
        assert!(!r.passed());
        // The same post twice is a duplicate; a missing one is missing.
        let r = score(&exp, &[act[0].clone(), act[0].clone()], opts(false));
        assert_eq!((r.missing, r.duplicates, r.found), (3, 1, 1), "{r}");
        assert!(r.to_string().ends_with(
            "expected 4, found 1, missing 3, duplicates 1, unexpected 0, time mismatches 0"
        ));
    }

    #[test]
    fn maximum_matching_reassigns_a_greedy_pairing() {
        // Expected 0 matches both actuals (no headline, short text key), expected 1 only
        // the first: a greedy pass would leave expected 1 missing.
        let exp = [
            json!({"headline": null, "text": "Breaking"}),
            json!({"headline": null, "text": "Breaking news from Kyiv"}),
        ];
        let act = [
            json!({"headline": null, "body": "Breaking news from Kyiv tonight"}),
            json!({"headline": null, "body": "Breaking: more"}),
        ];
        let r = score(&exp, &act, opts(false));
        assert!(r.passed(), "{r}");
    }

    #[test]
    fn pinned_and_structured_only_posts() {
        let exp = [
            json!({"headline": "Pinned summary", "pinned": true}),
            json!({"headline": "Pinned summary"}),
            json!({"headline": "Only in JSON-LD", "source": "jsonld-only"}),
        ];
        let act = [
            json!({"headline": "Pinned summary", "body": ""}),
            json!({"headline": "Pinned summary", "body": ""}),
            json!({"headline": "Only in JSON-LD", "body": ""}),
        ];
        let r = score(&exp, &act, opts(false));
        assert_eq!((r.expected, r.duplicates, r.unexpected), (1, 1, 0), "{r}");
        assert!(r.lines.iter().any(|l| l.starts_with("JSONLD-ONLY")), "{r}");
        let with = PageCheck {
            require_times: false,
            include_structured_only: true,
        };
        let r = score(&exp, &act[1..], with);
        assert!(r.passed(), "{r}");
        assert_eq!(r.expected, 2);
        let r = score(&exp, &act[..1], with);
        assert_eq!(r.missing, 1, "{r}");
    }

    #[test]
    fn times_within_a_minute_any_offset_and_alternatives() {
        let exp = [json!({
            "headline": "A", "published": "2023-05-15T10:00:00+01:00",
            "published_alt": ["2023-05-15T12:00:00Z"], "updated": null
        })];
        let ok = |p: &str, u: Value| {
            let act = [json!({"headline": "A", "body": "", "published": p, "updated": u})];
            score(&exp, &act, opts(true))
        };
        assert!(ok("2023-05-15T09:00:59Z", Value::Null).passed());
        assert!(ok("2023-05-15 12:00:30.5Z", json!("2023-05-15T12:00:30Z")).passed());
        let r = ok("2023-05-15T09:01:01Z", Value::Null);
        assert_eq!(r.time_mismatches, 1, "{r}");
        assert!(!r.passed());
        // Not edited on the page, but an actual `updated` an hour later: a mismatch.
        let r = ok("2023-05-15T09:00:00Z", json!("2023-05-15T10:00:00Z"));
        assert_eq!(r.time_mismatches, 1, "{r}");
        // Without require_times the mismatch is listed but does not fail.
        let act = [json!({"headline": "A", "body": "", "published": "2020-01-01T00:00:00Z"})];
        let r = score(&exp, &act, opts(false));
        assert!(r.passed() && r.time_mismatches == 1, "{r}");
        // An edited post needs the edit time.
        let edited = [
            json!({"headline": "A", "published": "2023-05-15T10:00:00Z", "updated": "2023-05-15T11:00:00Z"}),
        ];
        let act = [json!({"headline": "A", "published": "2023-05-15T10:00:00Z", "updated": null})];
        assert_eq!(score(&edited, &act, opts(true)).time_mismatches, 1);
        // A post whose page states no absolute time is not time-checked.
        let relative = [json!({"headline": "A", "published": null, "updated": null})];
        assert!(score(&relative, &act, opts(true)).passed());
    }
}
