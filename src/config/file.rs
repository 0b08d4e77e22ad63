//! The config file as written: one serde struct per TOML table, with the spans of the
//! values that validation may point at, and reading them with every type error found.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::units::{Dur, Size};
use crate::extract::Selectors;

/// The whole config file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where the SQLite state lives.
    pub state_dir: Option<PathBuf>,
    /// `sqlite` (default) or a `postgres://…` URL.
    pub state: Option<Spanned<String>>,
    /// With a PostgreSQL state: how long a blog's lease lasts without renewal (default 30s).
    pub lease: Option<Spanned<Dur>>,
    /// Address of the HTTP endpoint (health, metrics, feeds); off when unset.
    pub listen: Option<Spanned<String>>,
    /// Bearer token of the HTTP API's write endpoints and the dashboard; required when
    /// `listen` is not a loopback address.
    pub api_token: Option<Spanned<String>>,
    /// Body cap per response, after decompression (default 16MiB).
    pub max_body: Option<Size>,
    /// The browser fetcher's memory cap (Chromium and chromedriver, proportional set
    /// size): past it the browser is restarted (default 2GiB).
    pub browser_memory: Option<Size>,
    /// Concurrent requests per host (default 2).
    pub per_host: Option<usize>,
    /// Connect timeout (default 10s).
    pub connect_timeout: Option<Dur>,
    /// Total timeout of one request (default 30s).
    pub timeout: Option<Dur>,
    /// User-Agent header (default `livewatch/VERSION (+URL)`).
    pub user_agent: Option<String>,
    /// Consecutive failed polls before a `problem` notice (default 3).
    pub problem_after: Option<u32>,
    #[serde(default)]
    pub watch: Vec<WatchFile>,
    #[serde(default)]
    pub notifier: Vec<NotifierFile>,
}

/// One `[[watch]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchFile {
    pub url: Spanned<String>,
    pub name: Option<String>,
    pub interval: Option<Spanned<Dur>>,
    pub max_interval: Option<Spanned<Dur>>,
    pub adaptive: Option<bool>,
    pub retire_after: Option<Dur>,
    /// How long a closed blog is still polled (at max_interval) before it is retired.
    pub retire_grace: Option<Dur>,
    pub notify: Option<Spanned<Vec<String>>>,
    /// `auto` (default), `jsonld`, `microdata`, `generic`, or a site profile name.
    pub extractor: Option<Spanned<String>>,
    pub selectors: Option<Selectors>,
    /// On the first poll, announce the newest N posts instead of a silent baseline.
    pub announce_existing: Option<usize>,
    /// `http` (default) or `browser` (headless Chromium).
    pub fetch: Option<Spanned<String>>,
    /// Browser fetcher: a CSS selector whose appearance means the page is rendered.
    pub settle: Option<Spanned<String>>,
}

/// One `[[notifier]]` table. Which keys apply depends on `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierFile {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    pub url: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    pub token: Option<Spanned<String>>,
    pub chat_id: Option<Spanned<String>>,
    pub kinds: Option<Spanned<Vec<String>>>,
    pub blogs: Option<Vec<String>>,
    #[serde(rename = "match")]
    pub match_: Option<Spanned<String>>,
    pub exclude: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub timeout: Option<Dur>,
    /// Urgency of desktop notifications for corrections/removals (`critical` by default).
    pub urgency: Option<String>,
    /// Burst control: more than `burst` events within `burst_window` become one digest.
    pub burst: Option<u32>,
    pub burst_window: Option<Dur>,
    /// Give up on an event after this long (default 24h): it moves to dead letters.
    pub give_up_after: Option<Dur>,
    /// Print events as JSON lines (stdout notifier).
    pub json: Option<bool>,
    /// ntfy: topic priority (1-5).
    pub priority: Option<u8>,
    /// First wait between delivery attempts (default 1s); it doubles per attempt, with
    /// jitter, up to 10 minutes.
    pub retry_wait: Option<Dur>,
    /// The message body as a minijinja template (see `notify::template`).
    pub template: Option<Spanned<String>>,
    /// E-mail: `smtp://HOST:PORT` or `smtps://HOST:PORT`.
    pub smtp: Option<Spanned<String>>,
    /// E-mail: `starttls` (default), `tls` or `none`.
    pub tls: Option<Spanned<String>>,
    /// E-mail and MQTT login.
    pub username: Option<Spanned<String>>,
    pub password: Option<Spanned<String>>,
    /// E-mail sender and recipients.
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<OneOrMany>>,
    /// E-mail: the subject line as a template. NATS: the subject template.
    pub subject: Option<Spanned<String>>,
    /// MQTT: topic template, QoS 0-2, retain flag.
    pub topic: Option<Spanned<String>>,
    pub qos: Option<Spanned<u8>>,
    pub retain: Option<bool>,
    /// Command notifier: the program and its arguments (no shell).
    pub command: Option<Spanned<Vec<String>>>,
    /// NATS: the JetStream stream to publish into (created when missing).
    pub stream: Option<Spanned<String>>,
}

impl WatchFile {
    /// A `[[watch]]` with only its `url` (for a config built in code).
    pub fn new(url: Spanned<String>) -> Self {
        WatchFile {
            url,
            name: None,
            interval: None,
            max_interval: None,
            adaptive: None,
            retire_after: None,
            retire_grace: None,
            notify: None,
            extractor: None,
            selectors: None,
            announce_existing: None,
            fetch: None,
            settle: None,
        }
    }
}

impl NotifierFile {
    /// A `[[notifier]]` with only its `name` and `type` (for a config built in code).
    pub fn new(name: Spanned<String>, kind: Spanned<String>) -> Self {
        NotifierFile {
            name,
            kind,
            url: None,
            secret: None,
            token: None,
            chat_id: None,
            kinds: None,
            blogs: None,
            match_: None,
            exclude: None,
            headers: BTreeMap::new(),
            timeout: None,
            urgency: None,
            burst: None,
            burst_window: None,
            give_up_after: None,
            json: None,
            priority: None,
            retry_wait: None,
            template: None,
            smtp: None,
            tls: None,
            username: None,
            password: None,
            from: None,
            to: None,
            subject: None,
            topic: None,
            qos: None,
            retain: None,
            command: None,
            stream: None,
        }
    }
}

/// A string or a list of strings (`to = "a@x"` or `to = ["a@x", "b@x"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The config file as written, or every syntax error (when the TOML does not parse) or
/// else every type error (unknown keys, wrong types) that can be found: each table is
/// read on its own, and a key that fails is set aside to read the rest.
pub(super) fn read_toml(src: &str) -> Result<ConfigFile, Vec<toml::de::Error>> {
    use serde::de::IntoDeserializer;
    use toml::de::{DeTable, DeValue};
    let (doc, syntax) = DeTable::parse_recoverable(src);
    if !syntax.is_empty() {
        return Err(syntax);
    }
    /// Read `table` as a `T`; on an error, drop the entry it points into and read again.
    fn each_error<'i, T: Deserialize<'i>>(
        span: std::ops::Range<usize>,
        mut table: DeTable<'i>,
        errors: &mut Vec<toml::de::Error>,
    ) {
        for _ in 0..50 {
            let value = Spanned::new(span.clone(), DeValue::Table(table.clone()));
            match T::deserialize(value.into_deserializer()) {
                Ok(_) => return,
                Err(e) => {
                    let at = e.span();
                    errors.push(e);
                    let Some(at) = at else { return };
                    let key = table
                        .iter()
                        .find(|(k, v)| {
                            k.span().start <= at.start && at.start < v.span().end.max(k.span().end)
                        })
                        .map(|(k, _)| k.clone());
                    match key {
                        Some(k) => {
                            table.remove(&k);
                        }
                        None => return,
                    }
                }
            }
        }
    }
    let doc_span = doc.span();
    let mut top = doc.into_inner();
    let mut errors = Vec::new();
    for (name, read) in [
        ("watch", each_error::<WatchFile> as fn(_, _, &mut _)),
        ("notifier", each_error::<NotifierFile> as fn(_, _, &mut _)),
    ] {
        let Some(k) = top.keys().find(|k| k.get_ref() == name).cloned() else {
            continue;
        };
        if let DeValue::Array(items) = top[&k].get_ref() {
            for item in items {
                if let DeValue::Table(t) = item.get_ref() {
                    read(item.span(), t.clone(), &mut errors);
                }
            }
            top.remove(&k);
        }
    }
    each_error::<ConfigFile>(doc_span, top, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    toml::from_str(src).map_err(|e| vec![e])
}
