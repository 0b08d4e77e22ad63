//! Small text helpers shared by several stages.

/// Cut `s` to at most `max` characters, adding `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", s[..i].trim_end()),
    }
}

/// Collapse every run of whitespace into one space and trim.
pub fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
