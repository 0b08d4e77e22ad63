//! `livewatch config check` on the example config and on broken ones.

use crate::common;

use common::*;

#[test]
fn example_config_is_valid() {
    let out = livewatch()
        .args(["config", "check", "config/livewatch.example.toml"])
        .env("LIVEWATCH_WEBHOOK_SECRET", "s3cret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (2 watches, 3 notifiers)"));
}

#[test]
fn unknown_key_reports_line_and_column() {
    let (code, err) =
        config_check("[[watch]]\nurl = \"https://a.example/live\"\n  intreval = \"30s\"\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("FILE:3:3: "), "{err}");
    assert!(err.contains("intreval"), "{err}");
}

#[test]
fn bad_value_reports_line_and_column() {
    let (code, err) =
        config_check("[[watch]]\nurl = \"https://a.example/live\"\ninterval = \"every minute\"\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("FILE:3:12: "), "{err}");
    assert!(err.contains("invalid duration"), "{err}");
}

#[test]
fn syntax_error_reports_line_and_column() {
    let (code, err) = config_check("[[watch]]\nurl = \"https://a.example/live\nname = \"x\"\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("FILE:2:"), "{err}");
}

#[test]
fn every_semantic_error_is_reported() {
    let (code, err) = config_check(
        "[[watch]]\nurl = \"gopher://a.example/\"\n\n[[notifier]]\nname = \"n\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1/\"\nsecret = \"${NOT_SET_ANYWHERE}\"\n",
    );
    assert_eq!(code, 2, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("FILE:2:7: ") && lines[0].contains("gopher"),
        "{err}"
    );
    assert!(
        lines[1].starts_with("FILE:8:10: ") && lines[1].contains("NOT_SET_ANYWHERE"),
        "{err}"
    );
}

#[test]
fn check_with_a_config_uses_the_watch_selectors() {
    // Posts without any time or structure the automatic extractors know: only the user's
    // CSS profile finds them, and `check --config` tries it as the daemon would.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    std::fs::write(
        &page,
        "<html><body><main>\
         <section class='entry' data-key='e3'><b class='hl'>Third</b><div class='txt'>Third text.</div></section>\
         <section class='entry' data-key='e2'><b class='hl'>Second</b><div class='txt'>Second text.</div></section>\
         </main></body></html>",
    )
    .unwrap();
    let cfg = write_config(
        dir.path(),
        r#"
[[watch]]
url = "https://example.org/live"
[watch.selectors]
post = "section.entry"
headline = ".hl"
body = ".txt"
"#,
    );
    let run = |extra: &[&str]| {
        let out = livewatch()
            .arg("check")
            .arg(&page)
            .args(["--url", "https://example.org/live", "--json"])
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), output_text(&out))
    };
    let (code, text) = run(&[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no posts found"), "{text}");
    let cfg = cfg.display().to_string();
    let (code, text) = run(&["--config", &cfg]);
    assert_eq!(code, Some(0), "{text}");
    let heads: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["headline"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(heads, ["Third", "Second"], "{text}");
    assert!(text.contains("\"body\":\"Third text.\""), "{text}");
}
