use super::*;
use crate::diff::Known;
use crate::fetch::Validators;
use crate::model::{BlogRef, Event, EventKind, Post};
use db::params;

/// The backends every store test runs on: one suite, two backends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's store lives: a temp dir (SQLite, gone when dropped) or a fresh database
/// on the test process's PostgreSQL server.
struct Place {
    dir: tempfile::TempDir,
    url: Option<String>,
}

impl Place {
    fn new(backend: Backend) -> Place {
        Place {
            dir: tempfile::tempdir().unwrap(),
            url: (backend == Backend::Postgres).then(|| testpg::server().fresh_database()),
        }
    }

    fn open(&self) -> Result<Store, StoreError> {
        match &self.url {
            None => Store::open(self.dir.path()),
            Some(url) => Store::open_postgres(url),
        }
    }
}

/// Each test, once per backend: `store::tests::sqlite::NAME`, `store::tests::postgres::NAME`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Postgres)
            })*
        }
    };
}

on_both_backends!(
    migrates_and_reopens_with_state,
    same_event_id_is_recorded_once,
    due_keeps_order_per_blog,
    feed_posts_mark_the_latest_correction_and_skip_removed,
    typed_states_keep_the_stored_format,
    delivery_states_are_stored_by_name,
    processes_opening_a_new_state_file_at_once_all_succeed,
    api_watches_and_post_history,
);

fn event(id: &str, kind: EventKind, post: &str) -> Event {
    Event {
        id: id.into(),
        kind,
        detected_at: Utc::now(),
        blog: BlogRef {
            url: "http://b/".into(),
            title: None,
        },
        post: Some(Post::new(post, "body")),
        previous: None,
        diff: None,
        message: None,
    }
}

/// A new store with one blog (its place goes when dropped).
fn one_blog(backend: Backend) -> (Place, Store, BlogRow) {
    let place = Place::new(backend);
    let s = place.open().unwrap();
    let b = s.blog("http://b/").unwrap();
    (place, s, b)
}

fn migrates_and_reopens_with_state(backend: Backend) {
    let place = Place::new(backend);
    let s = place.open().unwrap();
    let b = s.blog("http://b/").unwrap();
    assert!(!b.baseline_done);
    let rec = PollRecord {
        at: Utc::now(),
        baseline_done: true,
        status: BlogStatus::NoiseOnly,
        validators: Some(Validators {
            etag: Some("\"x\"".into()),
            last_modified: None,
        }),
        body_hash: Some([7; 32]),
        updates: vec![Known::first_seen(Post::new("p1", "hello"), 0, 0)],
        events: vec![(
            event("evt_1", EventKind::New, "p1"),
            vec!["a".into(), "b".into()],
        )],
        ..Default::default()
    };
    let seqs = s.save_poll(b.id, &rec).unwrap();
    assert_eq!(seqs.len(), 1);
    drop(s);
    let s = place.open().unwrap();
    let b = s.blog("http://b/").unwrap();
    assert!(b.baseline_done);
    assert_eq!(b.validators.etag.as_deref(), Some("\"x\""));
    assert_eq!(b.body_hash, Some([7; 32]));
    let k = s.known_posts(b.id).unwrap();
    assert_eq!(k.len(), 1);
    assert_eq!(k[0].post.body, "hello");
    assert_eq!(s.outbox(Some(DeliveryState::Pending)).unwrap().len(), 2);
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
}

fn same_event_id_is_recorded_once(backend: Backend) {
    let (_place, s, b) = one_blog(backend);
    let rec = PollRecord {
        at: Utc::now(),
        events: vec![(event("evt_1", EventKind::New, "p1"), vec!["a".into()])],
        ..Default::default()
    };
    s.save_poll(b.id, &rec).unwrap();
    s.save_poll(b.id, &rec).unwrap();
    assert_eq!(s.outbox(None).unwrap().len(), 1);
}

fn due_keeps_order_per_blog(backend: Backend) {
    let place = Place::new(backend);
    let s = place.open().unwrap();
    let b1 = s.blog("http://b1/").unwrap();
    let b2 = s.blog("http://b2/").unwrap();
    let now = Utc::now();
    for (b, ids) in [(b1.id, ["e1", "e2"]), (b2.id, ["e3", "e4"])] {
        let rec = PollRecord {
            at: now,
            events: ids
                .iter()
                .map(|i| (event(i, EventKind::New, i), vec!["n".to_string()]))
                .collect(),
            ..Default::default()
        };
        s.save_poll(b, &rec).unwrap();
    }
    let due = s.due("n", now, 10).unwrap();
    let ids: Vec<&str> = due.iter().map(|p| p.event.id.as_str()).collect();
    assert_eq!(ids, vec!["e1", "e3"]);
    // e1 waits for a retry: e2 must not overtake it, b2 goes on.
    s.mark_retry(due[0].seq, "n", now + chrono::Duration::seconds(60), "503")
        .unwrap();
    s.mark_done(due[1].seq, "n", None, now).unwrap();
    let ids: Vec<String> = s
        .due("n", now, 10)
        .unwrap()
        .into_iter()
        .map(|p| p.event.id)
        .collect();
    assert_eq!(ids, vec!["e4"]);
    s.mark_dead(due[0].seq, "n", "400").unwrap();
    assert_eq!(s.outbox(Some(DeliveryState::Dead)).unwrap().len(), 1);
    assert_eq!(s.retry_dead(now).unwrap(), 1);
    assert_eq!(s.outbox(Some(DeliveryState::Dead)).unwrap().len(), 0);
}

fn feed_posts_mark_the_latest_correction_and_skip_removed(backend: Backend) {
    let place = Place::new(backend);
    let s = place.open().unwrap();
    assert!(s.find_blog("http://b/").unwrap().is_none());
    let b = s.blog("http://b/").unwrap();
    assert_eq!(s.find_blog("http://b/").unwrap().map(|r| r.id), Some(b.id));
    assert_eq!(s.last_event_seq().unwrap(), 0);
    let mut gone = Known::first_seen(Post::new("p3", "gone"), 0, 2);
    gone.removed = true;
    let poll = |events: Vec<(Event, Vec<String>)>, updates: Vec<Known>| PollRecord {
        at: Utc::now(),
        baseline_done: true,
        status: BlogStatus::NoiseOnly,
        updates,
        events,
        ..Default::default()
    };
    s.save_poll(
        b.id,
        &poll(
            vec![
                (event("e1", EventKind::Correction, "p1"), vec![]),
                (event("e2", EventKind::Correction, "p2"), vec![]),
            ],
            vec![
                Known::first_seen(Post::new("p1", "one"), 0, 0),
                Known::first_seen(Post::new("p2", "two"), 0, 1),
                gone,
            ],
        ),
    )
    .unwrap();
    // A plain edit after the correction: p2 is shown as edited, not corrected.
    s.save_poll(
        b.id,
        &poll(vec![(event("e3", EventKind::Edit, "p2"), vec![])], vec![]),
    )
    .unwrap();
    let mut posts = s.feed_posts(b.id).unwrap();
    posts.sort_by(|a, b| a.current.post.id.cmp(&b.current.post.id));
    let got: Vec<(&str, bool, (i64, i64))> = posts
        .iter()
        .map(|p| (p.current.post.id.as_str(), p.corrected, p.order))
        .collect();
    assert_eq!(got, [("p1", true, (0, 0)), ("p2", false, (0, -1))]);
    assert_eq!(s.last_event_seq().unwrap(), 3);
}

#[test]
fn blog_status_lines_read_back_as_written() {
    let lines = [
        (BlogStatus::New, "new"),
        (BlogStatus::NotModified, "ok: not modified (304)"),
        (BlogStatus::BodyUnchanged, "ok: body unchanged"),
        (BlogStatus::NoiseOnly, "ok: only noise changed"),
        (
            BlogStatus::Posts {
                count: 12,
                extractor: "profile (guardian)".into(),
            },
            "ok: 12 posts (profile (guardian))",
        ),
        (
            BlogStatus::Error("HTTP 503 (retry after 2 posts (x))".into()),
            "error: HTTP 503 (retry after 2 posts (x))",
        ),
        (BlogStatus::Gone, "gone (HTTP 410): no longer polled"),
        // Lines this build does not write stay as they are.
        (
            BlogStatus::Other("ok: 012 posts (x)".into()),
            "ok: 012 posts (x)",
        ),
        (
            BlogStatus::Other("ok: +3 posts (x)".into()),
            "ok: +3 posts (x)",
        ),
        (BlogStatus::Other("paused".into()), "paused"),
    ];
    for (status, line) in lines {
        assert_eq!(status.to_string(), line);
        assert_eq!(BlogStatus::parse(line), status, "{line}");
    }
}

/// A database written before the states were typed: the same column contents read as
/// typed values, and are written back unchanged.
fn typed_states_keep_the_stored_format(backend: Backend) {
    let (_place, s, b) = one_blog(backend);
    assert_eq!((b.status.clone(), b.sched.clone()), Default::default());
    // As the untyped store wrote them: the status line, and the pace as a JSON object
    // with its keys in order.
    let old_sched = r#"{"closed_at":null,"closed_why":null,"interval_ms":60000,"last_activity":"2024-05-01T10:00:00Z","mean_gap":240.5,"reason":"live: 4 posts in 10 min","recent":["2024-05-01T10:00:00Z"],"retired":false}"#;
    s.with(|c| {
        c.execute(
            "UPDATE blogs SET status = 'ok: 3 posts (jsonld)', sched = ?2 WHERE id = ?1",
            params![b.id, old_sched],
        )
    })
    .unwrap();
    let b = s.find_blog("http://b/").unwrap().unwrap();
    assert_eq!(
        b.status,
        BlogStatus::Posts {
            count: 3,
            extractor: "jsonld".into()
        }
    );
    assert_eq!(b.sched.mean_gap, Some(240.5));
    assert_eq!(b.sched.interval_ms, Some(60_000));
    assert_eq!(b.sched.reason.as_deref(), Some("live: 4 posts in 10 min"));
    assert_eq!(b.sched.recent.len(), 1);

    s.touch(b.id, Utc::now(), &b.status, Some(&b.sched), false, &[])
        .unwrap();
    let (status, sched): (String, String) = s
        .with(|c| {
            let r = c.query_row(
                "SELECT status, sched FROM blogs WHERE id = ?1",
                params![b.id],
            )?;
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "ok: 3 posts (jsonld)");
    let as_json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(as_json(&sched), as_json(old_sched));

    // A pace that is not one (a foreign or broken value) starts afresh.
    s.with(|c| {
        c.execute(
            "UPDATE blogs SET sched = 'not json' WHERE id = ?1",
            params![b.id],
        )
    })
    .unwrap();
    assert_eq!(
        s.find_blog("http://b/").unwrap().unwrap().sched,
        Pace::default()
    );
}

fn delivery_states_are_stored_by_name(backend: Backend) {
    let (_place, s, b) = one_blog(backend);
    let rec = PollRecord {
        at: Utc::now(),
        events: vec![(
            event("e1", EventKind::New, "p1"),
            vec!["a".into(), "b".into(), "c".into()],
        )],
        ..Default::default()
    };
    let seq = s.save_poll(b.id, &rec).unwrap()[0];
    s.mark_done(seq, "a", None, Utc::now()).unwrap();
    s.mark_dead(seq, "b", "400").unwrap();
    let stored: Vec<(String, String)> = s
        .with(|c| {
            c.query(
                "SELECT notifier, state FROM deliveries ORDER BY notifier",
                params![],
            )?
            .iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect()
        })
        .unwrap();
    let names = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        stored,
        names(&[("a", "done"), ("b", "dead"), ("c", "pending")])
    );
    let states: Vec<(String, DeliveryState)> = s
        .outbox(None)
        .unwrap()
        .into_iter()
        .map(|p| (p.notifier, p.state))
        .collect();
    assert_eq!(
        states,
        [
            ("b".to_string(), DeliveryState::Dead),
            ("c".to_string(), DeliveryState::Pending)
        ]
    );
    assert_eq!(format!("{:<7}|", DeliveryState::Dead), "dead   |");
    assert_eq!(s.outbox_depth().unwrap(), (1, 1));
}

/// How `livewatch` prints a failed command (cli::main: `livewatch: {e:#}`).
fn as_the_cli_prints(e: StoreError) -> String {
    format!("livewatch: {:#}", anyhow::Error::new(e))
}

#[test]
fn a_store_error_prints_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    // A state dir that cannot be made: its parent is a file.
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let state = file.join("state");
    let os = std::fs::create_dir_all(&state).unwrap_err().to_string();
    assert!(os.contains("os error"), "{os}");
    let e = Store::open(&state)
        .err()
        .expect("no state dir under a file");
    assert!(matches!(e, StoreError::Dir { .. }), "{e:?}");
    assert!(
        !e.to_string().contains(&os),
        "the message is not the cause: {e}"
    );
    for text in [as_the_cli_prints(e), {
        let e = Store::open(&state).err().unwrap();
        crate::fetch::error_chain(&e)
    }] {
        assert_eq!(text.matches(&os).count(), 1, "{text}");
        assert!(text.contains(&state.display().to_string()), "{text}");
    }

    // A state file that is not a database.
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(
        Store::file_in(&state),
        "not a database, but long enough to look like one: ".repeat(40),
    )
    .unwrap();
    let e = Store::open(&state)
        .err()
        .expect("a file that is not a database");
    assert!(matches!(e, StoreError::Open { .. }), "{e:?}");
    let text = as_the_cli_prints(e);
    assert_eq!(text.matches("file is not a database").count(), 1, "{text}");
    assert!(
        text.starts_with(&format!(
            "livewatch: state database {}: ",
            Store::file_in(&state).display()
        )),
        "{text}"
    );
}

fn processes_opening_a_new_state_file_at_once_all_succeed(backend: Backend) {
    // `livewatch status` run while the daemon starts (or, on PostgreSQL, instances
    // starting at once): all migrate the same new file or database.
    for _ in 0..10 {
        let place = Place::new(backend);
        let opened: Vec<Result<Store, StoreError>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4).map(|_| s.spawn(|| place.open())).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in opened {
            let store = r.expect("every open succeeds");
            assert!(store.blogs().unwrap().is_empty());
        }
    }
}

fn api_watches_and_post_history(backend: Backend) {
    let (_place, s, b) = one_blog(backend);
    let now = Utc::now();
    let spec = serde_json::json!({"url": "http://w/", "interval": "30s"});
    let w = s.add_api_watch("http://w/", &spec, now).unwrap().unwrap();
    assert_eq!(
        (w.url.as_str(), &w.spec, w.paused),
        ("http://w/", &spec, false)
    );
    assert!(s.add_api_watch("http://w/", &spec, now).unwrap().is_none());
    let paused = s.set_api_watch_paused(w.id, true).unwrap().unwrap();
    assert!(paused.paused);
    assert!(s.set_api_watch_paused(w.id + 100, true).unwrap().is_none());
    assert_eq!(s.api_watches().unwrap(), vec![paused]);
    assert!(s.remove_api_watch(w.id).unwrap());
    assert!(!s.remove_api_watch(w.id).unwrap());

    let mut k = Known::first_seen(Post::new("p1", "first"), 0, 0);
    let rec = |k: &Known, id: &str| PollRecord {
        at: Utc::now(),
        baseline_done: true,
        new_post: true,
        updates: vec![k.clone()],
        events: vec![(event(id, EventKind::New, "p1"), vec!["n".into()])],
        ..Default::default()
    };
    s.save_poll(b.id, &rec(&k, "e1")).unwrap();
    k.post.body = "second".into();
    k.revision += 1;
    s.save_poll(b.id, &rec(&k, "e2")).unwrap();
    let h = s.post_history("http://b/", "p1").unwrap().unwrap();
    let bodies: Vec<&str> = h.revisions.iter().map(|r| r.post.body.as_str()).collect();
    assert_eq!(bodies, ["first", "second"]);
    assert!(!h.removed);
    assert!(s.post_history("http://b/", "nope").unwrap().is_none());
    assert_eq!(s.post_counts(b.id).unwrap(), (1, 0));
    assert!(!s.has_pending_removals(b.id).unwrap());
    let row = s.find_blog("http://b/").unwrap().unwrap();
    assert!(row.baseline_done && row.last_new_post_at.is_some());
    assert_eq!(row.polls, 2);
    assert_eq!(s.baselines_taken().unwrap(), 1);
    let recent: Vec<String> = s
        .recent_events(1)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.id)
        .collect();
    assert_eq!(recent, ["e2"]);
    let seq = s.event_seq("e1").unwrap().unwrap();
    assert_eq!(s.events_after(seq, 10).unwrap().len(), 1);
    assert_eq!(s.remote_id_for_post("n", b.id, "p1").unwrap(), None);
    s.mark_done(seq, "n", Some("m-1"), Utc::now()).unwrap();
    assert_eq!(
        s.remote_id_for_post("n", b.id, "p1").unwrap().as_deref(),
        Some("m-1")
    );
    assert_eq!(s.undelivered_by_notifier().unwrap(), [("n".to_string(), 1)]);
    assert_eq!(s.pending_by_blog().unwrap().get(&b.id), Some(&1));
    assert_eq!(s.drop_undelivered("n").unwrap(), 1);
    assert_eq!(s.outbox_depth().unwrap(), (0, 0));
    assert_eq!(
        s.record_failure(
            b.id,
            Utc::now(),
            &BlogStatus::Error("HTTP 503".into()),
            "HTTP 503",
            &[]
        )
        .unwrap(),
        1
    );
    s.check_writable().unwrap();
}

#[test]
fn a_postgres_error_prints_its_cause_once() {
    // Nothing listens on this port (the server's own port, once it is stopped, is not
    // used: a fresh free port is).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://livewatch:secret@127.0.0.1:{port}/lw");
    let e = Store::open_postgres(&url).err().expect("nothing listens");
    assert!(matches!(e, StoreError::PgOpen { .. }), "{e:?}");
    let text = as_the_cli_prints(e);
    assert!(
        text.starts_with(&format!(
            "livewatch: state database postgres://livewatch@127.0.0.1:{port}/lw: error connecting to server: "
        )),
        "{text}"
    );
    assert_eq!(text.matches("refused").count(), 1, "{text}");
    assert!(!text.contains("secret"), "{text}");
}

#[test]
fn a_postgres_database_of_a_newer_livewatch_is_refused() {
    let url = testpg::server().fresh_database();
    let s = Store::open_postgres(&url).unwrap();
    s.with(|c| c.execute("UPDATE livewatch_schema SET version = 99", params![]))
        .unwrap();
    drop(s);
    let e = Store::open_postgres(&url).err().expect("a newer schema");
    assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e:?}");
}

#[test]
fn leases_are_claimed_once_renewed_expire_and_are_released() {
    let place = Place::new(Backend::Postgres);
    let s = place.open().unwrap();
    let urls: Vec<String> = (0..5).map(|i| format!("http://b{i}/")).collect();
    for u in &urls {
        s.blog(u).unwrap();
    }
    let (t0, lease) = (1_000_000, 2_000);
    assert_eq!(s.heartbeat("a", t0, lease).unwrap(), ["a"]);
    assert_eq!(s.heartbeat("b", t0, lease).unwrap(), ["a", "b"]);
    // Two instances claiming at once from two threads: each blog goes to one.
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(|| s.claim_leases("a", &urls, t0, t0 + lease, 3).unwrap());
        let b = sc.spawn(|| s.claim_leases("b", &urls, t0, t0 + lease, 3).unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.len() + b.len(), 5, "{a:?} {b:?}");
    assert!(a.iter().all(|u| !b.contains(u)), "{a:?} {b:?}");
    // Nothing is left to claim while the leases run.
    assert!(s
        .claim_leases("c", &urls, t0 + 1, t0 + lease, 5)
        .unwrap()
        .is_empty());
    // a renews; b does not and loses its blogs at the deadline.
    let mut renewed = s.renew_leases("a", &urls, t0 + 3 * lease).unwrap();
    renewed.sort();
    let mut a_sorted = a.clone();
    a_sorted.sort();
    assert_eq!(renewed, a_sorted);
    let mut taken = s
        .claim_leases("c", &urls, t0 + lease + 1, t0 + 2 * lease, 5)
        .unwrap();
    taken.sort();
    let mut b_sorted = b.clone();
    b_sorted.sort();
    assert_eq!(taken, b_sorted);
    assert!(s
        .renew_leases("b", &urls, t0 + 3 * lease)
        .unwrap()
        .is_empty());
    assert_eq!(s.lease_of(&b[0]).unwrap().unwrap().0, "c");
    let mut leased = s.leased_urls(t0 + lease + 1).unwrap();
    leased.sort();
    assert_eq!(leased, urls);
    assert_eq!(
        s.leased_urls(t0 + 3 * lease + 1).unwrap(),
        Vec::<String>::new()
    );
    // b is no longer counted once silent for a lease.
    assert_eq!(s.heartbeat("a", t0 + lease + 1, lease).unwrap(), ["a"]);
    // Released: free for anyone.
    assert_eq!(s.release_leases("a", Some(&a[..1])).unwrap(), 1);
    assert_eq!(s.lease_of(&a[0]).unwrap(), None);
    assert_eq!(s.release_leases("a", None).unwrap() as usize, a.len() - 1);
    s.instance_gone("a").unwrap();
    assert_eq!(s.heartbeat("c", t0 + lease + 1, lease).unwrap(), ["c"]);
    // SQLite (one instance) has no leases.
    let sqlite = Place::new(Backend::Sqlite).open().unwrap();
    let e = sqlite
        .claim_leases("a", &urls, t0, t0 + lease, 1)
        .unwrap_err();
    assert!(
        matches!(e, StoreError::NeedsPostgres("claim_leases")),
        "{e:?}"
    );
}

#[test]
fn a_poll_write_without_the_lease_is_dropped() {
    let place = Place::new(Backend::Postgres);
    let s = place.open().unwrap();
    let b = s.blog("http://b/").unwrap();
    let urls = vec!["http://b/".to_string()];
    let now = Utc::now().timestamp_millis();
    assert_eq!(
        s.claim_leases("b", &urls, now, now + 60_000, 1).unwrap(),
        urls
    );
    let rec = PollRecord {
        at: Utc::now(),
        baseline_done: true,
        updates: vec![Known::first_seen(Post::new("p1", "hello"), 0, 0)],
        events: vec![(event("e1", EventKind::New, "p1"), vec!["n".into()])],
        ..Default::default()
    };
    let a = s.leased_by("a");
    let e = a.save_poll(b.id, &rec).unwrap_err();
    assert!(matches!(e, StoreError::LeaseLost { .. }), "{e:?}");
    for e in [
        a.touch(b.id, Utc::now(), &BlogStatus::NotModified, None, false, &[]),
        a.checked(b.id, 1, Utc::now(), &Pace::default()),
        a.record_failure(b.id, Utc::now(), &BlogStatus::Error("x".into()), "x", &[])
            .map(|_| ()),
    ] {
        assert!(matches!(e, Err(StoreError::LeaseLost { .. })), "{e:?}");
    }
    // Nothing of it was written.
    assert!(s.known_posts(b.id).unwrap().is_empty());
    assert!(s.outbox(None).unwrap().is_empty());
    assert_eq!(s.find_blog("http://b/").unwrap().unwrap().polls, 0);
    // The holder writes.
    assert_eq!(s.leased_by("b").save_poll(b.id, &rec).unwrap().len(), 1);
    assert_eq!(s.known_posts(b.id).unwrap().len(), 1);
}
