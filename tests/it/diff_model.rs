//! Property test of change detection: a random blog under random operations (add, edit,
//! correct, delete, window shift, noise, pin, repeated poll, restart) → the events that
//! `diff::compare` emits equal those of a simple model. Restarts go through the real
//! SQLite store.

use chrono::{TimeZone, Utc};
use livewatch::diff::{compare, Known};
use livewatch::model::{EventKind, Post};
use livewatch::store::{PollRecord, Store};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Add,
    Edit(usize),
    Correct(usize),
    Delete(usize),
    Window(usize),
    Noise,
    Pin(usize),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Add),
        2 => (0..50usize).prop_map(Op::Edit),
        1 => (0..50usize).prop_map(Op::Correct),
        1 => (0..50usize).prop_map(Op::Delete),
        1 => (1..3usize).prop_map(Op::Window),
        2 => Just(Op::Noise),
        1 => (0..50usize).prop_map(Op::Pin),
        1 => Just(Op::Restart),
    ]
}

/// The page as the newsroom has it: visible posts, newest first.
struct Blog {
    next: u32,
    posts: Vec<(u32, String, u32)>, // (number, text, noise minutes)
    with_times: bool,
}

impl Blog {
    fn post(&self, (n, text, noise): &(u32, String, u32)) -> Post {
        let mut p = Post::new(format!("p{n}"), format!("{text}\n\nPosted {noise} min ago"));
        if self.with_times {
            p.published = Some(
                Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                    + chrono::Duration::minutes(*n as i64),
            );
        }
        p
    }

    fn page(&self) -> Vec<Post> {
        self.posts.iter().map(|p| self.post(p)).collect()
    }

    fn add(&mut self) -> u32 {
        self.next += 1;
        self.posts.insert(
            0,
            (
                self.next,
                format!("Post number {} says hello", self.next),
                1,
            ),
        );
        self.next
    }
}

struct Watcher {
    known: Vec<Known>,
    polls: i64,
    store: Store,
    blog_id: i64,
}

impl Watcher {
    fn poll(&mut self, page: &[Post]) -> Vec<(EventKind, String)> {
        self.polls += 1;
        let out = compare(&self.known, page, self.polls);
        for u in &out.updates {
            match self.known.iter_mut().find(|k| k.post.id == u.post.id) {
                Some(k) => *k = u.clone(),
                None => self.known.push(u.clone()),
            }
        }
        self.store
            .save_poll(
                self.blog_id,
                &PollRecord {
                    at: Utc::now(),
                    baseline_done: true,
                    updates: out.updates,
                    ..Default::default()
                },
            )
            .unwrap();
        out.changes
            .into_iter()
            .map(|c| (c.kind, c.post.id))
            .collect()
    }

    fn restart(&mut self, dir: &std::path::Path) {
        self.store = Store::open(dir).unwrap();
        self.known = self.store.known_posts(self.blog_id).unwrap();
    }
}

fn run(initial: usize, ops: Vec<Op>, with_times: bool) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let blog_id = store.blog("http://blog/").unwrap().id;
    let mut blog = Blog {
        next: 0,
        posts: vec![],
        with_times,
    };
    for _ in 0..initial {
        blog.add();
    }
    let page = blog.page();
    let known: Vec<Known> = page
        .iter()
        .enumerate()
        .map(|(i, p)| Known::first_seen(p.clone(), 0, i))
        .collect();
    store
        .save_poll(
            blog_id,
            &PollRecord {
                at: Utc::now(),
                baseline_done: true,
                updates: known.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    let mut w = Watcher {
        known,
        polls: 0,
        store,
        blog_id,
    };
    for op in ops {
        let len = blog.posts.len();
        let mut expected: Vec<(EventKind, String)> = vec![];
        let mut page_extra: Option<Post> = None;
        match op {
            Op::Add => {
                let n = blog.add();
                expected.push((EventKind::New, format!("p{n}")));
            }
            Op::Edit(i) if len > 0 => {
                let p = &mut blog.posts[i % len];
                // Change the lead paragraph, not a correction note below it.
                p.1.insert_str(0, "Update: ");
                expected.push((EventKind::Edit, format!("p{}", p.0)));
            }
            Op::Correct(i) if len > 0 => {
                let p = &mut blog.posts[i % len];
                p.1.push_str(&format!(
                    "\n\nCorrection: an earlier version of this post was wrong ({}).",
                    p.1.len()
                ));
                expected.push((EventKind::Correction, format!("p{}", p.0)));
            }
            // Only a post with an older one below it: deleting the oldest is pagination.
            Op::Delete(i) if len >= 2 => {
                let p = blog.posts.remove(i % (len - 1));
                expected.push((EventKind::Removed, format!("p{}", p.0)));
            }
            Op::Window(n) if len > n => {
                let mut news = vec![];
                for _ in 0..n {
                    news.push((EventKind::New, format!("p{}", blog.add())));
                }
                for _ in 0..n {
                    blog.posts.pop();
                }
                expected.extend(news);
            }
            Op::Noise => {
                for p in &mut blog.posts {
                    p.2 += 3;
                }
            }
            Op::Pin(i) if len > 0 => {
                // A pinned copy is de-duplicated by extraction: the page is unchanged,
                // but its order may differ. Move the pinned post to the top.
                let p = blog.post(&blog.posts[i % len]);
                page_extra = Some(p);
            }
            Op::Restart => w.restart(dir.path()),
            _ => {}
        }
        let mut page = blog.page();
        if let Some(p) = page_extra {
            page.retain(|q| q.id != p.id);
            page.insert(0, p);
        }
        // Every state is polled twice: a removal needs two polls; nothing else may
        // repeat.
        let mut got = w.poll(&page);
        got.extend(w.poll(&page));
        prop_assert_eq!(
            &got,
            &expected,
            "blog {:?}",
            blog.posts.iter().map(|p| p.0).collect::<Vec<_>>()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn events_match_the_model_with_times(initial in 2..8usize, ops in prop::collection::vec(op(), 1..25)) {
        run(initial, ops, true)?;
    }

    #[test]
    fn events_match_the_model_without_times(initial in 2..8usize, ops in prop::collection::vec(op(), 1..25)) {
        run(initial, ops, false)?;
    }
}
