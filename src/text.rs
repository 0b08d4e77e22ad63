//! Small string helpers shared by several stages (no HTML: turning markup into text is
//! [`crate::extract::html_text`]).

/// Cut `s` to at most `max` characters, adding `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", s[..i].trim_end()),
    }
}

/// `1 event`, `2 events`.
pub(crate) fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Collapse every run of whitespace into one space and trim.
pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// A page title as a short name (at most `max` characters): a title that fits is kept;
/// a longer one loses the site name after a separator (`… | Ukraine | The Guardian`,
/// `… - CNN`), then the news after a colon (`Ukraine war live: Sunak tells …`), then is
/// cut at a word.
pub(crate) fn short_title(title: &str, max: usize) -> String {
    let t = collapse_ws(title);
    if t.chars().count() <= max {
        return t;
    }
    let mut name = t.as_str();
    for sep in [" | ", " – ", " — ", " - "] {
        if let Some((head, _)) = name.split_once(sep) {
            if head.chars().count() >= 8 {
                name = head;
            }
        }
    }
    if name.chars().count() > max {
        if let Some((head, _)) = name.split_once(": ") {
            if head.chars().count() >= 8 {
                name = head;
            }
        }
    }
    if name.chars().count() <= max {
        return name.to_string();
    }
    let mut out = String::new();
    for w in name.split(' ') {
        if out.chars().count() + w.chars().count() + 1 > max.saturating_sub(1) {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    if out.is_empty() {
        return truncate(name, max.saturating_sub(1));
    }
    format!("{out}…")
}

/// Letters and digits only, lowercased: how texts are compared when matching sources.
pub(crate) fn key(s: &str) -> String {
    key_prefix(s, usize::MAX)
}

/// The first `n` characters of [`key`], without computing the rest. ASCII, the bulk of
/// most pages, takes a fast path (this ran over every post body twice per extraction).
pub(crate) fn key_prefix(s: &str, n: usize) -> String {
    let mut out = String::with_capacity(s.len().min(n.saturating_mul(4)));
    let mut count = 0;
    for c in s.chars() {
        if count >= n {
            break;
        }
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
                count += 1;
            }
        } else if c.is_alphanumeric() {
            for l in c.to_lowercase() {
                if count >= n {
                    break;
                }
                out.push(l);
                count += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_title_drops_the_site_then_the_news_then_cuts_at_a_word() {
        assert_eq!(short_title("Ukraine war", 40), "Ukraine war");
        assert_eq!(
            short_title("Russia-Ukraine war live: Sunak tells Zelenskiy UK will train pilots | Ukraine | The Guardian", 40),
            "Russia-Ukraine war live"
        );
        assert_eq!(
            short_title(
                "Coronavirus news and live updates: Death toll rises above 2,000 worldwide - CNN",
                40
            ),
            "Coronavirus news and live updates"
        );
        assert_eq!(
            short_title(
                "Democrats clash in fiery Las Vegas debate with Bloomberg as main target",
                40
            ),
            "Democrats clash in fiery Las Vegas…"
        );
        assert!(short_title(&"x".repeat(90), 40).chars().count() <= 40);
    }

    #[test]
    fn truncate_adds_ellipsis_only_when_cut() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("héllo wörld", 5), "héllo…");
    }

    #[test]
    fn collapse_ws_joins_runs() {
        assert_eq!(collapse_ws("  a \n\t b  c "), "a b c");
    }

    #[test]
    fn key_and_its_prefix_agree_with_the_plain_definition() {
        let plain = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        for s in [
            "Hello, World! 42",
            "İstanbul ÉTÉ Straße – ΣΑΣ",
            "",
            "  …  ",
            "ǅemal Ǆ",
        ] {
            assert_eq!(key(s), plain(s), "{s}");
            for n in [0, 1, 3, 7, 100] {
                let want: String = plain(s).chars().take(n).collect();
                assert_eq!(key_prefix(s, n), want, "{s} {n}");
            }
        }
    }
}
