//! The MQTT notifier (MQTT 3.1.1): each event is published as its JSON (or the rendered
//! template) to a topic made from a template, `livewatch/{blog}/{kind}` by default.
//!
//! One connection per delivery: connect, publish, wait for the broker's acknowledgement
//! (PUBACK at QoS 1, PUBCOMP at QoS 2), disconnect. Only an acknowledged publish counts as
//! delivered (QoS 0 has no acknowledgement: written to the broker's connection is
//! delivered); anything else is retried like any other failed delivery.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS,
};

use super::template::BodyTemplate;
use super::{Delivered, Delivery, DeliveryError, Notifier};
use crate::model::Event as LwEvent;

/// The default topic template.
pub(crate) const DEFAULT_TOPIC: &str = "livewatch/{blog}/{kind}";

/// Largest message sent or accepted (MQTT's own limit is 256 MiB; brokers often 1 MiB+).
const MAX_PACKET: usize = 4 * 1024 * 1024;

/// Where and how events are published.
#[derive(Debug, Clone)]
pub(crate) struct MqttTarget {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub topic: String,
    /// 0, 1 or 2.
    pub qos: u8,
    pub retain: bool,
}

/// Publishes events to an MQTT broker.
pub(crate) struct Mqtt {
    target: MqttTarget,
    /// The notifier's name, part of the client id.
    name: String,
    timeout: Duration,
    template: Option<Arc<BodyTemplate>>,
}

/// A topic level made safe: no `/` (a level separator), wildcards or NUL.
fn level(s: &str) -> String {
    name_part(s, |c| matches!(c, '/' | '+' | '#' | '\0') || c.is_control())
}

/// `s` with each character `bad` says cannot stand in a topic level or subject token
/// replaced by `-`; `-` for an empty `s`.
pub(super) fn name_part(s: &str, bad: impl Fn(char) -> bool) -> String {
    let v: String = s.chars().map(|c| if bad(c) { '-' } else { c }).collect();
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// The topic for `event`: `{blog}` is the blog's slug (from its URL, as in the feeds),
/// `{kind}` the event kind, `{post}` the post id (`-` for blog-level events).
pub(crate) fn topic(template: &str, event: &LwEvent) -> String {
    template
        .replace("{blog}", &crate::server::feeds::slug_for(&event.blog.url))
        .replace("{kind}", event.kind.as_str())
        .replace(
            "{post}",
            &level(event.post.as_ref().map(|p| p.id.as_str()).unwrap_or("")),
        )
}

/// Check a topic template: not empty, no wildcards, only known placeholders.
pub(crate) fn check_topic(t: &str) -> Result<(), String> {
    if t.is_empty() {
        return Err("topic must not be empty".into());
    }
    if t.contains(['+', '#', '\0']) {
        return Err(format!(
            "topic {t:?} contains a wildcard (+ or #); a publish needs a plain topic"
        ));
    }
    let rest = t
        .replace("{blog}", "")
        .replace("{kind}", "")
        .replace("{post}", "");
    if rest.contains(['{', '}']) {
        return Err(format!(
            "topic {t:?} has an unknown placeholder; use {{blog}}, {{kind}} or {{post}}"
        ));
    }
    Ok(())
}

fn qos(n: u8) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        2 => QoS::ExactlyOnce,
        _ => QoS::AtLeastOnce,
    }
}

fn classify(e: ConnectionError) -> DeliveryError {
    match e {
        ConnectionError::ConnectionRefused(
            code @ (ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized),
        ) => DeliveryError::Permanent(format!("MQTT broker refused the connection: {code:?}")),
        e => DeliveryError::retry(format!("MQTT: {e}")),
    }
}

impl Mqtt {
    pub(crate) fn new(
        target: MqttTarget,
        name: &str,
        timeout: Duration,
        template: Option<Arc<BodyTemplate>>,
    ) -> Self {
        Mqtt {
            target,
            name: name.to_string(),
            timeout,
            template,
        }
    }

    /// The payload: the event JSON, or the rendered template.
    pub(crate) fn payload(&self, event: &LwEvent) -> Result<Vec<u8>, DeliveryError> {
        match &self.template {
            Some(t) => super::template::render_body(t, event),
            None => serde_json::to_vec(event)
                .map_err(|e| DeliveryError::Permanent(format!("cannot encode the event: {e}"))),
        }
    }

    async fn publish(&self, topic: String, payload: Vec<u8>) -> Result<(), DeliveryError> {
        let t = &self.target;
        // Unique per process and notifier: a second livewatch with the same config does
        // not take over this one's connection.
        let client_id = format!("livewatch-{}-{}", std::process::id(), level(&self.name));
        let mut opts = MqttOptions::new(client_id, t.host.clone(), t.port);
        opts.set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_max_packet_size(MAX_PACKET, MAX_PACKET);
        if let Some(u) = &t.username {
            opts.set_credentials(u.clone(), t.password.clone().unwrap_or_default());
        }
        let (client, mut eventloop) = AsyncClient::new(opts, 4);
        let level = qos(t.qos);
        client
            .publish(topic, level, t.retain, payload)
            .await
            .map_err(|e| DeliveryError::retry(format!("MQTT: {e}")))?;
        loop {
            match eventloop.poll().await.map_err(classify)? {
                Event::Incoming(Packet::PubAck(_)) if level == QoS::AtLeastOnce => break,
                Event::Incoming(Packet::PubComp(_)) if level == QoS::ExactlyOnce => break,
                Event::Outgoing(Outgoing::Publish(_)) if level == QoS::AtMostOnce => break,
                Event::Incoming(Packet::Disconnect) => {
                    return Err(DeliveryError::retry(
                        "MQTT broker closed the connection before acknowledging",
                    ))
                }
                _ => {}
            }
        }
        // Say goodbye (this also flushes a QoS 0 publish); the publish is already done.
        if client.disconnect().await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Ok(ev) = eventloop.poll().await {
                    if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                        break;
                    }
                }
            })
            .await;
        }
        Ok(())
    }
}

#[async_trait]
impl Notifier for Mqtt {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let payload = self.payload(d.event)?;
        let topic = topic(&self.target.topic, d.event);
        match tokio::time::timeout(self.timeout, self.publish(topic, payload)).await {
            Ok(r) => r.map(|()| Delivered::default()),
            Err(_) => Err(DeliveryError::retry(format!(
                "MQTT: no acknowledgement within {:?}",
                self.timeout
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_from_the_template() {
        let e = crate::notify::message::tests::correction();
        assert_eq!(topic(DEFAULT_TOPIC, &e), "livewatch/live/correction");
        let mut e2 = e.clone();
        e2.post.as_mut().unwrap().id = "a/b+#c".into();
        assert_eq!(topic("x/{post}", &e2), "x/a-b--c");
        assert!(check_topic(DEFAULT_TOPIC).is_ok());
        assert!(check_topic("a/#").is_err());
        assert!(check_topic("a/{nope}").is_err());
        assert!(check_topic("").is_err());
    }
}
