//! The stdout notifier: a readable line per event, or one JSON event object per line.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use super::{Delivered, Delivery, DeliveryError, Notifier};
use crate::model::{Event, EventKind};

static STOP_WHEN_CLOSED: AtomicBool = AtomicBool::new(false);

/// Stop the process (as on SIGTERM) when stdout is closed: for the foreground commands,
/// whose output is the point (`livewatch watch URL | head -3`). A write into the closed
/// pipe notices it, and so does a check every half second (a quiet blog writes nothing
/// for a long time). Call from within the async runtime.
pub(crate) fn stop_when_closed() {
    STOP_WHEN_CLOSED.store(true, Ordering::Relaxed);
    tokio::spawn(async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            if stdout_closed() {
                tracing::debug!("stdout closed: stopping");
                stop();
                return;
            }
        }
    });
}

/// SIGTERM to this process: the control loop stops as on Ctrl-C.
fn stop() {
    // SAFETY: kill(2) on our own pid with a signal the control loop handles.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGTERM);
    }
}

/// Is stdout a pipe whose reader has gone? (poll(2) reports POLLERR on the write end.)
fn stdout_closed() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no waiting.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n == 1 && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

/// Prints events to standard output.
pub(crate) struct Stdout {
    json: bool,
    /// What to print per event as a template (`template = …`), when set.
    pub template: Option<std::sync::Arc<super::template::BodyTemplate>>,
}

impl Stdout {
    pub(crate) fn new(json: bool) -> Self {
        Stdout {
            json,
            template: None,
        }
    }
}

/// The readable form of an event, in local time (see [`human_in`]).
pub(crate) fn human(event: &Event) -> String {
    human_in(event, &chrono::Local)
}

/// The readable form of an event, times shown in `tz`:
///
/// ```text
/// [edit] 14:05 Sunak: not a straightforward thing — Ukraine war live
///     … will train {+Ukrainian+} pilots …
///     https://www.theguardian.com/…#block-6462…
/// ```
///
/// The first line: the kind, the post's time (its update time for edits and corrections,
/// its publication time for new posts, else when livewatch saw the change), its headline
/// (or first line), and the blog's name (the watch's `name`, else a shortened page title).
/// Then the word diff (edits, corrections) or the post's first line, and its link.
/// Control characters of the page's text are shown as spaces (no terminal escapes).
pub(crate) fn human_in<Tz: chrono::TimeZone>(event: &Event, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let blog = crate::text::short_title(
        event.blog.title.as_deref().unwrap_or(&event.blog.url),
        BLOG_CHARS,
    );
    let post = event.post.as_ref();
    let time = match (event.kind, post) {
        (EventKind::New, Some(p)) => p.published,
        (EventKind::Edit | EventKind::Correction, Some(p)) => p.updated,
        _ => None,
    }
    .unwrap_or(event.detected_at);
    let what = match (post, &event.message) {
        (Some(p), _) => p.title().to_string(),
        (None, Some(m)) => m.lines().next().unwrap_or("").to_string(),
        (None, None) => String::new(),
    };
    let mut s = format!(
        "[{}] {} {} — {}",
        event.kind,
        time.with_timezone(tz).format("%H:%M"),
        crate::text::truncate(&what, HEADLINE_CHARS),
        blog
    );
    let detail = match (event.kind, post) {
        (EventKind::Edit | EventKind::Correction, _) => event.diff.clone().unwrap_or_default(),
        (_, Some(p)) => {
            let first = p
                .body
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && *l != p.title().trim())
                .unwrap_or("");
            crate::text::truncate(first, 200)
        }
        _ => String::new(),
    };
    if !detail.is_empty() {
        s.push_str("\n    ");
        s.push_str(&detail);
    }
    if let Some(u) = post.and_then(|p| p.url.as_deref()) {
        s.push_str("\n    ");
        s.push_str(u);
    }
    s.chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

/// Characters of the headline in the first line of [`human_in`].
const HEADLINE_CHARS: usize = 120;
/// Characters of the blog's name in the first line of [`human_in`].
const BLOG_CHARS: usize = 40;

#[async_trait]
impl Notifier for Stdout {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let line = if let Some(t) = &self.template {
            let out = super::template::render_body(t, d.event)?;
            // Page text must not reach the terminal as escape sequences.
            String::from_utf8_lossy(&out)
                .trim_end()
                .chars()
                .map(|c| {
                    if c.is_control() && c != '\n' && c != '\t' {
                        ' '
                    } else {
                        c
                    }
                })
                .collect()
        } else if self.json {
            serde_json::to_string(d.event).map_err(|e| DeliveryError::Permanent(e.to_string()))?
        } else {
            human(d.event)
        };
        let mut out = std::io::stdout().lock();
        let written = writeln!(out, "{line}").and_then(|_| out.flush());
        if let Err(e) = written {
            if e.kind() == std::io::ErrorKind::BrokenPipe
                && STOP_WHEN_CLOSED.load(Ordering::Relaxed)
            {
                // `livewatch watch … | head`: the reader is gone; stop as on Ctrl-C (the
                // event stays queued for the next start).
                tracing::debug!("stdout closed: stopping");
                stop();
                return Err(DeliveryError::Unavailable("stdout is closed".into()));
            }
            return Err(DeliveryError::retry(format!("cannot write to stdout: {e}")));
        }
        Ok(Delivered::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BlogRef, Post};
    use chrono::TimeZone;

    fn event(kind: EventKind) -> Event {
        let mut post = Post::new("p1", "UK aid package\n\nBritain sends missiles.");
        post.headline = Some("UK aid package".into());
        post.url = Some("https://news.example/live#p1".into());
        post.published = Some(chrono::Utc.with_ymd_and_hms(2026, 3, 1, 12, 50, 0).unwrap());
        post.updated = Some(chrono::Utc.with_ymd_and_hms(2026, 3, 1, 13, 8, 0).unwrap());
        Event {
            id: "evt_1".into(),
            kind,
            detected_at: chrono::Utc.with_ymd_and_hms(2026, 3, 1, 13, 9, 30).unwrap(),
            blog: BlogRef {
                url: "https://news.example/live".into(),
                title: Some("Russia-Ukraine war live: Sunak tells Zelenskiy UK will train pilots but supplying fighter jets to Kyiv is not ‘straightforward’ | Ukraine | The Guardian".into()),
            },
            post: Some(post),
            previous: None,
            diff: Some("Britain sends {+long-range+} missiles.".into()),
            message: None,
        }
    }

    #[test]
    fn a_new_post_line_leads_with_time_and_headline_then_first_line_and_link() {
        let tz = chrono::FixedOffset::east_opt(3600).unwrap();
        let text = human_in(&event(EventKind::New), &tz);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "[new] 13:50 UK aid package — Russia-Ukraine war live",
                "    Britain sends missiles.",
                "    https://news.example/live#p1",
            ]
        );
    }

    #[test]
    fn an_edit_shows_its_update_time_and_word_diff() {
        let text = human_in(&event(EventKind::Correction), &chrono::Utc);
        assert!(
            text.starts_with("[correction] 13:08 UK aid package — Russia-Ukraine war live\n    Britain sends {+long-range+} missiles.\n"),
            "{text}"
        );
    }

    #[test]
    fn a_watch_name_is_kept_and_blog_notices_use_their_message() {
        let mut e = event(EventKind::Problem);
        e.blog.title = Some("Ukraine war".into());
        e.post = None;
        e.message = Some("https://news.example/live fails: HTTP 503\nthird poll in a row".into());
        let text = human_in(&e, &chrono::Utc);
        assert_eq!(
            text,
            "[problem] 13:09 https://news.example/live fails: HTTP 503 — Ukraine war"
        );
    }

    #[test]
    fn control_characters_of_the_page_do_not_reach_the_terminal() {
        let mut e = event(EventKind::New);
        e.post.as_mut().unwrap().headline = Some("Red\u{1b}[31m alert\r".into());
        let text = human_in(&e, &chrono::Utc);
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
    }
}
