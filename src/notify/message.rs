//! The human text of an event, shared by the desktop notifier and the chat presets:
//! who (the blog), what (the kind), the headline, and a few lines of text (for edits and
//! corrections, the changed words from the diff).

use crate::model::{Event, EventKind};
use crate::text::truncate;

/// Characters of post text shown in a message.
pub(crate) const TEXT_CHARS: usize = 300;

/// An event as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// The blog's name (the watch's `name`, else the page title shortened, else its URL).
    pub blog: String,
    pub kind: EventKind,
    /// "New post", "Correction", …
    pub label: &'static str,
    /// The post's headline or first line; for blog-level events, the message.
    pub headline: String,
    /// The first lines of the post, or for edits and corrections the word diff.
    pub text: String,
    /// The post's permalink, else the blog URL.
    pub url: String,
    /// The post as it was (edits, corrections, removals): its first lines, to quote.
    pub previous: Option<String>,
}

/// How a kind is named in messages.
pub(crate) fn label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::New => "New post",
        EventKind::Edit => "Edited",
        EventKind::Correction => "Correction",
        EventKind::Removed => "Removed",
        EventKind::Problem => "Problem",
        EventKind::Recovered => "Recovered",
        EventKind::Closed => "Closed",
        EventKind::Test => "Test",
    }
}

/// The first non-empty lines of `body`, skipping a line equal to the headline, up to
/// `max` characters.
pub(crate) fn first_lines(body: &str, headline: &str, max: usize) -> String {
    let mut out = String::new();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if out.is_empty() && line == headline.trim() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
        if out.chars().count() >= max {
            break;
        }
    }
    truncate(&out, max)
}

impl Message {
    /// Render an event.
    pub(crate) fn of(event: &Event) -> Message {
        // A page title can be 130 characters of news; the watch's name is short.
        let blog = event
            .blog
            .title
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(|t| crate::text::short_title(t, 60))
            .unwrap_or_else(|| event.blog.url.clone());
        let (headline, text) = match (&event.post, &event.message) {
            (Some(p), _) => {
                let headline = truncate(p.title(), 200);
                let text = match (event.kind, &event.diff) {
                    (EventKind::Edit | EventKind::Correction, Some(d)) if !d.is_empty() => {
                        truncate(d, TEXT_CHARS)
                    }
                    _ => first_lines(&p.body, &headline, TEXT_CHARS),
                };
                (headline, text)
            }
            (None, Some(m)) => {
                // A blog-level notice or a digest: its first line heads it.
                let (head, rest) = m.split_once('\n').unwrap_or((m, ""));
                (truncate(head, 200), first_lines(rest, "", 1000))
            }
            (None, None) => (String::new(), String::new()),
        };
        let url = event
            .post
            .as_ref()
            .and_then(|p| p.url.clone())
            .unwrap_or_else(|| event.blog.url.clone());
        let previous = event
            .previous
            .as_ref()
            .map(|p| first_lines(&p.body, "", 200));
        Message {
            blog,
            kind: event.kind,
            label: label(event.kind),
            headline,
            text,
            url,
            previous,
        }
    }

    /// `Blog — Kind`: the desktop summary and chat title.
    pub(crate) fn title(&self) -> String {
        format!("{} — {}", self.blog, self.label)
    }

    /// Headline, then the text (when it says more than the headline).
    pub(crate) fn body(&self) -> String {
        match (self.headline.is_empty(), self.text.is_empty()) {
            (true, _) => self.text.clone(),
            (false, true) => self.headline.clone(),
            (false, false) if self.text.starts_with(&self.headline) => self.text.clone(),
            (false, false) => format!("{}\n{}", self.headline, self.text),
        }
    }

    /// Does this kind deserve attention (critical urgency, high priority)?
    pub(crate) fn is_urgent(&self) -> bool {
        matches!(self.kind, EventKind::Correction | EventKind::Removed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{BlogRef, Post};

    /// A correction event, for payload tests.
    pub(crate) fn correction() -> Event {
        let mut old = Post::new("p1", "Britain sends long-range attack drones.");
        old.headline = Some("UK aid package".into());
        old.url = Some("https://news.example/live#p1".into());
        let mut new = old.clone();
        new.body = "Britain sends long-range missiles and attack drones.\n\nCorrection: an earlier version said drones only.".into();
        Event {
            id: "evt_123".into(),
            kind: EventKind::Correction,
            detected_at: chrono::Utc::now(),
            blog: BlogRef {
                url: "https://news.example/live".into(),
                title: Some("Ukraine live".into()),
            },
            post: Some(new),
            previous: Some(old),
            diff: Some("long-range {+missiles and+} attack drones.".into()),
            message: None,
        }
    }

    #[test]
    fn correction_message_shows_the_changed_words() {
        let m = Message::of(&correction());
        assert_eq!(m.title(), "Ukraine live — Correction");
        assert_eq!(m.headline, "UK aid package");
        assert!(m.text.contains("{+missiles and+}"), "{m:?}");
        assert!(m.is_urgent());
        assert_eq!(m.url, "https://news.example/live#p1");
        assert_eq!(
            m.previous.as_deref(),
            Some("Britain sends long-range attack drones.")
        );
    }

    #[test]
    fn new_post_message_has_first_lines_without_repeating_the_headline() {
        let mut e = correction();
        e.kind = EventKind::New;
        e.diff = None;
        e.previous = None;
        let p = e.post.as_mut().unwrap();
        p.headline = None;
        p.body = "First line.\n\nSecond line.".into();
        let m = Message::of(&e);
        assert_eq!(m.headline, "First line.");
        assert_eq!(m.text, "Second line.");
        assert_eq!(m.body(), "First line.\nSecond line.");
        assert!(!m.is_urgent());
    }
}
