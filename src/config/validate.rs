//! Validation: the file as written ([`super::file`]) into the settings the daemon runs on
//! ([`super::model`]), every error found with the spot it is about.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use super::env::expand_env;
use super::error::{ConfigError, ConfigErrors, Issue};
use super::file::{ConfigFile, NotifierFile, WatchFile};
use super::model::*;
use crate::extract::Strategy;
use crate::model::EventKind;
use crate::notify::email::Security;
use crate::notify::route::Filter;
use crate::notify::template::BodyTemplate;

/// Validate `raw`, read from `src` (the text of `file`, for the errors' positions).
pub(super) fn validate_text(
    raw: ConfigFile,
    src: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    validate(raw, env).map_err(|issues| {
        let mut errors: Vec<ConfigError> = issues.into_iter().map(|i| i.at(src, file)).collect();
        errors.sort_by_key(|e| (e.line, e.col));
        ConfigErrors(errors)
    })
}

/// Validate `raw`; every problem comes back with the span of the value it is about, in
/// the order they were found. `env` looks up `${VAR}` values.
pub(super) fn validate(
    raw: ConfigFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Vec<Issue>> {
    let mut v = Validator {
        env,
        errors: Vec::new(),
    };
    let cfg = v.config(raw);
    if v.errors.is_empty() {
        Ok(cfg)
    } else {
        Err(v.errors)
    }
}

struct Validator<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<Issue>,
}

impl Validator<'_> {
    fn err(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) {
        self.errors.push(Issue {
            span,
            message: message.into(),
            template_line: None,
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
        let state = raw
            .state
            .as_ref()
            .map(|s| self.state(s))
            .unwrap_or_default();
        let lease = match &raw.lease {
            Some(l) if l.get_ref().0 < std::time::Duration::from_secs(1) => {
                self.err(
                    l.span(),
                    "lease must be at least 1s (an instance renews its leases every quarter of it)",
                );
                DEFAULT_LEASE
            }
            Some(l) => l.get_ref().0,
            None => DEFAULT_LEASE,
        };
        let defaults = FetchSettings::default();
        let fetch = FetchSettings {
            max_body: raw.max_body.map(|s| s.0).unwrap_or(defaults.max_body),
            browser_memory: raw
                .browser_memory
                .map(|s| s.0)
                .unwrap_or(defaults.browser_memory),
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
            state,
            lease,
            listen,
            api_token,
            fetch,
            problem_after: raw.problem_after.unwrap_or(3).max(1),
            watches,
            notifiers,
        }
    }

    /// `state`: `sqlite`, or a PostgreSQL URL the client accepts (no TLS: livewatch
    /// talks to PostgreSQL in plain TCP, on loopback or a private network).
    fn state(&mut self, s: &Spanned<String>) -> StateBackend {
        let v = self.expand(s);
        if v == "sqlite" {
            return StateBackend::Sqlite;
        }
        let shown = |v: &str| match url::Url::parse(v) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(None);
                u.to_string()
            }
            _ => v.to_string(),
        };
        let problem = match url::Url::parse(&v) {
            _ if v.is_empty() && s.get_ref().is_empty() => Some("is empty".into()),
            _ if v.is_empty() => None,
            Err(e) => Some(format!("is not a URL ({e})")),
            Ok(u) if !matches!(u.scheme(), "postgres" | "postgresql") => Some(format!(
                "has the scheme {}:, not postgres:",
                u.scheme()
            )),
            Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                Some("names no host (postgres://USER@HOST:PORT/DB)".into())
            }
            Ok(u) if u.path().trim_start_matches('/').is_empty() => {
                Some("names no database (postgres://USER@HOST:PORT/DB)".into())
            }
            Ok(_) => match v.parse::<tokio_postgres::Config>() {
                Err(e) => Some(format!("is not a PostgreSQL URL livewatch can use: {e}")),
                Ok(c) if c.get_ssl_mode() == tokio_postgres::config::SslMode::Require => Some(
                    "asks for TLS (sslmode=require), which livewatch does not speak to PostgreSQL; \
                     use a loopback or private-network address without it"
                        .into(),
                ),
                Ok(_) => None,
            },
        };
        match problem {
            Some(p) => {
                self.err(
                    s.span(),
                    format!(
                        "state = {:?} {p}; write state = \"sqlite\" (the default) or state = \"postgres://USER@HOST:PORT/DB\"",
                        shown(&v)
                    ),
                );
                StateBackend::Sqlite
            }
            None if v.is_empty() => StateBackend::Sqlite,
            None => StateBackend::Postgres(v),
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
        watch.fetch = match w.fetch.as_ref().map(|f| f.get_ref().as_str()) {
            None | Some("http") => FetchMode::Http,
            Some("browser") => FetchMode::Browser,
            Some(other) => {
                let span = w.fetch.as_ref().map(|f| f.span()).unwrap_or_default();
                self.err(
                    span,
                    format!("unknown fetch {other:?}; fetch is \"http\" (default) or \"browser\""),
                );
                FetchMode::Http
            }
        };
        if let Some(s) = &w.settle {
            if scraper::Selector::parse(s.get_ref()).is_err() {
                self.err(
                    s.span(),
                    format!("settle = {:?} is not a CSS selector", s.get_ref()),
                );
            }
            if watch.fetch != FetchMode::Browser {
                self.err(s.span(), "settle applies to fetch = \"browser\" only");
            }
            watch.settle = Some(s.get_ref().clone());
        }
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
            "nats" => self.nats(n)?,
            other => {
                self.err(
                    n.kind.span(),
                    format!(
                        "unknown notifier type {other:?}; types are stdout, desktop, webhook, slack, discord, ntfy, telegram, email, mqtt, command, nats"
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

/// The keys of the second-round notifier types (email, mqtt, command, nats) and templates.
impl Validator<'_> {
    /// Expand `${VAR}` in a value inside a list (errors point at the list).
    fn expand_at(&mut self, s: &str, span: std::ops::Range<usize>) -> String {
        let s = Spanned::new(span, s.to_string());
        self.expand(&s)
    }

    /// An error at line `line` (1-based) of the template `t`.
    fn template_err(&mut self, t: &Spanned<String>, line: Option<usize>, message: String) {
        self.errors.push(Issue {
            span: t.span(),
            message,
            template_line: line,
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
            "mqtt" | "command" | "nats" => crate::notify::template::looks_like_json(t.get_ref()),
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

    /// An MQTT topic or NATS subject template, checked by `check`; `default` when unset.
    fn name_template(
        &mut self,
        t: Option<&Spanned<String>>,
        check: fn(&str) -> Result<(), String>,
        default: &str,
    ) -> String {
        match t {
            Some(t) => {
                if let Err(e) = check(t.get_ref()) {
                    self.err(t.span(), e);
                }
                t.get_ref().clone()
            }
            None => default.to_string(),
        }
    }

    fn nats(&mut self, n: &NotifierFile) -> Option<NotifierKind> {
        let Some(url) = &n.url else {
            self.err(
                n.kind.span(),
                "a nats notifier needs url = \"nats://HOST:PORT\"",
            );
            return None;
        };
        let (_, _, port, mut u) = self.server_url(url, &["nats"])?;
        if port == 0 {
            let _ = u.set_port(Some(4222));
        }
        let subject = self.name_template(
            n.subject.as_ref(),
            crate::notify::nats::check_subject,
            crate::notify::nats::DEFAULT_SUBJECT,
        );
        let stream = n.stream.as_ref().map(|s| {
            let v = self.expand(s);
            if let Err(e) = crate::notify::nats::check_stream(&v) {
                self.err(s.span(), e);
            }
            v
        });
        Some(NotifierKind::Nats {
            url: u.to_string(),
            subject,
            stream,
        })
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
        let topic = self.name_template(
            n.topic.as_ref(),
            crate::notify::mqtt::check_topic,
            crate::notify::mqtt::DEFAULT_TOPIC,
        );
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
