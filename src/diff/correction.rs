//! Which paragraphs are explicit corrections. One table, easy to extend: a paragraph is a
//! correction note when it *starts* with one of these patterns (after quotes, brackets and
//! emphasis markers). A post *about* a market correction does not start a paragraph with
//! "Correction:", so it is not one.

use std::sync::LazyLock;

use regex::Regex;

/// `(language, pattern)`: each pattern is anchored at the start of a paragraph and is
/// case-insensitive.
pub(crate) const CORRECTION_RULES: &[(&str, &str)] = &[
    ("en", r"corrections?\s*[:\-–—]"),
    ("en", r"clarifications?\s*[:\-–—]"),
    ("en", r"editor'?s\s+note\s*[:\-–—]"),
    (
        "en",
        r"update(?:d)?\s*[:\-–—]\s*(?:this|an earlier)\s+(?:post|version|article|story)\s+(?:has been|was)\s+(?:updated|amended|corrected)",
    ),
    (
        "en",
        r"an\s+earlier\s+version\s+of\s+this\s+(?:post|article|story|entry|update|report)",
    ),
    (
        "en",
        r"this\s+(?:post|article|story|entry|update)\s+(?:has\s+been|was)\s+(?:updated|amended|changed|edited)\s+to\s+(?:correct|clarify|reflect)",
    ),
    (
        "en",
        r"this\s+(?:post|article|story|entry|update)\s+(?:has\s+been|was)\s+corrected",
    ),
    (
        "en",
        r"we\s+(?:have\s+)?(?:corrected|amended)\s+(?:this|an\s+earlier)",
    ),
    ("de", r"korrektur\s*[:\-–—]"),
    ("de", r"richtigstellung\s*[:\-–—]"),
    ("de", r"anmerkung\s+der\s+redaktion\s*[:\-–—]"),
    (
        "de",
        r"in\s+einer\s+früheren\s+version\s+(?:dieses|des)\s+(?:beitrags|artikels|eintrags)",
    ),
    ("fr", r"correctif\s*[:\-–—]"),
    ("fr", r"rectificatif\s*[:\-–—]"),
    ("fr", r"correction\s*[:\-–—]"),
    ("fr", r"note\s+de\s+la\s+rédaction\s*[:\-–—]"),
    (
        "fr",
        r"une\s+version\s+précédente\s+de\s+(?:ce|cet)\s+(?:article|billet|post)",
    ),
    ("es", r"corrección\s*[:\-–—]"),
    ("es", r"fe\s+de\s+erratas\s*[:\-–—]"),
    ("es", r"nota\s+del\s+editor\s*[:\-–—]"),
    ("es", r"aclaración\s*[:\-–—]"),
    (
        "es",
        r"una\s+versión\s+anterior\s+de\s+(?:esta|este)\s+(?:nota|artículo|entrada|publicación)",
    ),
    ("it", r"correzione\s*[:\-–—]"),
    ("it", r"rettifica\s*[:\-–—]"),
    ("it", r"nota\s+della\s+redazione\s*[:\-–—]"),
    (
        "it",
        r"una\s+versione\s+precedente\s+di\s+questo\s+(?:articolo|post)",
    ),
];

fn alternatives() -> String {
    CORRECTION_RULES
        .iter()
        .map(|(_, p)| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|")
}

/// A rule at the start of a paragraph.
static RULES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?i)^[\s"'“”‘’«»\(\[\*_]*(?:{})"#,
        alternatives()
    ))
    .expect("valid correction rules")
});

/// A rule at the start of a sentence inside a paragraph (some sites, and JSON-LD
/// bodies, run all paragraphs together).
static IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?i)[.!?]["'”’»)]*\s+[\("'“«\[\*_]*((?:{}).*)"#,
        alternatives()
    ))
    .expect("valid correction rules")
});

/// Is this paragraph an explicit correction note?
pub(crate) fn is_correction_note(paragraph: &str) -> bool {
    RULES.is_match(paragraph)
}

/// The correction notes of a text (one per paragraph or line that starts with a rule,
/// or from a sentence that starts with one to the end of its paragraph), normalised for
/// comparison.
pub(crate) fn correction_notes(text: &str) -> Vec<String> {
    let mut notes = Vec::new();
    for p in text.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
        if is_correction_note(p) {
            notes.push(super::normalize::normalize_text(p));
        } else if let Some(c) = IN_TEXT.captures(p) {
            notes.push(super::normalize::normalize_text(&c[1]));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_notes() {
        for p in [
            "Correction: An earlier version of this post said the package consisted of drones only.",
            "CORRECTION - the figure was 12, not 21.",
            "Clarification: the minister spoke on Monday.",
            "Editor's note: this post has been updated.",
            "An earlier version of this post misstated the date.",
            "This post has been updated to correct the spelling of a name.",
            "“Correction: wrong town”",
            "*Correction:* typo",
        ] {
            assert!(is_correction_note(p), "{p}");
        }
    }

    #[test]
    fn other_languages() {
        for p in [
            "Korrektur: In einer früheren Version hieß es …",
            "Correctif : une version précédente de cet article indiquait …",
            "Corrección: una versión anterior de esta nota decía …",
            "Correzione: una versione precedente di questo articolo …",
            "Rettifica: il numero corretto è 12.",
            "Richtigstellung: Der Minister sprach am Montag.",
        ] {
            assert!(is_correction_note(p), "{p}");
        }
    }

    #[test]
    fn market_correction_is_not_a_correction() {
        for p in [
            "'Correction is looking much more probable,' says strategist",
            "3:37 pm: 'Correction is looking much more probable' as stocks fall",
            "Stocks enter correction territory after a 10% fall",
            "The market correction deepened on Thursday.",
            "Police made a correction to their earlier figures, saying 12 people were hurt.",
        ] {
            assert!(!is_correction_note(p), "{p}");
        }
    }

    #[test]
    fn notes_are_found_per_paragraph() {
        let t = "First paragraph.\n\nCorrection: it was Tuesday.\n\nLast.";
        assert_eq!(
            correction_notes(t),
            vec!["Correction: it was Tuesday.".to_string()]
        );
        assert!(correction_notes("A market correction is coming.").is_empty());
        assert_eq!(
            correction_notes("He spoke. Correction: it was Tuesday."),
            vec!["Correction: it was Tuesday.".to_string()]
        );
        assert!(correction_notes(
            "Stocks fell. 'Correction is looking much more probable,' he said."
        )
        .is_empty());
    }
}
