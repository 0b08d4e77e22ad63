//! Notifiers: each delivers one event at a time. The daemon's delivery workers take
//! events from the outbox in order, call [`Notifier::deliver`], and record the result
//! (done, retry later, or dead-letter).

pub mod desktop;
pub mod discord;
pub mod http;
pub mod message;
pub mod ntfy;
pub mod slack;
pub mod stdout;
pub mod telegram;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::config::{NotifierKind, NotifierSpec};
use crate::model::Event;

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
    match &spec.kind {
        NotifierKind::Stdout { json } => Arc::new(stdout::Stdout::new(*json)),
        NotifierKind::Desktop { critical_urgency } => {
            Arc::new(desktop::Desktop::new(&spec.name, *critical_urgency))
        }
        NotifierKind::Webhook {
            url,
            secret,
            headers,
        } => Arc::new(webhook::Webhook::new(
            http,
            url.clone(),
            secret.clone(),
            headers.clone(),
        )),
        NotifierKind::Slack {
            url,
            token,
            channel,
        } => Arc::new(slack::Slack::new(
            http,
            url.clone(),
            token.clone(),
            channel.clone(),
        )),
        NotifierKind::Discord { url } => Arc::new(discord::Discord::new(http, url.clone())),
        NotifierKind::Ntfy {
            url,
            token,
            priority,
        } => Arc::new(ntfy::Ntfy::new(http, url.clone(), token.clone(), *priority)),
        NotifierKind::Telegram {
            url,
            token,
            chat_id,
        } => Arc::new(telegram::Telegram::new(
            http,
            url.clone(),
            token.clone(),
            chat_id.clone(),
        )),
    }
}
