//! The Telegram preset: the bot API's `sendMessage` (`url` defaults to
//! https://api.telegram.org). The `message_id` it returns is kept; an edit or correction
//! of the same post edits that message with `editMessageText`. Where there is no earlier
//! message (or it cannot be edited), a new message quotes the post as it was (as a reply
//! to the earlier message when there is one).

use async_trait::async_trait;
use serde_json::{json, Value};

use super::http::Http;
use super::message::Message;
use super::{Delivered, Delivery, DeliveryError, Notifier};
use crate::text::truncate;

/// Telegram's limit on message text, in characters.
const MAX_TEXT: usize = 4000;

/// Sends events through a Telegram bot.
pub(crate) struct Telegram {
    http: Http,
    url: String,
    token: String,
    chat_id: String,
    /// The message text as a template (`template = …`), when set.
    pub template: Option<std::sync::Arc<super::template::BodyTemplate>>,
}

/// The message text (plain, no parse mode, so nothing needs escaping).
pub(crate) fn text(m: &Message, quote_previous: bool) -> String {
    let mut t = format!("{}\n\n{}", m.title(), m.body());
    if quote_previous {
        if let Some(p) = &m.previous {
            t.push_str("\n\nBefore:\n");
            for line in p.lines() {
                t.push_str("» ");
                t.push_str(line);
                t.push('\n');
            }
        }
    }
    let t = truncate(&t, MAX_TEXT - m.url.chars().count() - 2);
    format!("{t}\n\n{}", m.url)
}

impl Telegram {
    pub(crate) fn new(http: Http, url: String, token: String, chat_id: String) -> Self {
        Telegram {
            http,
            url,
            token,
            chat_id,
            template: None,
        }
    }

    fn method(&self, name: &str) -> String {
        format!(
            "{}/bot{}/{name}",
            self.url.trim_end_matches('/'),
            self.token
        )
    }

    /// `sendMessage` body. `reply_to`: the earlier message this one answers.
    pub(crate) fn send_body(&self, m: &Message, reply_to: Option<&str>) -> Value {
        let mut v = json!({
            "chat_id": self.chat_id,
            "text": text(m, true),
            "link_preview_options": {"is_disabled": true},
        });
        if let Some(id) = reply_to.and_then(|id| id.parse::<i64>().ok()) {
            v["reply_parameters"] = json!({"message_id": id, "allow_sending_without_reply": true});
        }
        v
    }

    /// `editMessageText` body.
    pub(crate) fn edit_body(&self, m: &Message, message_id: &str) -> Value {
        json!({
            "chat_id": self.chat_id,
            "message_id": message_id.parse::<i64>().unwrap_or_default(),
            "text": text(m, false),
            "link_preview_options": {"is_disabled": true},
        })
    }
}

#[async_trait]
impl Notifier for Telegram {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let m = super::template::message(self.template.as_deref(), d.event)?;
        if let Some(id) = &d.earlier_remote_id {
            let req = self.http.client().post(self.method("editMessageText"));
            let req = super::http::json(req, &self.edit_body(&m, id));
            match self.http.send(req).await {
                Ok(_) => {
                    return Ok(Delivered {
                        remote_id: Some(id.clone()),
                    })
                }
                Err(DeliveryError::Permanent(why)) => {
                    tracing::info!("cannot edit Telegram message {id} ({why}); replying to it");
                }
                Err(e) => return Err(e),
            }
        }
        let req = self.http.client().post(self.method("sendMessage"));
        let req = super::http::json(req, &self.send_body(&m, d.earlier_remote_id.as_deref()));
        let answer = self.http.send(req).await?;
        let id = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|v| v["result"]["message_id"].as_i64())
            .map(|id| id.to_string());
        Ok(Delivered { remote_id: id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot() -> Telegram {
        Telegram::new(
            Http::new(reqwest::Client::new(), std::time::Duration::from_secs(1)),
            "http://127.0.0.1:9/".into(),
            "123:abc".into(),
            "-100".into(),
        )
    }

    #[test]
    fn text_has_title_body_quote_and_link() {
        let m = Message::of(&crate::notify::message::tests::correction());
        let t = text(&m, true);
        assert!(
            t.starts_with("Ukraine live — Correction\n\nUK aid package\n"),
            "{t}"
        );
        assert!(t.contains("{+missiles and+}"), "{t}");
        assert!(
            t.contains("» Britain sends long-range attack drones."),
            "{t}"
        );
        assert!(t.ends_with("\n\nhttps://news.example/live#p1"), "{t}");
        assert!(!text(&m, false).contains("Before:"));
    }

    #[test]
    fn bodies_and_methods() {
        let b = bot();
        assert_eq!(
            b.method("sendMessage"),
            "http://127.0.0.1:9/bot123:abc/sendMessage"
        );
        let m = Message::of(&crate::notify::message::tests::correction());
        let s = b.send_body(&m, Some("42"));
        assert_eq!(s["chat_id"], "-100");
        assert_eq!(s["reply_parameters"]["message_id"], 42);
        let e = b.edit_body(&m, "42");
        assert_eq!(e["message_id"], 42);
        assert!(e["text"].as_str().unwrap().contains("Correction"));
    }
}
