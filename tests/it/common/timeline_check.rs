//! Scoring the events a watcher emitted over a timeline against the expected events in
//! the timeline's `manifest.json` (`tests/fixtures/timelines/README.md`).
//!
//! Events are JSON lines: an event (`kind`, `post.headline` / `post.body`), or a webhook
//! sink record whose `json` (or `body`, a JSON string) holds one. Sink records of failed
//! attempts (status not 2xx) are skipped, and events repeating an earlier event's `id`
//! count once (a receiver drops them by id). An expected event matches an emitted event
//! of the same kind whose headline equals the expected headline (when not null), or else
//! whose body contains the expected text prefix (60 characters); text is compared after
//! NFKC, quote folding, whitespace collapsing and lower-casing. Each emitted event
//! satisfies one expected event; the rest are duplicates (same kind and post as a matched
//! one) or unexpected.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde_json::Value;

use super::page_check::nfkc;
use super::read_text;

/// The result: counts and one line per expected or emitted event.
#[derive(Debug)]
pub struct Report {
    pub expected: usize,
    pub found: usize,
    pub missing: usize,
    pub unexpected: usize,
    pub duplicates: usize,
    pub lines: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.missing == 0 && self.unexpected == 0 && self.duplicates == 0
    }

    /// `expected N, found M, missing X, unexpected Y, duplicates Z`
    pub fn summary(&self) -> String {
        format!(
            "expected {}, found {}, missing {}, unexpected {}, duplicates {}",
            self.expected, self.found, self.missing, self.unexpected, self.duplicates
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

fn norm_str(t: &str) -> String {
    let folded: String = nfkc(t)
        .chars()
        .map(|c| match c {
            '’' | '‘' => '\'',
            '“' | '”' => '"',
            '\u{a0}' => ' ',
            c => c,
        })
        .collect();
    folded
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn norm(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => norm_str(s),
        Some(other) => norm_str(&other.to_string()),
    }
}

/// The event in a line: the object itself, or one held in `json`/`body` (a sink record)
/// or `event`/`data`/`payload`.
fn event_of(obj: &Value) -> Option<Value> {
    let map = obj.as_object()?;
    if map.contains_key("kind") {
        return Some(obj.clone());
    }
    for k in ["json", "body"] {
        let v = match map.get(k) {
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(v) => v,
                Err(_) => continue,
            },
            Some(v) => v.clone(),
            None => continue,
        };
        if v.is_object() {
            if let Some(ev) = event_of(&v) {
                return Some(ev);
            }
        }
    }
    ["event", "data", "payload"]
        .into_iter()
        .filter_map(|k| map.get(k).filter(|v| v.is_object()))
        .find_map(event_of)
}

/// (kind, headline, body), normalised.
fn fields(ev: &Value) -> (String, String, String) {
    let empty = serde_json::Map::new();
    let post = ev.get("post").and_then(Value::as_object).unwrap_or(&empty);
    // A key that is present wins even when null, as in the manifest's reference checker.
    let headline = post.get("headline").or_else(|| ev.get("headline"));
    let body = post
        .get("body")
        .or_else(|| post.get("text"))
        .or_else(|| ev.get("body"))
        .or_else(|| ev.get("text"));
    (norm(ev.get("kind")), norm(headline), norm(body))
}

fn matches(exp: &Value, emitted: &(String, String, String)) -> bool {
    let (kind, head, body) = emitted;
    if *kind != norm(exp.get("kind")) {
        return false;
    }
    if exp
        .get("headline")
        .and_then(Value::as_str)
        .is_some_and(|h| !h.is_empty())
    {
        return *head == norm(exp.get("headline"));
    }
    let prefix: String = norm(exp.get("text")).chars().take(60).collect();
    !prefix.is_empty() && body.contains(&prefix)
}

fn label_of(e: &Value) -> String {
    ["headline", "text"]
        .into_iter()
        .find_map(|k| e.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .map_or("None".into(), |s| format!("{s:?}"))
}

/// Score the events in `events` (JSON lines) against `manifest`; `steps` (`A:B`,
/// inclusive, 0-based, either end may be left out) limits the expected events to those
/// steps. A missing or unreadable file fails naming it.
pub fn check(manifest: &Path, events: &Path, steps: Option<&str>) -> Report {
    let man: Value = serde_json::from_str(&read_text(manifest))
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", manifest.display()));
    let all_steps = man["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no steps", manifest.display()));
    let (mut lo, mut hi) = (0, all_steps.len().saturating_sub(1));
    if let Some(s) = steps {
        let (x, y) = s
            .split_once(':')
            .unwrap_or_else(|| panic!("steps {s:?}: want A:B"));
        if !x.is_empty() {
            lo = x
                .parse()
                .unwrap_or_else(|_| panic!("steps {s:?}: want A:B"));
        }
        if !y.is_empty() {
            hi = y
                .parse()
                .unwrap_or_else(|_| panic!("steps {s:?}: want A:B"));
        }
    }
    let expected: Vec<(usize, &Value)> = all_steps
        .iter()
        .enumerate()
        .filter(|(i, _)| (lo..=hi).contains(i))
        .flat_map(|(i, st)| {
            st["expect"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |e| (i, e))
        })
        .collect();

    let mut lines = Vec::new();
    let mut emitted: Vec<(usize, (String, String, String))> = Vec::new();
    let mut seen_ids = HashSet::new();
    for (n, line) in read_text(events).lines().enumerate() {
        let ln = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(obj) = serde_json::from_str::<Value>(line) else {
            lines.push(format!("line {ln}: not JSON, ignored"));
            continue;
        };
        // A webhook sink record of a failed attempt is not a delivery.
        if obj.is_object() && obj.get("kind").is_none() {
            if let Some(st) = obj.get("status").filter(|s| !s.is_null()) {
                let code = st
                    .as_u64()
                    .or_else(|| st.as_str()?.trim().parse().ok())
                    .unwrap_or(0);
                if !(200..300).contains(&code) {
                    continue;
                }
            }
        }
        let Some(ev) = event_of(&obj) else { continue };
        // A redelivery of the same event (same id) is one event: receivers dedupe by id.
        if let Some(id) = ev.get("id").filter(|v| !v.is_null()) {
            if !seen_ids.insert(id.to_string()) {
                continue;
            }
        }
        emitted.push((ln, fields(&ev)));
    }

    let mut used = HashSet::new();
    let mut matched = HashSet::new();
    let (mut found, mut missing) = (0, 0);
    for (k, (step, e)) in expected.iter().enumerate() {
        let kind = e["kind"].as_str().unwrap_or("");
        let hit = (0..emitted.len()).find(|j| !used.contains(j) && matches(e, &emitted[*j].1));
        match hit {
            None => {
                missing += 1;
                lines.push(format!(
                    "MISSING  step {step:02} {kind:<10} {}",
                    label_of(e)
                ));
            }
            Some(j) => {
                used.insert(j);
                matched.insert(k);
                found += 1;
                lines.push(format!(
                    "ok       step {step:02} {kind:<10} {} (line {})",
                    label_of(e),
                    emitted[j].0
                ));
            }
        }
    }
    let (mut dups, mut unexpected) = (0, 0);
    for (j, (ln, fl)) in emitted.iter().enumerate() {
        if used.contains(&j) {
            continue;
        }
        let dup_of = expected
            .iter()
            .enumerate()
            .find(|(k, (_, e))| matches(e, fl) && matched.contains(k));
        let label = if fl.1.is_empty() {
            fl.2.chars().take(60).collect()
        } else {
            fl.1.clone()
        };
        if let Some((_, (step, _))) = dup_of {
            dups += 1;
            lines.push(format!(
                "DUPLICATE line {ln}: {} {label:?} (already matched for step {step:02})",
                fl.0
            ));
        } else {
            unexpected += 1;
            lines.push(format!("UNEXPECTED line {ln}: {} {label:?}", fl.0));
        }
    }
    Report {
        expected: expected.len(),
        found,
        missing,
        unexpected,
        duplicates: dups,
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(manifest: &str, events: &[&str], steps: Option<&str>) -> Report {
        let dir = tempfile::tempdir().unwrap();
        let (m, e) = (dir.path().join("manifest.json"), dir.path().join("e.jsonl"));
        std::fs::write(&m, manifest).unwrap();
        std::fs::write(&e, events.join("\n")).unwrap();
        check(&m, &e, steps)
    }

    const MANIFEST: &str = r#"{"steps": [
        {"file": "00.html", "expect": []},
        {"file": "01.html", "expect": [
            {"kind": "new", "headline": "Kyiv’s  night", "text": "ignored"},
            {"kind": "new", "headline": null, "text": "A post with no headline, only its text"}]},
        {"file": "02.html", "expect": [{"kind": "removed", "headline": "Old post", "text": "x"}]}
    ]}"#;

    #[test]
    fn events_match_by_kind_headline_or_text_prefix() {
        let r = run(
            MANIFEST,
            &[
                r#"{"id": "1", "kind": "new", "post": {"headline": "KYIV'S NIGHT", "body": "b"}}"#,
                r#"{"id": "2", "kind": "new", "post": {"headline": null, "body": "Intro. A post  with no headline, only its text and more."}}"#,
                // A failed sink attempt, then its delivery, then a redelivery by id.
                r#"{"status": 503, "json": {"id": "3", "kind": "removed", "post": {"headline": "Old post"}}}"#,
                r#"{"status": 200, "body": "{\"id\": \"3\", \"kind\": \"removed\", \"post\": {\"headline\": \"Old post\"}}"}"#,
                r#"{"status": 200, "json": {"id": "3", "kind": "removed", "post": {"headline": "Old post"}}}"#,
                "not json",
            ],
            None,
        );
        assert!(r.passed(), "{r}");
        assert_eq!((r.expected, r.found), (3, 3), "{r}");
        assert!(r.lines.iter().any(|l| l == "line 6: not JSON, ignored"));
    }

    #[test]
    fn missing_unexpected_duplicates_and_step_ranges() {
        let events = [
            r#"{"id": "1", "kind": "new", "post": {"headline": "Kyiv's night"}}"#,
            r#"{"id": "2", "kind": "new", "post": {"headline": "Kyiv's night"}}"#,
            r#"{"id": "3", "kind": "edit", "post": {"headline": "Kyiv's night"}}"#,
        ];
        let r = run(MANIFEST, &events, None);
        assert_eq!((r.missing, r.duplicates, r.unexpected), (2, 1, 1), "{r}");
        assert!(!r.passed());
        assert!(r
            .to_string()
            .ends_with("expected 3, found 1, missing 2, unexpected 1, duplicates 1"));
        let r = run(MANIFEST, &events[..1], Some("0:0"));
        assert_eq!((r.expected, r.unexpected), (0, 1), "{r}");
        let r = run(MANIFEST, &[], Some("2:"));
        assert_eq!((r.expected, r.missing), (1, 1), "{r}");
    }
}
