//! The desktop notifier: org.freedesktop.Notifications over the session D-Bus
//! (notify-rust on zbus, on our tokio runtime).
//!
//! Summary: `Blog — Kind`; body: the headline and first lines (for edits and
//! corrections, the changed words); urgency normal, critical for corrections and
//! removals unless `urgency = "normal"`. Where the server supports actions, the post URL
//! is the default action: a background task waits for the click (for a while), so
//! delivery never blocks on it. With no session bus or no notification server, the
//! error is logged once per outage and every event is retried later.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use notify_rust::{Notification, Urgency};

use super::message::Message;
use super::{Delivered, Delivery, DeliveryError, Notifier};

/// How long a shown notification's default action is listened for.
const ACTION_WAIT: Duration = Duration::from_secs(30 * 60);
/// How long asking the server for its capabilities may take.
const CAPS_TIMEOUT: Duration = Duration::from_secs(3);

/// Shows desktop notifications.
pub(crate) struct Desktop {
    name: String,
    critical_urgency: bool,
    // A std Mutex: held only for a few assignments, never across an .await.
    state: Mutex<State>,
    /// The message text as a template (`template = …`), when set.
    pub template: Option<std::sync::Arc<super::template::BodyTemplate>>,
}

#[derive(Default)]
struct State {
    /// The server's capabilities, once known.
    caps: Option<Vec<String>>,
    /// The unavailability was logged and has not cleared since.
    reported: bool,
}

/// The notification for a message (without server-dependent parts).
pub(crate) fn notification(m: &Message, critical_urgency: bool, markup: bool) -> Notification {
    let mut n = Notification::new();
    let body = m.body();
    let body = if markup { escape_markup(&body) } else { body };
    n.appname("livewatch")
        .summary(&m.title())
        .body(&body)
        .urgency(if critical_urgency && m.is_urgent() {
            Urgency::Critical
        } else {
            Urgency::Normal
        });
    n
}

/// Escape the characters that body markup would interpret.
pub(crate) fn escape_markup(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Ask the notification server for its capabilities. notify-rust only offers this as a
/// blocking call that runs its own small runtime, so it runs on a plain thread of its
/// own, never on one of ours.
async fn capabilities() -> Option<Vec<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("livewatch-dbus-caps".into())
        .spawn(move || {
            let _ = tx.send(notify_rust::get_capabilities());
        })
        .ok()?;
    match tokio::time::timeout(CAPS_TIMEOUT, rx).await {
        Ok(Ok(Ok(caps))) => Some(caps),
        _ => None,
    }
}

impl Desktop {
    pub(crate) fn new(name: &str, critical_urgency: bool) -> Self {
        Desktop {
            name: name.to_string(),
            critical_urgency,
            state: Mutex::new(State::default()),
            template: None,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Open `url` with the desktop's handler, without waiting for it.
    fn open(url: &str) {
        if let Err(e) = std::process::Command::new("xdg-open")
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            tracing::warn!("cannot open {url}: {e}");
        }
    }
}

#[async_trait]
impl Notifier for Desktop {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let m = super::template::message(self.template.as_deref(), d.event)?;
        let caps = self.state().caps.clone();
        let caps = match caps {
            Some(c) => Some(c),
            None => {
                let c = capabilities().await;
                if c.is_some() {
                    self.state().caps = c.clone();
                }
                c
            }
        };
        let has = |cap: &str| caps.as_ref().is_some_and(|c| c.iter().any(|x| x == cap));
        let mut n = notification(&m, self.critical_urgency, has("body-markup"));
        let actions = has("actions");
        if actions {
            n.action("default", "Open");
        }
        match n.show_async().await {
            Ok(handle) => {
                let was_reported = std::mem::take(&mut self.state().reported);
                if was_reported {
                    tracing::info!(notifier = %self.name, "desktop notifications work again");
                }
                if actions {
                    let url = m.url.clone();
                    tokio::spawn(async move {
                        let wait = handle.wait_for_action_async(|r| {
                            if matches!(r, notify_rust::NotificationResponse::Default)
                                || matches!(r, notify_rust::NotificationResponse::Action(a) if a == "default")
                            {
                                Desktop::open(&url);
                            }
                        });
                        let _ = tokio::time::timeout(ACTION_WAIT, wait).await;
                    });
                }
                Ok(Delivered::default())
            }
            Err(e) => {
                // Unknown capabilities may have been the symptom: ask again next time.
                self.state().caps = None;
                let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS")
                    .unwrap_or_else(|_| "(DBUS_SESSION_BUS_ADDRESS not set)".into());
                let why = format!(
                    "desktop notifications unavailable: {e} (session bus {bus}; is a desktop session with a notification server running?)"
                );
                let first = !std::mem::replace(&mut self.state().reported, true);
                if first {
                    tracing::error!(notifier = %self.name, "{why}");
                }
                Err(DeliveryError::Unavailable(why))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped_only_when_the_server_reads_markup() {
        assert_eq!(escape_markup("a < b & c"), "a &lt; b &amp; c");
        let m = Message::of(&crate::notify::message::tests::correction());
        let n = notification(&m, true, false);
        assert_eq!(n.summary, "Ukraine live — Correction");
        assert!(n.body.starts_with("UK aid package\n"), "{}", n.body);
        assert_eq!(n.appname, "livewatch");
    }
}
