//! A configured notifier as the notifiers take it: its name, type and settings, the
//! routing filter and the delivery policy. [`crate::config`] builds these from the file;
//! nothing here reads the config.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::email::Security;
use super::route::Filter;
use super::template::BodyTemplate;

/// A configured notifier, validated.
#[derive(Debug, Clone)]
pub struct NotifierSpec {
    pub name: String,
    pub kind: NotifierKind,
    pub filter: Filter,
    pub burst: Option<(u32, Duration)>,
    pub give_up_after: Duration,
    pub timeout: Duration,
    /// First wait between delivery attempts; doubles per attempt up to 10 minutes.
    pub retry_wait: Duration,
    /// The message body template, when one is set.
    pub template: Option<Arc<BodyTemplate>>,
}

/// The notifier types and their own settings.
#[derive(Debug, Clone)]
pub enum NotifierKind {
    Stdout {
        json: bool,
    },
    Desktop {
        critical_urgency: bool,
    },
    Webhook {
        url: String,
        secret: Option<String>,
        headers: BTreeMap<String, String>,
    },
    Slack {
        url: String,
        token: Option<String>,
        channel: Option<String>,
    },
    Discord {
        url: String,
    },
    Ntfy {
        url: String,
        token: Option<String>,
        priority: Option<u8>,
    },
    Telegram {
        url: String,
        token: String,
        chat_id: String,
    },
    Email {
        host: String,
        port: u16,
        security: Security,
        username: Option<String>,
        password: Option<String>,
        from: String,
        to: Vec<String>,
        subject: Option<Arc<BodyTemplate>>,
    },
    Mqtt {
        host: String,
        port: u16,
        username: Option<String>,
        password: Option<String>,
        topic: String,
        qos: u8,
        retain: bool,
    },
    Command {
        argv: Vec<String>,
    },
    Nats {
        /// `nats://[USER:PASS@]HOST:PORT`.
        url: String,
        subject: String,
        stream: Option<String>,
    },
}

impl NotifierKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            NotifierKind::Stdout { .. } => "stdout",
            NotifierKind::Desktop { .. } => "desktop",
            NotifierKind::Webhook { .. } => "webhook",
            NotifierKind::Slack { .. } => "slack",
            NotifierKind::Discord { .. } => "discord",
            NotifierKind::Ntfy { .. } => "ntfy",
            NotifierKind::Telegram { .. } => "telegram",
            NotifierKind::Email { .. } => "email",
            NotifierKind::Mqtt { .. } => "mqtt",
            NotifierKind::Command { .. } => "command",
            NotifierKind::Nats { .. } => "nats",
        }
    }
}
