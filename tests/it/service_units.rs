//! The shipped systemd units pass `systemd-analyze verify` and the hardening bar, checked
//! offline (no systemd as PID 1 needed) by [`check_unit`]: `systemd-analyze verify` on a
//! copy of the unit, failing on any message (systemd only warns about, and ignores, typos
//! such as `RestartSecs=`), then `systemd-analyze security --offline=true` with an
//! exposure threshold. `systemd-analyze` is in Debian's `systemd` package.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;
use crate::common::require_program;

/// What [`check_unit`] found.
struct UnitReport {
    passed: bool,
    /// `== verify: PASS|FAIL …`, the messages, `== security NAME: exposure …`, the
    /// settings that add exposure, `== result: PASS|FAIL`.
    text: String,
}

/// `Exec*=` lines whose program is missing here get an executable stub, so that a unit
/// can be verified before the daemon is installed; returns the copy's text and notes.
fn stub_missing_programs(unit: &str, stubdir: &Path) -> (String, Vec<String>) {
    let exec = regex::Regex::new(
        r"^(\s*Exec(?:Start|StartPre|StartPost|Reload|Stop|StopPost|Condition)\s*=\s*)([-@:+!]*)(\S+)(.*)$",
    )
    .unwrap();
    let mut notes = Vec::new();
    let mut out = String::new();
    for line in unit.lines() {
        let stubbed = exec.captures(line).and_then(|c| {
            let prog = &c[3];
            if !prog.starts_with('/') || common::is_executable(Path::new(prog)) {
                return None;
            }
            let fake = stubdir.join(prog.trim_start_matches('/'));
            std::fs::create_dir_all(fake.parent().unwrap()).unwrap();
            std::fs::write(&fake, "#!/bin/sh\nexit 0\n").unwrap();
            std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            notes.push(format!(
                "note: {prog} does not exist here; stubbed for verify"
            ));
            Some(format!("{}{}{}{}", &c[1], &c[2], fake.display(), &c[4]))
        });
        out.push_str(stubbed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    (out, notes)
}

/// Verify `unit` (a path relative to the crate root) as a system or `user` unit and, for
/// a service, score its exposure (0 best … 10 worst), failing above `max_exposure`.
fn check_unit(unit: &str, user: bool, max_exposure: Option<f64>) -> UnitReport {
    let analyze = require_program("systemd-analyze", "systemd", "the unit check");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(unit);
    let tmp = tempfile::tempdir().unwrap();
    let (workdir, stubdir) = (tmp.path().join("units"), tmp.path().join("stub"));
    std::fs::create_dir_all(&workdir).unwrap();
    let name = src.file_name().unwrap().to_string_lossy().into_owned();
    let copy: PathBuf = workdir.join(&name);
    let (text, notes) = stub_missing_programs(&common::read_text(&src), &stubdir);
    std::fs::write(&copy, text).unwrap();

    let scope = if user { "--user" } else { "--system" };
    let run = |args: &[&str]| {
        let mut c = Command::new(&analyze);
        c.arg(scope)
            .args(args)
            .arg(&copy)
            .env("SYSTEMD_PAGER", "")
            .env("SYSTEMD_COLORS", "0")
            .env("LC_ALL", "C.UTF-8");
        if user {
            // The user manager wants a runtime folder even offline.
            let rd = tmp.path().join("xdg-runtime");
            std::fs::create_dir_all(&rd).unwrap();
            std::fs::set_permissions(&rd, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .unwrap();
            c.env("XDG_RUNTIME_DIR", rd);
        }
        let out = c.output().expect("systemd-analyze runs");
        let text = common::output_text(&out)
            .replace(&*copy.to_string_lossy(), unit)
            .replace(&*stubdir.to_string_lossy(), "<stub>");
        (out.status.code(), text)
    };
    let mut report = Vec::new();
    report.extend(notes.iter().map(|n| format!("{name}: {n}")));
    let (code, text) = run(&[
        "verify",
        "--man=no",
        "--generators=no",
        "--recursive-errors=one",
    ]);
    let msgs: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let verify_ok = code == Some(0) && msgs.is_empty();
    report.push(format!(
        "== verify: {} (systemd-analyze exit {code:?}, {} message(s))",
        if verify_ok { "PASS" } else { "FAIL" },
        msgs.len()
    ));
    report.extend(msgs.iter().map(|m| format!("   {m}")));
    let mut passed = verify_ok;

    if name.ends_with(".service") {
        let (code, text) = run(&["security", "--offline=true", "--no-pager"]);
        let score = regex::Regex::new(r"Overall exposure level for (\S+): ([0-9.]+) (\S+)")
            .unwrap()
            .captures(&text)
            .map(|c| (c[2].parse::<f64>().unwrap_or(f64::MAX), c[3].to_string()));
        match score {
            None => {
                passed = false;
                report.push(format!("== security {name}: ERROR (exit {code:?})\n{text}"));
            }
            Some((score, rating)) => {
                let verdict = match max_exposure {
                    Some(max) if score > max => {
                        passed = false;
                        format!(" > max {max} FAIL")
                    }
                    Some(max) => format!(" <= max {max} PASS"),
                    None => String::new(),
                };
                report.push(format!(
                    "== security {name}: exposure {score} {rating}{verdict}"
                ));
                report.extend(
                    text.lines().filter(|l| l.starts_with('✗')).map(|l| {
                        format!("   {}", l.split_whitespace().collect::<Vec<_>>().join(" "))
                    }),
                );
            }
        }
    } else {
        report.push(format!(
            "== security {name}: skipped (only .service units are scored)"
        ));
    }
    report.push(format!(
        "== result: {}",
        if passed { "PASS" } else { "FAIL" }
    ));
    UnitReport {
        passed,
        text: report.join("\n"),
    }
}

fn check_ok(unit: &str, user: bool, max_exposure: Option<f64>) -> String {
    let r = check_unit(unit, user, max_exposure);
    assert!(r.passed, "unit check of {unit} failed:\n{}", r.text);
    r.text
}

#[test]
fn system_unit_verifies_and_is_hardened() {
    let text = check_ok("systemd/livewatch.service", false, Some(1.5));
    assert!(text.contains("verify: PASS"), "{text}");
    assert!(text.contains("<= max 1.5 PASS"), "{text}");
    let unit = common::read_text(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/livewatch.service"),
    );
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
    let text = check_ok("systemd/livewatch-user.service", true, None);
    assert!(text.contains("verify: PASS"), "{text}");
    assert!(text.contains("result: PASS"), "{text}");
}

/// The check itself: a typo systemd only warns about fails it, and so does an exposure
/// above the bar.
#[test]
fn the_unit_check_fails_on_a_typo_and_on_weak_hardening() {
    let dir = tempfile::Builder::new()
        .prefix("unit-check")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let unit =
        common::read_text(&Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/livewatch.service"));
    let typo = dir.path().join("livewatch.service");
    std::fs::write(
        &typo,
        unit.replace("Restart=on-failure", "Restart=on-failure\nRestartSecs=5"),
    )
    .unwrap();
    let r = check_unit(typo.to_str().unwrap(), false, Some(1.5));
    assert!(!r.passed, "{}", r.text);
    assert!(
        r.text.contains("verify: FAIL") && r.text.contains("RestartSecs"),
        "{}",
        r.text
    );
    // The shipped unit with a bar it cannot meet.
    let r = check_unit("systemd/livewatch.service", false, Some(0.1));
    assert!(!r.passed && r.text.contains("> max 0.1 FAIL"), "{}", r.text);
}
