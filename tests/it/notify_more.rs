//! The e-mail, MQTT and command notifiers and message templates, end to end: the real
//! daemon delivering to real servers started here (aiosmtpd, Debian's mosquitto, a
//! program run per event, the webhook sink).
//!
//! Needs: python3-aiosmtpd (or `pip install aiosmtpd`), mosquitto, mosquitto-clients.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::notify::*;
use crate::common::*;

/// A headline with quotes, an ampersand and template syntax: none of it may change the
/// structure of a message or be evaluated.
const HEADLINE: &str = r#"Minister says "no" & {{ 7*7 }} leaves"#;

/// The blog every test watches, and its changes one step at a time: 1 the newest post
/// is announced (new), 2 it is edited, 3 corrected, 4 taken down (removed).
struct Story {
    page: PageServer,
    posts: Vec<GenPost>,
}

impl Story {
    fn start() -> Story {
        let mut posts = gen_posts(2);
        posts[1].headline = HEADLINE.to_string();
        let page = PageServer::start(live_page("More blog", &posts));
        Story { page, posts }
    }

    fn config(&self, notifiers: &str) -> String {
        format!(
            r#"
[[watch]]
url = "{}"
name = "More blog"
interval = "200ms"
adaptive = false
announce_existing = 1
{notifiers}
"#,
            self.page.url()
        )
    }

    /// Go to step `n` (2, 3 or 4).
    fn step(&mut self, n: usize) {
        match n {
            2 => self.posts[1].body = self.posts[1].body.replace("some words", "some other words"),
            3 => self.posts[1]
                .body
                .push_str("\n\nCorrection: an earlier version of this post gave the wrong number."),
            4 => {
                self.posts.remove(1);
            }
            _ => unreachable!(),
        }
        self.page.set(live_page("More blog", &self.posts));
    }

    /// Run the daemon with `notifiers` through steps 1..=`last`; after each step wait
    /// until `delivered(step)` holds. Returns the state dir and the daemon's output file
    /// (the daemon has stopped).
    fn run(
        &mut self,
        dir: &Path,
        notifiers: &str,
        env: &[(&str, &str)],
        last: usize,
        delivered: impl Fn(usize) -> bool,
        show: impl Fn() -> String,
    ) -> (PathBuf, PathBuf) {
        let cfg = write_config(dir, &self.config(notifiers));
        let state = dir.join("state");
        let out = dir.join("daemon.out");
        let mut d = run_daemon_env(&cfg, &state, &out, env);
        for n in 1..=last {
            if n > 1 {
                self.step(n);
            }
            let ok = wait_for(Duration::from_secs(30), || delivered(n));
            if !ok {
                d.signal("TERM");
                let _ = d.wait_exit(Duration::from_secs(10));
                panic!("step {n} not delivered\n{}\n{}", show(), dump(&out));
            }
        }
        d.signal("TERM");
        assert_eq!(
            d.wait_exit(Duration::from_secs(10)),
            Some(0),
            "{}",
            dump(&out)
        );
        (state, out)
    }
}

/// A Python with aiosmtpd (the PATH's python3, else Debian's).
fn python_with_aiosmtpd() -> String {
    for py in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(py)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return py.to_string();
        }
    }
    panic!("aiosmtpd is missing: install python3-aiosmtpd (apt) or `pip install aiosmtpd`");
}

/// `tests/it/smtp_sink.py`: aiosmtpd on a free port, each mail logged parsed.
struct SmtpSink {
    _proc: Proc,
    port: u16,
    log: PathBuf,
}

impl SmtpSink {
    fn start(dir: &Path, args: &[&str]) -> SmtpSink {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/smtp_sink.py");
        let port_file = dir.join("smtp.port");
        let log = dir.join("smtp.jsonl");
        let proc = Proc(
            Command::new(python_with_aiosmtpd())
                .arg(script)
                .arg("--port-file")
                .arg(&port_file)
                .arg("--log")
                .arg(&log)
                .args(["--max-lifetime", "600"])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("smtp_sink starts"),
        );
        let port = || {
            std::fs::read_to_string(&port_file)
                .ok()?
                .trim()
                .parse::<u16>()
                .ok()
        };
        assert!(
            wait_for(Duration::from_secs(10), || port().is_some()),
            "smtp_sink did not start"
        );
        SmtpSink {
            _proc: proc,
            port: port().unwrap(),
            log,
        }
    }

    fn mails(&self) -> Vec<serde_json::Value> {
        read_jsonl(&self.log)
    }

    fn accepted(&self) -> Vec<serde_json::Value> {
        self.mails()
            .into_iter()
            .filter(|m| m["status"] == 250)
            .collect()
    }
}

fn header<'a>(mail: &'a serde_json::Value, name: &str) -> &'a str {
    mail["headers"][name].as_str().unwrap_or("")
}

#[test]
fn email_threads_edits_and_corrections_to_the_first_mail() {
    let dir = tempfile::tempdir().unwrap();
    // The first mail is refused once (451): its retry must be the same mail.
    let smtp = SmtpSink::start(
        dir.path(),
        &["--user", "desk", "--password", "pa55", "--fail-first", "1"],
    );
    let mut story = Story::start();
    let notifier = format!(
        r#"
[[notifier]]
name = "mail"
type = "email"
smtp = "smtp://127.0.0.1:{}"
tls = "none"
username = "desk"
password = "${{LW_TEST_SMTP_PASSWORD}}"
from = "livewatch <lw@desk.example>"
to = ["editor@desk.example", "Night Desk <night@desk.example>"]
retry_wait = "100ms"
"#,
        smtp.port
    );
    // The password comes from the environment.
    let (state, _) = story.run(
        dir.path(),
        &notifier,
        &[("LW_TEST_SMTP_PASSWORD", "pa55")],
        3,
        |n| smtp.accepted().len() == n,
        || format!("{:#?}", smtp.mails()),
    );
    let all = smtp.mails();
    assert_eq!(all[0]["status"], 451, "{all:#?}");
    let mails = smtp.accepted();
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let (new, edit, corr) = (&mails[0], &mails[1], &mails[2]);
    assert_eq!(
        header(&all[0], "Message-ID"),
        header(new, "Message-ID"),
        "the retry is the same mail"
    );

    for (m, kind) in [(new, "new"), (edit, "edit"), (corr, "correction")] {
        assert_eq!(m["auth_user"], "desk", "logged in: {m:#}");
        assert_eq!(m["mail_from"], "lw@desk.example");
        assert_eq!(
            m["rcpt_tos"],
            serde_json::json!(["editor@desk.example", "night@desk.example"])
        );
        assert_eq!(m["content_type"], "multipart/alternative", "{m:#}");
        assert_eq!(header(m, "X-Livewatch-Event"), kind, "{m:#}");
        let id = header(m, "Message-ID");
        let delivery = header(m, "X-Livewatch-Delivery");
        assert!(
            delivery.starts_with("evt_") && id == format!("<{delivery}@desk.example>"),
            "Message-ID from the event id: {m:#}"
        );
        let subject = header(m, "Subject");
        assert!(
            subject.starts_with("[More blog] ") && subject.ends_with(HEADLINE),
            "{subject}"
        );
        let html = m["html"].as_str().unwrap();
        assert!(
            html.contains("Minister says &quot;no&quot; &amp; {{ 7*7 }} leaves"),
            "the headline escaped, not evaluated: {html}"
        );
        assert!(m["text"].as_str().unwrap().contains(HEADLINE), "{m:#}");
    }
    assert!(header(new, "Subject").starts_with("[More blog] New post: "));
    assert!(header(corr, "Subject").starts_with("[More blog] Correction: "));
    assert_eq!(header(new, "In-Reply-To"), "", "{new:#}");

    // Follow-ups reply to the announcement.
    let first = header(new, "Message-ID");
    for m in [edit, corr] {
        assert_eq!(header(m, "In-Reply-To"), first, "{m:#}");
        assert_eq!(header(m, "References"), first, "{m:#}");
    }
    // The HTML part marks the changed words; the text part shows the diff.
    let html = edit["html"].as_str().unwrap();
    assert!(
        html.contains(">other</ins>") || html.contains(">other </ins>"),
        "{html}"
    );
    let html = corr["html"].as_str().unwrap();
    assert!(html.contains("<ins"), "{html}");
    assert!(html.contains("Correction: an earlier version"), "{html}");
    let text = corr["text"].as_str().unwrap();
    assert!(text.contains("{+"), "{text}");
    assert!(outbox(&state, None).1.contains("outbox empty"));
}

/// Debian's mosquitto on a free port with a temporary config and a password file.
struct Broker {
    _proc: Proc,
}

/// A program of the `mosquitto` package, which Debian puts in /usr/sbin (not on every
/// user's PATH).
fn mosquitto_program(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if is_executable(&sbin) {
        return sbin;
    }
    require_program(name, "mosquitto", "the MQTT test")
}

/// Started as root, mosquitto switches to the user `mosquitto`, who cannot read the
/// test's private temp dir: keep the current user.
fn run_as() -> String {
    let who = Command::new("id").arg("-un").output().expect("id runs");
    let who = String::from_utf8_lossy(&who.stdout).trim().to_string();
    if who.is_empty() {
        String::new()
    } else {
        format!("user {who}\n")
    }
}

impl Broker {
    fn start(dir: &Path, port: u16) -> Broker {
        let passwd = dir.join("mosquitto.passwd");
        let ok = Command::new(mosquitto_program("mosquitto_passwd"))
            .args(["-b", "-c"])
            .arg(&passwd)
            .args(["lw", "mq-pass"])
            .status()
            .expect("mosquitto_passwd runs")
            .success();
        assert!(ok, "mosquitto_passwd failed");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\nlog_dest stderr\n{}",
                passwd.display(),
                run_as()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("mosquitto.log")).unwrap();
        let mut cmd = Command::new(mosquitto_program("mosquitto"));
        cmd.arg("-c").arg(&conf).stdout(Stdio::null()).stderr(log);
        Broker {
            _proc: start_listening(cmd, port, "mosquitto"),
        }
    }
}

/// `mosquitto_sub` on `topic`, one `RETAIN TOPIC PAYLOAD` line per message into `out`.
fn subscriber(port: u16, topic: &str, out: &Path, extra: &[&str]) -> Proc {
    let sub = require_program("mosquitto_sub", "mosquitto-clients", "the MQTT test");
    let f = std::fs::File::create(out).unwrap();
    Proc(
        Command::new(sub)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-u", "lw", "-P", "mq-pass", "-q", "1", "-t", topic])
            .args(["-F", "%r %t %p"])
            .args(extra)
            .stdout(f)
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub starts"),
    )
}

/// Publish probes until the subscriber writing `out` has seen one: it is subscribed.
fn wait_subscribed(port: u16, out: &Path) {
    let publish = require_program("mosquitto_pub", "mosquitto-clients", "the MQTT test");
    let ok = wait_for(Duration::from_secs(10), || {
        let _ = Command::new(&publish)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args([
                "-u",
                "lw",
                "-P",
                "mq-pass",
                "-t",
                "livewatch/probe",
                "-m",
                "probe",
            ])
            .status();
        std::thread::sleep(Duration::from_millis(100));
        std::fs::read_to_string(out)
            .unwrap_or_default()
            .contains("livewatch/probe")
    });
    assert!(ok, "mosquitto_sub did not subscribe");
}

/// Messages (retained flag, topic, event JSON) a subscriber wrote, probes left out.
fn messages(out: &Path) -> Vec<(bool, String, serde_json::Value)> {
    lines(out)
        .iter()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ' ');
            let (r, t, p) = (parts.next()?, parts.next()?, parts.next()?);
            (t != "livewatch/probe").then(|| {
                (
                    r == "1",
                    t.to_string(),
                    serde_json::from_str(p).unwrap_or(serde_json::Value::Null),
                )
            })
        })
        .collect()
}

#[test]
fn mqtt_publishes_each_event_once_the_broker_acknowledges() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut story = Story::start();
    let cfg = write_config(
        dir.path(),
        &story.config(&format!(
            r#"
[[notifier]]
name = "mq"
type = "mqtt"
url = "mqtt://127.0.0.1:{port}"
username = "lw"
password = "mq-pass"
retain = true
retry_wait = "200ms"
timeout = "3s"
"#
        )),
    );
    let state = dir.path().join("state");
    let out = dir.path().join("daemon.out");
    let sub_out = dir.path().join("sub.txt");

    // No broker yet: the announcement waits in the outbox.
    let mut d = run_daemon(&cfg, &state, &out);
    wait_pending(&state, &out, "MQTT");

    let _broker = Broker::start(dir.path(), port);
    let _sub = subscriber(port, "livewatch/#", &sub_out, &[]);
    wait_subscribed(port, &sub_out);
    let got = |n: usize| messages(&sub_out).len() >= n;
    let ok = wait_for(Duration::from_secs(30), || got(1));
    assert!(ok, "{:?}\n{}", lines(&sub_out), dump(&out));
    story.step(2);
    let ok = wait_for(Duration::from_secs(30), || got(2));
    story.step(3);
    let ok = ok && wait_for(Duration::from_secs(30), || got(3));
    let settled = wait_for(Duration::from_secs(10), || {
        outbox(&state, None).1.contains("outbox empty")
    });
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(ok && settled, "{:?}\n{}", lines(&sub_out), dump(&out));

    let msgs = messages(&sub_out);
    assert_eq!(msgs.len(), 3, "each event once: {msgs:#?}");
    for ((_, topic, event), kind) in msgs.iter().zip(["new", "edit", "correction"]) {
        assert_eq!(topic, &format!("livewatch/live/{kind}"), "{msgs:#?}");
        assert_eq!(event["kind"], kind);
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(event["blog"]["url"], story.page.url());
        assert_eq!(event["post"]["headline"], HEADLINE);
    }
    assert!(msgs[2].2["diff"].as_str().unwrap().contains("Correction"));

    // Retained: a subscriber that comes later still gets the last correction.
    let late = dir.path().join("late.txt");
    let mut late_sub = subscriber(
        port,
        "livewatch/live/correction",
        &late,
        &["-C", "1", "-W", "10"],
    );
    assert!(late_sub.wait_exit(Duration::from_secs(15)).is_some());
    let m = messages(&late);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].0, "flagged retained");
    assert_eq!(m[0].2["id"], msgs[2].2["id"]);
}

#[test]
fn command_gets_the_event_json_and_a_failing_command_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let tries = dir.path().join("tries.txt");
    let mut story = Story::start();
    // The commands are the test's own shell scripts (a user's choice); livewatch itself
    // runs no shell: the event reaches them on stdin only.
    let notifiers = format!(
        r#"
[[notifier]]
name = "pipe"
type = "command"
command = ["sh", "-c", "cat > \"$0/$LIVEWATCH_EVENT_ID.$LIVEWATCH_EVENT_KIND.json\"", "{inbox}"]

[[notifier]]
name = "broken"
type = "command"
command = ["sh", "-c", "cat >/dev/null; echo \"$LIVEWATCH_EVENT_ID\" >> \"$0\"; echo 'no route to the printer' >&2; exit 7", "{tries}"]
retry_wait = "100ms"
give_up_after = "1500ms"

[[notifier]]
name = "hangs"
type = "command"
command = ["sleep", "60"]
timeout = "300ms"
retry_wait = "100ms"
give_up_after = "1s"
"#,
        inbox = inbox.display(),
        tries = tries.display()
    );
    let dead = |state: &Path| {
        let l = outbox(state, None).1;
        l.lines().filter(|l| l.starts_with("dead ")).count() == 2
    };
    let state_dir = dir.path().join("state");
    let (state, out) = story.run(
        dir.path(),
        &notifiers,
        &[],
        1,
        |_| std::fs::read_dir(&inbox).map(|d| d.count()).unwrap_or(0) == 1 && dead(&state_dir),
        || outbox(&state_dir, None).1,
    );

    let files: Vec<PathBuf> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(event["kind"], "new");
    assert_eq!(event["blog"]["url"], story.page.url());
    assert_eq!(event["blog"]["title"], "More blog");
    assert_eq!(event["post"]["headline"], HEADLINE);
    let id = event["id"].as_str().unwrap();
    assert_eq!(
        files[0].file_name().unwrap().to_str().unwrap(),
        format!("{id}.new.json")
    );

    let attempts = lines(&tries);
    assert!(attempts.len() >= 2, "retried: {attempts:?}\n{}", dump(&out));
    assert!(
        attempts.iter().all(|a| a == id),
        "the same event: {attempts:?}"
    );
    let listing = outbox(&state, None).1;
    let broken = listing
        .lines()
        .find(|l| l.contains("broken"))
        .unwrap_or_default();
    assert!(broken.starts_with("dead "), "{listing}");
    assert!(
        broken.contains("exit status 7") && broken.contains("no route to the printer"),
        "{listing}"
    );
    let hangs = listing
        .lines()
        .find(|l| l.contains("hangs"))
        .unwrap_or_default();
    assert!(
        hangs.starts_with("dead ") && hangs.contains("killed"),
        "{listing}"
    );
    assert!(log_of(&out).contains("dead letters"), "{}", log_of(&out));
}

#[test]
fn webhook_template_makes_exactly_the_json_it_says_for_each_kind() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start(dir.path(), &[]);
    let mut story = Story::start();
    let notifier = format!(
        r#"
[[notifier]]
name = "hook"
type = "webhook"
url = "{}"
retry_wait = "100ms"
template = '''
{{
  "event": {{{{ kind }}}},
  "text": {{{{ label ~ ": " ~ headline }}}},
  "link": {{{{ url }}}},
  "added": {{{{ diff|added }}}},
  "removed": {{{{ diff|removed|tojson }}}},
  "before": {{{{ previous.headline }}}},
  {{% if kind == "correction" %}}"urgent": true,{{% endif %}}
  "id": {{{{ id }}}}
}}
'''
"#,
        sink.url()
    );
    story.run(
        dir.path(),
        &notifier,
        &[],
        4,
        |n| sink.delivered().len() == n,
        || format!("{:#?}", sink.records()),
    );
    let recs = sink.delivered();
    let link = "https://example.test/live#post-2";
    let expect = |kind: &str, label: &str, added: &[&str], before: Option<&str>| {
        let mut v = serde_json::json!({
            "event": kind,
            "text": format!("{label}: {HEADLINE}"),
            "link": link,
            "added": added,
            "removed": [],
            "before": before,
        });
        if kind == "correction" {
            v["urgent"] = true.into();
        }
        v
    };
    let wanted = [
        expect("new", "New post", &[], None),
        expect("edit", "Edited", &["other"], Some(HEADLINE)),
        expect(
            "correction",
            "Correction",
            &["Correction: an earlier version of this post gave the wrong number."],
            Some(HEADLINE),
        ),
        expect("removed", "Removed", &[], Some(HEADLINE)),
    ];
    for (r, want) in recs.iter().zip(wanted) {
        let mut got = r["json"].clone();
        assert_eq!(
            got["id"].as_str(),
            r["headers"]["x-livewatch-delivery"].as_str(),
            "{r:#}"
        );
        got.as_object_mut().unwrap().remove("id");
        assert_eq!(got, want, "{r:#}");
        assert_eq!(r["headers"]["content-type"], "application/json");
    }
}

#[test]
fn a_broken_template_is_a_config_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        r#"[[notifier]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9/"
template = '''
{"a": {{ kind }},
 "b": {{ headline | nosuchfilter }}}
'''

[[notifier]]
name = "quoted"
type = "webhook"
url = "http://127.0.0.1:9/"
template = '{"text": "{{ headline }}"}'

[[notifier]]
name = "cmd"
type = "command"
command = []
"#,
    );
    let out = livewatch()
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let file = cfg.display().to_string();
    assert!(
        text.contains(&format!("{file}:7:1: template")) && text.contains("nosuchfilter"),
        "the template's line 2 is line 7 of the file: {text}"
    );
    assert!(
        text.contains(&format!("{file}:14:")) && text.contains("not valid JSON"),
        "{text}"
    );
    assert!(text.contains(&format!("{file}:19:")), "{text}");
}

/// A private CA and a certificate for 127.0.0.1 signed by it (openssl): (CA file, cert,
/// key).
fn test_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = require_program("openssl", "openssl", "the e-mail TLS test");
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            output_text(&out)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=livewatch test CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}

#[test]
fn email_over_starttls_and_implicit_tls_and_a_burst_as_one_mail() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certs(dir.path());
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let tls_args = |mode: &'static str| {
        vec![
            "--tls-cert",
            cert.as_str(),
            "--tls-key",
            key.as_str(),
            "--tls",
            mode,
        ]
    };
    let starttls_dir = dir.path().join("starttls");
    let implicit_dir = dir.path().join("implicit");
    std::fs::create_dir(&starttls_dir).unwrap();
    std::fs::create_dir(&implicit_dir).unwrap();
    let mut a = tls_args("starttls");
    a.extend(["--user", "desk", "--password", "pa55"]);
    let starttls = SmtpSink::start(&starttls_dir, &a);
    let implicit = SmtpSink::start(&implicit_dir, &tls_args("implicit"));

    let page = PageServer::start(live_page("Four posts", &gen_posts(4)));
    let cfg = write_config(
        dir.path(),
        &format!(
            r#"
[[watch]]
url = "{}"
name = "Four posts"
interval = "200ms"
adaptive = false
announce_existing = 4

[[notifier]]
name = "starttls"
type = "email"
smtp = "smtp://127.0.0.1:{}"
username = "desk"
password = "pa55"
from = "lw@desk.example"
to = "editor@desk.example"
retry_wait = "100ms"

[[notifier]]
name = "smtps"
type = "email"
smtp = "smtps://127.0.0.1:{}"
from = "lw@desk.example"
to = "digest@desk.example"
burst = 2
burst_window = "1m"
retry_wait = "100ms"
"#,
            page.url(),
            starttls.port,
            implicit.port
        ),
    );
    let state = dir.path().join("state");
    let out = dir.path().join("daemon.out");
    let ca = ca.display().to_string();
    let mut d = run_daemon_env(&cfg, &state, &out, &[("SSL_CERT_FILE", ca.as_str())]);
    let ok = wait_for(Duration::from_secs(30), || {
        starttls.accepted().len() == 4 && !implicit.accepted().is_empty()
    });
    let settled = wait_for(Duration::from_secs(5), || {
        outbox(&state, None).1.contains("outbox empty")
    });
    std::thread::sleep(Duration::from_millis(300));
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        ok && settled,
        "{:#?}\n{:#?}\n{}",
        starttls.mails(),
        implicit.mails(),
        dump(&out)
    );

    let plain = starttls.accepted();
    assert_eq!(plain.len(), 4, "one mail per event: {plain:#?}");
    for m in &plain {
        assert!(m["tls"].as_str().unwrap_or("").starts_with("TLS"), "{m:#}");
        assert_eq!(m["auth_user"], "desk");
    }
    let digest = implicit.mails();
    assert_eq!(digest.len(), 1, "the burst is one mail: {digest:#?}");
    let m = &digest[0];
    assert!(m["tls"].as_str().unwrap_or("").starts_with("TLS"), "{m:#}");
    assert!(header(m, "Subject").contains("4 updates"), "{m:#}");
    let text = m["text"].as_str().unwrap();
    let html = m["html"].as_str().unwrap();
    for i in 1..=4 {
        let h = format!("Update number {i}");
        assert!(text.contains(&h) && html.contains(&h), "{m:#}");
    }
    assert!(html.contains("<li>"), "{html}");
}

#[test]
fn notify_test_reaches_email_and_command_and_reports_a_broker_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(dir.path(), &[]);
    let got = dir.path().join("test-event.json");
    let cfg = write_config(
        dir.path(),
        &format!(
            r#"
[[notifier]]
name = "mail"
type = "email"
smtp = "smtp://127.0.0.1:{}"
tls = "none"
from = "lw@desk.example"
to = "editor@desk.example"
subject = "Test from {{{{ name }}}}"

[[notifier]]
name = "cmd"
type = "command"
command = ["tee", "{}"]

[[notifier]]
name = "mq"
type = "mqtt"
url = "mqtt://127.0.0.1:{}"
timeout = "2s"
"#,
            smtp.port,
            got.display(),
            free_port()
        ),
    );
    let out = livewatch()
        .args(["notify-test", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "one failed: {text}");
    assert!(text.contains("mail (email): delivered"), "{text}");
    assert!(text.contains("cmd (command): delivered"), "{text}");
    assert!(text.contains("mq (mqtt): FAILED: MQTT"), "{text}");
    let mails = smtp.accepted();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(header(&mails[0], "Subject"), "Test from livewatch");
    assert_eq!(header(&mails[0], "X-Livewatch-Event"), "test");
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&got).unwrap()).unwrap();
    assert_eq!(event["kind"], "test");
}
