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
pub(super) fn line_col(src: &str, offset: usize) -> (usize, usize) {
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
