//! The pure step of a poll: (watch, the blog's stored state, what the fetch and the
//! extraction saw, the poll time `at`) → what to write and what to tell. No I/O, no clock:
//! every time in the outcome is `at`, so a replayed recording from 2020 produces 2020's
//! events, and the rules (baseline or diff, problem after N failures, recovered, closed,
//! the pace) are tested on values alone. [`super::poll::BlogTask`] does the I/O around it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::pace::{Decision, Pace};
use super::Route;
use crate::config::Watch;
use crate::diff::{self, Known, ListHealth};
use crate::extract::Extraction;
use crate::fetch::Validators;
use crate::fingerprint::Fingerprint;
use crate::model::{BlogRef, Event, EventKind};
use crate::store::{BlogRow, BlogStatus, PollRecord};

/// What does not change from poll to poll of one blog.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    pub watch: &'a Watch,
    pub routes: &'a [Route],
    /// Failed polls in a row before a `problem` is sent.
    pub problem_after: u32,
}

/// Why a body was not parsed, or that it must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A 304.
    NotModified,
    /// The same bytes as the last parsed body.
    SameBody,
    /// Other bytes, the same content fingerprint: only noise changed.
    NoiseOnly,
    /// Something the extractors can see changed (or there is no baseline yet): parse.
    Parse,
}

impl Verdict {
    /// Decide on a fetched page: `hash` of the body; `fp` computes its content
    /// fingerprint, only when the bytes differ (returned for the page's record).
    pub(crate) fn of_page(
        blog: &BlogRow,
        hash: &[u8; 32],
        fp: impl FnOnce() -> Option<Fingerprint>,
    ) -> (Verdict, Option<Fingerprint>) {
        if blog.baseline_done && blog.body_hash.as_ref() == Some(hash) {
            return (Verdict::SameBody, None);
        }
        let fp = fp();
        let verdict = if blog.baseline_done && fp.is_some() && blog.content_fp == fp {
            Verdict::NoiseOnly
        } else {
            Verdict::Parse
        };
        (verdict, fp)
    }

    /// The status of a poll that did not parse (`None` for [`Verdict::Parse`]).
    pub(crate) fn status(self) -> Option<BlogStatus> {
        match self {
            Verdict::NotModified => Some(BlogStatus::NotModified),
            Verdict::SameBody => Some(BlogStatus::BodyUnchanged),
            Verdict::NoiseOnly => Some(BlogStatus::NoiseOnly),
            Verdict::Parse => None,
        }
    }
}

/// A parsed page, as the outcome needs it.
pub(crate) struct Parsed<'a> {
    pub extraction: &'a Extraction,
    pub validators: &'a Validators,
    pub body_hash: [u8; 32],
    pub content_fp: Option<Fingerprint>,
}

/// What the poll saw.
pub(crate) enum Seen<'a> {
    /// Nothing the extractors see changed (see [`Verdict`]). `known`: every stored post,
    /// given when posts went missing in the last poll: this poll is their second look.
    Unchanged {
        status: BlogStatus,
        known: Option<&'a [Known]>,
    },
    /// A page that was extracted; `known` holds every stored post (empty before the
    /// baseline).
    Page {
        parsed: Parsed<'a>,
        known: &'a [Known],
    },
    /// The fetch failed.
    Failed {
        error: &'a str,
        /// HTTP 410: there will be no further polls.
        gone: bool,
        retry_after: Option<Duration>,
    },
}

/// What to write for one poll, in one transaction: the blog's new state and the events,
/// each with the notifiers that take it.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    /// A successful poll that changed posts, validators or the baseline.
    Poll(Box<PollRecord>),
    /// A successful poll that changed only the status, pace and counters.
    Touch {
        status: BlogStatus,
        pace: Pace,
        retired: bool,
        events: Vec<(Event, Vec<String>)>,
    },
    /// A failed poll (or a page without posts).
    Failure {
        /// [`BlogStatus::Error`] with the error line (also kept as the blog's last error).
        status: BlogStatus,
        /// Retire the blog as gone ([`BlogStatus::Gone`]).
        gone: bool,
        events: Vec<(Event, Vec<String>)>,
    },
}

/// What one poll comes to.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub write: Write,
    pub next: Next,
    /// Nothing but the poll count and time changed: the write may wait (see
    /// [`super::poll::CHECKED_FLUSH`]).
    pub only_time: bool,
    /// The first poll's baseline was taken: posts on the page and the extractor.
    pub baseline: Option<(usize, String)>,
}

/// How the poll ends for scheduling.
#[derive(Debug, Clone)]
pub(crate) enum Next {
    Ok(Decision),
    Failed {
        failures: u32,
        retry_after: Option<Duration>,
        gone: bool,
    },
}

impl Outcome {
    /// The events to store, each with the notifiers that take it.
    pub(crate) fn events(&self) -> &[(Event, Vec<String>)] {
        match &self.write {
            Write::Poll(rec) => &rec.events,
            Write::Touch { events, .. } | Write::Failure { events, .. } => events,
        }
    }
}

/// The blog as events name it: the watch's name, else the page's title, else the stored one.
pub(crate) fn blog_ref(watch: &Watch, page_title: Option<&str>, blog: &BlogRow) -> BlogRef {
    BlogRef {
        url: watch.url.clone(),
        title: watch
            .name
            .clone()
            .or_else(|| page_title.map(str::to_string))
            .or_else(|| blog.title.clone()),
    }
}

/// Decide what poll `seen` at `at` comes to for `blog` (its state before the poll).
pub(crate) fn decide(
    ctx: Context<'_>,
    blog: &BlogRow,
    seen: Seen<'_>,
    at: DateTime<Utc>,
) -> Outcome {
    match seen {
        Seen::Failed {
            error,
            gone,
            retry_after,
        } => failure(ctx, blog, error, gone, retry_after, at),
        Seen::Unchanged {
            status,
            known: Some(known),
        } => confirm_missing(ctx, blog, status, known, at),
        Seen::Unchanged {
            status,
            known: None,
        } => touch(ctx, blog, status, at),
        Seen::Page { parsed, known } => page(ctx, blog, parsed, known, at),
    }
}

/// Pair events with the notifiers that take them (the watch's `notify` list and each
/// notifier's filter).
pub fn route_events(
    watch: &Watch,
    routes: &[Route],
    events: impl IntoIterator<Item = Event>,
) -> Vec<(Event, Vec<String>)> {
    events
        .into_iter()
        .map(|e| {
            let names = routes
                .iter()
                .filter(|r| {
                    watch
                        .notify
                        .as_ref()
                        .is_none_or(|l| l.contains(&r.spec.name))
                        && r.spec.filter.accepts(&e)
                })
                .map(|r| r.spec.name.clone())
                .collect();
            (e, names)
        })
        .collect()
}

/// A failed poll: the `problem_after`-th failure in a row sends one `problem` (a gone
/// blog sends it at once: there will be no further polls).
fn failure(
    ctx: Context<'_>,
    blog: &BlogRow,
    error: &str,
    gone: bool,
    retry_after: Option<Duration>,
    at: DateTime<Utc>,
) -> Outcome {
    let url = &ctx.watch.url;
    let failures = blog.failures + 1;
    let problem = (failures == ctx.problem_after || gone).then(|| {
        let message = if gone {
            format!("{url} is gone ({error}); no longer polled")
        } else {
            format!("{url} failed {failures} polls in a row: {error}")
        };
        Event::for_blog(
            blog_ref(ctx.watch, None, blog),
            EventKind::Problem,
            Some(blog.polls),
            failures,
            at,
            message,
        )
    });
    Outcome {
        write: Write::Failure {
            status: BlogStatus::Error(error.to_string()),
            gone,
            events: route_events(ctx.watch, ctx.routes, problem),
        },
        next: Next::Failed {
            failures,
            retry_after,
            gone,
        },
        only_time: false,
        baseline: None,
    }
}

/// A `recovered` event when the blog had a reported problem.
fn recovered(
    ctx: Context<'_>,
    blog: &BlogRow,
    blog_ref: &BlogRef,
    at: DateTime<Utc>,
) -> Option<Event> {
    (blog.failures >= ctx.problem_after).then(|| {
        Event::for_blog(
            blog_ref.clone(),
            EventKind::Recovered,
            Some(blog.polls),
            blog.failures,
            at,
            format!(
                "{} works again after {} failed polls",
                ctx.watch.url, blog.failures
            ),
        )
    })
}

/// Advance the blog's pace after a successful poll: the next interval, and a `closed`
/// event the first time the blog is seen closed.
fn pace_step(
    watch: &Watch,
    blog: &BlogRow,
    blog_ref: &BlogRef,
    at: DateTime<Utc>,
    activity: usize,
    closed: Option<&crate::extract::Closed>,
) -> (Pace, Decision, Option<Event>) {
    let mut pace = blog.sched.clone();
    let d = pace.after_poll(watch, at, activity, closed);
    let event = d.newly_closed.as_ref().map(|why| {
        Event::for_blog(
            blog_ref.clone(),
            EventKind::Closed,
            None,
            0,
            at,
            format!(
                "{} has closed ({why}); polled every {} for {}, then retired",
                watch.url,
                super::pace::human(watch.max_interval),
                super::pace::human(watch.retire_grace)
            ),
        )
    });
    (pace, d, event)
}

/// The event for a post change.
fn change_event(blog: &BlogRef, at: DateTime<Utc>, c: diff::Change) -> Event {
    Event::for_post(
        blog.clone(),
        at,
        c.kind,
        c.post,
        c.previous,
        c.diff,
        c.revision,
    )
}

/// A poll that saw nothing new and no posts waiting for a second look.
fn touch(ctx: Context<'_>, blog: &BlogRow, status: BlogStatus, at: DateTime<Utc>) -> Outcome {
    let r = blog_ref(ctx.watch, None, blog);
    let (pace, d, closed) = pace_step(ctx.watch, blog, &r, at, 0, None);
    let events: Vec<Event> = recovered(ctx, blog, &r, at)
        .into_iter()
        .chain(closed)
        .collect();
    let only_time = events.is_empty()
        && !d.retire
        && !blog.retired
        && blog.failures == 0
        && blog.last_error.is_none()
        && blog.status == status
        && blog.sched.same_state(&pace);
    Outcome {
        write: Write::Touch {
            status,
            pace,
            retired: d.retire,
            events: route_events(ctx.watch, ctx.routes, events),
        },
        next: Next::Ok(d),
        only_time,
        baseline: None,
    }
}

/// An unchanged page while posts wait for a second look: the posts present are the known
/// ones that were present last time, so the missing ones are now removed.
fn confirm_missing(
    ctx: Context<'_>,
    blog: &BlogRow,
    status: BlogStatus,
    known: &[Known],
    at: DateTime<Utc>,
) -> Outcome {
    let mut present: Vec<&Known> = known
        .iter()
        .filter(|k| !k.removed && !k.off_page && k.missing == 0)
        .collect();
    present.sort_by_key(|k| std::cmp::Reverse(k.order));
    let polled: Vec<crate::model::Post> = present.iter().map(|k| k.post.clone()).collect();
    let outcome = diff::compare(known, &polled, blog.polls);
    let r = blog_ref(ctx.watch, None, blog);
    let mut events: Vec<Event> = outcome
        .changes
        .into_iter()
        .map(|c| change_event(&r, at, c))
        .collect();
    let (pace, d, closed) = pace_step(ctx.watch, blog, &r, at, 0, None);
    events.extend(recovered(ctx, blog, &r, at));
    events.extend(closed);
    let rec = PollRecord {
        at,
        baseline_done: true,
        status,
        updates: outcome.updates,
        sched: Some(pace),
        retired: d.retire,
        events: route_events(ctx.watch, ctx.routes, events),
        ..Default::default()
    };
    Outcome {
        write: Write::Poll(Box::new(rec)),
        next: Next::Ok(d),
        only_time: false,
        baseline: None,
    }
}

/// A page that yielded no usable posts: a failed poll with the reason.
fn no_posts(ctx: Context<'_>, blog: &BlogRow, reason: &str, at: DateTime<Utc>) -> Outcome {
    failure(ctx, blog, reason, false, None, at)
}

/// An extracted page: the baseline on the first poll, else the diff with the known posts.
fn page(
    ctx: Context<'_>,
    blog: &BlogRow,
    parsed: Parsed<'_>,
    known: &[Known],
    at: DateTime<Utc>,
) -> Outcome {
    let extraction = parsed.extraction;
    let watch = ctx.watch;
    if extraction.posts.is_empty() {
        let tried: Vec<String> = extraction
            .attempts
            .iter()
            .map(|a| format!("{}: {}", a.extractor, a.reason))
            .collect();
        let reason = if tried.is_empty() {
            "no posts found on the page".to_string()
        } else {
            format!("no posts found on the page ({})", tried.join("; "))
        };
        return no_posts(ctx, blog, &reason, at);
    }
    let r = blog_ref(watch, extraction.title.as_deref(), blog);
    let mut rec = PollRecord {
        at,
        title: extraction.title.clone(),
        validators: Some(parsed.validators.clone()),
        body_hash: Some(parsed.body_hash),
        content_fp: parsed.content_fp,
        baseline_done: true,
        status: BlogStatus::Posts {
            count: extraction.posts.len(),
            extractor: extraction.extractor.clone(),
        },
        ..Default::default()
    };
    let mut events = Vec::new();
    let mut activity = 0;
    let mut baseline = None;
    if !blog.baseline_done {
        rec.updates = extraction
            .posts
            .iter()
            .enumerate()
            .map(|(i, p)| Known::first_seen(p.clone(), blog.polls, i))
            .collect();
        for p in diff::newest(&extraction.posts, watch.announce_existing) {
            events.push(Event::for_post(
                r.clone(),
                at,
                EventKind::New,
                p,
                None,
                None,
                0,
            ));
        }
        baseline = Some((extraction.posts.len(), extraction.extractor.clone()));
    } else {
        let outcome = diff::compare_deleted(
            known,
            &extraction.posts,
            blog.polls,
            &extraction.deleted,
            extraction.complete,
        );
        match outcome.health {
            ListHealth::Ok => {}
            ListHealth::NoPosts | ListHealth::ListReplaced => {
                let reason = format!(
                    "the page now shows {} posts, none of the {} known ones (error page, consent wall or new layout?)",
                    extraction.posts.len(),
                    known.iter().filter(|k| !k.removed).count()
                );
                return no_posts(ctx, blog, &reason, at);
            }
        }
        rec.new_post = outcome.changes.iter().any(|c| c.kind == EventKind::New);
        activity = outcome
            .changes
            .iter()
            .filter(|c| {
                matches!(
                    c.kind,
                    EventKind::New | EventKind::Edit | EventKind::Correction
                )
            })
            .count();
        rec.updates = outcome.updates;
        events.extend(outcome.changes.into_iter().map(|c| change_event(&r, at, c)));
    }
    events.extend(recovered(ctx, blog, &r, at));
    let (pace, d, closed) = pace_step(watch, blog, &r, at, activity, extraction.closed.as_ref());
    events.extend(closed);
    rec.sched = Some(pace);
    rec.retired = d.retire;
    rec.events = route_events(watch, ctx.routes, events);
    Outcome {
        write: Write::Poll(Box::new(rec)),
        next: Next::Ok(d),
        only_time: false,
        baseline,
    }
}

#[cfg(test)]
mod tests;
