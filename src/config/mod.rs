//! The TOML config: one struct per table, validated into the settings the daemon runs on.
//!
//! Errors carry the file, line and column (`FILE:LINE:COL: message`) so that
//! `livewatch config check` can point at the exact spot.
//!
//! - `file`: the file as written ([`ConfigFile`]: serde structs with spans), read with
//!   every type error found.
//! - `validate`: the file into the model, every error with its spot.
//! - `model`: the validated settings ([`Config`], [`Watch`], [`NotifierSpec`]).
//! - `error`: [`ConfigError`], and serde's errors in readers' words.
//! - `units`: durations and sizes; `env`: `${VAR}` expansion; `paths`: default locations.

use std::path::Path;

mod env;
mod error;
mod file;
mod model;
mod paths;
mod units;
mod validate;

pub use env::expand_env;
pub use error::{ConfigError, ConfigErrors, Issue};
pub use file::{ConfigFile, NotifierFile, OneOrMany, WatchFile};
pub use model::{
    default_user_agent, extractor_names, Config, FetchMode, FetchSettings, NotifierKind,
    NotifierSpec, StateBackend, Watch, DEFAULT_INTERVAL, DEFAULT_LEASE, DEFAULT_MAX_BODY,
    DEFAULT_MAX_INTERVAL, MIN_INTERVAL,
};
pub use paths::{default_config_path, default_state_dir};
pub use units::{parse_duration, parse_size, Dur, Size};

impl ConfigFile {
    /// Validate a config built in code rather than read from text (`livewatch watch`
    /// builds one from its arguments). The spans of its values are the caller's own
    /// marks, say which argument a value came from: every problem comes back with the
    /// span of the value it is about, in the order of those spans. `env` looks up
    /// `${VAR}` values.
    pub fn validate(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Vec<Issue>> {
        validate::validate(self, env).map_err(|mut issues| {
            issues.sort_by_key(|i| i.span.start);
            issues
        })
    }
}

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
    let raw = file::read_toml(src).map_err(|errors| error::toml_errors(src, file, &errors))?;
    validate::validate_text(raw, src, file, env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
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
        let src = "[[notifier]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1/\"\nsecret = \"${S}\"\n";
        let cfg = parse(src, "c.toml", &env).unwrap();
        match &cfg.notifiers[0].kind {
            NotifierKind::Webhook { secret, .. } => assert_eq!(secret.as_deref(), Some("hush")),
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn state_is_sqlite_or_a_postgres_url() {
        let state = |v: &str| parse(&format!("state = {v:?}\n"), "c.toml", &no_env);
        assert_eq!(
            parse("", "c.toml", &no_env).unwrap().state,
            StateBackend::Sqlite
        );
        assert_eq!(state("sqlite").unwrap().state, StateBackend::Sqlite);
        let url = "postgres://livewatch@127.0.0.1:5432/livewatch";
        assert_eq!(
            state(url).unwrap().state,
            StateBackend::Postgres(url.into())
        );
        let env = |k: &str| (k == "PW").then(|| "hush".to_string());
        let cfg = parse(
            "state = \"postgresql://lw:${PW}@db.internal/lw\"\n",
            "c.toml",
            &env,
        )
        .unwrap();
        assert_eq!(
            cfg.state,
            StateBackend::Postgres("postgresql://lw:hush@db.internal/lw".into())
        );
        for (v, says) in [
            ("mysql://u@h/db", "has the scheme mysql:, not postgres:"),
            ("postgres://u@h", "names no database"),
            ("postgres:///db", "names no host"),
            ("sqlite3", "is not a URL"),
            ("", "is empty"),
            (
                "postgres://u:topsecret@h/db?sslmode=require",
                "asks for TLS (sslmode=require)",
            ),
            (
                "postgres://u@h/db?bogus=1",
                "is not a PostgreSQL URL livewatch can use",
            ),
        ] {
            let e = state(v).unwrap_err();
            assert_eq!(e.0.len(), 1, "{v}: {e}");
            assert_eq!((e.0[0].line, e.0[0].col), (1, 9), "{v}: {e}");
            let m = &e.0[0].message;
            assert!(m.contains(says), "{v}: {m}");
            assert!(m.contains("postgres://USER@HOST:PORT/DB"), "{v}: {m}");
            assert!(!m.contains("topsecret"), "{v}: {m}");
        }
    }

    #[test]
    fn lease_defaults_to_30s_and_is_at_least_1s() {
        assert_eq!(parse("", "c.toml", &no_env).unwrap().lease, DEFAULT_LEASE);
        let cfg = parse("lease = \"5s\"\n", "c.toml", &no_env).unwrap();
        assert_eq!(cfg.lease, std::time::Duration::from_secs(5));
        let e = parse("lease = \"500ms\"\n", "c.toml", &no_env).unwrap_err();
        assert_eq!((e.0[0].line, e.0[0].col), (1, 9), "{e}");
        assert!(e.0[0].message.contains("at least 1s"), "{e}");
    }
}
