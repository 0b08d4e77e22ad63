//! The TOML config: one struct per table, validated into the settings the daemon runs on.
//!
//! Errors carry the file, line and column (`FILE:LINE:COL: message`) so that
//! `livewatch config check` can point at the exact spot.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::extract::{Selectors, Strategy};
use crate::model::EventKind;
use crate::notify::email::Security;
use crate::notify::template::BodyTemplate;

/// The fastest interval livewatch accepts (tests and local pages need it).
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Default poll interval of a watch.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Default slowest interval of an adaptive watch.
pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Default body cap: bigger bodies (after decompression) are cut off and reported.
pub const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;

/// A duration written `500ms`, `30s`, `5m`, `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration in quotes, like \"30s\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Dur, E> {
                parse_duration(s).map(Dur).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "a duration needs a unit and quotes: write \"{n}s\" for {n} seconds (or \"{n}ms\", \"{n}m\")"
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Dur, E> {
                self.visit_i64(n as i64)
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "a duration needs a unit and quotes: write \"{n}s\" for {n} seconds"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parse `500ms`, `30s`, `5m`, `1h`, `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!("invalid duration {s:?} ({e}); write it like \"500ms\", \"30s\", \"5m\" or \"1h\"")
    })
}

/// A size written `16MiB`, `512KiB`, `1000000` (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size(n)),
            Raw::S(s) => parse_size(&s).map(Size).map_err(serde::de::Error::custom),
        }
    }
}

/// Parse `16MiB`, `512KiB`, `2GiB`, `1MB`, `100` (bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}; write it like \"16MiB\""))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1024,
        "m" | "mb" => 1000 * 1000,
        "mib" => 1024 * 1024,
        "g" | "gb" => 1000 * 1000 * 1000,
        "gib" => 1024 * 1024 * 1024,
        u => {
            return Err(format!(
                "unknown size unit {u:?} in {s:?}; use KiB, MiB or GiB"
            ))
        }
    };
    Ok(n.saturating_mul(mult))
}

/// The whole config file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where the SQLite state lives.
    pub state_dir: Option<PathBuf>,
    /// Address of the HTTP endpoint (health, metrics, feeds); off when unset.
    pub listen: Option<Spanned<String>>,
    /// Bearer token of the HTTP API's write endpoints and the dashboard; required when
    /// `listen` is not a loopback address.
    pub api_token: Option<Spanned<String>>,
    /// Body cap per response, after decompression (default 16MiB).
    pub max_body: Option<Size>,
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
    /// E-mail: the subject line as a template.
    pub subject: Option<Spanned<String>>,
    /// MQTT: topic template, QoS 0-2, retain flag.
    pub topic: Option<Spanned<String>>,
    pub qos: Option<Spanned<u8>>,
    pub retain: Option<bool>,
    /// Command notifier: the program and its arguments (no shell).
    pub command: Option<Spanned<Vec<String>>>,
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

/// A validated config: what the daemon runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub listen: Option<std::net::SocketAddr>,
    /// `api_token` (`${VAR}` expanded); see [`crate::server::api`].
    pub api_token: Option<String>,
    pub fetch: FetchSettings,
    pub problem_after: u32,
    pub watches: Vec<Watch>,
    pub notifiers: Vec<NotifierSpec>,
}

/// HTTP settings shared by all watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    pub max_body: u64,
    pub per_host: usize,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub user_agent: String,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            max_body: DEFAULT_MAX_BODY,
            per_host: 2,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            user_agent: default_user_agent(),
        }
    }
}

/// `livewatch/VERSION (+URL)`.
pub fn default_user_agent() -> String {
    format!(
        "livewatch/{} (+{})",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_REPOSITORY")
    )
}

/// One watched blog.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// Exactly as the user wrote it: receivers route on it.
    pub url: String,
    pub name: Option<String>,
    pub interval: Duration,
    pub max_interval: Duration,
    pub adaptive: bool,
    pub retire_after: Duration,
    /// How long a closed blog is still polled before it is retired (default 6h).
    pub retire_grace: Duration,
    /// Notifier names; `None` = every notifier.
    pub notify: Option<Vec<String>>,
    pub strategy: Strategy,
    pub announce_existing: usize,
}

impl Watch {
    /// A watch with default settings.
    pub fn new(url: impl Into<String>) -> Self {
        Watch {
            url: url.into(),
            name: None,
            interval: DEFAULT_INTERVAL,
            max_interval: DEFAULT_MAX_INTERVAL,
            adaptive: true,
            retire_after: Duration::from_secs(48 * 3600),
            retire_grace: Duration::from_secs(6 * 3600),
            notify: None,
            strategy: Strategy::Auto,
            announce_existing: 0,
        }
    }
}

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
        }
    }
}

/// Which events a notifier takes.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `None` = all kinds.
    pub kinds: Option<Vec<EventKind>>,
    /// Blog URLs or names; `None` = all blogs.
    pub blogs: Option<Vec<String>>,
    pub matches: Option<regex::Regex>,
    pub exclude: Option<regex::Regex>,
}

impl Filter {
    /// Does this filter let `event` through?
    pub fn accepts(&self, event: &crate::model::Event) -> bool {
        if let Some(kinds) = &self.kinds {
            if !kinds.contains(&event.kind) {
                return false;
            }
        }
        if let Some(blogs) = &self.blogs {
            let name = event.blog.title.as_deref().unwrap_or("");
            if !blogs.iter().any(|b| b == &event.blog.url || b == name) {
                return false;
            }
        }
        let text = || match &event.post {
            Some(p) => format!("{}\n{}", p.headline.as_deref().unwrap_or(""), p.body),
            None => event.message.clone().unwrap_or_default(),
        };
        if let Some(re) = &self.matches {
            if !re.is_match(&text()) {
                return false;
            }
        }
        if let Some(re) = &self.exclude {
            if re.is_match(&text()) {
                return false;
            }
        }
        true
    }
}

/// One config error, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // About the file as a whole (it cannot be read): no position to point at.
            return write!(f, "{}: {}", self.file, self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// All errors found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Read and validate a config file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no such config file. Copy the example there (mkdir -p {dir} && cp config/livewatch.example.toml {file}), \
                 give another with --config FILE, or follow a blog without a config: livewatch watch URL",
                dir = path.parent().map_or(".".into(), |d| d.display().to_string()),
            )
        } else {
            format!("cannot read config: {e}")
        };
        ConfigErrors(vec![ConfigError {
            file: file.clone(),
            line: 0,
            col: 0,
            message,
        }])
    })?;
    let mut cfg = parse(&src, &file, &|k| std::env::var(k).ok())?;
    cfg.path = Some(path.to_path_buf());
    Ok(cfg)
}

/// Parse and validate config text. `env` looks up `${VAR}` values.
pub fn parse(
    src: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let raw = read_toml(src).map_err(|errors| {
        let mut v: Vec<ConfigError> = errors
            .iter()
            .map(|e| {
                let (line, col) = e.span().map(|s| line_col(src, s.start)).unwrap_or((1, 1));
                ConfigError {
                    file: file.to_string(),
                    line,
                    col,
                    message: human_toml_error(e.message()),
                }
            })
            .collect();
        v.sort_by_key(|e| (e.line, e.col));
        v.dedup();
        ConfigErrors(v)
    })?;
    let mut v = Validator {
        src,
        file,
        env,
        errors: Vec::new(),
    };
    let cfg = v.config(raw);
    v.errors.sort_by_key(|e| (e.line, e.col));
    if v.errors.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigErrors(v.errors))
    }
}

/// The config file as written, or every syntax error (when the TOML does not parse) or
/// else every type error (unknown keys, wrong types) that can be found: each table is
/// read on its own, and a key that fails is set aside to read the rest.
fn read_toml(src: &str) -> Result<ConfigFile, Vec<toml::de::Error>> {
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

/// serde's wording (`invalid type: string "2", expected usize`) as people read it.
fn human_toml_error(message: &str) -> String {
    let m = message.trim();
    let Some(rest) = m.strip_prefix("invalid type: ") else {
        return m
            .replace("missing field", "missing key")
            .replace("unknown field", "unknown key");
    };
    let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
    let expected = match expected {
        "usize" | "u8" | "u16" | "u32" | "u64" | "i64" | "i32" => "a whole number, like 3",
        "a boolean" => "true or false",
        "a string" => "a string in quotes",
        "a sequence" => "a list, like [\"a\", \"b\"]",
        e if e.starts_with("struct") || e == "a map" => "a table",
        e => e,
    };
    let found = if let Some(n) = found.strip_prefix("integer ") {
        format!("the number {}", n.trim_matches('`'))
    } else if let Some(n) = found.strip_prefix("floating point ") {
        format!("the number {}", n.trim_matches('`'))
    } else if let Some(b) = found.strip_prefix("boolean ") {
        b.trim_matches('`').to_string()
    } else if let Some(t) = found.strip_prefix("string ") {
        format!("the string {t}")
    } else {
        match found {
            "sequence" => "a list".to_string(),
            "map" => "a table".to_string(),
            f => f.to_string(),
        }
    };
    if expected.is_empty() {
        return format!("wrong type: {found}");
    }
    format!("expected {expected}, found {found}")
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = src[line_start..offset].chars().count() + 1;
    (line, col)
}

struct Validator<'a> {
    src: &'a str,
    file: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn err(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) {
        let (line, col) = line_col(self.src, span.start);
        self.errors.push(ConfigError {
            file: self.file.to_string(),
            line,
            col,
            message: message.into(),
        });
    }

    /// Expand `${VAR}` from the environment; an unset variable is an error.
    fn expand(&mut self, s: &Spanned<String>) -> String {
        match expand_env(s.get_ref(), self.env) {
            Ok(v) => v,
            Err(var) => {
                self.err(
                    s.span(),
                    format!("environment variable {var} is not set (used as ${{{var}}})"),
                );
                String::new()
            }
        }
    }

    fn url(&mut self, s: &Spanned<String>, what: &str) -> String {
        let v = self.expand(s);
        if !v.is_empty() {
            match url::Url::parse(&v) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                Ok(u) => self.err(
                    s.span(),
                    format!("{what} must be an http or https URL, not {}:", u.scheme()),
                ),
                Err(e) => self.err(s.span(), format!("{what} {v:?} is not a valid URL: {e}")),
            }
        }
        v
    }

    fn config(&mut self, raw: ConfigFile) -> Config {
        let listen = raw.listen.as_ref().and_then(|l| match l.get_ref().parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(
                    l.span(),
                    format!(
                        "listen = {:?} is not an address; write it like \"127.0.0.1:9477\"",
                        l.get_ref()
                    ),
                );
                None
            }
        });
        let api_token = self.api_token(&raw, listen);
        let defaults = FetchSettings::default();
        let fetch = FetchSettings {
            max_body: raw.max_body.map(|s| s.0).unwrap_or(defaults.max_body),
            per_host: raw.per_host.unwrap_or(defaults.per_host).max(1),
            connect_timeout: raw
                .connect_timeout
                .map(|d| d.0)
                .unwrap_or(defaults.connect_timeout),
            timeout: raw.timeout.map(|d| d.0).unwrap_or(defaults.timeout),
            user_agent: raw.user_agent.clone().unwrap_or(defaults.user_agent),
        };
        let notifiers: Vec<NotifierSpec> = raw
            .notifier
            .iter()
            .filter_map(|n| self.notifier(n))
            .collect();
        let mut seen = std::collections::HashSet::new();
        for n in &raw.notifier {
            if !seen.insert(n.name.get_ref().clone()) {
                self.err(
                    n.name.span(),
                    format!("notifier name {:?} is used twice", n.name.get_ref()),
                );
            }
        }
        let names: Vec<String> = raw
            .notifier
            .iter()
            .map(|n| n.name.get_ref().clone())
            .collect();
        let watches = raw
            .watch
            .iter()
            .map(|w| self.watch(w, &names))
            .collect::<Vec<_>>();
        let mut urls = std::collections::HashSet::new();
        for w in &raw.watch {
            if !urls.insert(w.url.get_ref().clone()) {
                self.err(
                    w.url.span(),
                    format!("{:?} is watched twice", w.url.get_ref()),
                );
            }
        }
        Config {
            path: None,
            state_dir: raw.state_dir.clone(),
            listen,
            api_token,
            fetch,
            problem_after: raw.problem_after.unwrap_or(3).max(1),
            watches,
            notifiers,
        }
    }

    /// `api_token`, which must be set (and not empty) when `listen` is not loopback.
    fn api_token(
        &mut self,
        raw: &ConfigFile,
        listen: Option<std::net::SocketAddr>,
    ) -> Option<String> {
        let token = raw.api_token.as_ref().map(|t| (self.expand(t), t.span()));
        if let Some((t, span)) = &token {
            if t.trim().is_empty() {
                self.err(span.clone(), "api_token is empty");
            }
        }
        if let (Some(addr), None, Some(l)) = (listen, &token, &raw.listen) {
            if !addr.ip().is_loopback() {
                self.err(
                    l.span(),
                    format!(
                        "listen = \"{addr}\" is not a loopback address: set api_token (e.g. api_token = \"${{LIVEWATCH_API_TOKEN}}\") so that the API's write endpoints and the dashboard need it, or listen on 127.0.0.1"
                    ),
                );
            }
        }
        token.map(|(t, _)| t)
    }

    fn watch(&mut self, w: &WatchFile, notifiers: &[String]) -> Watch {
        let url = self.url(&w.url, "url");
        let mut watch = Watch::new(url);
        watch.name = w.name.clone();
        if let Some(i) = &w.interval {
            if i.get_ref().0 < MIN_INTERVAL {
                self.err(i.span(), "interval must be at least 100ms");
            }
            watch.interval = i.get_ref().0.max(MIN_INTERVAL);
        }
        watch.max_interval = match &w.max_interval {
            Some(m) => {
                if m.get_ref().0 < watch.interval {
                    self.err(m.span(), "max_interval must not be shorter than interval");
                }
                m.get_ref().0.max(watch.interval)
            }
            None => DEFAULT_MAX_INTERVAL.max(watch.interval),
        };
        watch.adaptive = w.adaptive.unwrap_or(true);
        if let Some(r) = w.retire_after {
            watch.retire_after = r.0;
        }
        if let Some(r) = w.retire_grace {
            watch.retire_grace = r.0;
        }
        if let Some(n) = &w.notify {
            for name in n.get_ref() {
                if !notifiers.contains(name) {
                    self.err(
                        n.span(),
                        format!("notify names {name:?}, but no [[notifier]] has that name"),
                    );
                }
            }
            watch.notify = Some(n.get_ref().clone());
        }
        if let Some(e) = &w.extractor {
            let names = extractor_names();
            if !names.contains(&e.get_ref().as_str()) {
                self.err(
                    e.span(),
                    format!(
                        "unknown extractor {:?}; the extractors are {}",
                        e.get_ref(),
                        names.join(", ")
                    ),
                );
            }
        }
        watch.strategy = match (
            &w.selectors,
            w.extractor.as_ref().map(|e| e.get_ref().as_str()),
        ) {
            (Some(sel), _) => Strategy::Css(sel.clone()),
            (None, None) | (None, Some("auto")) => Strategy::Auto,
            (None, Some(name)) => Strategy::Named(name.to_string()),
        };
        watch.announce_existing = w.announce_existing.unwrap_or(0);
        watch
    }

    fn notifier(&mut self, n: &NotifierFile) -> Option<NotifierSpec> {
        let kinds = n.kinds.as_ref().map(|k| {
            k.get_ref()
                .iter()
                .filter_map(|s| {
                    let parsed = EventKind::parse(s);
                    if parsed.is_none() {
                        self.err(
                            k.span(),
                            format!(
                                "unknown event kind {s:?}; kinds are new, edit, correction, removed, problem, recovered, closed, test"
                            ),
                        );
                    }
                    parsed
                })
                .collect()
        });
        let regex = |v: &mut Self, r: &Option<Spanned<String>>| {
            r.as_ref()
                .and_then(|r| match regex::Regex::new(r.get_ref()) {
                    Ok(re) => Some(re),
                    Err(e) => {
                        v.err(r.span(), format!("invalid regex: {e}"));
                        None
                    }
                })
        };
        let filter = Filter {
            kinds,
            blogs: n.blogs.clone(),
            matches: regex(self, &n.match_),
            exclude: regex(self, &n.exclude),
        };
        let need_url = |v: &mut Self| match &n.url {
            Some(u) => Some(v.url(u, "url")),
            None => {
                v.err(
                    n.kind.span(),
                    format!("a {} notifier needs url = \"…\"", n.kind.get_ref()),
                );
                None
            }
        };
        let secret = n.secret.as_ref().map(|s| self.expand(s));
        let token = n.token.as_ref().map(|s| self.expand(s));
        let chat_id = n.chat_id.as_ref().map(|s| self.expand(s));
        let mut headers = BTreeMap::new();
        for (k, v) in &n.headers {
            let v = expand_env(v, self.env).unwrap_or_else(|var| {
                self.err(
                    n.name.span(),
                    format!("header {k}: environment variable {var} is not set"),
                );
                String::new()
            });
            headers.insert(k.clone(), v);
        }
        let template = self.template(n);
        let kind = match n.kind.get_ref().as_str() {
            "stdout" => NotifierKind::Stdout {
                json: n.json.unwrap_or(false),
            },
            "desktop" => NotifierKind::Desktop {
                critical_urgency: !matches!(n.urgency.as_deref(), Some("normal")),
            },
            "webhook" => NotifierKind::Webhook {
                url: need_url(self)?,
                secret,
                headers,
            },
            "slack" => NotifierKind::Slack {
                url: need_url(self)?,
                token,
                channel: chat_id,
            },
            "discord" => NotifierKind::Discord {
                url: need_url(self)?,
            },
            "ntfy" => NotifierKind::Ntfy {
                url: need_url(self)?,
                token,
                priority: n.priority,
            },
            "telegram" => {
                let url = match &n.url {
                    Some(u) => self.url(u, "url"),
                    None => "https://api.telegram.org".to_string(),
                };
                match (token, chat_id) {
                    (Some(token), Some(chat_id)) => NotifierKind::Telegram {
                        url,
                        token,
                        chat_id,
                    },
                    _ => {
                        self.err(
                            n.kind.span(),
                            "a telegram notifier needs token = \"…\" and chat_id = \"…\"",
                        );
                        return None;
                    }
                }
            }
            "email" => self.email(n)?,
            "mqtt" => self.mqtt(n)?,
            "command" => self.command(n)?,
            other => {
                self.err(
                    n.kind.span(),
                    format!(
                        "unknown notifier type {other:?}; types are stdout, desktop, webhook, slack, discord, ntfy, telegram, email, mqtt, command"
                    ),
                );
                return None;
            }
        };
        let default_burst =
            matches!(kind, NotifierKind::Desktop { .. }).then_some((5, Duration::from_secs(60)));
        let burst = match n.burst {
            Some(0) => None,
            Some(b) => Some((
                b,
                n.burst_window
                    .map(|d| d.0)
                    .unwrap_or(Duration::from_secs(60)),
            )),
            None => default_burst,
        };
        Some(NotifierSpec {
            name: n.name.get_ref().clone(),
            kind,
            filter,
            burst,
            give_up_after: n
                .give_up_after
                .map(|d| d.0)
                .unwrap_or(Duration::from_secs(24 * 3600)),
            timeout: n.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(10)),
            retry_wait: n.retry_wait.map(|d| d.0).unwrap_or(Duration::from_secs(1)),
            template,
        })
    }
}

/// The keys of the second-round notifier types (email, mqtt, command) and templates.
impl Validator<'_> {
    /// Expand `${VAR}` in a value inside a list (errors point at the list).
    fn expand_at(&mut self, s: &str, span: std::ops::Range<usize>) -> String {
        let s = Spanned::new(span, s.to_string());
        self.expand(&s)
    }

    /// Where a template's own line `line` (1-based) is in the file.
    fn template_err(&mut self, t: &Spanned<String>, line: Option<usize>, message: String) {
        let span = t.span();
        let raw = &self.src[span.start.min(self.src.len())..];
        // A multi-line string's first newline is not part of the value.
        let skip = usize::from(
            (raw.starts_with("\"\"\"") || raw.starts_with("'''"))
                && (raw[3..].starts_with('\n') || raw[3..].starts_with("\r\n")),
        );
        let (l0, c0) = line_col(self.src, span.start);
        let multi_line = self.src.get(span.clone()).is_some_and(|v| v.contains('\n'));
        let (line, col, message) = match line {
            Some(l) if multi_line && (l > 1 || skip == 1) => (l0 + l - 1 + skip, 1, message),
            // A one-line string (perhaps with \n escapes): point at it, name the line.
            Some(l) if l > 1 => (l0, c0, format!("{message} (line {l} of the template)")),
            _ => (l0, c0, message),
        };
        self.errors.push(ConfigError {
            file: self.file.to_string(),
            line,
            col,
            message,
        });
    }

    /// Compile a template (`json`: the body must be JSON).
    fn compile(
        &mut self,
        t: &Spanned<String>,
        what: &str,
        json: bool,
    ) -> Option<Arc<BodyTemplate>> {
        match BodyTemplate::parse(t.get_ref(), json) {
            Ok(b) => Some(Arc::new(b)),
            Err(e) => {
                self.template_err(t, e.line, format!("{what}: {}", e.message));
                None
            }
        }
    }

    /// The notifier's `template`, compiled for where its output goes.
    fn template(&mut self, n: &NotifierFile) -> Option<Arc<BodyTemplate>> {
        let t = n.template.as_ref()?;
        let json = match n.kind.get_ref().as_str() {
            "webhook" => true,
            "mqtt" | "command" => crate::notify::template::looks_like_json(t.get_ref()),
            _ => false,
        };
        self.compile(t, "template", json)
    }

    /// `host:port` of a `SCHEME://HOST:PORT` URL with one of `schemes`.
    fn server_url(
        &mut self,
        s: &Spanned<String>,
        schemes: &[&str],
    ) -> Option<(String, String, u16, url::Url)> {
        let v = self.expand(s);
        let u = match url::Url::parse(&v) {
            Ok(u) => u,
            Err(e) => {
                self.err(s.span(), format!("{v:?} is not a valid URL: {e}"));
                return None;
            }
        };
        if !schemes.contains(&u.scheme()) {
            self.err(
                s.span(),
                format!(
                    "the URL must start with {}, not {}:",
                    schemes.join(":// or ") + "://",
                    u.scheme()
                ),
            );
            return None;
        }
        let Some(host) = u.host_str().filter(|h| !h.is_empty()) else {
            self.err(s.span(), format!("{v:?} has no host"));
            return None;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Some((u.scheme().to_string(), host, u.port().unwrap_or(0), u))
    }

    fn command(&mut self, n: &NotifierFile) -> Option<NotifierKind> {
        match &n.command {
            Some(c) if c.get_ref().first().is_some_and(|p| !p.is_empty()) => {
                let argv = c
                    .get_ref()
                    .iter()
                    .map(|a| self.expand_at(a, c.span()))
                    .collect();
                Some(NotifierKind::Command { argv })
            }
            Some(c) => {
                self.err(
                    c.span(),
                    "command must name a program: command = [\"PROGRAM\", \"ARG\", …]",
                );
                None
            }
            None => {
                self.err(
                    n.kind.span(),
                    "a command notifier needs command = [\"PROGRAM\", \"ARG\", …]",
                );
                None
            }
        }
    }

    fn email(&mut self, n: &NotifierFile) -> Option<NotifierKind> {
        let Some(smtp) = &n.smtp else {
            self.err(
                n.kind.span(),
                "an email notifier needs smtp = \"smtp://HOST:PORT\"",
            );
            return None;
        };
        let (scheme, host, port, _) = self.server_url(smtp, &["smtp", "smtps"])?;
        let security = match (
            n.tls.as_ref().map(|t| t.get_ref().as_str()),
            scheme.as_str(),
        ) {
            (None, "smtps") | (Some("tls"), _) => Security::Tls,
            (None, _) | (Some("starttls"), "smtp") => Security::StartTls,
            (Some("none"), "smtp") => Security::None,
            (Some(other), _) => {
                let t = n.tls.as_ref().map(|t| t.span()).unwrap_or(smtp.span());
                self.err(
                    t,
                    if scheme == "smtps" && matches!(other, "starttls" | "none") {
                        format!("tls = {other:?} does not go with smtps:// (TLS from the start); use smtp://")
                    } else {
                        format!("tls = {other:?}: use \"starttls\", \"tls\" or \"none\"")
                    },
                );
                return None;
            }
        };
        let port = match (port, security) {
            (0, Security::Tls) => 465,
            (0, Security::StartTls) => 587,
            (0, Security::None) => 25,
            (p, _) => p,
        };
        let addr = |v: &mut Self, s: &Spanned<String>| {
            let a = v.expand(s);
            match crate::notify::email::mailbox(&a) {
                Ok(_) => Some(a),
                Err(e) => {
                    v.err(s.span(), e);
                    None
                }
            }
        };
        let from = match &n.from {
            Some(f) => addr(self, f),
            None => {
                self.err(
                    n.kind.span(),
                    "an email notifier needs from = \"livewatch@…\"",
                );
                None
            }
        };
        let mut to = Vec::new();
        match &n.to {
            Some(t) => {
                for a in t.get_ref().to_vec() {
                    let s = Spanned::new(t.span(), a);
                    to.extend(addr(self, &s));
                }
                if t.get_ref().to_vec().is_empty() {
                    self.err(t.span(), "to needs at least one address");
                }
            }
            None => self.err(
                n.kind.span(),
                "an email notifier needs to = \"…\" (or a list)",
            ),
        }
        let subject = n
            .subject
            .as_ref()
            .and_then(|s| self.compile(s, "subject", false));
        let username = n.username.as_ref().map(|s| self.expand(s));
        let password = n.password.as_ref().map(|s| self.expand(s));
        if security == Security::None && username.is_some() {
            tracing::warn!(
                "email notifier {:?}: sending the password without TLS",
                n.name.get_ref()
            );
        }
        Some(NotifierKind::Email {
            host,
            port,
            security,
            username,
            password,
            from: from?,
            to,
            subject,
        })
    }

    fn mqtt(&mut self, n: &NotifierFile) -> Option<NotifierKind> {
        let Some(url) = &n.url else {
            self.err(
                n.kind.span(),
                "an mqtt notifier needs url = \"mqtt://HOST:PORT\"",
            );
            return None;
        };
        if url.get_ref().starts_with("mqtts:") {
            self.err(
                url.span(),
                "mqtts:// (MQTT over TLS) is not supported yet; use mqtt:// (a local broker, or a TLS-terminating proxy)",
            );
            return None;
        }
        let (_, host, port, u) = self.server_url(url, &["mqtt"])?;
        let topic = match &n.topic {
            Some(t) => {
                if let Err(e) = crate::notify::mqtt::check_topic(t.get_ref()) {
                    self.err(t.span(), e);
                }
                t.get_ref().clone()
            }
            None => crate::notify::mqtt::DEFAULT_TOPIC.to_string(),
        };
        let qos = match &n.qos {
            Some(q) if *q.get_ref() > 2 => {
                self.err(q.span(), "qos must be 0, 1 or 2");
                1
            }
            Some(q) => *q.get_ref(),
            None => 1,
        };
        let from_url = |s: &str| {
            (!s.is_empty()).then(|| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        };
        Some(NotifierKind::Mqtt {
            host,
            port: if port == 0 { 1883 } else { port },
            username: n
                .username
                .as_ref()
                .map(|s| self.expand(s))
                .or_else(|| from_url(u.username())),
            password: n
                .password
                .as_ref()
                .map(|s| self.expand(s))
                .or_else(|| u.password().and_then(from_url)),
            topic,
            qos,
            retain: n.retain.unwrap_or(false),
        })
    }
}

/// The names `extractor = …` and `--extractor` take: `auto`, the structured-data and
/// generic extractors, and the built-in site profiles.
pub fn extractor_names() -> Vec<&'static str> {
    let mut v = vec!["auto", "jsonld", "microdata", "generic"];
    v.extend(crate::extract::profiles::ALL.iter().map(|p| p.name));
    v
}

/// Replace every `${VAR}` with its value; `Err(VAR)` names the first unset one.
pub fn expand_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let var = &after[..end];
                out.push_str(&env(var).ok_or_else(|| var.to_string())?);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The default config path: `$XDG_CONFIG_HOME/livewatch/config.toml`, or
/// `/etc/livewatch/config.toml` under systemd's `CONFIGURATION_DIRECTORY`.
pub fn default_config_path() -> PathBuf {
    if let Ok(dir) = std::env::var("CONFIGURATION_DIRECTORY") {
        return PathBuf::from(dir).join("config.toml");
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("/etc"));
    base.join("livewatch").join("config.toml")
}

/// The default state dir: `$STATE_DIRECTORY` (systemd) else `$XDG_STATE_HOME/livewatch`.
pub fn default_state_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("STATE_DIRECTORY") {
        // systemd may pass several, colon-separated; the first is ours.
        return PathBuf::from(dir.split(':').next().unwrap_or(&dir));
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/var/lib"));
    base.join("livewatch")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("3 parsecs").is_err());
    }

    #[test]
    fn unknown_key_has_line_and_column() {
        let src = "[[watch]]\nurl = \"https://a.example/\"\nintervall = \"30s\"\n";
        let e = parse(src, "c.toml", &no_env).unwrap_err();
        assert_eq!(e.0[0].line, 3, "{e}");
        assert_eq!(e.0[0].col, 1, "{e}");
        assert!(e.0[0].message.contains("intervall"), "{e}");
    }

    #[test]
    fn bad_duration_points_at_value() {
        let src = "[[watch]]\nurl = \"https://a.example/\"\ninterval = \"soon\"\n";
        let e = parse(src, "c.toml", &no_env).unwrap_err();
        assert_eq!((e.0[0].line, e.0[0].col), (3, 12), "{e}");
    }

    #[test]
    fn several_semantic_errors_are_all_reported() {
        let src = r#"
[[watch]]
url = "ftp://a.example/"
notify = ["nobody"]

[[notifier]]
name = "x"
type = "pager"
"#;
        let e = parse(src, "c.toml", &no_env).unwrap_err();
        assert_eq!(e.0.len(), 3, "{e}");
        let lines: Vec<usize> = e.0.iter().map(|e| e.line).collect();
        assert!(
            lines.contains(&3) && lines.contains(&4) && lines.contains(&8),
            "{e}"
        );
    }

    #[test]
    fn env_expansion() {
        let env = |k: &str| (k == "S").then(|| "hush".to_string());
        assert_eq!(expand_env("a${S}b", &env).unwrap(), "ahushb");
        assert_eq!(expand_env("${NOPE}", &env).unwrap_err(), "NOPE");
        let src = "[[notifier]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1/\"\nsecret = \"${S}\"\n";
        let cfg = parse(src, "c.toml", &env).unwrap();
        match &cfg.notifiers[0].kind {
            NotifierKind::Webhook { secret, .. } => assert_eq!(secret.as_deref(), Some("hush")),
            k => panic!("{k:?}"),
        }
    }
}
