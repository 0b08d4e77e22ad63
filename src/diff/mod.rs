//! Change detection: the posts stored for a blog + the posts of one poll → what happened.
//! Pure: no I/O and no clock; the caller stores the new state and the events in one
//! transaction.
//!
//! Rules (README "What counts as a change"):
//! - **new**: an id never seen before; several are reported oldest first.
//! - **edit**: the normalised headline, body or captions changed ([`normalize`]).
//! - **correction**: an edit that adds or changes an explicit correction note ([`correction`]).
//! - **removed**: gone while a post older than it is still on the page, for two polls in a
//!   row. Posts that leave at the old end (pagination) are only marked off-page. A poll in
//!   which *every* known post is missing is a problem with the page, not a removal.
//! - A removed post that comes back unchanged is `new` again; changed, an `edit` (or
//!   `correction`) of the post as it was before it went, with the real diff.

pub(crate) mod correction;
pub mod normalize;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use similar::{ChangeTag, TextDiff};

use crate::model::{EventKind, Post};

/// Polls in a row a post must be missing (with older posts present) to be `removed`.
pub const REMOVE_AFTER_POLLS: u32 = 2;

/// What is stored about one post between polls.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    /// The post as last seen (raw text, for display and for `previous`).
    pub post: Post,
    /// [`normalize::fingerprint`] of `post`.
    pub fingerprint: String,
    /// How many content revisions were seen (0 = as first seen).
    pub revision: u32,
    /// Ordering key when the post has no time: (poll number first seen, -position then).
    pub order: (i64, i64),
    /// Consecutive polls in which it was missing while older posts were present.
    pub missing: u32,
    /// Reported as removed.
    pub removed: bool,
    /// Not on the page now, but it left at the old end (pagination): not removed.
    pub off_page: bool,
}

impl Known {
    /// The state of a post seen for the first time in poll `poll` at `position`.
    pub fn first_seen(post: Post, poll: i64, position: usize) -> Self {
        Known {
            fingerprint: normalize::fingerprint(&post),
            post,
            revision: 0,
            order: (poll, -(position as i64)),
            missing: 0,
            removed: false,
            off_page: false,
        }
    }

    /// Is `self` newer than `other`? Stated publish times when both have one, else the
    /// order in which livewatch first saw them.
    fn cmp_age(&self, other: &Known) -> Ordering {
        match (self.post.published, other.post.published) {
            (Some(a), Some(b)) if a != b => a.cmp(&b),
            _ => self.order.cmp(&other.order),
        }
    }
}

/// One detected change to a post.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: EventKind,
    pub post: Post,
    pub previous: Option<Post>,
    pub diff: Option<String>,
    /// The post's revision number after this change (part of the event id).
    pub revision: u32,
}

/// The health of a poll's post list compared with what was known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListHealth {
    Ok,
    /// The page yielded no posts at all.
    NoPosts,
    /// Posts were found, but none of the known ones: a consent wall, error page or a
    /// broken layout, not a mass removal.
    ListReplaced,
}

/// The result of comparing one poll with the stored state.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub changes: Vec<Change>,
    /// The full new state of every post touched (insert or replace these).
    pub updates: Vec<Known>,
    pub health: ListHealth,
}

/// Compare the posts of poll number `poll` with the known ones.
///
/// `known` must hold every stored post of the blog (removed and off-page ones too).
pub fn compare(known: &[Known], polled: &[Post], poll: i64) -> Outcome {
    compare_deleted(known, polled, poll, &[], false)
}

/// [`compare`] where a vendor feed also flags posts as `deleted`, or lists every post
/// (`complete`): a known post so flagged, or missing from a complete list, is removed at
/// once (the vendor says so; no second look).
pub fn compare_deleted(
    known: &[Known],
    polled: &[Post],
    poll: i64,
    deleted: &[String],
    complete: bool,
) -> Outcome {
    let active = known.iter().filter(|k| !k.removed && !k.off_page).count();
    if polled.is_empty() {
        return Outcome {
            changes: vec![],
            updates: vec![],
            health: if known.is_empty() {
                ListHealth::Ok
            } else {
                ListHealth::NoPosts
            },
        };
    }
    let by_id: HashMap<&str, &Known> = known.iter().map(|k| (k.post.id.as_str(), k)).collect();
    let still_there = polled
        .iter()
        .filter(|p| by_id.get(p.id.as_str()).is_some_and(|k| !k.removed))
        .count();
    if active >= 3 && still_there == 0 {
        return Outcome {
            changes: vec![],
            updates: vec![],
            health: ListHealth::ListReplaced,
        };
    }

    let mut changes = Vec::new();
    let mut new_posts = Vec::new();
    let mut updates = Vec::new();
    let mut present: HashMap<&str, Known> = HashMap::new();

    for (pos, post) in polled.iter().enumerate() {
        match by_id.get(post.id.as_str()) {
            None => {
                let k = Known::first_seen(post.clone(), poll, pos);
                new_posts.push(k.clone());
                present.insert(post.id.as_str(), k);
            }
            Some(old) => {
                let mut k = (*old).clone();
                let fp = normalize::fingerprint(post);
                let content_changed = fp != old.fingerprint;
                if content_changed || old.removed {
                    k.revision += 1;
                    changes.push(if content_changed {
                        // Changed (perhaps while it was gone): an edit with what changed.
                        Change {
                            kind: if adds_correction(&old.post, post) {
                                EventKind::Correction
                            } else {
                                EventKind::Edit
                            },
                            post: post.clone(),
                            previous: Some(old.post.clone()),
                            diff: Some(word_diff(&render(&old.post), &render(post))),
                            revision: k.revision,
                        }
                    } else {
                        // A removed post back as it was: it is on the page again, a `new`
                        // event (its own id: the revision counts the removal).
                        Change {
                            kind: EventKind::New,
                            post: post.clone(),
                            previous: None,
                            diff: None,
                            revision: k.revision,
                        }
                    });
                }
                let meta_changed = k.post != *post;
                k.post = post.clone();
                k.fingerprint = fp;
                let state_changed = k.missing != 0 || k.removed || k.off_page;
                k.missing = 0;
                k.removed = false;
                k.off_page = false;
                if content_changed || meta_changed || state_changed || old.removed {
                    updates.push(k.clone());
                }
                present.insert(post.id.as_str(), k);
            }
        }
    }

    // Oldest first, so that a reader sees them in the order they were written.
    new_posts.sort_by(|a, b| a.cmp_age(b));
    for k in &new_posts {
        changes.push(Change {
            kind: EventKind::New,
            post: k.post.clone(),
            previous: None,
            diff: None,
            revision: 0,
        });
    }
    // New posts come before edits in the event order of one poll.
    changes.sort_by_key(|c| c.kind != EventKind::New);
    updates.extend(new_posts);

    // Missing posts: removed from the middle, or scrolled off the old end.
    let present_list: Vec<&Known> = present.values().collect();
    let mut removals = Vec::new();
    for k in known
        .iter()
        .filter(|k| !k.removed && !present.contains_key(k.post.id.as_str()))
    {
        let older_present = present_list.iter().any(|p| p.cmp_age(k) == Ordering::Less);
        let flagged = complete || deleted.contains(&k.post.id);
        let mut k2 = k.clone();
        if older_present || flagged {
            k2.off_page = false;
            k2.missing += 1;
            if k2.missing >= REMOVE_AFTER_POLLS || flagged {
                k2.removed = true;
                k2.revision += 1;
                removals.push(Change {
                    kind: EventKind::Removed,
                    post: k.post.clone(),
                    previous: Some(k.post.clone()),
                    diff: None,
                    revision: k2.revision,
                });
            }
        } else {
            k2.off_page = true;
            k2.missing = 0;
        }
        if k2 != *k {
            updates.push(k2);
        }
    }
    changes.extend(removals);

    Outcome {
        changes,
        updates,
        health: ListHealth::Ok,
    }
}

/// Does `new` add or change an explicit correction note compared with `old`?
fn adds_correction(old: &Post, new: &Post) -> bool {
    let before = correction::correction_notes(&render(old));
    let after = correction::correction_notes(&render(new));
    after.iter().any(|n| !before.contains(n))
}

/// Headline, body and captions as one text, for diffs and correction notes.
pub fn render(p: &Post) -> String {
    let mut s = String::new();
    if let Some(h) = &p.headline {
        s.push_str(h);
        s.push_str("\n\n");
    }
    s.push_str(&p.body);
    for c in &p.captions {
        s.push_str("\n\n");
        s.push_str(c);
    }
    s
}

/// Words of unchanged context kept on each side of a change.
const CONTEXT_WORDS: usize = 6;
/// Longest diff text, in characters.
const MAX_DIFF_CHARS: usize = 600;

/// A short word-level diff: `[-old words-]{+new words+}`, with long unchanged runs
/// elided as `…`.
pub fn word_diff(old: &str, new: &str) -> String {
    let diff = TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .timeout(Duration::from_millis(50))
        .diff_words(old, new);
    // Group consecutive tokens by tag.
    let mut runs: Vec<(ChangeTag, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        let tag = change.tag();
        let v = change.value();
        match runs.last_mut() {
            Some((t, s)) if *t == tag => s.push_str(v),
            _ => runs.push((tag, v.to_string())),
        }
    }
    let mut out = String::new();
    let n = runs.len();
    for (i, (tag, text)) in runs.iter().enumerate() {
        match tag {
            ChangeTag::Equal => {
                let words: Vec<&str> = text.split_whitespace().collect();
                let first = i == 0;
                let last = i + 1 == n;
                let keep_head = if first { 0 } else { CONTEXT_WORDS };
                let keep_tail = if last { 0 } else { CONTEXT_WORDS };
                if words.len() <= keep_head + keep_tail {
                    out.push_str(&crate::text::collapse_ws(text));
                } else {
                    let head = words[..keep_head].join(" ");
                    let tail = words[words.len() - keep_tail..].join(" ");
                    if !head.is_empty() {
                        out.push_str(&head);
                        out.push(' ');
                    }
                    out.push('…');
                    if !tail.is_empty() {
                        out.push(' ');
                        out.push_str(&tail);
                    }
                }
                out.push(' ');
            }
            ChangeTag::Delete => {
                out.push_str("[-");
                out.push_str(&crate::text::collapse_ws(text));
                out.push_str("-] ");
            }
            ChangeTag::Insert => {
                out.push_str("{+");
                out.push_str(&crate::text::collapse_ws(text));
                out.push_str("+} ");
            }
        }
    }
    crate::text::truncate(&crate::text::collapse_ws(&out), MAX_DIFF_CHARS)
}

/// The newest `n` posts of a page (for `announce_existing`), oldest first.
pub fn newest(posts: &[Post], n: usize) -> Vec<Post> {
    let mut v: Vec<(usize, &Post)> = posts.iter().enumerate().collect();
    v.sort_by(|(ia, a), (ib, b)| match (a.published, b.published) {
        (Some(x), Some(y)) if x != y => y.cmp(&x),
        _ => ia.cmp(ib),
    });
    let mut out: Vec<Post> = v.into_iter().take(n).map(|(_, p)| p.clone()).collect();
    out.reverse();
    out
}

/// A post's age for display, given the detection time.
pub fn age(post: &Post, now: DateTime<Utc>) -> Option<chrono::Duration> {
    post.published.map(|p| now - p)
}

#[cfg(test)]
mod tests;
