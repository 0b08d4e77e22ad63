//! The domain types every stage shares: a [`Post`] as extracted from a page, and an
//! [`Event`] as delivered to notifiers. Their JSON form is the public interface
//! (README "Post object" / "Event object").

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};

/// One post of a live blog, as extracted from one fetch of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// The publisher's own post id where the page has one, else a stable derived id
    /// (see `extract::derive_id`). Never changes when the post is edited.
    pub id: String,
    /// Permalink of the post, when the page gives one.
    pub url: Option<String>,
    pub headline: Option<String>,
    pub byline: Option<String>,
    #[serde(serialize_with = "ser_time")]
    pub published: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_time")]
    pub updated: Option<DateTime<Utc>>,
    /// Plain text, paragraphs separated by one blank line.
    pub body: String,
    /// Image captions inside the post (an addition to the interface: edits to a caption
    /// are edits of the post).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captions: Vec<String>,
}

impl Post {
    /// A post with only an id and a body; the other fields empty.
    pub fn new(id: impl Into<String>, body: impl Into<String>) -> Self {
        Post {
            id: id.into(),
            url: None,
            headline: None,
            byline: None,
            published: None,
            updated: None,
            body: body.into(),
            captions: Vec::new(),
        }
    }

    /// Headline if any, else the first line of the body: how a person names the post.
    pub fn title(&self) -> &str {
        match &self.headline {
            Some(h) if !h.trim().is_empty() => h,
            _ => self.body.lines().next().unwrap_or(""),
        }
    }
}

fn ser_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        None => s.serialize_none(),
    }
}

/// What happened to a post (or, for the last three, to a blog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    New,
    Edit,
    Correction,
    Removed,
    /// The blog fails to poll or stopped yielding posts (addition to the interface).
    Problem,
    /// The blog works again after a `problem`.
    Recovered,
    /// The blog has ended (coverage over) and will be retired.
    Closed,
    /// A test event sent by `livewatch notify-test`.
    Test,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::New,
        EventKind::Edit,
        EventKind::Correction,
        EventKind::Removed,
        EventKind::Problem,
        EventKind::Recovered,
        EventKind::Closed,
        EventKind::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::New => "new",
            EventKind::Edit => "edit",
            EventKind::Correction => "correction",
            EventKind::Removed => "removed",
            EventKind::Problem => "problem",
            EventKind::Recovered => "recovered",
            EventKind::Closed => "closed",
            EventKind::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The blog an event is about, as receivers route on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlogRef {
    /// The watched URL exactly as the user gave it.
    pub url: String,
    /// The watch's `name`, else the page title.
    pub title: Option<String>,
}

/// One thing to tell people, as stored in the outbox and delivered to notifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `evt_…`: unique per event, identical on every delivery attempt.
    pub id: String,
    pub kind: EventKind,
    #[serde(serialize_with = "ser_time_req")]
    pub detected_at: DateTime<Utc>,
    pub blog: BlogRef,
    pub post: Option<Post>,
    pub previous: Option<Post>,
    pub diff: Option<String>,
    /// For blog-level kinds (`problem`, `recovered`, `closed`): what is going on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn ser_time_req<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

impl Event {
    /// The event about a change of `post` (its `revision` after the change) found at `at`.
    /// Its id derives from what identifies the change (see [`event_id`]).
    pub fn for_post(
        blog: BlogRef,
        at: DateTime<Utc>,
        kind: EventKind,
        post: Post,
        previous: Option<Post>,
        diff: Option<String>,
        revision: u32,
    ) -> Event {
        Event {
            id: event_id(&blog.url, &post.id, kind, revision),
            kind,
            detected_at: at,
            blog,
            post: Some(post),
            previous,
            diff,
            message: None,
        }
    }

    /// The event about the blog itself (`problem`, `recovered`, `closed`) found at `at`:
    /// `poll` is the blog's poll count when it is part of what identifies the event (a
    /// blog can have many problems, it closes once), `n` a count in it (failures).
    pub fn for_blog(
        blog: BlogRef,
        kind: EventKind,
        poll: Option<i64>,
        n: u32,
        at: DateTime<Utc>,
        message: String,
    ) -> Event {
        let key = match poll {
            Some(p) => format!("@blog:{p}"),
            None => "@blog".to_string(),
        };
        Event {
            id: event_id(&blog.url, &key, kind, n),
            kind,
            detected_at: at,
            blog,
            post: None,
            previous: None,
            diff: None,
            message: Some(message),
        }
    }

    /// One human line: `[kind] blog — headline`.
    pub fn summary_line(&self) -> String {
        let blog = self.blog.title.as_deref().unwrap_or(&self.blog.url);
        let what = match (&self.post, &self.message) {
            (Some(p), _) => p.title().to_string(),
            (None, Some(m)) => m.clone(),
            (None, None) => String::new(),
        };
        format!(
            "[{}] {} — {}",
            self.kind,
            blog,
            crate::text::truncate(&what, 160)
        )
    }
}

/// The id of the event for `kind` at `revision` of a post: derived from what identifies
/// the change, so the same change detected again (after a crash before its commit) gets
/// the same id, and receivers can drop it.
pub fn event_id(blog_url: &str, post_id: &str, kind: EventKind, revision: u32) -> String {
    let mut h = blake3::Hasher::new();
    for part in [blog_url, post_id, kind.as_str(), &revision.to_string()] {
        h.update(part.as_bytes());
        h.update(b"\x00");
    }
    format!("evt_{}", &h.finalize().to_hex()[..26])
}
