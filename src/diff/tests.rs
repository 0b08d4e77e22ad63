use super::*;
use chrono::TimeZone;

fn post(id: &str, minute: u32, body: &str) -> Post {
    let mut p = Post::new(id, body);
    p.published = Some(Utc.with_ymd_and_hms(2026, 1, 1, 12, minute, 0).unwrap());
    p
}

/// Apply a poll and return the new known state and the kinds emitted.
fn poll(known: &mut Vec<Known>, posts: &[Post], n: i64) -> Vec<(EventKind, String)> {
    let out = compare(known, posts, n);
    for u in out.updates {
        match known.iter_mut().find(|k| k.post.id == u.post.id) {
            Some(k) => *k = u,
            None => known.push(u),
        }
    }
    out.changes
        .into_iter()
        .map(|c| (c.kind, c.post.id))
        .collect()
}

fn baseline(posts: &[Post]) -> Vec<Known> {
    posts
        .iter()
        .enumerate()
        .map(|(i, p)| Known::first_seen(p.clone(), 0, i))
        .collect()
}

#[test]
fn new_posts_oldest_first() {
    let mut k = baseline(&[post("a", 1, "A")]);
    let got = poll(
        &mut k,
        &[post("c", 3, "C"), post("b", 2, "B"), post("a", 1, "A")],
        1,
    );
    assert_eq!(
        got,
        vec![(EventKind::New, "b".into()), (EventKind::New, "c".into())]
    );
    assert!(poll(
        &mut k,
        &[post("c", 3, "C"), post("b", 2, "B"), post("a", 1, "A")],
        2
    )
    .is_empty());
}

#[test]
fn edit_and_correction() {
    let mut k = baseline(&[post("a", 1, "The minister said 12."), post("b", 2, "B")]);
    let got = poll(
        &mut k,
        &[post("a", 1, "The minister said 21."), post("b", 2, "B")],
        1,
    );
    assert_eq!(got, vec![(EventKind::Edit, "a".into())]);
    let got = poll(
        &mut k,
        &[
            post(
                "a",
                1,
                "The minister said 22.\n\nCorrection: an earlier version said 21.",
            ),
            post("b", 2, "B"),
        ],
        2,
    );
    assert_eq!(got, vec![(EventKind::Correction, "a".into())]);
    // Editing the body again while the same note stays is a plain edit.
    let got = poll(
        &mut k,
        &[
            post(
                "a",
                1,
                "The minister said 23.\n\nCorrection: an earlier version said 21.",
            ),
            post("b", 2, "B"),
        ],
        3,
    );
    assert_eq!(got, vec![(EventKind::Edit, "a".into())]);
}

#[test]
fn whitespace_quotes_and_times_are_not_edits() {
    let mut k = baseline(&[post("a", 1, "He said “no”.  Posted 3 min ago")]);
    let mut p = post("a", 1, "He said \"no\".\n\nPosted 4 mins ago");
    p.updated = Some(Utc::now());
    p.byline = Some("X".into());
    assert!(poll(&mut k, &[p], 1).is_empty());
}

#[test]
fn removal_needs_two_polls_and_an_older_post() {
    let all = [post("c", 3, "C"), post("b", 2, "B"), post("a", 1, "A")];
    let mut k = baseline(&all);
    let without_b = [post("c", 3, "C"), post("a", 1, "A")];
    assert!(
        poll(&mut k, &without_b, 1).is_empty(),
        "one flaky poll is not a removal"
    );
    assert_eq!(
        poll(&mut k, &without_b, 2),
        vec![(EventKind::Removed, "b".into())]
    );
    assert!(poll(&mut k, &without_b, 3).is_empty(), "reported once");
    // It comes back as it was: on the page again, a `new` event (not an edit with an
    // empty diff).
    assert_eq!(poll(&mut k, &all, 4), vec![(EventKind::New, "b".into())]);
}

#[test]
fn a_removed_post_back_with_other_words_is_an_edit_with_its_diff() {
    let all = [
        post("c", 3, "C"),
        post("b", 2, "Bee one"),
        post("a", 1, "A"),
    ];
    let mut k = baseline(&all);
    let without_b = [post("c", 3, "C"), post("a", 1, "A")];
    poll(&mut k, &without_b, 1);
    assert_eq!(
        poll(&mut k, &without_b, 2),
        vec![(EventKind::Removed, "b".into())]
    );
    let back = [
        post("c", 3, "C"),
        post("b", 2, "Bee two"),
        post("a", 1, "A"),
    ];
    let out = compare(&k, &back, 3);
    assert_eq!(out.changes.len(), 1);
    let c = &out.changes[0];
    assert_eq!(c.kind, EventKind::Edit);
    assert!(
        c.diff
            .as_deref()
            .is_some_and(|d| d.contains("[-one-] {+two+}")),
        "{c:?}"
    );
    assert_eq!(
        c.previous.as_ref().map(|p| p.body.as_str()),
        Some("Bee one")
    );
    // Each return has its own event id: the revision counts the removal too.
    assert_eq!(c.revision, 2);
}

#[test]
fn flaky_absence_resets() {
    let all = [post("c", 3, "C"), post("b", 2, "B"), post("a", 1, "A")];
    let mut k = baseline(&all);
    let without_b = [post("c", 3, "C"), post("a", 1, "A")];
    assert!(poll(&mut k, &without_b, 1).is_empty());
    assert!(poll(&mut k, &all, 2).is_empty());
    assert!(poll(&mut k, &without_b, 3).is_empty());
}

#[test]
fn pagination_is_not_removal() {
    let mut k = baseline(&[post("c", 3, "C"), post("b", 2, "B"), post("a", 1, "A")]);
    let window = [post("e", 5, "E"), post("d", 4, "D"), post("c", 3, "C")];
    let got = poll(&mut k, &window, 1);
    assert_eq!(
        got,
        vec![(EventKind::New, "d".into()), (EventKind::New, "e".into())]
    );
    assert!(poll(&mut k, &window, 2).is_empty());
    assert!(poll(&mut k, &window, 3).is_empty());
}

#[test]
fn vanished_list_is_a_problem_not_removals() {
    let mut k = baseline(&[post("c", 3, "C"), post("b", 2, "B"), post("a", 1, "A")]);
    let out = compare(&k, &[], 1);
    assert_eq!(out.health, ListHealth::NoPosts);
    assert!(out.changes.is_empty());
    let out = compare(&k, &[post("x", 9, "Please accept cookies")], 1);
    assert_eq!(out.health, ListHealth::ListReplaced);
    assert!(out.changes.is_empty());
    // Still fine afterwards.
    assert!(poll(
        &mut k,
        &[post("c", 3, "C"), post("b", 2, "B"), post("a", 1, "A")],
        2
    )
    .is_empty());
}

#[test]
fn posts_without_times_use_first_seen_order() {
    let mut k = baseline(&[
        Post::new("c", "C"),
        Post::new("b", "B"),
        Post::new("a", "A"),
    ]);
    let without_b = [Post::new("c", "C"), Post::new("a", "A")];
    poll(&mut k, &without_b, 1);
    assert_eq!(
        poll(&mut k, &without_b, 2),
        vec![(EventKind::Removed, "b".into())]
    );
    let without_a = [Post::new("c", "C")];
    poll(&mut k, &without_a, 3);
    assert!(
        poll(&mut k, &without_a, 4).is_empty(),
        "the oldest leaving is pagination"
    );
}

#[test]
fn word_diff_is_short_and_marks_changes() {
    let old = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen Ukrainan president said";
    let new = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen Ukrainian president said";
    let d = word_diff(old, new);
    assert!(
        d.contains("[-Ukrainan-]") && d.contains("{+Ukrainian+}"),
        "{d}"
    );
    assert!(d.starts_with('…'), "{d}");
    assert!(!d.contains("one two"), "{d}");
}

#[test]
fn newest_n_oldest_first() {
    let posts = [post("c", 3, "C"), post("b", 2, "B"), post("a", 1, "A")];
    let ids: Vec<String> = newest(&posts, 2).into_iter().map(|p| p.id).collect();
    assert_eq!(ids, vec!["b", "c"]);
}
