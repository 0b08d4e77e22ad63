use super::*;
use crate::diff::Known;
use crate::fetch::Validators;
use crate::model::{BlogRef, Event, EventKind, Post};

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

#[test]
fn migrates_and_reopens_with_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let b = s.blog("http://b/").unwrap();
    assert!(!b.baseline_done);
    let rec = PollRecord {
        at: Utc::now(),
        baseline_done: true,
        status: "ok".into(),
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
    assert_eq!(s.outbox(Some("pending")).unwrap().len(), 2);
    let v: i64 = s
        .with(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
}

#[test]
fn same_event_id_is_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let b = s.blog("http://b/").unwrap();
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
    assert_eq!(s.outbox(Some("dead")).unwrap().len(), 1);
    assert_eq!(s.retry_dead(now).unwrap(), 1);
    assert_eq!(s.outbox(Some("dead")).unwrap().len(), 0);
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
        status: "ok".into(),
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
