//! The ntfy preset: a POST of the text to the topic URL with `Title`, `Tags`, `Priority`
//! and `Click` headers (and `Authorization: Bearer` with a token). ntfy cannot edit a
//! message, so a change is a new message quoting the post as it was.

use async_trait::async_trait;
use base64::Engine;

use super::http::Http;
use super::message::Message;
use super::{Delivered, Delivery, DeliveryError, Notifier};
use crate::model::EventKind;
use crate::text::truncate;

/// Sends events to an ntfy topic.
pub(crate) struct Ntfy {
    http: Http,
    url: String,
    token: Option<String>,
    priority: Option<u8>,
    /// The message text as a template (`template = …`), when set.
    pub template: Option<std::sync::Arc<super::template::BodyTemplate>>,
}

/// A header value: ASCII as is, anything else as an RFC 2047 encoded word (ntfy decodes
/// them; raw UTF-8 is not valid in HTTP headers).
pub(crate) fn header_text(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    if s.is_ascii() {
        s
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
        )
    }
}

/// ntfy tags (emoji shortcodes) per kind.
fn tags(kind: EventKind) -> &'static str {
    match kind {
        EventKind::New => "newspaper",
        EventKind::Edit => "pencil2",
        EventKind::Correction => "warning",
        EventKind::Removed => "wastebasket",
        EventKind::Problem => "rotating_light",
        EventKind::Recovered => "white_check_mark",
        EventKind::Closed => "checkered_flag",
        EventKind::Test => "test_tube",
    }
}

/// The headers and body of one message.
pub(crate) fn request(m: &Message, priority: Option<u8>) -> (Vec<(&'static str, String)>, String) {
    let priority = priority
        .unwrap_or(if m.is_urgent() { 4 } else { 3 })
        .clamp(1, 5);
    let headers = vec![
        ("Title", header_text(&truncate(&m.title(), 200))),
        ("Tags", tags(m.kind).to_string()),
        ("Priority", priority.to_string()),
        ("Click", m.url.clone()),
    ];
    let mut body = m.body();
    if let Some(p) = &m.previous {
        body.push_str("\n\nBefore:\n");
        body.push_str(p);
    }
    (headers, body)
}

impl Ntfy {
    pub(crate) fn new(
        http: Http,
        url: String,
        token: Option<String>,
        priority: Option<u8>,
    ) -> Self {
        Ntfy {
            http,
            url,
            token,
            priority,
            template: None,
        }
    }
}

#[async_trait]
impl Notifier for Ntfy {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let m = super::template::message(self.template.as_deref(), d.event)?;
        let (headers, body) = request(&m, self.priority);
        let mut req = self.http.client().post(&self.url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        self.http.send(req.body(body)).await?;
        Ok(Delivered::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_for_a_correction() {
        let m = Message::of(&crate::notify::message::tests::correction());
        let (h, body) = request(&m, None);
        let get = |k: &str| h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        // "—" is not ASCII: encoded.
        assert_eq!(get("Title"), Some(header_text("Ukraine live — Correction")));
        assert!(get("Title").unwrap().starts_with("=?UTF-8?B?"));
        assert_eq!(get("Tags").as_deref(), Some("warning"));
        assert_eq!(get("Priority").as_deref(), Some("4"));
        assert_eq!(
            get("Click").as_deref(),
            Some("https://news.example/live#p1")
        );
        assert!(body.starts_with("UK aid package\n"), "{body}");
        assert!(body.contains("Before:\nBritain sends long-range attack drones."));
        let (h, _) = request(&m, Some(9));
        assert!(h.contains(&("Priority", "5".to_string())));
        assert_eq!(header_text("plain"), "plain");
    }
}
