//! The Discord preset: a webhook message with an embed. `?wait=true` makes Discord answer
//! with the message, whose id is kept; an edit or correction of the same post then edits
//! that message (`PATCH {webhook}/messages/{id}`). Where there is no earlier message (or it
//! cannot be edited), a new message quotes the post as it was.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::http::Http;
use super::message::Message;
use super::{Delivered, Delivery, DeliveryError, Notifier};
use crate::text::truncate;

/// Sends events to a Discord webhook.
pub(crate) struct Discord {
    http: Http,
    url: String,
    /// The message text as a template (`template = …`), when set.
    pub template: Option<std::sync::Arc<super::template::BodyTemplate>>,
}

/// Embed colours: blue for news, amber for edits, red for corrections and removals.
fn colour(m: &Message) -> u32 {
    match m.kind {
        crate::model::EventKind::Correction | crate::model::EventKind::Removed => 0xd0_3030,
        crate::model::EventKind::Edit => 0xe0_a020,
        _ => 0x30_70d0,
    }
}

/// The webhook payload. `quote_previous`: add the post as it was, for a new message
/// about a change.
pub(crate) fn payload(m: &Message, quote_previous: bool) -> Value {
    let mut description = m.text.clone();
    if quote_previous {
        if let Some(p) = &m.previous {
            description.push_str("\n\nBefore:\n");
            for line in p.lines() {
                description.push_str("> ");
                description.push_str(line);
                description.push('\n');
            }
        }
    }
    json!({
        "username": "livewatch",
        "allowed_mentions": {"parse": []},
        "embeds": [{
            "title": truncate(&format!("{}: {}", m.label, m.headline), 250),
            "description": truncate(&description, 4000),
            "url": m.url,
            "color": colour(m),
            "author": {"name": truncate(&m.blog, 250)},
        }],
    })
}

impl Discord {
    pub(crate) fn new(http: Http, url: String) -> Self {
        Discord {
            http,
            url,
            template: None,
        }
    }

    /// The webhook URL with `extra` path segments and `wait=true`, keeping its own query
    /// (e.g. `thread_id`).
    fn endpoint(&self, extra: &[&str], wait: bool) -> Result<url::Url, DeliveryError> {
        let mut u = url::Url::parse(&self.url)
            .map_err(|e| DeliveryError::Permanent(format!("bad Discord webhook URL: {e}")))?;
        if !extra.is_empty() {
            let mut segs = u
                .path_segments_mut()
                .map_err(|_| DeliveryError::Permanent("bad Discord webhook URL: no path".into()))?;
            segs.pop_if_empty();
            for s in extra {
                segs.push(s);
            }
        }
        if wait {
            u.query_pairs_mut().append_pair("wait", "true");
        }
        Ok(u)
    }

    async fn post(&self, m: &Message, quote: bool) -> Result<Delivered, DeliveryError> {
        let req = self.http.client().post(self.endpoint(&[], true)?);
        let req = super::http::json(req, &payload(m, quote));
        let answer = self.http.send(req).await?;
        let id = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string));
        Ok(Delivered { remote_id: id })
    }
}

#[async_trait]
impl Notifier for Discord {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let m = super::template::message(self.template.as_deref(), d.event)?;
        if let Some(id) = &d.earlier_remote_id {
            let req = self
                .http
                .client()
                .patch(self.endpoint(&["messages", id], false)?);
            let req = super::http::json(req, &payload(&m, false));
            match self.http.send(req).await {
                Ok(_) => {
                    return Ok(Delivered {
                        remote_id: Some(id.clone()),
                    })
                }
                Err(DeliveryError::Permanent(why)) => {
                    tracing::info!("cannot edit Discord message {id} ({why}); sending a new one");
                }
                Err(e) => return Err(e),
            }
        }
        self.post(&m, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_has_title_text_link_and_quote() {
        let m = Message::of(&crate::notify::message::tests::correction());
        let p = payload(&m, true);
        let e = &p["embeds"][0];
        assert_eq!(e["title"], "Correction: UK aid package");
        assert_eq!(e["url"], "https://news.example/live#p1");
        assert_eq!(e["author"]["name"], "Ukraine live");
        assert_eq!(e["color"], 0xd03030);
        let desc = e["description"].as_str().unwrap();
        assert!(desc.contains("{+missiles and+}"), "{desc}");
        assert!(
            desc.contains("> Britain sends long-range attack drones."),
            "{desc}"
        );
        let p = payload(&m, false);
        assert!(!p["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .contains("Before:"));
    }

    #[test]
    fn endpoints_keep_the_query() {
        let d = Discord::new(
            Http::new(reqwest::Client::new(), std::time::Duration::from_secs(1)),
            "https://discord.example/api/webhooks/1/abc?thread_id=9".into(),
        );
        assert_eq!(
            d.endpoint(&[], true).unwrap().as_str(),
            "https://discord.example/api/webhooks/1/abc?thread_id=9&wait=true"
        );
        assert_eq!(
            d.endpoint(&["messages", "77"], false).unwrap().as_str(),
            "https://discord.example/api/webhooks/1/abc/messages/77?thread_id=9"
        );
    }
}
