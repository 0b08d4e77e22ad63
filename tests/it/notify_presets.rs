//! Chat presets (Discord, Telegram, the Slack Web API, ntfy) against local fakes of their
//! HTTP APIs (real HTTP servers that record
//! every call): a correction edits the message sent for the post. And `notify-test`
//! with every notifier type.

use crate::common;

use std::time::Duration;

use common::notify::*;
use common::*;

/// A fake Discord webhook: messages get ids 1001, 1002, …
fn fake_discord() -> Server {
    let next = std::sync::atomic::AtomicU64::new(1001);
    Server::start(move |r| {
        let (path, query) = r.target.split_once('?').unwrap_or((&r.target, ""));
        match (r.method.as_str(), path) {
            ("POST", "/api/webhooks/1/tok") if query.contains("wait=true") => {
                let id = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                (
                    200,
                    "application/json",
                    format!(r#"{{"id":"{id}","type":0}}"#),
                )
            }
            ("PATCH", p) if p.starts_with("/api/webhooks/1/tok/messages/") => {
                let id = p.rsplit('/').next().unwrap().to_string();
                (200, "application/json", format!(r#"{{"id":"{id}"}}"#))
            }
            _ => (
                404,
                "application/json",
                r#"{"message":"Unknown Webhook"}"#.into(),
            ),
        }
    })
}

/// A fake Telegram bot API: messages get ids 42, 43, …
fn fake_telegram() -> Server {
    let next = std::sync::atomic::AtomicU64::new(42);
    Server::start(move |r| match (r.method.as_str(), r.target.as_str()) {
        ("POST", "/botT0KEN/sendMessage") => {
            let id = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (
                200,
                "application/json",
                format!(r#"{{"ok":true,"result":{{"message_id":{id},"chat":{{"id":-100}}}}}}"#),
            )
        }
        ("POST", "/botT0KEN/editMessageText") => (
            200,
            "application/json",
            r#"{"ok":true,"result":{"message_id":1}}"#.into(),
        ),
        _ => (
            404,
            "application/json",
            r#"{"ok":false,"error_code":404,"description":"Not Found"}"#.into(),
        ),
    })
}

/// Run the daemon on a two-post blog that announces its newest post to `notifiers` (TOML
/// `[[notifier]]` tables), then correct that post; `sent(n)` says whether every fake has
/// received `n` calls. Returns after the second round (or panics with the daemon's log).
fn announce_then_correct(notifiers: &str, sent: impl Fn(usize) -> bool, show: impl Fn() -> String) {
    let dir = tempfile::tempdir().unwrap();
    let mut posts = gen_posts(2);
    let page = PageServer::start(live_page("Preset blog", &posts));
    let cfg = write_config(
        dir.path(),
        &format!(
            r#"
[[watch]]
url = "{}"
name = "Preset blog"
interval = "200ms"
adaptive = false
announce_existing = 1
{notifiers}
"#,
            page.url(),
        ),
    );
    let state = dir.path().join("state");
    let out = dir.path().join("events.jsonl");
    let mut d = run_daemon(&cfg, &state, &out);
    let first = wait_for(Duration::from_secs(20), || sent(1));
    assert!(first, "{}\n{}", show(), log_of(&out));

    posts[1].body = format!(
        "{}\n\nCorrection: an earlier version of this post gave the wrong number.",
        posts[1].body.replace("some words", "some other words")
    );
    page.set(live_page("Preset blog", &posts));
    let edited = wait_for(Duration::from_secs(20), || sent(2));
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(edited, "{}\n{}", show(), log_of(&out));
}

#[test]
fn discord_and_telegram_edit_the_message_of_a_corrected_post() {
    let discord = fake_discord();
    let telegram = fake_telegram();
    announce_then_correct(
        &format!(
            r#"
[[notifier]]
name = "dc"
type = "discord"
url = "{}"

[[notifier]]
name = "tg"
type = "telegram"
url = "{}"
token = "T0KEN"
chat_id = "-100"
"#,
            discord.url("/api/webhooks/1/tok"),
            telegram.url("")
        ),
        |n| discord.requests().len() == n && telegram.requests().len() == n,
        || format!("{:?} {:?}", discord.requests(), telegram.requests()),
    );

    let dc = discord.requests();
    assert_eq!(dc[0].method, "POST");
    assert_eq!(
        dc[0].json()["embeds"][0]["title"],
        "New post: Update number 2"
    );
    assert_eq!(dc[1].method, "PATCH");
    assert_eq!(
        dc[1].target, "/api/webhooks/1/tok/messages/1001",
        "the message sent for the post is edited"
    );
    let embed = &dc[1].json()["embeds"][0];
    assert_eq!(embed["title"], "Correction: Update number 2");
    assert!(
        embed["description"].as_str().unwrap().contains("other"),
        "the changed words: {embed}"
    );

    let tg = telegram.requests();
    assert_eq!(tg[0].target, "/botT0KEN/sendMessage");
    assert_eq!(tg[0].json()["chat_id"], "-100");
    assert!(tg[0].json()["text"]
        .as_str()
        .unwrap()
        .starts_with("Preset blog — New post\n\nUpdate number 2"));
    assert_eq!(tg[1].target, "/botT0KEN/editMessageText");
    assert_eq!(
        tg[1].json()["message_id"],
        42,
        "the id sendMessage returned"
    );
    assert!(tg[1].json()["text"]
        .as_str()
        .unwrap()
        .starts_with("Preset blog — Correction\n\nUpdate number 2"));
}

/// A fake Slack Web API: `chat.postMessage` answers with ts "1700000000.000100", …0200, ….
fn fake_slack() -> Server {
    let next = std::sync::atomic::AtomicU64::new(100);
    Server::start(move |r| {
        let authorised = r
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == "Bearer xoxb-T0KEN");
        match (r.method.as_str(), r.target.as_str()) {
            _ if !authorised => (
                200,
                "application/json",
                r#"{"ok":false,"error":"not_authed"}"#.into(),
            ),
            ("POST", "/api/chat.postMessage") => {
                let n = next.fetch_add(100, std::sync::atomic::Ordering::SeqCst);
                (
                    200,
                    "application/json",
                    format!(r#"{{"ok":true,"channel":"C1","ts":"1700000000.000{n}"}}"#),
                )
            }
            ("POST", "/api/chat.update") => (
                200,
                "application/json",
                format!(r#"{{"ok":true,"channel":"C1","ts":{}}}"#, r.json()["ts"]),
            ),
            _ => (
                200,
                "application/json",
                r#"{"ok":false,"error":"unknown_method"}"#.into(),
            ),
        }
    })
}

#[test]
fn slack_updates_its_message_and_ntfy_sends_a_new_one_for_a_correction() {
    let slack = fake_slack();
    let ntfy = Server::start(|_| (200, "application/json", r#"{"id":"x"}"#.into()));
    announce_then_correct(
        &format!(
            r#"
[[notifier]]
name = "sl"
type = "slack"
url = "{}"
token = "xoxb-T0KEN"
chat_id = "C1"

[[notifier]]
name = "nt"
type = "ntfy"
url = "{}"
"#,
            slack.url("/api"),
            ntfy.url("/livewatch-topic")
        ),
        |n| slack.requests().len() == n && ntfy.requests().len() == n,
        || format!("{:?} {:?}", slack.requests(), ntfy.requests()),
    );

    let sl = slack.requests();
    assert_eq!(sl[0].target, "/api/chat.postMessage");
    assert_eq!(sl[0].json()["channel"], "C1");
    assert!(sl[0].json()["text"]
        .as_str()
        .unwrap()
        .contains("Update number 2"));
    assert_eq!(
        sl[1].target, "/api/chat.update",
        "the correction updates the message: {:?}",
        sl[1]
    );
    assert_eq!(
        sl[1].json()["ts"],
        "1700000000.000100",
        "the ts chat.postMessage returned"
    );
    let update = sl[1].json().to_string();
    assert!(update.contains("other"), "the corrected text: {update}");

    let nt = ntfy.requests();
    let header = |r: &Request, k: &str| {
        r.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert!(nt
        .iter()
        .all(|r| r.method == "POST" && r.target == "/livewatch-topic"));
    assert!(nt[0].body.contains("Update number 2"), "{:?}", nt[0]);
    // The Title is RFC 2047-encoded (the em dash); the kind shows in the Tags.
    assert!(
        header(&nt[0], "Title").starts_with("=?UTF-8?B?"),
        "{:?}",
        nt[0]
    );
    assert_ne!(header(&nt[0], "Tags"), header(&nt[1], "Tags"));
    assert_eq!(
        header(&nt[1], "Tags"),
        "warning",
        "a new message marked as a correction: {:?}",
        nt[1]
    );
    assert!(nt[1].body.contains("other"), "{:?}", nt[1]);
}

#[test]
fn notify_test_reports_every_notifier_type() {
    let dir = tempfile::tempdir().unwrap();
    let env = DesktopEnv::start(&dir.path().join("desktop"));
    let sink = Sink::start(dir.path(), &[]);
    let discord = fake_discord();
    let telegram = fake_telegram();
    let plain = Server::start(|r| {
        if r.target == "/slack" {
            (200, "text/plain", "ok".into())
        } else {
            (
                200,
                "application/json",
                r#"{"id":"x","event":"message"}"#.into(),
            )
        }
    });
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = write_config(
        dir.path(),
        &format!(
            r#"
[[notifier]]
name = "out"
type = "stdout"

[[notifier]]
name = "desk"
type = "desktop"

[[notifier]]
name = "hook"
type = "webhook"
url = "{}"

[[notifier]]
name = "sl"
type = "slack"
url = "{}"

[[notifier]]
name = "dc"
type = "discord"
url = "{}"

[[notifier]]
name = "nt"
type = "ntfy"
url = "{}"

[[notifier]]
name = "tg"
type = "telegram"
url = "{}"
token = "T0KEN"
chat_id = "-100"

[[notifier]]
name = "down"
type = "webhook"
url = "http://127.0.0.1:{closed}/hook"
"#,
            sink.url(),
            plain.url("/slack"),
            discord.url("/api/webhooks/1/tok"),
            plain.url("/livewatch-topic"),
            telegram.url(""),
        ),
    );
    let out = livewatch()
        .arg("notify-test")
        .arg("--config")
        .arg(&cfg)
        .envs(env.vars.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "one notifier failed: {text}");
    for line in [
        "desk (desktop): delivered",
        "hook (webhook): delivered",
        "sl (slack): delivered",
        "dc (discord): delivered",
        "nt (ntfy): delivered",
        "tg (telegram): delivered",
        "out (stdout): delivered",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    let down = text
        .lines()
        .find(|l| l.starts_with("down (webhook): FAILED: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(down.to_lowercase().contains("connect"), "{down}");
    assert!(wait_for(Duration::from_secs(5), || env.log().len() == 1));
    assert_eq!(env.log()[0]["summary"], "livewatch — Test");
    assert_eq!(sink.delivered()[0]["headers"]["x-livewatch-event"], "test");
    let ntfy = plain
        .requests()
        .into_iter()
        .find(|r| r.target == "/livewatch-topic")
        .unwrap();
    assert!(ntfy
        .headers
        .iter()
        .any(|(k, v)| k == "tags" && v == "test_tube"));
}
