//! `state = "postgres://…"` end to end: the real binary on a PostgreSQL database of the
//! test's own server (`common::testpg`), a page server, a webhook receiver and (several
//! instances) a `nats-server -js` (`notify_nats`).

use crate::common;

use std::time::Duration;

use crate::notify_nats::{consume, runtime, NatsServer};
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
    // The blog is leased to the running instance (its name holds the pid).
    let instance = row["lease"]["instance"].as_str().unwrap_or("");
    assert!(instance.contains(&format!("-{}-", d.pid())), "{text}");
    assert!(row["lease"]["until"].is_string(), "{text}");
    let plain = livewatch()
        .args(["status", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let plain = output_text(&plain);
    assert!(
        plain.contains(&format!("  polled by:  {instance} (lease ")),
        "{plain}"
    );

    // The page goes (410): the blog is no longer polled (its lease released), and its
    // last event, the problem notice, still goes out.
    pages.set("/live", Reply::status(410));
    let noticed = wait_for(Duration::from_secs(20), || {
        sink.delivered()
            .iter()
            .any(|r| r["json"]["kind"] == "problem")
    });
    assert!(noticed, "{:#?}\n{}", sink.records(), dump(&out));
    let released = wait_for(Duration::from_secs(5), || {
        store.lease_of(&pages.url("/live")).unwrap().is_none()
    });
    assert!(released, "{}", dump(&out));

    stop_daemon(&mut d, &out);
    // The state is in PostgreSQL, not in the SQLite state dir; the events went out.
    assert!(!Store::file_in(&state).exists(), "a SQLite file was made");
    let blogs = store.blogs().unwrap();
    assert_eq!(blogs.len(), 1);
    assert!(blogs[0].polls >= 3, "{:?}", blogs[0]);
    assert_eq!(store.outbox_depth().unwrap(), (0, 0));
    assert_eq!(store.known_posts(blogs[0].id).unwrap().len(), 2);
}

/// Every request time per path of the page server, in order.
fn fetch_times(pages: &PageServer, paths: &[String]) -> Vec<(String, Vec<std::time::Instant>)> {
    paths
        .iter()
        .map(|p| {
            let mut t: Vec<_> = pages.requests(p).iter().map(|r| r.at).collect();
            t.sort();
            (p.clone(), t)
        })
        .collect()
}

/// The shortest gap between two fetches of one blog, and which blog.
fn shortest_gap(times: &[(String, Vec<std::time::Instant>)]) -> (Duration, String) {
    times
        .iter()
        .flat_map(|(p, t)| t.windows(2).map(move |w| (w[1] - w[0], p.clone())))
        .min()
        .unwrap_or((Duration::MAX, String::new()))
}

/// The event ids delivered to the sink per (blog URL, post id, kind), each id once.
fn delivered_ids(sink: &Sink) -> std::collections::HashMap<(String, String, String), Vec<String>> {
    let mut out: std::collections::HashMap<_, Vec<String>> = Default::default();
    for r in sink.delivered() {
        let e = &r["json"];
        let key = (
            e["blog"]["url"].as_str().unwrap_or("").to_string(),
            e["post"]["id"].as_str().unwrap_or("").to_string(),
            e["kind"].as_str().unwrap_or("").to_string(),
        );
        let id = e["id"].as_str().unwrap_or("").to_string();
        let ids = out.entry(key).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    out
}

#[test]
fn three_instances_share_the_blogs_and_take_over_a_killed_ones() {
    // The issue's case: 300 blogs over three instances.
    const BLOGS: usize = 300;
    const INTERVAL: Duration = Duration::from_secs(5);
    const LEASE: Duration = Duration::from_secs(5);
    let url = testpg::server().fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let pages = PageServer::start();
    let paths: Vec<String> = (0..BLOGS).map(|i| format!("/b{i}")).collect();
    let page = |posts: &[(&str, &str, &str, u32)]| Reply::html(live_page(posts, "", ""));
    let first = ("p1", "First", "The first post.", 1);
    let second = ("p2", "Second", "The second post.", 2);
    let third = ("p3", "Third", "The third post.", 3);
    for p in &paths {
        pages.set(p, page(&[first]));
    }
    let sink = Sink::start(dir.path(), &[]);
    let nats = NatsServer::start(dir.path(), free_port());
    let watches: String = paths
        .iter()
        .map(|p| {
            format!(
                "[[watch]]\nurl = \"{}\"\ninterval = \"{}ms\"\nadaptive = false\n\n",
                pages.url(p),
                INTERVAL.as_millis()
            )
        })
        .collect();
    let cfg = write_config(
        dir.path(),
        &format!(
            "state = \"{url}\"\nlease = \"{}ms\"\n\n{watches}[[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\nretry_wait = \"100ms\"\n\n\
             [[notifier]]\nname = \"js\"\ntype = \"nats\"\nurl = \"{}\"\nstream = \"LIVEWATCH\"\nretry_wait = \"100ms\"\n",
            LEASE.as_millis(),
            sink.url(),
            nats.url()
        ),
    );
    let outs: Vec<std::path::PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("out{i}.jsonl")))
        .collect();
    let mut daemons: Vec<Proc> = (0..3)
        .map(|i| run_daemon(&cfg, &dir.path().join(format!("state{i}")), &outs[i]))
        .collect();
    let dumps =
        |outs: &[std::path::PathBuf]| outs.iter().map(|o| dump(o)).collect::<Vec<_>>().join("\n");
    let store = Store::open_postgres(&url).unwrap();
    let owners = || -> std::collections::HashMap<String, String> {
        paths
            .iter()
            .filter_map(|p| Some((p.clone(), store.lease_of(&pages.url(p)).ok()??.0)))
            .collect()
    };

    // Every blog gets its baseline, and the three instances share the blogs evenly.
    let shared = wait_for(Duration::from_secs(30), || {
        let o = owners();
        let mut per: std::collections::HashMap<&String, usize> = Default::default();
        for v in o.values() {
            *per.entry(v).or_default() += 1;
        }
        store.baselines_taken().unwrap_or(0) == BLOGS as i64
            && o.len() == BLOGS
            && per.len() == 3
            && per.values().all(|n| *n == BLOGS / 3)
    });
    assert!(
        shared,
        "not shared evenly: {:?}\n{}",
        owners(),
        dumps(&outs)
    );

    // New posts: each delivered once, by one instance.
    for p in &paths {
        pages.set(p, page(&[second, first]));
    }
    let want = |post: &str| {
        paths
            .iter()
            .map(|p| (pages.url(p), post.to_string(), "new".to_string()))
            .collect::<Vec<_>>()
    };
    let all_in = |post: &str| {
        let got = delivered_ids(&sink);
        want(post).iter().all(|k| got.contains_key(k))
    };
    assert!(
        wait_for(Duration::from_secs(20), || all_in("p2")),
        "p2 not delivered everywhere: {:?}\n{}",
        delivered_ids(&sink),
        dumps(&outs)
    );
    std::thread::sleep(Duration::from_millis(1500));

    // kill -9 of one instance: the others take its blogs.
    let victim = daemons[0].pid();
    let its: Vec<String> = owners()
        .into_iter()
        .filter(|(_, o)| o.contains(&format!("-{victim}-")))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(its.len(), BLOGS / 3, "{:?}", owners());
    daemons[0].signal("KILL");
    let killed = std::time::Instant::now();
    daemons[0].wait_exit(Duration::from_secs(5));
    let taken = wait_for(Duration::from_secs(15), || {
        its.iter().all(|p| {
            pages
                .requests(p)
                .iter()
                .any(|r| r.at > killed + Duration::from_millis(50))
        })
    });
    let takeover = its
        .iter()
        .filter_map(|p| {
            pages
                .requests(p)
                .iter()
                .map(|r| r.at)
                .filter(|t| *t > killed + Duration::from_millis(50))
                .min()
        })
        .map(|t| t - killed)
        .max()
        .unwrap_or(Duration::MAX);
    eprintln!("takeover of the killed instance's {} blogs: {takeover:?} (lease {LEASE:?}, interval {INTERVAL:?})", its.len());
    assert!(
        taken,
        "not taken over: {:?}\n{}",
        owners(),
        dumps(&outs[1..])
    );
    assert!(
        takeover <= LEASE + INTERVAL,
        "taken over after {takeover:?}\n{}",
        dumps(&outs[1..])
    );

    // Posts after the kill: nothing lost, one event id per post.
    for p in &paths {
        pages.set(p, page(&[third, second, first]));
    }
    assert!(
        wait_for(Duration::from_secs(20), || all_in("p3")),
        "p3 not delivered everywhere: {:?}\n{}",
        delivered_ids(&sink),
        dumps(&outs[1..])
    );
    std::thread::sleep(Duration::from_millis(1500));
    for (k, ids) in delivered_ids(&sink) {
        assert_eq!(ids.len(), 1, "{k:?} delivered under several ids: {ids:?}");
    }
    let got = delivered_ids(&sink);
    assert_eq!(got.len(), 2 * BLOGS, "{got:?}");

    // The same events on JetStream: each post once (a re-published event carries the same
    // Nats-Msg-Id and is dropped), a blog's posts in order.
    let rt = runtime();
    let mut stream = Vec::new();
    let complete = wait_for(Duration::from_secs(20), || {
        stream = rt.block_on(consume(&nats.url(), "LIVEWATCH"));
        stream.len() >= 2 * BLOGS
    });
    assert!(complete, "{} messages: {stream:#?}", stream.len());
    let mut per_blog: std::collections::HashMap<String, Vec<String>> = Default::default();
    for m in &stream {
        assert_eq!(m.msg_id, m.event["id"].as_str().unwrap_or(""), "{m:?}");
        assert_eq!(m.event["kind"], "new", "{m:?}");
        per_blog
            .entry(m.event["blog"]["url"].as_str().unwrap_or("").to_string())
            .or_default()
            .push(m.event["post"]["id"].as_str().unwrap_or("").to_string());
    }
    assert_eq!(per_blog.len(), BLOGS, "{per_blog:?}");
    for (blog, posts) in &per_blog {
        assert_eq!(posts, &["p2", "p3"], "{blog}");
    }

    // No blog was fetched twice within 0.8 × its interval, at any time of the run.
    let times = fetch_times(&pages, &paths);
    let (gap, path) = shortest_gap(&times);
    let fetches: usize = times.iter().map(|(_, t)| t.len()).sum();
    eprintln!("{fetches} fetches of {BLOGS} blogs; shortest gap between two fetches of a blog: {gap:?} ({path})");
    assert!(
        gap >= INTERVAL.mul_f64(0.8),
        "{path} fetched twice within {gap:?}\n{}",
        dumps(&outs)
    );

    for (d, out) in daemons.iter_mut().zip(&outs).skip(1) {
        stop_daemon(d, out);
    }
    // Stopped instances release their leases.
    assert!(owners().is_empty(), "{:?}", owners());
}

#[test]
fn a_watch_added_through_the_api_of_one_instance_is_polled_by_one() {
    use common::dashboard::Dash;
    let url = testpg::server().fresh_database();
    let pages = PageServer::start();
    let one = ("p1", "First", "The first post.", 1);
    for p in ["/configured", "/added"] {
        pages.set(p, Reply::html(live_page(&[one], "", "")));
    }
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let dashes: Vec<Dash> = dirs
        .iter()
        .map(|d| {
            let port = free_port();
            let cfg = format!(
                "state = \"{url}\"\nlease = \"2s\"\nlisten = \"127.0.0.1:{port}\"\n\n\
                 [[watch]]\nurl = \"{}\"\ninterval = \"1s\"\nadaptive = false\n",
                pages.url("/configured")
            );
            Dash::start_with(d.path(), port, &cfg, &[])
        })
        .collect();
    let added = pages.url("/added");
    let (status, w) = dashes[0].api(
        "POST",
        "/api/watches",
        Some(&serde_json::json!({"url": added, "interval": "1s"})),
    );
    assert_eq!(status, 201, "{w}");
    // The other instance lists it too, and it is polled, by one instance at a time.
    let listed = wait_for(Duration::from_secs(10), || {
        dashes[1].watches().iter().any(|w| w["url"] == added)
    });
    assert!(listed, "{:?}\n{}", dashes[1].watches(), dashes[1].dump());
    let polled = wait_for(Duration::from_secs(20), || {
        pages.requests("/added").len() >= 5
    });
    assert!(polled, "{}\n{}", dashes[0].dump(), dashes[1].dump());
    let store = Store::open_postgres(&url).unwrap();
    let owners: Vec<String> = ["/configured", "/added"]
        .iter()
        .filter_map(|p| Some(store.lease_of(&pages.url(p)).ok()??.0))
        .collect();
    assert_eq!(owners.len(), 2, "{owners:?}");
    assert_ne!(owners[0], owners[1], "one blog each");
    let times = fetch_times(&pages, &["/added".to_string(), "/configured".to_string()]);
    let (gap, path) = shortest_gap(&times);
    assert!(
        gap >= Duration::from_millis(800),
        "{path} fetched twice within {gap:?}\n{}\n{}",
        dashes[0].dump(),
        dashes[1].dump()
    );
    // Both instances' event streams show the new posts of both blogs: the one each
    // polled, and the one the other did.
    let streams: Vec<std::thread::JoinHandle<String>> = dashes
        .iter()
        .map(|d| {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
            s.write_all(
                b"GET /events HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n",
            )
            .unwrap();
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            std::thread::spawn(move || {
                let end = std::time::Instant::now() + Duration::from_secs(15);
                let mut text = Vec::new();
                let mut buf = [0u8; 4096];
                while std::time::Instant::now() < end
                    && String::from_utf8_lossy(&text).matches("event: new").count() < 2
                {
                    match s.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => text.extend_from_slice(&buf[..n]),
                        Err(_) => {}
                    }
                }
                String::from_utf8_lossy(&text).into_owned()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let two = ("p2", "Second", "The second post.", 2);
    for p in ["/configured", "/added"] {
        pages.set(p, Reply::html(live_page(&[two, one], "", "")));
    }
    for (i, h) in streams.into_iter().enumerate() {
        let text = h.join().unwrap();
        for blog in [pages.url("/configured"), added.clone()] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with("data:") && l.contains(&blog) && l.contains("\"p2\"")),
                "instance {i}'s stream lacks the new post of {blog}:\n{text}"
            );
        }
    }
    for mut d in dashes {
        d.stop();
    }
}

#[test]
fn a_host_that_refuses_one_instance_slows_the_others() {
    let url = testpg::server().fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let pages = PageServer::start();
    let paths: Vec<String> = (0..4).map(|i| format!("/h{i}")).collect();
    let one = ("p1", "First", "The first post.", 1);
    for p in &paths {
        pages.set(p, Reply::html(live_page(&[one], "", "")));
    }
    let watches: String = paths
        .iter()
        .map(|p| {
            format!(
                "[[watch]]\nurl = \"{}\"\ninterval = \"1s\"\nadaptive = false\n\n",
                pages.url(p)
            )
        })
        .collect();
    let cfg = write_config(
        dir.path(),
        &format!("state = \"{url}\"\nlease = \"2s\"\n\n{watches}"),
    );
    let outs: Vec<std::path::PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("out{i}.jsonl")))
        .collect();
    let mut daemons: Vec<Proc> = (0..2)
        .map(|i| run_daemon(&cfg, &dir.path().join(format!("state{i}")), &outs[i]))
        .collect();
    let store = Store::open_postgres(&url).unwrap();
    let owner = |p: &str| store.lease_of(&pages.url(p)).ok().flatten().map(|l| l.0);
    let split = wait_for(Duration::from_secs(30), || {
        let o: Vec<Option<String>> = paths.iter().map(|p| owner(p)).collect();
        o.iter().all(Option::is_some) && o.iter().any(|x| *x != o[0])
    });
    assert!(split, "{}\n{}", dump(&outs[0]), dump(&outs[1]));
    let refuser = owner("/h0").unwrap();
    let others: Vec<&String> = paths
        .iter()
        .filter(|p| owner(p).as_ref() != Some(&refuser))
        .collect();
    assert!(!others.is_empty());

    // The host refuses the instance that polls /h0: 429, come back in 8 s.
    let set = std::time::Instant::now();
    pages.set("/h0", Reply::status(429).header("Retry-After", "8"));
    let refused = wait_for(Duration::from_secs(5), || {
        pages.requests("/h0").iter().any(|r| r.at > set)
    });
    assert!(refused);
    let t429 = pages
        .requests("/h0")
        .iter()
        .map(|r| r.at)
        .find(|t| *t > set)
        .unwrap();
    std::thread::sleep(
        (t429 + Duration::from_millis(7600)).saturating_duration_since(std::time::Instant::now()),
    );
    // The other instance's blogs on the host: one poll already scheduled may still go
    // out while the slowdown travels (a keeper round each way), then none until the
    // host's Retry-After is over.
    let quiet_from = t429 + Duration::from_millis(3000);
    let quiet_to = t429 + Duration::from_millis(7500);
    let during: Vec<(String, Duration)> = others
        .iter()
        .flat_map(|p| {
            pages
                .requests(p)
                .into_iter()
                .filter(|r| r.at > quiet_from && r.at < quiet_to)
                .map(|r| (p.to_string(), r.at - t429))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        during.is_empty(),
        "the other instance kept polling the refusing host: {during:?}\n{}\n{}",
        dump(&outs[0]),
        dump(&outs[1])
    );
    for (d, out) in daemons.iter_mut().zip(&outs) {
        stop_daemon(d, out);
    }
}
