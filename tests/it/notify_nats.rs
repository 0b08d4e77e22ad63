//! The nats notifier end to end: the real daemon publishing to a real `nats-server -js`
//! (Debian's `nats-server`) started here, read back with a JetStream pull consumer.
//!
//! Needs: nats-server.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use futures_util::StreamExt;

use crate::common::notify::*;
use crate::common::*;

/// `nats-server -js` on `port` with its JetStream store in `dir` (also used by
/// `state_postgres`).
pub(crate) struct NatsServer {
    _proc: Proc,
    port: u16,
}

impl NatsServer {
    pub(crate) fn start(dir: &Path, port: u16) -> NatsServer {
        // Debian puts it in /usr/sbin (not on every user's PATH).
        let sbin = Path::new("/usr/sbin/nats-server");
        let bin = if is_executable(sbin) {
            sbin.to_path_buf()
        } else {
            require_program("nats-server", "nats-server", "the NATS test")
        };
        let store = dir.join("jetstream");
        let log = std::fs::File::create(dir.join("nats-server.log")).unwrap();
        let mut cmd = std::process::Command::new(bin);
        cmd.args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let proc = start_listening(cmd, port, "nats-server");
        NatsServer { _proc: proc, port }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One message read from the stream: subject, `Nats-Msg-Id`, the payload as JSON.
#[derive(Debug)]
pub(crate) struct Got {
    pub(crate) subject: String,
    pub(crate) msg_id: String,
    pub(crate) event: serde_json::Value,
}

/// Every message of `stream`, in stream order, through a fresh pull consumer.
pub(crate) async fn consume(url: &str, stream: &str) -> Vec<Got> {
    let client = async_nats::connect(url)
        .await
        .expect("test client connects");
    let js = jetstream::new(client);
    let Ok(mut s) = js.get_stream(stream).await else {
        return Vec::new();
    };
    let total = s.info().await.unwrap().state.messages as usize;
    if total == 0 {
        return Vec::new();
    }
    let consumer = s
        .create_consumer(jetstream::consumer::pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer
        .fetch()
        .max_messages(total)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(m) = msgs.next().await {
        let m = m.unwrap();
        m.ack().await.unwrap();
        out.push(Got {
            subject: m.subject.to_string(),
            msg_id: m
                .headers
                .as_ref()
                .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                .map(|v| v.as_str().to_string())
                .unwrap_or_default(),
            event: serde_json::from_slice(&m.payload).unwrap_or(serde_json::Value::Null),
        });
    }
    out
}

/// Two blogs on one page server (`/desk-one`, `/desk-two`), posts added one at a time.
struct Blogs {
    server: Server,
    posts: [Arc<Mutex<Vec<GenPost>>>; 2],
}

const PATHS: [&str; 2] = ["/desk-one", "/desk-two"];

impl Blogs {
    fn start() -> Blogs {
        let posts = [
            Arc::new(Mutex::new(gen_posts(1))),
            Arc::new(Mutex::new(gen_posts(1))),
        ];
        let p = posts.clone();
        let server = Server::start(move |r| match PATHS.iter().position(|x| r.target == *x) {
            Some(i) => (
                200,
                "text/html; charset=utf-8",
                live_page(&format!("Desk {i}"), &p[i].lock().unwrap()),
            ),
            None => (404, "text/plain", "no such blog".into()),
        });
        Blogs { server, posts }
    }

    /// Add post `n` to both blogs.
    fn add(&self, n: usize) {
        for p in &self.posts {
            p.lock().unwrap().push(gen_posts(n).pop().unwrap());
        }
    }
}

#[test]
fn nats_publishes_each_new_post_once_in_order_through_jetstream() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let blogs = Blogs::start();
    let watches: String = PATHS
        .iter()
        .map(|p| {
            format!(
                "[[watch]]\nurl = \"{}\"\ninterval = \"200ms\"\nadaptive = false\nannounce_existing = 1\n\n",
                blogs.server.url(p)
            )
        })
        .collect();
    let cfg = write_config(
        dir.path(),
        &format!(
            r#"
{watches}
[[notifier]]
name = "js"
type = "nats"
url = "nats://127.0.0.1:{port}"
stream = "LIVEWATCH"
retry_wait = "200ms"
timeout = "2s"
"#
        ),
    );
    let state = dir.path().join("state");
    let out = dir.path().join("daemon.out");

    // No server yet: the first announcements wait in the outbox, retried.
    let mut d = run_daemon(&cfg, &state, &out);
    wait_pending(&state, &out, "NATS");

    let nats = NatsServer::start(dir.path(), port);
    let rt = runtime();
    let count = |n: usize| rt.block_on(consume(&nats.url(), "LIVEWATCH")).len() >= n;
    let mut ok = wait_for(Duration::from_secs(30), || count(2));
    for n in 2..=4 {
        if !ok {
            break;
        }
        blogs.add(n);
        ok = wait_for(Duration::from_secs(30), || count(2 * n));
    }
    let settled = ok
        && wait_for(Duration::from_secs(10), || {
            outbox(&state, None).1.contains("outbox empty")
        });
    stop_daemon(&mut d, &out);
    let got = rt.block_on(consume(&nats.url(), "LIVEWATCH"));
    assert!(ok && settled, "{got:#?}\n{}", dump(&out));
    assert!(
        log_of(&out).contains("created the JetStream stream"),
        "{}",
        dump(&out)
    );

    // Each post once (by event id), on its blog's subject, in each blog's order.
    assert_eq!(got.len(), 8, "{got:#?}");
    let mut ids: Vec<&str> = got.iter().map(|g| g.msg_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "each event once: {got:#?}");
    for (i, path) in PATHS.iter().enumerate() {
        let slug = &path[1..];
        let mine: Vec<&Got> = got
            .iter()
            .filter(|g| g.event["blog"]["url"] == blogs.server.url(path))
            .collect();
        let posts: Vec<&str> = mine
            .iter()
            .map(|g| g.event["post"]["id"].as_str().unwrap_or(""))
            .collect();
        let want: Vec<String> = (1..=4).map(|n| format!("post-{n}")).collect();
        let in_order = posts.len() == 4
            && posts
                .iter()
                .zip(&want)
                .all(|(p, w)| p.ends_with(w.as_str()));
        assert!(in_order, "blog {i} in order: {posts:?}\n{got:#?}");
        for g in mine {
            assert_eq!(g.subject, format!("livewatch.events.{slug}.new"), "{g:#?}");
            assert_eq!(g.event["kind"], "new");
            assert_eq!(g.event["id"].as_str(), Some(g.msg_id.as_str()), "{g:#?}");
        }
    }
}

fn event(post: &str) -> livewatch::model::Event {
    livewatch::model::Event::for_post(
        livewatch::model::BlogRef {
            url: "http://127.0.0.1:9/live".into(),
            title: Some("Desk".into()),
        },
        chrono::Utc::now(),
        livewatch::model::EventKind::New,
        livewatch::model::Post::new(post, "A post body."),
        None,
        None,
        1,
    )
}

fn delivery(event: &livewatch::model::Event) -> livewatch::notify::Delivery<'_> {
    livewatch::notify::Delivery {
        event,
        earlier_remote_id: None,
        attempt: 1,
    }
}

fn notifier(url: &str, stream: Option<&str>) -> livewatch::notify::nats::Nats {
    livewatch::notify::nats::Nats::new(
        livewatch::notify::nats::NatsTarget {
            url: url.to_string(),
            subject: "lw.{blog}.{kind}".into(),
            stream: stream.map(str::to_string),
        },
        "direct",
        Duration::from_secs(2),
        None,
    )
}

#[test]
fn jetstream_drops_a_republished_event_and_a_missing_stream_is_named() {
    use livewatch::notify::{DeliveryError, Notifier};
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path(), free_port());
    let rt = runtime();
    rt.block_on(async {
        let a = event("post-a");
        let b = event("post-b");

        // No stream configured and none on the server: a retryable error naming the subject.
        let bare = notifier(&nats.url(), None);
        match bare.deliver(&delivery(&a)).await {
            Err(DeliveryError::Retry { reason, .. }) => {
                assert!(reason.contains("\"lw.live.new\""), "{reason}");
                assert!(reason.contains("stream"), "{reason}");
            }
            other => panic!("{other:?}"),
        }

        // With the stream: created, and the same event twice is stored once.
        let n = notifier(&nats.url(), Some("DEDUP"));
        n.deliver(&delivery(&a)).await.unwrap();
        let again = n
            .publish("lw.live.new".into(), &a.id, b"again".to_vec())
            .await;
        assert!(
            again.unwrap().duplicate,
            "JetStream saw the copy as a duplicate"
        );
        n.deliver(&delivery(&a)).await.unwrap();
        n.deliver(&delivery(&b)).await.unwrap();
        let got = consume(&nats.url(), "DEDUP").await;
        let ids: Vec<&str> = got.iter().map(|g| g.msg_id.as_str()).collect();
        assert_eq!(ids, [a.id.as_str(), b.id.as_str()], "{got:#?}");
        assert_eq!(got[0].event["post"]["id"], "post-a");
        assert_eq!(got[0].subject, "lw.live.new");

        // The bare notifier now finds the stream through the subject.
        bare.deliver(&delivery(&b)).await.unwrap();
        assert_eq!(consume(&nats.url(), "DEDUP").await.len(), 2);
    });
}

#[test]
fn notify_test_publishes_to_nats_and_bad_subjects_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(dir.path(), free_port());
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[notifier]]\nname = \"bus\"\ntype = \"nats\"\nurl = \"{}\"\nstream = \"TESTS\"\n",
            nats.url()
        ),
    );
    let (code, text) = run_with_config(&["notify-test", "--config"], &cfg);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("bus (nats): delivered"), "{text}");
    let got = runtime().block_on(consume(&nats.url(), "TESTS"));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].subject, "livewatch.events.livewatch-test.test");
    assert_eq!(got[0].event["kind"], "test");

    for (keys, error) in [
        ("subject = \"lw.*.x\"", "wildcard"),
        ("subject = \"lw..{kind}\"", "empty token"),
        ("subject = \"lw.{slug}\"", "unknown placeholder"),
        ("stream = \"a.b\"", "not a valid JetStream stream name"),
    ] {
        let bad = write_config(
            dir.path(),
            &format!("[[notifier]]\nname = \"bus\"\ntype = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n{keys}\n"),
        );
        let (code, text) = run_with_config(&["config", "check"], &bad);
        assert_eq!(code, Some(2), "{keys}: {text}");
        assert!(text.contains(error), "{keys}: {text}");
    }
    let bad = write_config(
        dir.path(),
        "[[notifier]]\nname = \"bus\"\ntype = \"nats\"\n",
    );
    let (code, text) = run_with_config(&["config", "check"], &bad);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("needs url = \"nats://HOST:PORT\""), "{text}");
}
