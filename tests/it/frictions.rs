//! The smaller frictions of a first use (issue 14), each as the user meets it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::page_server::{live_page, PageServer, Reply};
use crate::common::*;

/// A running livewatch whose stdout and stderr are collected as they come.
struct Running {
    proc: Proc,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

impl Running {
    fn start(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |mut r: Box<dyn Read + Send>| {
            let text = Arc::new(Mutex::new(String::new()));
            let t = text.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = r.read(&mut buf) {
                    t.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
            text
        };
        let out = collect(Box::new(child.stdout.take().unwrap()));
        let err = collect(Box::new(child.stderr.take().unwrap()));
        Running {
            proc: Proc(child),
            out,
            err,
        }
    }

    fn out(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn err(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Stop with SIGINT; the exit code.
    fn stop(&mut self) -> Option<i32> {
        self.proc.signal("INT");
        self.proc.wait_exit(Duration::from_secs(10))
    }
}

const P1: (&str, &str, &str, u32) = ("p1", "First post", "The first body.", 1);
const P2: (&str, &str, &str, u32) = ("p2", "Second post", "The second body.", 2);

#[test]
fn a_terminal_sees_each_event_once_as_a_readable_line() {
    let server = PageServer::start();
    server.set("/live", Reply::html(live_page(&[P1], "", "")));
    let state = tempfile::tempdir().unwrap();
    let mut w = Running::start(
        livewatch()
            .args([
                "watch",
                &server.url("/live"),
                "--interval",
                "100ms",
                "--state",
            ])
            .arg(state.path()),
    );
    assert!(wait_for(Duration::from_secs(10), || server
        .requests("/live")
        .len()
        >= 2));
    server.set("/live", Reply::html(live_page(&[P2, P1], "", "")));
    assert!(
        wait_for(Duration::from_secs(10), || w.out().contains("[new]")),
        "{}\n{}",
        w.out(),
        w.err()
    );
    assert_eq!(w.stop(), Some(0));
    let (out, err) = (w.out(), w.err());
    let first = out.lines().next().unwrap_or("");
    assert!(
        first.starts_with("[new] ") && first.ends_with(" Second post — Test blog"),
        "{out}"
    );
    assert_eq!(out.lines().nth(1), Some("    The second body."), "{out}");
    assert!(
        !err.contains("Second post"),
        "the log repeats the event: {err}"
    );
}

/// Run livewatch with `args`; (exit code, stdout, stderr).
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = livewatch().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn watch_errors_name_the_argument_not_a_generated_file() {
    let cases = [
        (
            vec![
                "watch",
                "http://127.0.0.1:9/",
                "--notify",
                "webhok=http://127.0.0.1:9/",
            ],
            "--notify webhok=http://127.0.0.1:9/: unknown notifier type \"webhok\"",
        ),
        (
            vec!["watch", "http://127.0.0.1:9/", "--notify", "webhook"],
            "--notify webhook: a webhook notifier needs a URL: --notify TYPE=URL",
        ),
        (
            vec!["watch", "ftp://127.0.0.1:9/"],
            "URL ftp://127.0.0.1:9/: url must be an http or https URL",
        ),
        (
            vec!["watch", "http://127.0.0.1:9/", "--interval", "30"],
            "--interval \"30\": invalid duration",
        ),
        (
            vec!["watch", "http://127.0.0.1:9/", "http://127.0.0.1:9/"],
            "URL http://127.0.0.1:9/: \"http://127.0.0.1:9/\" is watched twice",
        ),
        (
            vec!["watch", "ftp://127.0.0.1:9/", "--notify", "ntfy"],
            "URL ftp://127.0.0.1:9/: url must be an http or https URL, not ftp:\n\
             livewatch: --notify ntfy: a ntfy notifier needs a URL: --notify TYPE=URL",
        ),
    ];
    for (args, want) in cases {
        let (code, _, err) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("command line"), "{args:?}: {err}");
    }
}

#[test]
fn check_of_a_missing_file_says_so() {
    let (code, _, err) = run(&["check", "nope.html"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nope.html: no such file"), "{err}");
    assert!(!err.contains("relative URL"), "{err}");
}

#[test]
fn an_unknown_extractor_is_a_usage_error_listing_the_names() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("p.html");
    std::fs::write(&page, live_page(&[P1], "", "")).unwrap();
    let page = page.display().to_string();
    for args in [
        vec!["check", page.as_str(), "--extractor", "bogus"],
        vec!["replay", ".", "--extractor", "bogus"],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("bogus") && err.contains("jsonld, microdata, generic, guardian"),
            "{err}"
        );
    }
    let (code, out, _) = run(&["check", &page, "--extractor", "jsonld", "--json"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("First post"), "{out}");
    let cfg = write_config(
        dir.path(),
        "[[watch]]\nurl = \"https://a.example/live\"\nextractor = \"bogus\"\n",
    );
    let (code, _, err) = run(&["config", "check", &cfg.display().to_string()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(":3:13: unknown extractor \"bogus\""), "{err}");
}

#[test]
fn config_check_reports_every_type_error_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        r#"per_host = "2"

[[watch]]
url = "https://a.example/live"
interval = 30
adaptive = "yes"
intreval = "5s"

[[watch]]
url = "https://b.example/live"
max_interval = "sometimes"

[[notifier]]
name = "x"
type = "stdout"
json = 1
"#,
    );
    let path = cfg.display().to_string();
    let (code, _, err) = run(&["config", "check", &path]);
    assert_eq!(code, Some(2), "{err}");
    let err = err.replace(&path, "FILE");
    let lines: Vec<&str> = err.lines().collect();
    let want = [
        "FILE:1:12: expected a whole number, like 3, found the string \"2\"",
        "FILE:5:12: a duration needs a unit and quotes: write \"30s\" for 30 seconds",
        "FILE:6:12: expected true or false, found the string \"yes\"",
        "FILE:7:1: unknown key `intreval`",
        "FILE:11:16: invalid duration \"sometimes\"",
        "FILE:16:8: expected true or false, found the number 1",
    ];
    assert_eq!(lines.len(), want.len(), "{err}");
    for (line, want) in lines.iter().zip(want) {
        assert!(
            line.starts_with(want),
            "{line:?} should start with {want:?}\n{err}"
        );
    }
    assert!(!err.contains("usize"), "{err}");

    // Several syntax errors at once, each with its place.
    let cfg = write_config(
        dir.path(),
        "[[watch]\nurl = \"https://a.example/\"\n\n[[watch]]\nurl = = 4\n",
    );
    let (code, _, err) = run(&["config", "check", &cfg.display().to_string()]);
    assert_eq!(code, Some(2), "{err}");
    let err = err.replace(&cfg.display().to_string(), "FILE");
    assert!(err.lines().count() >= 2, "{err}");
    assert!(err.starts_with("FILE:1:"), "{err}");
    assert!(err.contains("FILE:5:"), "{err}");
}

#[test]
fn a_missing_config_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.toml").display().to_string();
    for args in [
        vec!["config", "check", path.as_str()],
        vec!["run", "--config", path.as_str()],
        vec!["notify-test", "--config", path.as_str()],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("{path}: no such config file")),
            "{err}"
        );
        assert!(!err.contains(":1:1"), "{err}");
        for hint in [
            "config/livewatch.example.toml",
            "--config",
            "livewatch watch URL",
        ] {
            assert!(err.contains(hint), "{hint}: {err}");
        }
    }
    // The default path, too (`livewatch config check` of a new user).
    let out = livewatch()
        .args(["config", "check"])
        .env("XDG_CONFIG_HOME", dir.path())
        .env_remove("CONFIGURATION_DIRECTORY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("livewatch/config.toml: no such config file"),
        "{err}"
    );
}

#[test]
fn the_example_config_passes_as_shipped_in_both_service_recipes() {
    // System service: the example installed as /etc/livewatch/config.toml, checked by path.
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc/livewatch/config.toml");
    std::fs::create_dir_all(etc.parent().unwrap()).unwrap();
    std::fs::copy("config/livewatch.example.toml", &etc).unwrap();
    let out = livewatch()
        .args(["config", "check"])
        .arg(&etc)
        .env_remove("LIVEWATCH_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (2 watches, 3 notifiers)"));
    // User service: ~/.config/livewatch/config.toml, `livewatch config check` with no file.
    let home = dir.path().join("home");
    let user = home.join(".config/livewatch/config.toml");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::copy("config/livewatch.example.toml", &user).unwrap();
    let out = livewatch()
        .args(["config", "check"])
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("CONFIGURATION_DIRECTORY")
        .env_remove("LIVEWATCH_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(".config/livewatch/config.toml: ok"));
}

#[test]
fn status_and_outbox_explain_their_options() {
    for cmd in ["status", "outbox"] {
        let (code, out, _) = run(&[cmd, "--help"]);
        assert_eq!(code, Some(0));
        for opt in ["--config <CONFIG>", "--state <STATE>"] {
            let line = out.lines().find(|l| l.contains(opt)).unwrap_or("");
            let help = line.split(opt).nth(1).unwrap_or("").trim();
            assert!(help.len() > 10, "{cmd} {opt}: {line:?}");
        }
    }
}

#[test]
fn notify_test_does_not_speak_of_queued_events() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[[notifier]]\nname = \"desk\"\ntype = \"desktop\"\n",
    );
    let out = livewatch()
        .args(["notify-test", "--config"])
        .arg(&cfg)
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-bus", dir.path().display()),
        )
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("desk (desktop): FAILED"), "{text}");
    assert!(!text.contains("queued"), "{text}");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("p.html");
    let many: Vec<(String, String)> = (0..40)
        .map(|i| (format!("p{i}"), format!("Post number {i}")))
        .collect();
    let posts: Vec<(&str, &str, &str, u32)> = many
        .iter()
        .enumerate()
        .map(|(i, (id, h))| {
            (
                id.as_str(),
                h.as_str(),
                "Some text of the post.",
                59 - i as u32,
            )
        })
        .collect();
    std::fs::write(&page, live_page(&posts, "", "")).unwrap();
    // `livewatch check FILE | head -1`: the reader goes after one line.
    let mut child = livewatch()
        .arg("check")
        .arg(&page)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("Broken pipe") && !err.contains("panicked"),
        "{err}"
    );

    // `livewatch watch URL --announce-existing 3 | head -1`: watch stops by itself.
    let server = PageServer::start();
    server.set("/live", Reply::html(live_page(&posts, "", "")));
    let state = tempfile::tempdir().unwrap();
    let mut w = livewatch()
        .args([
            "watch",
            &server.url("/live"),
            "--interval",
            "100ms",
            "--announce-existing",
            "3",
            "--state",
        ])
        .arg(state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(w.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    assert!(first.starts_with("[new] "), "{first}");
    let mut w = Proc(w);
    let code = w.wait_exit(Duration::from_secs(15));
    if code.is_none() {
        let _ = w.0.kill();
    }
    let mut err = String::new();
    w.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(code, Some(0), "watch stops when its reader goes: {err}");
    assert!(!err.contains("Broken pipe"), "{err}");
}

/// `livewatch status|outbox ARGS --config CONFIG --state STATE`: stdout (exit 0 asserted).
fn with_config(cmd: &[&str], config: &std::path::Path, state: &std::path::Path) -> String {
    let out = livewatch()
        .args(cmd)
        .arg("--config")
        .arg(config)
        .arg("--state")
        .arg(state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", output_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn status_names_the_watch_and_events_of_a_removed_notifier_are_told_and_droppable() {
    let server = PageServer::start();
    server.set("/live", Reply::status(503));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out.jsonl");
    let url = server.url("/live");
    let watch = format!("[[watch]]\nurl = \"{url}\"\nname = \"Ukraine war\"\ninterval = \"100ms\"\nadaptive = false\n");
    // A webhook nobody answers: its events stay pending.
    let hook = format!(
        "[[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/\"\n",
        free_port()
    );
    let cfg = write_config(dir.path(), &format!("{watch}{hook}"));
    let mut d = run_daemon(&cfg, &state, &out);
    let blog = |k: &str| statuses(&state).get(&url).map(|v| v[k].clone());
    assert!(
        wait_for(Duration::from_secs(10), || blog("failures")
            .and_then(|f| f.as_i64())
            >= Some(1)),
        "{}",
        dump(&out)
    );
    let text = with_config(&["status"], &cfg, &state);
    assert!(
        text.starts_with("Ukraine war\n"),
        "the watch's name: {text}"
    );
    assert!(text.contains("no poll has succeeded yet;"), "{text}");
    assert!(!text.contains("0 polls"), "{text}");

    server.set("/live", Reply::html(live_page(&[P1], "", "")));
    assert!(wait_for(Duration::from_secs(10), || blog("polls")
        .and_then(|p| p.as_i64())
        >= Some(1)));
    server.set("/live", Reply::html(live_page(&[P2, P1], "", "")));
    assert!(
        wait_for(Duration::from_secs(10), || blog("pending_events")
            .and_then(|p| p.as_i64())
            == Some(1)),
        "{}",
        dump(&out)
    );
    let text = with_config(&["status"], &cfg, &state);
    assert!(
        text.contains("; 1 event pending delivery: 1 to hook\n"),
        "{text}"
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));

    // The notifier leaves the config: its event is never delivered, and livewatch says so.
    let cfg = write_config(dir.path(), &watch);
    let mut d = run_daemon(&cfg, &state, &out);
    let told = "1 event is queued for notifier \"hook\", which is not in the configuration";
    assert!(
        wait_for(Duration::from_secs(10), || log_of(&out).contains(told)),
        "at start: {}",
        dump(&out)
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(
        log_of(&out).matches(told).count(),
        2,
        "at start and at stop: {}",
        dump(&out)
    );
    assert!(
        log_of(&out).contains("livewatch outbox drop hook"),
        "{}",
        dump(&out)
    );

    let text = with_config(&["outbox"], &cfg, &state);
    assert!(text.contains("notifier no longer in the config"), "{text}");
    let text = with_config(&["status"], &cfg, &state);
    assert!(
        text.contains("1 to hook (no longer in the config"),
        "{text}"
    );
    let text = with_config(&["outbox", "drop", "hook"], &cfg, &state);
    assert!(
        text.contains("1 undelivered event to hook dropped"),
        "{text}"
    );
    let text = with_config(&["status"], &cfg, &state);
    assert!(text.contains("; no events pending"), "{text}");
    let (code, text) = outbox(&state, None);
    assert_eq!(code, Some(0));
    assert!(text.contains("outbox empty"), "{text}");
}

/// A state that cannot be opened: the command says why, each cause once (it printed
/// `…: Not a directory (os error 20): Not a directory (os error 20)`).
#[test]
fn a_broken_state_prints_its_cause_once() {
    // The command's stderr, once it has failed as a command does (exit 1).
    let fails = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "[[watch]]\nurl = \"http://127.0.0.1:9/live\"\n");
    // No state dir can be made under a file.
    std::fs::write(dir.path().join("file"), "").unwrap();
    let under_file = dir.path().join("file/state");
    let os = std::fs::create_dir_all(&under_file)
        .unwrap_err()
        .to_string();
    let text = fails(
        livewatch()
            .arg("run")
            .arg("--config")
            .arg(&cfg)
            .arg("--state")
            .arg(&under_file),
    );
    assert!(text.contains("cannot create state dir"), "{text}");
    assert_eq!(text.matches(&os).count(), 1, "{text}");

    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("livewatch.db"), "no database here. ".repeat(100)).unwrap();
    let text = fails(livewatch().arg("status").arg("--state").arg(&state));
    assert_eq!(text.matches("file is not a database").count(), 1, "{text}");
}
