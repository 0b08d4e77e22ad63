//! `state = "postgres://…"` end to end: the real binary on a PostgreSQL database of the
//! test's own server (`common::testpg`), a page server and a webhook receiver.

use crate::common;

use std::time::Duration;

use common::page_server::{live_page, PageServer, Reply};
use common::sink::Sink;
use common::*;
use livewatch::store::Store;

#[test]
fn run_on_postgres_detects_a_new_post_and_delivers_it() {
    let url = testpg::server().fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let pages = PageServer::start();
    pages.set(
        "/live",
        Reply::html(live_page(&[("p1", "First", "The first post.", 1)], "", "")),
    );
    let sink = Sink::start(dir.path(), &[]);
    let cfg = write_config(
        dir.path(),
        &format!(
            r#"
state = "{url}"

[[watch]]
url = "{page}"
interval = "200ms"
adaptive = false

[[notifier]]
name = "hook"
type = "webhook"
url = "{hook}"
retry_wait = "100ms"
"#,
            page = pages.url("/live"),
            hook = sink.url(),
        ),
    );
    let out = dir.path().join("out.jsonl");
    let state = dir.path().join("state");
    let mut d = run_daemon(&cfg, &state, &out);

    // The baseline is taken (silently) and stored in PostgreSQL.
    let store = Store::open_postgres(&url).unwrap();
    let baseline = wait_for(Duration::from_secs(20), || {
        store.baselines_taken().unwrap_or(0) == 1 && pages.requests("/live").len() >= 2
    });
    assert!(baseline, "no baseline in PostgreSQL\n{}", dump(&out));
    pages.set(
        "/live",
        Reply::html(live_page(
            &[
                ("p2", "Second", "The second post.", 2),
                ("p1", "First", "The first post.", 1),
            ],
            "",
            "",
        )),
    );
    let delivered = wait_for(Duration::from_secs(20), || !sink.delivered().is_empty());
    assert!(delivered, "nothing delivered\n{}", dump(&out));
    // One more poll's worth of time: nothing else arrives.
    std::thread::sleep(Duration::from_millis(600));
    let got: Vec<(String, String)> = sink
        .delivered()
        .iter()
        .map(|r| {
            (
                r["json"]["kind"].as_str().unwrap_or("").to_string(),
                r["json"]["post"]["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("new".to_string(), "p2".to_string())],
        "{}",
        dump(&out)
    );

    // `livewatch status` reads the same database through the config.
    let status = livewatch()
        .args(["status", "--json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = output_text(&status);
    assert!(status.status.success(), "{text}");
    let row: serde_json::Value = serde_json::from_str(text.lines().next().unwrap_or("")).unwrap();
    assert_eq!(row["url"], pages.url("/live"), "{text}");

    stop_daemon(&mut d, &out);
    // The state is in PostgreSQL, not in the SQLite state dir; the event went out.
    assert!(!Store::file_in(&state).exists(), "a SQLite file was made");
    let blogs = store.blogs().unwrap();
    assert_eq!(blogs.len(), 1);
    assert!(blogs[0].polls >= 3, "{:?}", blogs[0]);
    assert_eq!(store.outbox_depth().unwrap(), (0, 0));
    assert_eq!(store.known_posts(blogs[0].id).unwrap().len(), 2);
}
