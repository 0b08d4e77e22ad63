use super::*;
use crate::diff::Known;
use crate::fetch::Validators;
use crate::model::{BlogRef, Event, EventKind, Post};
use rusqlite::params;

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

/// A new store with one blog (the dir goes when dropped).
fn one_blog() -> (tempfile::TempDir, Store, BlogRow) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let b = s.blog("http://b/").unwrap();
    (dir, s, b)
}

#[test]
fn migrates_and_reopens_with_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
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
    let s = Store::open(dir.path()).unwrap();
    let b = s.blog("http://b/").unwrap();
    assert!(b.baseline_done);
    assert_eq!(b.validators.etag.as_deref(), Some("\"x\""));
    assert_eq!(b.body_hash, Some([7; 32]));
    let k = s.known_posts(b.id).unwrap();
    assert_eq!(k.len(), 1);
    assert_eq!(k[0].post.body, "hello");
    assert_eq!(s.outbox(Some(DeliveryState::Pending)).unwrap().len(), 2);
    let v: i64 = s
        .with(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
}

#[test]
fn same_event_id_is_recorded_once() {
    let (_dir, s, b) = one_blog();
    let rec = PollRecord {
        at: Utc::now(),
        events: vec![(event("evt_1", EventKind::New, "p1"), vec!["a".into()])],
        ..Default::default()
    };
    s.save_poll(b.id, &rec).unwrap();
    s.save_poll(b.id, &rec).unwrap();
    assert_eq!(s.outbox(None).unwrap().len(), 1);
}

#[test]
fn due_keeps_order_per_blog() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
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

#[test]
fn feed_posts_mark_the_latest_correction_and_skip_removed() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
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
#[test]
fn typed_states_keep_the_stored_format() {
    let (_dir, s, b) = one_blog();
    assert_eq!((b.status.clone(), b.sched.clone()), Default::default());
    // As the untyped store wrote them: the status line, and the pace as a JSON object
    // with its keys in order.
    let old_sched = r#"{"closed_at":null,"closed_why":null,"interval_ms":60000,"last_activity":"2024-05-01T10:00:00Z","mean_gap":240.5,"reason":"live: 4 posts in 10 min","recent":["2024-05-01T10:00:00Z"],"retired":false}"#;
    s.with(|c| {
        c.execute(
            "UPDATE blogs SET status = 'ok: 3 posts (jsonld)', sched = ?2 WHERE id = ?1",
            params![b.id, old_sched],
        )?;
        Ok(())
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
            Ok(c.query_row(
                "SELECT status, sched FROM blogs WHERE id = ?1",
                [b.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .unwrap();
    assert_eq!(status, "ok: 3 posts (jsonld)");
    let as_json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(as_json(&sched), as_json(old_sched));

    // A pace that is not one (a foreign or broken value) starts afresh.
    s.with(|c| {
        c.execute("UPDATE blogs SET sched = 'not json' WHERE id = ?1", [b.id])?;
        Ok(())
    })
    .unwrap();
    assert_eq!(
        s.find_blog("http://b/").unwrap().unwrap().sched,
        Pace::default()
    );
}

#[test]
fn delivery_states_are_stored_by_name() {
    let (_dir, s, b) = one_blog();
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
            let mut st = c.prepare("SELECT notifier, state FROM deliveries ORDER BY notifier")?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
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

#[test]
fn processes_opening_a_new_state_file_at_once_all_succeed() {
    // `livewatch status` run while the daemon starts: both migrate the same new file.
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let opened: Vec<Result<Store, StoreError>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| Store::open(dir.path())))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in opened {
            let store = r.expect("every open succeeds");
            assert!(store.blogs().unwrap().is_empty());
        }
    }
}
