//! `livewatch config check` on the example config and on broken ones.

mod common;

use common::*;

fn config_check(body: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(dir.path(), body);
    let out = livewatch()
        .args(["config", "check"])
        .arg(&p)
        .env("LIVEWATCH_WEBHOOK_SECRET", "s3cret")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).replace(&p.display().to_string(), "FILE");
    (out.status.code().unwrap_or(-1), text)
}

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
