//! Notifiers: each delivers one event at a time. The daemon's delivery workers take
//! events from the outbox in order, call [`Notifier::deliver`], and record the result
//! (done, retry later, or dead-letter).

pub mod stdout;

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

/// Build the notifier a spec describes.
pub fn build(spec: &NotifierSpec, client: &reqwest::Client) -> Arc<dyn Notifier> {
    let _ = client;
    match &spec.kind {
        NotifierKind::Stdout { json } => Arc::new(stdout::Stdout::new(*json)),
        other => Arc::new(Unsupported(other.type_name())),
    }
}

/// A notifier type this build cannot deliver to yet: every event fails, retried later.
struct Unsupported(&'static str);

#[async_trait]
impl Notifier for Unsupported {
    async fn deliver(&self, _: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        Err(DeliveryError::retry(format!(
            "notifier type {} is not available in this build",
            self.0
        )))
    }
}
