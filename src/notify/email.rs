//! The e-mail notifier: one mail per event (a digest burst is one mail) over SMTP with
//! STARTTLS, implicit TLS (rustls) or none, and optional auth.
//!
//! Each mail has a text/plain part and an HTML part with the word diff marked (every
//! piece of the post is escaped: post text never becomes markup). Its `Message-ID` is
//! derived from the event id, so a retry sends the same mail again (receivers that
//! dedupe see one). Later events about a post (edits, corrections, removals) are replies
//! (`In-Reply-To`, `References`) to the mail that announced it: the Message-ID recorded
//! for that first mail, else the one its `new` event had (derived from the blog and post
//! ids, so no state is needed).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::message::Message;
use super::template::{diff_html, html_escape, BodyTemplate, Mode};
use super::{Delivered, Delivery, DeliveryError, Notifier};
use crate::model::{event_id, Event, EventKind};
use crate::text::truncate;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection, upgraded with STARTTLS (required: no fallback to plain text).
    StartTls,
    /// TLS from the first byte (`smtps://`, port 465).
    Tls,
    /// No encryption (a local relay).
    None,
}

/// Where and how mail is sent.
#[derive(Debug, Clone)]
pub(crate) struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
}

/// Sends events as e-mail.
pub(crate) struct Email {
    smtp: Smtp,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: Option<Arc<BodyTemplate>>,
    template: Option<Arc<BodyTemplate>>,
}

/// Parse one address (`a@b.example` or `Name <a@b.example>`).
pub(crate) fn mailbox(s: &str) -> Result<Mailbox, String> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|e| format!("{s:?} is not an e-mail address ({e})"))
}

/// The domain of the sender, for Message-IDs.
fn id_domain(from: &Mailbox) -> String {
    let d = from.email.domain();
    if d.is_empty() {
        "livewatch.invalid".into()
    } else {
        d.to_string()
    }
}

/// The Message-ID of the mail for `event`.
pub(crate) fn message_id(event_id: &str, domain: &str) -> String {
    format!("<{event_id}@{domain}>")
}

/// The Message-ID a post's announcement had: that of its `new` event.
pub(crate) fn announcement_id(event: &Event, domain: &str) -> Option<String> {
    let post = event.post.as_ref()?;
    Some(message_id(
        &event_id(&event.blog.url, &post.id, EventKind::New, 0),
        domain,
    ))
}

/// One line of header text: no control characters, at most `max` characters.
fn header_line(s: &str, max: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(crate::text::collapse_ws(&s).trim(), max)
}

/// The default subject: `[Blog] Kind: headline` (a digest: `[Blog] 8 updates`).
pub(crate) fn subject(m: &Message, digest: bool) -> String {
    let s = if digest {
        format!("[{}] {}", m.blog, m.headline)
    } else if m.headline.is_empty() {
        format!("[{}] {}", m.blog, m.label)
    } else {
        format!("[{}] {}: {}", m.blog, m.label, m.headline)
    };
    header_line(&s, 200)
}

/// The default text/plain body.
pub(crate) fn text_body(e: &Event) -> String {
    let m = Message::of(e);
    let mut out = format!("{}\n\n", m.title());
    if let Some(p) = &e.post {
        out.push_str(&m.headline);
        out.push_str("\n\n");
        match (e.kind, &e.diff) {
            (EventKind::Edit | EventKind::Correction, Some(d)) if !d.is_empty() => {
                out.push_str("What changed: ");
                out.push_str(d);
                out.push_str("\n\nNow:\n");
                out.push_str(&p.body);
            }
            (EventKind::Removed, _) => {
                out.push_str("The post was taken down. It read:\n");
                for line in e.previous.as_ref().unwrap_or(p).body.lines() {
                    out.push_str("> ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
            _ => out.push_str(&p.body),
        }
        if let Some(b) = &p.byline {
            out.push_str(&format!("\n\n— {b}"));
        }
    } else {
        out.push_str(e.message.as_deref().unwrap_or(""));
    }
    out.push_str(&format!("\n\n{}\n", m.url));
    out
}

/// Paragraphs as HTML (`<p>` each, escaped).
fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", html_escape(p).replace('\n', "<br>")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Wrap body HTML in a document.
fn html_document(title: &str, inner: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"font-family:sans-serif;line-height:1.4\">\n{inner}\n</body></html>\n",
        html_escape(title)
    )
}

/// The default HTML body: the same as the text, with the word diff marked.
pub(crate) fn html_body(e: &Event) -> String {
    let m = Message::of(e);
    let mut out = format!("<p style=\"color:#555\">{}</p>\n", html_escape(&m.title()));
    if let Some(p) = &e.post {
        out.push_str(&format!(
            "<h2><a href=\"{}\">{}</a></h2>\n",
            html_escape(&m.url),
            html_escape(&m.headline)
        ));
        match (e.kind, &e.diff) {
            (EventKind::Edit | EventKind::Correction, Some(d)) if !d.is_empty() => {
                out.push_str(&format!(
                    "<p><b>What changed:</b> {}</p>\n<hr>\n{}",
                    diff_html(d),
                    paragraphs(&p.body)
                ));
            }
            (EventKind::Removed, _) => {
                out.push_str(&format!(
                    "<p>The post was taken down. It read:</p>\n<blockquote>{}</blockquote>",
                    paragraphs(&e.previous.as_ref().unwrap_or(p).body)
                ));
            }
            _ => out.push_str(&paragraphs(&p.body)),
        }
        if let Some(b) = &p.byline {
            out.push_str(&format!("\n<p><i>— {}</i></p>", html_escape(b)));
        }
    } else {
        let msg = e.message.as_deref().unwrap_or("");
        let (head, rest) = msg.split_once('\n').unwrap_or((msg, ""));
        out.push_str(&format!("<h2>{}</h2>\n", html_escape(head)));
        let items: Vec<String> = rest
            .lines()
            .map(|l| l.trim().trim_start_matches('•').trim())
            .filter(|l| !l.is_empty())
            .map(|l| format!("<li>{}</li>", html_escape(l)))
            .collect();
        if !items.is_empty() {
            out.push_str(&format!("<ul>\n{}\n</ul>", items.join("\n")));
        }
    }
    out.push_str(&format!(
        "\n<p style=\"color:#555\"><a href=\"{0}\">{0}</a></p>",
        html_escape(&m.url)
    ));
    html_document(&m.title(), &out)
}

fn template_error(e: super::template::TemplateError) -> DeliveryError {
    DeliveryError::Permanent(format!("cannot render the template: {e}"))
}

impl Email {
    pub(crate) fn new(
        smtp: Smtp,
        from: Mailbox,
        to: Vec<Mailbox>,
        subject: Option<Arc<BodyTemplate>>,
        template: Option<Arc<BodyTemplate>>,
    ) -> Self {
        Email {
            smtp,
            from,
            to,
            subject,
            template,
        }
    }

    /// The mail for one delivery.
    pub(crate) fn message(&self, d: &Delivery<'_>) -> Result<lettre::Message, DeliveryError> {
        let e = d.event;
        let m = Message::of(e);
        let domain = id_domain(&self.from);
        let id = message_id(&e.id, &domain);
        let subject = match &self.subject {
            Some(t) => header_line(&t.render(e, Mode::Text).map_err(template_error)?, 250),
            None => subject(&m, e.id.starts_with("evt_digest_")),
        };
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(id))
            .date(e.detected_at.into())
            .user_agent(format!("livewatch/{}", env!("CARGO_PKG_VERSION")));
        for to in &self.to {
            b = b.to(to.clone());
        }
        let parent = match (&d.earlier_remote_id, e.kind) {
            (_, EventKind::New) => None,
            (Some(id), _) if id.starts_with('<') && id.ends_with('>') => Some(id.clone()),
            _ => announcement_id(e, &domain),
        };
        if let Some(p) = parent {
            b = b.in_reply_to(p.clone()).references(p);
        }
        for (name, value) in [
            ("X-Livewatch-Event", e.kind.as_str().to_string()),
            ("X-Livewatch-Delivery", e.id.clone()),
            ("X-Livewatch-Blog", header_line(&e.blog.url, 900)),
        ] {
            if let Ok(n) = HeaderName::new_from_ascii(name.to_string()) {
                b = b.raw_header(HeaderValue::new(n, value));
            }
        }
        let (text, html) = match &self.template {
            Some(t) => {
                let text = t.render(e, Mode::Text).map_err(template_error)?;
                let html = t.render(e, Mode::Html).map_err(template_error)?;
                let inner = format!("<div style=\"white-space:pre-wrap\">{html}</div>");
                (text, html_document(&m.title(), &inner))
            }
            None => (text_body(e), html_body(e)),
        };
        b.multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| DeliveryError::Permanent(format!("cannot build the mail: {e}")))
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, DeliveryError> {
        let s = &self.smtp;
        let tls = |host: &str| {
            TlsParameters::builder(host.to_string())
                .build_rustls()
                .map_err(|e| DeliveryError::retry(format!("TLS setup: {e}")))
        };
        let security = match s.security {
            Security::StartTls => Tls::Required(tls(&s.host)?),
            Security::Tls => Tls::Wrapper(tls(&s.host)?),
            Security::None => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
            .port(s.port)
            .tls(security)
            .timeout(Some(s.timeout));
        if let Some(u) = &s.username {
            b = b.credentials(Credentials::new(
                u.clone(),
                s.password.clone().unwrap_or_default(),
            ));
        }
        Ok(b.build())
    }
}

/// What an SMTP failure means for the delivery: 5xx answers are permanent, everything
/// else (4xx, connection and TLS failures, timeouts) is tried again.
fn classify(e: lettre::transport::smtp::Error) -> DeliveryError {
    let why = format!("SMTP: {}", crate::fetch::error_chain(&e));
    if e.is_permanent() {
        DeliveryError::Permanent(why)
    } else {
        DeliveryError::retry(why)
    }
}

#[async_trait]
impl Notifier for Email {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let mail = self.message(d)?;
        let id = mail
            .headers()
            .get_raw("Message-ID")
            .map(str::to_string)
            .unwrap_or_default();
        self.transport()?.send(mail).await.map_err(classify)?;
        Ok(Delivered {
            remote_id: Some(id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::new(
            Smtp {
                host: "127.0.0.1".into(),
                port: 25,
                security: Security::None,
                username: None,
                password: None,
                timeout: Duration::from_secs(1),
            },
            mailbox("livewatch <lw@desk.example>").unwrap(),
            vec![mailbox("a@desk.example").unwrap()],
            None,
            None,
        )
    }

    #[test]
    fn a_correction_replies_to_the_announcement_and_escapes_the_post() {
        let mut e = crate::notify::message::tests::correction();
        e.post.as_mut().unwrap().body = "<script>alert(1)</script> long-range missiles".into();
        let d = Delivery {
            event: &e,
            earlier_remote_id: None,
            attempt: 1,
        };
        let raw = String::from_utf8(email().message(&d).unwrap().formatted()).unwrap();
        let root = announcement_id(&e, "desk.example").unwrap();
        assert!(raw.contains("Message-ID: <evt_123@desk.example>"), "{raw}");
        assert!(raw.contains(&format!("In-Reply-To: {root}")), "{raw}");
        assert!(raw.contains(&format!("References: {root}")), "{raw}");
        assert!(raw.contains("X-Livewatch-Event: correction"), "{raw}");
        assert!(
            raw.contains("Subject: [Ukraine live] Correction: UK aid package"),
            "{raw}"
        );
        assert!(raw.contains("text/html"), "{raw}");
        let html = html_body(&e);
        assert!(
            html.contains("<p>&lt;script&gt;alert(1)&lt;/script&gt; long"),
            "{html}"
        );
        assert!(!html.contains("<script>"), "escaped in HTML: {html}");

        // An id recorded for the first mail wins over the derived one.
        let d = Delivery {
            earlier_remote_id: Some("<first@desk.example>".into()),
            ..d
        };
        let raw = String::from_utf8(email().message(&d).unwrap().formatted()).unwrap();
        assert!(raw.contains("In-Reply-To: <first@desk.example>"), "{raw}");
    }

    #[test]
    fn config_keys() {
        let env = |k: &str| (k == "PW").then(|| "secret".to_string());
        let cfg = |body: &str| {
            crate::config::parse(
                &format!("[[notifier]]\nname = \"m\"\ntype = \"email\"\n{body}"),
                "c.toml",
                &env,
            )
        };
        let c = cfg("smtp = \"smtps://mail.example\"\nfrom = \"a@b.example\"\nto = \"c@d.example\"\npassword = \"${PW}\"\nusername = \"u\"").unwrap();
        match &c.notifiers[0].kind {
            crate::config::NotifierKind::Email {
                port,
                security,
                to,
                password,
                ..
            } => {
                assert_eq!((*port, *security), (465, Security::Tls));
                assert_eq!(to, &vec!["c@d.example".to_string()]);
                assert_eq!(password.as_deref(), Some("secret"));
            }
            k => panic!("{k:?}"),
        }
        let c = cfg("smtp = \"smtp://mail.example\"\nfrom = \"a@b.example\"\nto = [\"c@d.example\", \"E <e@d.example>\"]").unwrap();
        match &c.notifiers[0].kind {
            crate::config::NotifierKind::Email {
                port, security, to, ..
            } => {
                assert_eq!((*port, *security), (587, Security::StartTls));
                assert_eq!(to.len(), 2);
            }
            k => panic!("{k:?}"),
        }
        let e = cfg("smtp = \"smtps://mail.example\"\ntls = \"starttls\"\nfrom = \"not an address\"\nto = []").unwrap_err();
        let e = e.to_string();
        assert!(e.contains("does not go with smtps"), "{e}");
        let e = cfg("smtp = \"http://mail.example\"\nfrom = \"x\"\nto = \"y\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("smtp:// or smtps://"), "{e}");
        let e = cfg(
            "smtp = \"smtp://mail.example\"\nfrom = \"bad\"\nto = [\"ok@x.example\", \"nope\"]",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("\"bad\" is not an e-mail address") && e.contains("\"nope\""),
            "{e}"
        );
    }

    #[test]
    fn non_ascii_subjects_and_long_lines_are_encoded() {
        let mut e = crate::notify::message::tests::correction();
        e.post.as_mut().unwrap().headline =
            Some("Selenskyj in Kyjiw — „Danke“\r\nBcc: x@evil".into());
        e.post.as_mut().unwrap().body = "wörd ".repeat(400);
        let d = Delivery {
            event: &e,
            earlier_remote_id: None,
            attempt: 1,
        };
        let raw = String::from_utf8(email().message(&d).unwrap().formatted()).unwrap();
        let subject = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
        assert!(subject.contains("=?utf-8?"), "{subject}");
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(
            head.lines().all(|l| !l.starts_with("Bcc")),
            "no header injection: {head}"
        );
        assert!(raw.lines().all(|l| l.len() <= 998), "line length limit");
    }

    #[test]
    fn html_body_marks_the_diff() {
        let e = crate::notify::message::tests::correction();
        let h = html_body(&e);
        assert!(h.contains(">missiles and</ins>"), "{h}");
        let t = text_body(&e);
        assert!(
            t.contains("What changed: long-range {+missiles and+}"),
            "{t}"
        );
    }

    #[test]
    fn new_post_id_is_the_announcement_id() {
        let mut e = crate::notify::message::tests::correction();
        e.kind = EventKind::New;
        let post = e.post.clone().unwrap();
        e.id = event_id(&e.blog.url, &post.id, EventKind::New, 0);
        assert_eq!(
            announcement_id(&e, "d.example"),
            Some(message_id(&e.id, "d.example"))
        );
        let d = Delivery {
            event: &e,
            earlier_remote_id: None,
            attempt: 1,
        };
        let raw = String::from_utf8(email().message(&d).unwrap().formatted()).unwrap();
        assert!(!raw.contains("In-Reply-To"), "{raw}");
    }
}
