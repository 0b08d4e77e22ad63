//! The NATS JetStream notifier: each event is published as its JSON (or the rendered
//! template) to a subject made from a template, `livewatch.events.{blog}.{kind}` by
//! default, through JetStream.
//!
//! The event id goes in the `Nats-Msg-Id` header, so JetStream drops a second copy of an
//! event published again within the stream's duplicate window (a retried delivery whose
//! first acknowledgement was lost, a restart after a crash). Only an event JetStream
//! acknowledges counts as delivered; no acknowledgement, a broken connection or no stream
//! for the subject is retried like any other failed delivery.
//!
//! With `stream` set, the stream is looked up on first use and created when missing (its
//! subjects: the subject template with each placeholder token as `*`); an event that
//! JetStream stores in another stream is an error naming both. Without `stream`, some
//! stream on the server must already take the subject.
//!
//! One connection per notifier, opened on the first delivery and kept (the client
//! reconnects by itself after the server restarts).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind};
use async_trait::async_trait;
use tokio::sync::Mutex;

use super::template::BodyTemplate;
use super::{Delivered, Delivery, DeliveryError, Notifier};
use crate::model::Event;

/// The default subject template.
pub const DEFAULT_SUBJECT: &str = "livewatch.events.{blog}.{kind}";

/// The placeholders a subject template takes.
const PLACEHOLDERS: [&str; 3] = ["{blog}", "{kind}", "{post}"];

/// Where and how events are published.
#[derive(Debug, Clone)]
pub struct NatsTarget {
    /// `nats://[USER:PASS@]HOST:PORT`.
    pub url: String,
    /// The subject template.
    pub subject: String,
    /// The stream to publish into (created when missing).
    pub stream: Option<String>,
}

/// Publishes events to NATS JetStream.
pub struct Nats {
    target: NatsTarget,
    /// The notifier's name, the connection's name on the server.
    name: String,
    timeout: Duration,
    template: Option<Arc<BodyTemplate>>,
    conn: Mutex<Option<Conn>>,
}

struct Conn {
    js: jetstream::Context,
    /// The configured stream exists (looked up or created on this connection).
    stream_ready: bool,
}

/// A subject token made safe: no `.` (a token separator), wildcards, whitespace or
/// control characters.
fn token(s: &str) -> String {
    super::mqtt::name_part(s, |c| {
        matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control()
    })
}

/// The subject for `event`: `{blog}` is the blog's slug (from its URL, as in the feeds),
/// `{kind}` the event kind, `{post}` the post id (`-` for blog-level events).
pub fn subject(template: &str, event: &Event) -> String {
    template
        .replace(
            "{blog}",
            &token(&crate::server::feeds::slug_for(&event.blog.url)),
        )
        .replace("{kind}", event.kind.as_str())
        .replace(
            "{post}",
            &token(event.post.as_ref().map(|p| p.id.as_str()).unwrap_or("")),
        )
}

/// The subjects a stream created for `template` takes: each token with a placeholder
/// becomes `*` (`livewatch.events.{blog}.{kind}` → `livewatch.events.*.*`).
pub fn stream_subjects(template: &str) -> String {
    template
        .split('.')
        .map(|t| {
            if PLACEHOLDERS.iter().any(|p| t.contains(p)) {
                "*"
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Check a subject template: not empty, no wildcards, whitespace or empty tokens, only
/// known placeholders.
pub fn check_subject(t: &str) -> Result<(), String> {
    if t.is_empty() {
        return Err("subject must not be empty".into());
    }
    if t.contains(['*', '>']) {
        return Err(format!(
            "subject {t:?} contains a wildcard (* or >); a publish needs a plain subject"
        ));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("subject {t:?} contains whitespace"));
    }
    if t.split('.').any(str::is_empty) {
        return Err(format!(
            "subject {t:?} has an empty token (a leading, trailing or doubled `.`)"
        ));
    }
    let rest = PLACEHOLDERS
        .iter()
        .fold(t.to_string(), |s, p| s.replace(p, ""));
    if rest.contains(['{', '}']) {
        return Err(format!(
            "subject {t:?} has an unknown placeholder; use {{blog}}, {{kind}} or {{post}}"
        ));
    }
    Ok(())
}

/// Check a stream name: what JetStream accepts (no `.`, wildcards, separators or spaces).
pub fn check_stream(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("stream must not be empty".into());
    }
    if s.chars()
        .any(|c| matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "stream {s:?} is not a valid JetStream stream name (no `.`, `*`, `>`, `/`, `\\` or spaces)"
        ));
    }
    Ok(())
}

impl Nats {
    pub fn new(
        target: NatsTarget,
        name: &str,
        timeout: Duration,
        template: Option<Arc<BodyTemplate>>,
    ) -> Self {
        Nats {
            target,
            name: name.to_string(),
            timeout,
            template,
            conn: Mutex::new(None),
        }
    }

    /// The payload: the event JSON, or the rendered template.
    pub fn payload(&self, event: &Event) -> Result<Vec<u8>, DeliveryError> {
        match &self.template {
            Some(t) => super::template::render_body(t, event),
            None => serde_json::to_vec(event)
                .map_err(|e| DeliveryError::Permanent(format!("cannot encode the event: {e}"))),
        }
    }

    async fn connect(&self) -> Result<jetstream::Context, DeliveryError> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("livewatch {}", self.name))
            .connection_timeout(self.timeout)
            .connect(self.target.url.as_str())
            .await
            .map_err(|e| {
                use async_nats::ConnectErrorKind as K;
                let msg = format!("NATS: cannot connect to {}: {e}", self.target.url);
                match e.kind() {
                    K::AuthorizationViolation | K::ServerParse => DeliveryError::Permanent(msg),
                    _ => DeliveryError::retry(msg),
                }
            })?;
        let mut js = jetstream::new(client);
        js.set_timeout(self.timeout);
        Ok(js)
    }

    /// Look the configured stream up, and create it when missing.
    async fn ensure_stream(
        js: &jetstream::Context,
        name: &str,
        subject: &str,
    ) -> Result<(), DeliveryError> {
        use async_nats::jetstream::context::GetStreamErrorKind as G;
        use async_nats::jetstream::ErrorCode;
        match js.get_stream(name).await {
            Ok(_) => return Ok(()),
            Err(e) => match e.kind() {
                G::JetStream(j) if j.error_code() == ErrorCode::STREAM_NOT_FOUND => {}
                _ => {
                    return Err(DeliveryError::retry(format!(
                        "NATS: cannot look up stream {name:?}: {e} (is JetStream enabled: nats-server -js?)"
                    )))
                }
            },
        }
        let subjects = stream_subjects(subject);
        js.create_stream(jetstream::stream::Config {
            name: name.to_string(),
            subjects: vec![subjects.clone()],
            ..Default::default()
        })
        .await
        .map_err(|e| {
            DeliveryError::retry(format!(
                "NATS: stream {name:?} does not exist and cannot be created for {subjects:?}: {e}"
            ))
        })?;
        tracing::info!(stream = name, subjects = %subjects, "NATS: created the JetStream stream");
        Ok(())
    }

    /// Publish `payload` to `subject` with the message id, and wait for the ack.
    pub async fn publish(
        &self,
        subject: String,
        id: &str,
        payload: Vec<u8>,
    ) -> Result<jetstream::publish::PublishAck, DeliveryError> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            *guard = Some(Conn {
                js: self.connect().await?,
                stream_ready: false,
            });
        }
        let conn = guard.as_mut().expect("connected above");
        if let (Some(stream), false) = (&self.target.stream, conn.stream_ready) {
            Self::ensure_stream(&conn.js, stream, &self.target.subject).await?;
            conn.stream_ready = true;
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
        let sent = conn
            .js
            .publish_with_headers(subject.clone(), headers, payload.into())
            .await;
        let ack = match sent {
            Ok(fut) => fut.await,
            Err(e) => Err(e),
        };
        let ack = ack.map_err(|e| match e.kind() {
            PublishErrorKind::StreamNotFound => {
                // Deleted meanwhile: look it up (and create it) again on the next try.
                conn.stream_ready = false;
                DeliveryError::retry(match &self.target.stream {
                    Some(s) => format!("NATS: stream {s:?} does not take subject {subject:?} (no JetStream stream answered)"),
                    None => format!(
                        "NATS: no JetStream stream takes subject {subject:?}; create one, or set stream = \"NAME\" to have livewatch create it"
                    ),
                })
            }
            PublishErrorKind::TimedOut => DeliveryError::retry(format!(
                "NATS: no JetStream acknowledgement for {subject:?} within {:?}",
                self.timeout
            )),
            _ => DeliveryError::retry(format!("NATS: publish to {subject:?} failed: {e}")),
        })?;
        if let Some(s) = &self.target.stream {
            if &ack.stream != s {
                return Err(DeliveryError::Permanent(format!(
                    "NATS: subject {subject:?} is stored by stream {:?}, not the configured stream {s:?}",
                    ack.stream
                )));
            }
        }
        Ok(ack)
    }
}

#[async_trait]
impl Notifier for Nats {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let payload = self.payload(d.event)?;
        let subject = subject(&self.target.subject, d.event);
        // Connecting and looking the stream up get their own timeouts; this bounds the lot.
        match tokio::time::timeout(
            self.timeout * 3,
            self.publish(subject, &d.event.id, payload),
        )
        .await
        {
            Ok(r) => r.map(|_| Delivered::default()),
            Err(_) => Err(DeliveryError::retry(format!(
                "NATS: no JetStream acknowledgement within {:?}",
                self.timeout * 3
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_from_the_template() {
        let e = crate::notify::message::tests::correction();
        assert_eq!(
            subject(DEFAULT_SUBJECT, &e),
            "livewatch.events.live.correction"
        );
        let mut e2 = e.clone();
        e2.post.as_mut().unwrap().id = "a.b *>c".into();
        assert_eq!(subject("x.{post}", &e2), "x.a-b---c");
        assert_eq!(stream_subjects(DEFAULT_SUBJECT), "livewatch.events.*.*");
        assert_eq!(stream_subjects("lw.b-{blog}.all"), "lw.*.all");
        assert!(check_subject(DEFAULT_SUBJECT).is_ok());
        assert!(check_subject("a.>").is_err());
        assert!(check_subject("a.*.b").is_err());
        assert!(check_subject("a..b").is_err());
        assert!(check_subject("a.{nope}").is_err());
        assert!(check_subject("a b").is_err());
        assert!(check_subject("").is_err());
        assert!(check_stream("LIVEWATCH").is_ok());
        assert!(check_stream("a.b").is_err());
        assert!(check_stream("").is_err());
    }
}
