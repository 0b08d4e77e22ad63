//! The normalised form of a post that edits are judged on. Raw text is kept for display;
//! this form drops what changes without the newsroom changing the post: whitespace,
//! typographic quote variants, relative times, tracking parameters, counters.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::Post;

pub(crate) static RELATIVE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \b(?:updated\s+|posted\s+)?
        (?:
            (?:\d+|an?|one)\s*(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)\s+ago
          | just\s+now
          | vor\s+\d+\s*(?:sek(?:unden)?|min(?:uten)?|std|stunden?|tag(?:en)?)
          | il\s+y\s+a\s+\d+\s*(?:s|sec(?:ondes?)?|min(?:utes?)?|h|heures?|jours?)
          | hace\s+\d+\s*(?:s|seg(?:undos?)?|min(?:utos?)?|h|horas?|d[ií]as?)
          | \d+\s*(?:secondi|minuti|min|ore|ora|giorni)\s+fa
        )\b",
    )
    .expect("valid regex")
});

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"https?://[^\s"'<>)\]]+"#).expect("valid regex"));

pub(crate) static COUNTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b\d[\d,.]*\s*[km]?\s*(?:comments?|shares?|likes?|views?|reactions?|replies)\b",
    )
    .expect("valid regex")
});

/// Normalise one piece of text for comparison.
pub fn normalize_text(s: &str) -> String {
    let s = fold_chars(s);
    let s = URL.replace_all(&s, |c: &regex::Captures<'_>| strip_url_noise(&c[0]));
    let s = RELATIVE_TIME.replace_all(&s, "");
    let s = COUNTER.replace_all(&s, "");
    crate::text::collapse_ws(&s)
}

/// Typographic variants that editors' tools and CMS templates swap freely.
fn fold_chars(s: &str) -> String {
    s.chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}' | '\u{ad}'
            )
        })
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{2032}' => '\'',
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2033}' | '«' | '»' => '"',
            '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
            '\u{a0}' | '\u{2009}' | '\u{202f}' | '\u{2007}' => ' ',
            '\u{2026}' => '.',
            c => c,
        })
        .collect()
}

/// Keep scheme, host and path of a URL; drop the query (tracking parameters, embed
/// tokens, cache-busters) and the fragment.
fn strip_url_noise(u: &str) -> String {
    let end = u.find(['?', '#']).unwrap_or(u.len());
    u[..end].trim_end_matches('/').to_string()
}

/// The fingerprint of a post's meaningful content: headline, body and captions,
/// normalised. Times, ids, URLs and bylines are not part of it.
pub fn fingerprint(post: &Post) -> String {
    let mut h = blake3::Hasher::new();
    h.update(normalize_text(post.headline.as_deref().unwrap_or("")).as_bytes());
    h.update(b"\x00");
    h.update(normalize_text(&post.body).as_bytes());
    for c in &post.captions {
        h.update(b"\x00");
        h.update(normalize_text(c).as_bytes());
    }
    h.finalize().to_hex()[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_and_quotes_do_not_matter() {
        assert_eq!(
            normalize_text("He said  “no”\n\n it’s  over"),
            normalize_text("He said \"no\" it's over")
        );
    }

    #[test]
    fn relative_times_are_dropped() {
        assert_eq!(
            normalize_text("Posted 16 min ago"),
            normalize_text("Posted 17 mins ago")
        );
        assert_eq!(
            normalize_text("vor 3 Minuten aktualisiert"),
            normalize_text("vor 5 Minuten aktualisiert")
        );
        assert_eq!(
            normalize_text("Updated 2 hours ago: x"),
            normalize_text("Updated 1 hour ago: x")
        );
    }

    #[test]
    fn tracking_parameters_are_dropped() {
        assert_eq!(
            normalize_text("see https://ex.org/a?utm_source=x&token=1"),
            normalize_text("see https://ex.org/a?utm_source=y&token=2#frag")
        );
    }

    #[test]
    fn counters_are_dropped() {
        assert_eq!(
            normalize_text("Great goal 12 comments"),
            normalize_text("Great goal 1,204 comments")
        );
    }

    #[test]
    fn real_changes_still_differ() {
        assert_ne!(
            normalize_text("60-year-old woman"),
            normalize_text("61-year-old woman")
        );
        assert_ne!(normalize_text("Ukrainan"), normalize_text("Ukrainian"));
    }

    #[test]
    fn fingerprint_ignores_times_and_bylines() {
        let mut a = Post::new("1", "Body text");
        let mut b = a.clone();
        b.byline = Some("Jane".into());
        b.updated = Some(chrono::Utc::now());
        assert_eq!(fingerprint(&a), fingerprint(&b));
        a.headline = Some("New".into());
        assert_ne!(fingerprint(&a), fingerprint(&b));
        let mut c = b.clone();
        c.captions.push("A photo".into());
        assert_ne!(fingerprint(&b), fingerprint(&c));
    }
}
