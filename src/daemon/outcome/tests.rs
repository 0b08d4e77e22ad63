//! The poll rules on values alone: no store, no network, no clock.

use super::*;
use crate::extract::{Attempt, Closed};
use crate::model::Post;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn ctx(watch: &Watch) -> Context<'_> {
    Context {
        watch,
        routes: &[],
        problem_after: 3,
    }
}

fn extraction(posts: Vec<Post>) -> Extraction {
    Extraction {
        title: Some("Page title".into()),
        posts,
        extractor: "jsonld".into(),
        closed: None,
        attempts: Vec::new(),
        layout: None,
        runner_up: None,
        deleted: Vec::new(),
        complete: false,
    }
}

fn post(id: &str, body: &str) -> Post {
    Post::new(id, body)
}

fn page<'a>(e: &'a Extraction, v: &'a Validators) -> Parsed<'a> {
    Parsed {
        extraction: e,
        validators: v,
        body_hash: [7; 32],
        content_fp: Some([9; 32]),
    }
}

/// Decide on page `e` for `blog` with its `known` posts.
fn on_page(
    watch: &Watch,
    blog: &BlogRow,
    e: &Extraction,
    known: &[Known],
    t: DateTime<Utc>,
) -> Outcome {
    let v = Validators::default();
    decide(
        ctx(watch),
        blog,
        Seen::Page {
            parsed: page(e, &v),
            known,
        },
        t,
    )
}

/// Decide on an unchanged page with no posts waiting for a second look.
fn unchanged(watch: &Watch, blog: &BlogRow, status: &BlogStatus, t: DateTime<Utc>) -> Outcome {
    decide(
        ctx(watch),
        blog,
        Seen::Unchanged {
            status: status.clone(),
            known: None,
        },
        t,
    )
}

/// The blog after a baseline of `posts` at `t`, as the store would hold it.
fn after_baseline(watch: &Watch, posts: &[Post], t: DateTime<Utc>) -> (BlogRow, Vec<Known>) {
    let blog = BlogRow::default();
    let e = extraction(posts.to_vec());
    let v = Validators::default();
    let o = decide(
        ctx(watch),
        &blog,
        Seen::Page {
            parsed: page(&e, &v),
            known: &[],
        },
        t,
    );
    let Write::Poll(rec) = o.write else {
        panic!("a baseline writes a poll: {:?}", o.write)
    };
    let row = BlogRow {
        baseline_done: true,
        polls: 1,
        body_hash: rec.body_hash,
        content_fp: rec.content_fp,
        status: rec.status.clone(),
        sched: rec.sched.clone().unwrap(),
        title: rec.title.clone(),
        last_poll_at: Some(t),
        ..Default::default()
    };
    (row, rec.updates)
}

#[test]
fn the_first_page_is_the_baseline_and_announces_only_what_the_watch_asks() {
    let mut watch = Watch::new("http://b.test/");
    watch.announce_existing = 1;
    let t = at("2020-05-01T08:00:00Z");
    let e = extraction(vec![post("2", "newer"), post("1", "older")]);
    let v = Validators::default();
    let o = decide(
        ctx(&watch),
        &BlogRow::default(),
        Seen::Page {
            parsed: page(&e, &v),
            known: &[],
        },
        t,
    );
    assert_eq!(o.baseline, Some((2, "jsonld".to_string())));
    let Write::Poll(rec) = &o.write else {
        panic!("{:?}", o.write)
    };
    assert_eq!(rec.updates.len(), 2);
    assert_eq!(rec.at, t);
    let events = o.events();
    assert_eq!(events.len(), 1, "one existing post announced");
    let e = &events[0].0;
    assert_eq!((e.kind, e.detected_at), (EventKind::New, t));
    assert_eq!(e.post.as_ref().map(|p| p.id.as_str()), Some("2"));
    assert_eq!(e.blog.title.as_deref(), Some("Page title"));
}

#[test]
fn the_third_failure_in_a_row_is_a_problem_stamped_with_the_poll_time() {
    let watch = Watch::new("http://b.test/");
    let t = at("2020-05-01T08:00:00Z");
    let mut blog = BlogRow::default();
    for n in 1..=4u32 {
        let o = decide(
            ctx(&watch),
            &blog,
            Seen::Failed {
                error: "timed out",
                gone: false,
                retry_after: None,
            },
            t,
        );
        let problems: Vec<&Event> = o.events().iter().map(|(e, _)| e).collect();
        assert_eq!(problems.len(), usize::from(n == 3), "failure {n}");
        if let Some(p) = problems.first() {
            assert_eq!((p.kind, p.detected_at), (EventKind::Problem, t));
            assert!(p.message.as_deref().unwrap().contains("failed 3 polls"));
        }
        match o.next {
            Next::Failed { failures, gone, .. } => assert_eq!((failures, gone), (n, false)),
            Next::Ok(_) => panic!("a failure"),
        }
        blog.failures = n;
    }
    // The next good poll says the blog works again, at its own time.
    blog.baseline_done = true;
    let later = at("2020-05-03T12:00:00Z");
    let o = decide(
        ctx(&watch),
        &blog,
        Seen::Unchanged {
            status: BlogStatus::NotModified,
            known: None,
        },
        later,
    );
    let kinds: Vec<(EventKind, DateTime<Utc>)> = o
        .events()
        .iter()
        .map(|(e, _)| (e.kind, e.detected_at))
        .collect();
    assert_eq!(kinds, vec![(EventKind::Recovered, later)]);
    assert!(!o.only_time, "the failures are reset");
}

#[test]
fn a_gone_blog_is_a_problem_at_once_and_retired() {
    let watch = Watch::new("http://b.test/");
    let o = decide(
        ctx(&watch),
        &BlogRow::default(),
        Seen::Failed {
            error: "HTTP 410",
            gone: true,
            retry_after: None,
        },
        at("2020-05-01T08:00:00Z"),
    );
    assert!(matches!(o.write, Write::Failure { gone: true, .. }));
    assert_eq!(o.events().len(), 1);
    assert!(o.events()[0]
        .0
        .message
        .as_deref()
        .unwrap()
        .contains("is gone"));
}

#[test]
fn an_unchanged_check_changes_only_the_time_until_the_blog_goes_quiet_for_48h() {
    let watch = Watch::new("http://b.test/");
    let t0 = at("2020-05-01T08:00:00Z");
    let (mut blog, _) = after_baseline(&watch, &[post("1", "one")], t0);
    let status = &Verdict::NotModified.status().unwrap();
    // The first 304 changes the status line; the ones after it only the time.
    let o = unchanged(&watch, &blog, status, t0);
    assert!(!o.only_time);
    blog.status = status.clone();
    let Write::Touch { pace, .. } = &o.write else {
        panic!("{:?}", o.write)
    };
    blog.sched = pace.clone();
    let t1 = at("2020-05-01T08:01:00Z");
    let o = unchanged(&watch, &blog, status, t1);
    assert!(o.only_time && o.events().is_empty(), "{o:?}");
    // Two days without a post: closed, once, at that poll's time.
    let t2 = at("2020-05-03T08:01:00Z");
    let o = unchanged(&watch, &blog, status, t2);
    let e: Vec<&Event> = o.events().iter().map(|(e, _)| e).collect();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].kind, e[0].detected_at), (EventKind::Closed, t2));
    assert!(!o.only_time);
}

#[test]
fn a_page_that_lost_every_known_post_is_a_failure_not_a_mass_removal() {
    let watch = Watch::new("http://b.test/");
    let t0 = at("2020-05-01T08:00:00Z");
    let three = [post("1", "one"), post("2", "two"), post("3", "three")];
    let (blog, known) = after_baseline(&watch, &three, t0);
    let e = extraction(vec![post("x", "Please accept cookies")]);
    let o = on_page(&watch, &blog, &e, &known, t0);
    let Write::Failure {
        status: BlogStatus::Error(error),
        ..
    } = &o.write
    else {
        panic!("{:?}", o.write)
    };
    assert!(error.contains("none of the 3 known ones"), "{error}");

    let mut empty = extraction(Vec::new());
    empty.attempts.push(Attempt {
        extractor: "jsonld".into(),
        reason: "no LiveBlogPosting".into(),
    });
    let o = on_page(&watch, &blog, &empty, &known, t0);
    let Write::Failure {
        status: BlogStatus::Error(error),
        ..
    } = &o.write
    else {
        panic!("{:?}", o.write)
    };
    assert!(error.contains("jsonld: no LiveBlogPosting"), "{error}");
}

#[test]
fn an_edit_and_a_new_post_are_events_of_the_poll_and_no_closing_while_posts_come() {
    let watch = Watch::new("http://b.test/");
    let t0 = at("2020-05-01T08:00:00Z");
    let (blog, known) = after_baseline(&watch, &[post("1", "the first words")], t0);
    let t1 = at("2020-05-01T09:00:00Z");
    let mut e = extraction(vec![
        post("2", "a new post"),
        post("1", "the first words, edited"),
    ]);
    e.closed = Some(Closed::Phrase("this live blog has ended".into()));
    let o = on_page(&watch, &blog, &e, &known, t1);
    // "Ended" on a page still posting is not believed until the blog is quiet too.
    let mut kinds: Vec<EventKind> = o.events().iter().map(|(e, _)| e.kind).collect();
    kinds.sort_by_key(|k| k.as_str());
    assert_eq!(kinds, vec![EventKind::Edit, EventKind::New]);
    assert!(o.events().iter().all(|(e, _)| e.detected_at == t1));
    let Write::Poll(rec) = &o.write else {
        panic!("{:?}", o.write)
    };
    assert!(rec.new_post);
}

#[test]
fn the_verdict_parses_only_what_changed() {
    let blog = BlogRow {
        baseline_done: true,
        body_hash: Some([1; 32]),
        content_fp: Some([2; 32]),
        ..Default::default()
    };
    let never = || -> Option<Fingerprint> { panic!("no fingerprint of an identical body") };
    assert_eq!(
        Verdict::of_page(&blog, &[1; 32], never).0,
        Verdict::SameBody
    );
    assert_eq!(
        Verdict::of_page(&blog, &[3; 32], || Some([2; 32])),
        (Verdict::NoiseOnly, Some([2; 32]))
    );
    assert_eq!(
        Verdict::of_page(&blog, &[3; 32], || Some([4; 32])).0,
        Verdict::Parse
    );
    assert_eq!(Verdict::of_page(&blog, &[3; 32], || None).0, Verdict::Parse);
    let fresh = BlogRow::default();
    assert_eq!(
        Verdict::of_page(&fresh, &[1; 32], || Some([2; 32])).0,
        Verdict::Parse,
        "no baseline yet"
    );
}
