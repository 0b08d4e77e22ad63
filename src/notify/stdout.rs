//! The stdout notifier: a readable line per event, or one JSON event object per line.

use std::io::Write;

use async_trait::async_trait;

use super::{Delivered, Delivery, DeliveryError, Notifier};
use crate::model::{Event, EventKind};

/// Prints events to standard output.
pub struct Stdout {
    json: bool,
    /// What to print per event as a template (`template = …`), when set.
    pub template: Option<std::sync::Arc<super::template::BodyTemplate>>,
}

impl Stdout {
    pub fn new(json: bool) -> Self {
        Stdout {
            json,
            template: None,
        }
    }
}

/// The readable form of an event: a summary line, then an indented detail line.
pub fn human(event: &Event) -> String {
    let mut s = event.summary_line();
    if let Some(p) = &event.post {
        let detail = match event.kind {
            EventKind::Edit | EventKind::Correction => event.diff.clone().unwrap_or_default(),
            _ => {
                let first = p.body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                crate::text::truncate(first, 200)
            }
        };
        if !detail.is_empty() && detail != p.title() {
            s.push_str("\n    ");
            s.push_str(&detail);
        }
        if let Some(u) = &p.url {
            s.push_str("\n    ");
            s.push_str(u);
        }
    }
    s
}

#[async_trait]
impl Notifier for Stdout {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let line = if let Some(t) = &self.template {
            let out = super::template::render_body(t, d.event)?;
            // Page text must not reach the terminal as escape sequences.
            String::from_utf8_lossy(&out)
                .trim_end()
                .chars()
                .map(|c| {
                    if c.is_control() && c != '\n' && c != '\t' {
                        ' '
                    } else {
                        c
                    }
                })
                .collect()
        } else if self.json {
            serde_json::to_string(d.event).map_err(|e| DeliveryError::Permanent(e.to_string()))?
        } else {
            human(d.event)
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .map_err(|e| DeliveryError::retry(format!("cannot write to stdout: {e}")))?;
        Ok(Delivered::default())
    }
}
