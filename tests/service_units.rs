//! The shipped systemd units pass `systemd-analyze verify` and the hardening bar, checked
//! offline by the shared `check-unit` tool (systemd-analyze; .ci/run installs systemd).

mod common;

use std::process::Command;

fn check_unit(args: &[&str]) -> String {
    let out = Command::new(common::tool("check-unit"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("check-unit runs (python3 and systemd-analyze installed)");
    let text = common::output_text(&out);
    assert!(out.status.success(), "check-unit {args:?} failed:\n{text}");
    text
}

#[test]
fn system_unit_verifies_and_is_hardened() {
    let text = check_unit(&["--max-exposure", "1.5", "systemd/livewatch.service"]);
    assert!(text.contains("verify: PASS"), "{text}");
    assert!(text.contains("<= max 1.5 PASS"), "{text}");
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/livewatch.service"),
    )
    .unwrap();
    for line in [
        "Type=notify",
        "DynamicUser=yes",
        "StateDirectory=livewatch",
        "ConfigurationDirectory=livewatch",
        "ProtectSystem=strict",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "ExecStart=/usr/local/bin/livewatch run",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
    assert!(unit.lines().any(|l| l.starts_with("WatchdogSec=")));
}

#[test]
fn user_unit_verifies() {
    let text = check_unit(&["--user", "systemd/livewatch-user.service"]);
    assert!(text.contains("verify: PASS"), "{text}");
    assert!(text.contains("result: PASS"), "{text}");
}
