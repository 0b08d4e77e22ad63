//! Message templates (`template = "…"` on a notifier): a minijinja (Jinja2-style)
//! template of the message body, with the event's fields as variables.
//!
//! Variables: the event object's fields (`id`, `kind`, `detected_at`, `blog`, `post`,
//! `previous`, `diff`, `message`; see README "Event object"), and the readable parts
//! every notifier shows: `label` ("New post", "Correction", …), `name` (the blog's name),
//! `headline`, `text` (the first lines, or for edits and corrections the word diff),
//! `url` (the permalink, else the blog URL), `title` (`name — label`).
//!
//! Filters besides Jinja's built-ins: `added` and `removed` (the word runs a diff adds or
//! removes, as a list), `marked` (a diff with its changes marked: `<del>`/`<ins>` in an
//! HTML body, the `[-…-]{+…+}` text elsewhere), `tojson`.
//!
//! Escaping is by where the body goes, so untrusted text (post bodies, titles) cannot
//! change the structure of the message:
//! - JSON bodies (webhook, and mqtt/command templates that start with `{` or `[`): every
//!   `{{ … }}` is written as a JSON value (a string comes out quoted and escaped), so one
//!   writes `{"text": {{ headline }}}`; `|tojson` is the same, explicit. The rendered body
//!   must be valid JSON.
//! - HTML (the e-mail's HTML part): every `{{ … }}` is HTML-escaped; `|marked` is the only
//!   markup.
//! - Text (e-mail text part, chat text, command stdin): as written.

use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment, State, UndefinedBehavior};

use super::message::Message;
use crate::model::{BlogRef, Event, EventKind, Post};

/// Template names: the extension picks the escaping.
const TEXT: &str = "body.txt";
const JSON: &str = "body.json";
const HTML: &str = "body.html";

/// A template that failed to compile or to render a sample event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// 1-based line within the template, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "template line {l}: {}", self.message),
            None => write!(f, "template: {}", self.message),
        }
    }
}

impl TemplateError {
    fn of(e: &minijinja::Error) -> Self {
        let mut message = e.detail().unwrap_or("").to_string();
        let kind = e.kind().to_string();
        message = if message.is_empty() {
            kind
        } else {
            format!("{kind}: {message}")
        };
        TemplateError {
            line: e.line(),
            message,
        }
    }
}

/// One part of a word diff (`crate::diff::word_diff`'s `[-old-]{+new+}` form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// Split a word diff into its parts. A marker without its end is text.
pub(crate) fn parts(diff: &str) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    let mut rest = diff;
    loop {
        let next = [("[-", "-]"), ("{+", "+}")]
            .into_iter()
            .filter_map(|(open, close)| {
                let at = rest.find(open)?;
                let end = rest[at + 2..].find(close)? + at + 2;
                Some((at, end, open))
            })
            .min_by_key(|(at, _, _)| *at);
        let Some((at, end, open)) = next else {
            if !rest.is_empty() {
                out.push(Part::Same(rest));
            }
            return out;
        };
        if at > 0 {
            out.push(Part::Same(&rest[..at]));
        }
        let inner = &rest[at + 2..end];
        out.push(if open == "[-" {
            Part::Removed(inner)
        } else {
            Part::Added(inner)
        });
        rest = &rest[end + 2..];
    }
}

/// Escape text for HTML (element content and quoted attributes).
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A word diff as HTML: the text escaped, removed words in `<del>`, added in `<ins>`.
pub(crate) fn diff_html(diff: &str) -> String {
    let mut out = String::new();
    for p in parts(diff) {
        match p {
            Part::Same(s) => out.push_str(&html_escape(s)),
            Part::Removed(s) => {
                out.push_str("<del style=\"background:#fdd;color:#900\">");
                out.push_str(&html_escape(s));
                out.push_str("</del>");
            }
            Part::Added(s) => {
                out.push_str("<ins style=\"background:#dfd;color:#060\">");
                out.push_str(&html_escape(s));
                out.push_str("</ins>");
            }
        }
    }
    out
}

fn runs(diff: Option<String>, added: bool) -> Vec<String> {
    let diff = diff.unwrap_or_default();
    parts(&diff)
        .into_iter()
        .filter_map(|p| match p {
            Part::Added(s) if added => Some(s.trim().to_string()),
            Part::Removed(s) if !added => Some(s.trim().to_string()),
            _ => None,
        })
        .collect()
}

fn marked(state: &State, diff: Option<String>) -> Value {
    let diff = diff.unwrap_or_default();
    match state.auto_escape() {
        AutoEscape::Html => Value::from_safe_string(diff_html(&diff)),
        _ => Value::from(diff),
    }
}

/// A compiled body template.
pub struct BodyTemplate {
    env: Environment<'static>,
    source: String,
    json: bool,
}

impl std::fmt::Debug for BodyTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyTemplate")
            .field("source", &self.source)
            .finish()
    }
}

/// How a template's output is escaped and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Text,
    Json,
    Html,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Text => TEXT,
            Mode::Json => JSON,
            Mode::Html => HTML,
        }
    }
}

/// Is this template a JSON body? It starts (after blanks) with `[`, or with `{` that
/// does not open a Jinja tag (`{{`, `{%`, `{#`).
pub(crate) fn looks_like_json(source: &str) -> bool {
    let s = source.trim_start();
    s.starts_with('[')
        || (s.starts_with('{') && !matches!(s.as_bytes().get(1), Some(b'{' | b'%' | b'#')))
}

impl BodyTemplate {
    /// Compile `source`, and render it for sample events of every kind, so a template
    /// that cannot work is a config error rather than a dead letter. With `json`, the
    /// body must render as valid JSON.
    pub fn parse(source: &str, json: bool) -> Result<BodyTemplate, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        // `{% if %}` lines leave no blank lines behind.
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.add_filter("added", |d: Option<String>| runs(d, true));
        env.add_filter("removed", |d: Option<String>| runs(d, false));
        env.add_filter("marked", marked);
        let names: &[&'static str] = if json { &[JSON] } else { &[TEXT, HTML] };
        for name in names {
            env.add_template_owned(*name, source.to_string())
                .map_err(|e| TemplateError::of(&e))?;
        }
        let t = BodyTemplate {
            env,
            source: source.to_string(),
            json,
        };
        for e in samples() {
            let mode = if json { Mode::Json } else { Mode::Text };
            t.render(&e, mode).map_err(|mut err| {
                err.message = format!("with a {} event: {}", e.kind, err.message);
                err
            })?;
        }
        Ok(t)
    }

    /// Was it parsed as a JSON body?
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Render for `event`. `Mode::Json` needs a template parsed with `json`.
    pub fn render(&self, event: &Event, mode: Mode) -> Result<String, TemplateError> {
        let tmpl = self
            .env
            .get_template(mode.name())
            .map_err(|e| TemplateError {
                line: None,
                message: format!("no {mode:?} form of this template: {e}"),
            })?;
        let out = tmpl
            .render(context(event))
            .map_err(|e| TemplateError::of(&e))?;
        if mode == Mode::Json {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&out) {
                return Err(TemplateError {
                    line: Some(e.line()),
                    message: format!(
                        "the body is not valid JSON ({e}); in a JSON template every {{{{ … }}}} is already a JSON value, so write {{{{ headline }}}}, not \"{{{{ headline }}}}\". Output: {}",
                        crate::text::truncate(&out, 300)
                    ),
                });
            }
        }
        Ok(out)
    }
}

/// The human message of an event for the chat presets and desktop notifications: with a
/// template, its text (rendered as plain text; each preset escapes it as it escapes any
/// text) replaces the message's own text and quote of the old version.
pub(crate) fn message(
    template: Option<&BodyTemplate>,
    event: &Event,
) -> Result<Message, super::DeliveryError> {
    let mut m = Message::of(event);
    if let Some(t) = template {
        m.text = t.render(event, Mode::Text).map_err(|e| {
            super::DeliveryError::Permanent(format!("cannot render the template: {e}"))
        })?;
        m.previous = None;
    }
    Ok(m)
}

/// Render `template` for a text or JSON destination (mqtt, command, stdout): JSON when it
/// was parsed as JSON.
pub(crate) fn render_body(
    template: &BodyTemplate,
    event: &Event,
) -> Result<Vec<u8>, super::DeliveryError> {
    let mode = if template.is_json() {
        Mode::Json
    } else {
        Mode::Text
    };
    template
        .render(event, mode)
        .map(String::into_bytes)
        .map_err(|e| super::DeliveryError::Permanent(format!("cannot render the template: {e}")))
}

/// The variables of one event.
pub(crate) fn context(event: &Event) -> Value {
    let m = Message::of(event);
    let mut v = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.as_object_mut() {
        for (k, val) in [
            ("label", m.label.to_string()),
            ("name", m.blog.clone()),
            ("headline", m.headline.clone()),
            ("text", m.text.clone()),
            ("url", m.url.clone()),
            ("title", m.title()),
        ] {
            o.insert(k.to_string(), serde_json::Value::String(val));
        }
        o.entry("message").or_insert(serde_json::Value::Null);
    }
    Value::from(Serde(v))
}

/// Events of every shape a template meets: a new post, an edit, a correction, a removal,
/// a blog-level notice, a digest.
fn samples() -> Vec<Event> {
    let blog = BlogRef {
        url: "https://news.example/live".into(),
        title: Some("Example live \"blog\" <b>".into()),
    };
    let mut old = Post::new("p1", "Britain sends long-range attack drones.");
    old.headline = Some("UK aid \"package\" <i>".into());
    old.url = Some("https://news.example/live#p1".into());
    let mut new = old.clone();
    new.body = "Britain sends long-range missiles and attack drones.\n\nCorrection: an earlier version said drones only.".into();
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    let event = |kind, post: Option<&Post>, previous: Option<&Post>, diff: Option<&str>| Event {
        id: format!("evt_sample_{kind}"),
        kind,
        detected_at: at,
        blog: blog.clone(),
        post: post.cloned(),
        previous: previous.cloned(),
        diff: diff.map(str::to_string),
        message: None,
    };
    let diff = "long-range {+missiles and+} attack drones. {+Correction: an earlier version said drones only.+}";
    let mut problem = event(EventKind::Problem, None, None, None);
    problem.message = Some("3 polls failed: HTTP 503".into());
    let mut digest = event(EventKind::New, None, None, None);
    digest.message = Some("2 updates\n• [new] One\n• [edit] Two".into());
    vec![
        event(EventKind::New, Some(&old), None, None),
        event(EventKind::Edit, Some(&new), Some(&old), Some(diff)),
        event(EventKind::Correction, Some(&new), Some(&old), Some(diff)),
        event(EventKind::Removed, Some(&old), Some(&old), None),
        problem,
        digest,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_parts_and_html() {
        let d = "a <b> [-old & bad-] {+new+} c {+unclosed";
        assert_eq!(
            parts(d),
            vec![
                Part::Same("a <b> "),
                Part::Removed("old & bad"),
                Part::Same(" "),
                Part::Added("new"),
                Part::Same(" c {+unclosed"),
            ]
        );
        let h = diff_html(d);
        assert!(h.starts_with("a &lt;b&gt; <del"), "{h}");
        assert!(h.contains(">old &amp; bad</del>"), "{h}");
        assert!(h.contains(">new</ins> c {+unclosed"), "{h}");
        assert_eq!(h.matches("<ins").count(), 1);
    }

    #[test]
    fn json_template_escapes_untrusted_text_and_checks_the_output() {
        let t = BodyTemplate::parse(
            r#"{"kind": {{ kind }}, "text": {{ headline }}, "added": {{ diff|added|tojson }}}"#,
            true,
        )
        .unwrap();
        let mut e = crate::notify::message::tests::correction();
        e.post.as_mut().unwrap().headline = Some("\"}, \"evil\": true, \"x\": {\"".into());
        let out = t.render(&e, Mode::Json).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["kind"], "correction");
        assert_eq!(v["text"], "\"}, \"evil\": true, \"x\": {\"");
        assert_eq!(v["added"], serde_json::json!(["missiles and"]));
        assert!(v.get("evil").is_none());

        let err = BodyTemplate::parse(r#"{"text": "{{ headline }}"}"#, true).unwrap_err();
        assert!(err.message.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn syntax_errors_have_their_line() {
        let err = BodyTemplate::parse("line one\n{% if kind %}\nno end", false).unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        let err = BodyTemplate::parse("a\nb {{ kind | nosuchfilter }}", false).unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("nosuchfilter"), "{err}");
    }

    #[test]
    fn html_form_marks_the_diff_and_escapes_the_rest() {
        let t = BodyTemplate::parse("{{ headline }}: {{ diff|marked }}", false).unwrap();
        let mut e = crate::notify::message::tests::correction();
        e.post.as_mut().unwrap().headline = Some("<script>x</script>".into());
        e.diff = Some("a {+<img src=x>+}".into());
        let html = t.render(&e, Mode::Html).unwrap();
        assert!(
            html.starts_with("&lt;script&gt;x&lt;&#x2f;script&gt;: a <ins"),
            "{html}"
        );
        assert!(html.contains("&lt;img src=x&gt;</ins>"), "{html}");
        let text = t.render(&e, Mode::Text).unwrap();
        assert_eq!(text, "<script>x</script>: a {+<img src=x>+}");
    }

    #[test]
    fn chat_text_from_a_template_is_escaped_by_the_preset() {
        let t = BodyTemplate::parse("{{ label }} · {{ headline }} <{{ url }}>", false).unwrap();
        let mut e = crate::notify::message::tests::correction();
        e.post.as_mut().unwrap().headline = Some("<!channel> & co".into());
        let m = message(Some(&t), &e).unwrap();
        assert_eq!(
            m.text,
            "Correction · <!channel> & co <https://news.example/live#p1>"
        );
        assert!(m.previous.is_none());
        let p = crate::notify::slack::payload(&m, true);
        let section = p["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(
            section.contains("Correction · &lt;!channel&gt; &amp; co &lt;https:"),
            "{section}"
        );
        assert!(!section.contains("<!channel>"), "{section}");
    }

    #[test]
    fn config_errors_point_into_the_file() {
        let src = "[[notifier]]\nname = \"s\"\ntype = \"stdout\"\ntemplate = \"a\\n{{ kind | nope }}\"\n\n[[notifier]]\nname = \"t\"\ntype = \"stdout\"\ntemplate = \'\'\'\nfine\n{% if %}\n\'\'\'\n";
        let e = crate::config::parse(src, "c.toml", &|_| None).unwrap_err();
        assert_eq!((e.0[0].line, e.0[0].col), (4, 12), "{e}");
        assert!(e.0[0].message.contains("(line 2 of the template)"), "{e}");
        assert_eq!((e.0[1].line, e.0[1].col), (11, 1), "{e}");
    }

    #[test]
    fn json_detection() {
        assert!(looks_like_json(" {\"a\": 1}"));
        assert!(looks_like_json("[{{ kind }}]"));
        assert!(!looks_like_json("{{ headline }}"));
        assert!(!looks_like_json("{% if x %}{% endif %}"));
        assert!(!looks_like_json("New: {{ headline }}"));
    }
}
