//! Config errors as people read them: `FILE:LINE:COL: message`, in their words rather than
//! serde's.

use std::fmt;

/// One config error, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // About the file as a whole (it cannot be read): no position to point at.
            return write!(f, "{}: {}", self.file, self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// A problem validation found: the span of the value it is about (a byte range of the
/// file, or whatever marks the caller gave the values of a config built in code) and
/// what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub span: std::ops::Range<usize>,
    pub message: String,
    /// For an error inside a template: its line in the template (1-based).
    pub(super) template_line: Option<usize>,
}

impl Issue {
    /// Where in `src` (the text of `file`) this is.
    pub(super) fn at(self, src: &str, file: &str) -> ConfigError {
        let span = self.span;
        let (l0, c0) = line_col(src, span.start);
        let (line, col, message) = match self.template_line {
            None => (l0, c0, self.message),
            Some(l) => {
                let raw = &src[span.start.min(src.len())..];
                // A multi-line string's first newline is not part of the value.
                let skip = usize::from(
                    (raw.starts_with("\"\"\"") || raw.starts_with("'''"))
                        && (raw[3..].starts_with('\n') || raw[3..].starts_with("\r\n")),
                );
                let multi_line = src.get(span.clone()).is_some_and(|v| v.contains('\n'));
                if multi_line && (l > 1 || skip == 1) {
                    (l0 + l - 1 + skip, 1, self.message)
                } else if l > 1 {
                    // A one-line string (perhaps with \n escapes): point at it, name the line.
                    (
                        l0,
                        c0,
                        format!("{} (line {l} of the template)", self.message),
                    )
                } else {
                    (l0, c0, self.message)
                }
            }
        };
        ConfigError {
            file: file.to_string(),
            line,
            col,
            message,
        }
    }
}

/// All errors found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// serde's wording (`invalid type: string "2", expected usize`) as people read it.
fn human_toml_error(message: &str) -> String {
    let m = message.trim();
    let Some(rest) = m.strip_prefix("invalid type: ") else {
        return m
            .replace("missing field", "missing key")
            .replace("unknown field", "unknown key");
    };
    let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
    let expected = match expected {
        "usize" | "u8" | "u16" | "u32" | "u64" | "i64" | "i32" => "a whole number, like 3",
        "a boolean" => "true or false",
        "a string" => "a string in quotes",
        "a sequence" => "a list, like [\"a\", \"b\"]",
        e if e.starts_with("struct") || e == "a map" => "a table",
        e => e,
    };
    let found = if let Some(n) = found.strip_prefix("integer ") {
        format!("the number {}", n.trim_matches('`'))
    } else if let Some(n) = found.strip_prefix("floating point ") {
        format!("the number {}", n.trim_matches('`'))
    } else if let Some(b) = found.strip_prefix("boolean ") {
        b.trim_matches('`').to_string()
    } else if let Some(t) = found.strip_prefix("string ") {
        format!("the string {t}")
    } else {
        match found {
            "sequence" => "a list".to_string(),
            "map" => "a table".to_string(),
            f => f.to_string(),
        }
    };
    if expected.is_empty() {
        return format!("wrong type: {found}");
    }
    format!("expected {expected}, found {found}")
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = src[line_start..offset].chars().count() + 1;
    (line, col)
}

/// TOML syntax and type errors, each at its line and column, in order, once.
pub(super) fn toml_errors(src: &str, file: &str, errors: &[toml::de::Error]) -> ConfigErrors {
    let mut v: Vec<ConfigError> = errors
        .iter()
        .map(|e| {
            let (line, col) = e.span().map(|s| line_col(src, s.start)).unwrap_or((1, 1));
            ConfigError {
                file: file.to_string(),
                line,
                col,
                message: human_toml_error(e.message()),
            }
        })
        .collect();
    v.sort_by_key(|e| (e.line, e.col));
    v.dedup();
    ConfigErrors(v)
}
