//! The Slack preset. Without a token: an incoming webhook (`url`), a message with blocks;
//! incoming webhooks cannot edit, so a change is a new message quoting the post as it
//! was. With a bot `token` and `chat_id` (the channel): the Web API at `url` (e.g.
//! `https://slack.com/api`), `chat.postMessage`, whose `ts` is kept, then `chat.update`
//! of that message for edits and corrections of the same post.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::http::Http;
use super::message::Message;
use super::{Delivered, Delivery, DeliveryError, Notifier};
use crate::text::truncate;

/// Sends events to Slack.
pub(crate) struct Slack {
    http: Http,
    url: String,
    token: Option<String>,
    channel: Option<String>,
    /// The message text as a template (`template = …`), when set.
    pub template: Option<std::sync::Arc<super::template::BodyTemplate>>,
}

/// Escape the three characters Slack's mrkdwn reserves.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message payload: a fallback `text` and the blocks (headline as a link, text,
/// and a context line with the blog and kind).
pub(crate) fn payload(m: &Message, quote_previous: bool) -> Value {
    let mut section = format!(
        "*<{}|{}>*",
        m.url.replace('|', "%7C").replace('>', "%3E"),
        escape(&m.headline)
    );
    if !m.text.is_empty() && m.text != m.headline {
        section.push('\n');
        section.push_str(&escape(&m.text));
    }
    if quote_previous {
        if let Some(p) = &m.previous {
            section.push_str("\n*Before:*");
            for line in p.lines() {
                section.push_str("\n>");
                section.push_str(&escape(line));
            }
        }
    }
    json!({
        "text": truncate(&format!("{}: {}", m.title(), m.headline), 300),
        "unfurl_links": false,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&section, 2900)}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": format!("{} · *{}*", escape(&m.blog), m.label)}
            ]},
        ],
    })
}

impl Slack {
    pub(crate) fn new(
        http: Http,
        url: String,
        token: Option<String>,
        channel: Option<String>,
    ) -> Self {
        Slack {
            http,
            url,
            token,
            channel,
            template: None,
        }
    }

    /// Call a Web API method; Slack answers 200 with `ok: false` on errors.
    async fn api(&self, token: &str, method: &str, body: Value) -> Result<Value, DeliveryError> {
        let req = self
            .http
            .client()
            .post(format!("{}/{method}", self.url.trim_end_matches('/')))
            .bearer_auth(token);
        let req = super::http::json(req, &body);
        let answer = self.http.send(req).await?;
        let v: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        if v["ok"].as_bool() == Some(true) {
            return Ok(v);
        }
        let err = v["error"]
            .as_str()
            .unwrap_or("unreadable answer")
            .to_string();
        Err(match err.as_str() {
            "ratelimited" | "internal_error" | "fatal_error" | "service_unavailable" => {
                DeliveryError::retry(format!("Slack {method}: {err}"))
            }
            _ => DeliveryError::Permanent(format!("Slack {method}: {err}")),
        })
    }
}

#[async_trait]
impl Notifier for Slack {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let m = super::template::message(self.template.as_deref(), d.event)?;
        let (Some(token), Some(channel)) = (&self.token, &self.channel) else {
            let req = super::http::json(self.http.client().post(&self.url), &payload(&m, true));
            self.http.send(req).await?;
            return Ok(Delivered::default());
        };
        if let Some(ts) = &d.earlier_remote_id {
            let mut body = payload(&m, false);
            body["channel"] = json!(channel);
            body["ts"] = json!(ts);
            match self.api(token, "chat.update", body).await {
                Ok(_) => {
                    return Ok(Delivered {
                        remote_id: Some(ts.clone()),
                    })
                }
                Err(DeliveryError::Permanent(why)) => {
                    tracing::info!(
                        "cannot update Slack message {ts} ({why}); replying in its thread"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let mut body = payload(&m, true);
        body["channel"] = json!(channel);
        if let Some(ts) = &d.earlier_remote_id {
            body["thread_ts"] = json!(ts);
        }
        let v = self.api(token, "chat.postMessage", body).await?;
        Ok(Delivered {
            remote_id: v["ts"].as_str().map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_link_the_headline_and_quote_the_old_text() {
        let mut e = crate::notify::message::tests::correction();
        e.post.as_mut().unwrap().headline = Some("Aid <big> & small".into());
        let m = Message::of(&e);
        let p = payload(&m, true);
        let section = p["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(
            section.starts_with("*<https://news.example/live#p1|Aid &lt;big&gt; &amp; small>*\n"),
            "{section}"
        );
        assert!(section.contains("{+missiles and+}"), "{section}");
        assert!(
            section.contains("\n>Britain sends long-range attack drones."),
            "{section}"
        );
        assert_eq!(
            p["blocks"][1]["elements"][0]["text"],
            "Ukraine live · *Correction*"
        );
        assert!(p["text"]
            .as_str()
            .unwrap()
            .starts_with("Ukraine live — Correction: "));
    }
}
