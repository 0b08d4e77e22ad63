//! Notifiers: each delivers one event at a time. The daemon's delivery workers take
//! events from the outbox in order, call [`Notifier::deliver`], and record the result
//! (done, retry later, or dead-letter).

pub(crate) mod command;
pub(crate) mod desktop;
pub(crate) mod discord;
pub(crate) mod email;
pub(crate) mod http;
pub(crate) mod message;
pub(crate) mod mqtt;
pub mod nats;
pub(crate) mod ntfy;
pub(crate) mod route;
pub(crate) mod slack;
pub(crate) mod spec;
pub(crate) mod stdout;
pub(crate) mod telegram;
pub(crate) mod template;
pub(crate) mod webhook;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::model::Event;
pub use spec::{NotifierKind, NotifierSpec};

/// One delivery attempt of one event.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub event: &'a Event,
    /// The remote message id this notifier got for an earlier event about the same post
    /// (chat presets edit that message instead of sending a new one).
    pub earlier_remote_id: Option<String>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// A successful delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The id the remote service gave the message (Discord, Telegram, Slack).
    pub remote_id: Option<String>,
}

/// A failed delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later (after `after` when the receiver said so).
    #[error("{reason}")]
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Retrying cannot help (e.g. HTTP 400): dead-letter the event now.
    #[error("{0}")]
    Permanent(String),
    /// The target as a whole is unreachable (no desktop session bus): try again later.
    /// The notifier has already reported it once, so the worker does not log it again
    /// for every event.
    #[error("{0}")]
    Unavailable(String),
}

impl DeliveryError {
    pub fn retry(reason: impl Into<String>) -> Self {
        DeliveryError::Retry {
            reason: reason.into(),
            after: None,
        }
    }
}

/// Something that delivers events somewhere.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Deliver one event.
    async fn deliver(&self, delivery: &Delivery<'_>) -> Result<Delivered, DeliveryError>;
}

/// Build the notifier a spec describes. HTTP notifiers share `client` (its connection
/// pool) and apply the spec's own timeout per request.
pub fn build(spec: &NotifierSpec, client: &reqwest::Client) -> Arc<dyn Notifier> {
    let http = http::Http::new(client.clone(), spec.timeout);
    let template = &spec.template;
    match &spec.kind {
        NotifierKind::Stdout { json } => {
            let mut n = stdout::Stdout::new(*json);
            n.template = template.clone();
            Arc::new(n)
        }
        NotifierKind::Desktop { critical_urgency } => {
            let mut n = desktop::Desktop::new(&spec.name, *critical_urgency);
            n.template = template.clone();
            Arc::new(n)
        }
        NotifierKind::Webhook {
            url,
            secret,
            headers,
        } => {
            let mut n = webhook::Webhook::new(http, url.clone(), secret.clone(), headers.clone());
            n.template = template.clone();
            Arc::new(n)
        }
        NotifierKind::Slack {
            url,
            token,
            channel,
        } => {
            let mut n = slack::Slack::new(http, url.clone(), token.clone(), channel.clone());
            n.template = template.clone();
            Arc::new(n)
        }
        NotifierKind::Discord { url } => {
            let mut n = discord::Discord::new(http, url.clone());
            n.template = template.clone();
            Arc::new(n)
        }
        NotifierKind::Ntfy {
            url,
            token,
            priority,
        } => {
            let mut n = ntfy::Ntfy::new(http, url.clone(), token.clone(), *priority);
            n.template = template.clone();
            Arc::new(n)
        }
        NotifierKind::Telegram {
            url,
            token,
            chat_id,
        } => {
            let mut n = telegram::Telegram::new(http, url.clone(), token.clone(), chat_id.clone());
            n.template = template.clone();
            Arc::new(n)
        }
        NotifierKind::Email {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
            subject,
        } => {
            let smtp = email::Smtp {
                host: host.clone(),
                port: *port,
                security: *security,
                username: username.clone(),
                password: password.clone(),
                timeout: spec.timeout,
            };
            match (
                email::mailbox(from),
                to.iter().map(|a| email::mailbox(a)).collect(),
            ) {
                (Ok(from), Ok(to)) => Arc::new(email::Email::new(
                    smtp,
                    from,
                    to,
                    subject.clone(),
                    template.clone(),
                )),
                (Err(e), _) | (_, Err(e)) => Arc::new(Broken(e)),
            }
        }
        NotifierKind::Mqtt {
            host,
            port,
            username,
            password,
            topic,
            qos,
            retain,
        } => Arc::new(mqtt::Mqtt::new(
            mqtt::MqttTarget {
                host: host.clone(),
                port: *port,
                username: username.clone(),
                password: password.clone(),
                topic: topic.clone(),
                qos: *qos,
                retain: *retain,
            },
            &spec.name,
            spec.timeout,
            template.clone(),
        )),
        NotifierKind::Nats {
            url,
            subject,
            stream,
        } => Arc::new(nats::Nats::new(
            nats::NatsTarget {
                url: url.clone(),
                subject: subject.clone(),
                stream: stream.clone(),
            },
            &spec.name,
            spec.timeout,
            template.clone(),
        )),
        NotifierKind::Command { argv } => Arc::new(command::Command::new(
            argv.clone(),
            spec.timeout,
            template.clone(),
        )),
    }
}

/// A notifier whose settings cannot work (the config check reports them first): every
/// delivery is refused with the reason.
struct Broken(String);

#[async_trait]
impl Notifier for Broken {
    async fn deliver(&self, _: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        Err(DeliveryError::Permanent(self.0.clone()))
    }
}
