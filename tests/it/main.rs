//! The integration tests, as one test binary (one link of the crate instead of one per
//! file). Run a part with `cargo test --test it MODULE::` (e.g. `extract_fixtures::`).
//!
//! Everything they need is in the repository: the fixture pages and timelines in
//! `tests/fixtures/`, and the test servers and checkers in `common/` (a timeline server, a
//! webhook receiver that fails on purpose, a private desktop session, the page and
//! timeline scorers). Real external programs (dbus-daemon, dunst, Xvfb, systemd-analyze,
//! Python's feedparser, PostgreSQL's initdb and pg_ctl) are looked up and, when missing, the test fails naming the Debian
//! package to install (`scripts/test` installs them all).

mod common;
mod hostile_support;

mod adaptive;
mod browser_fetch;
mod cli_config;
mod dashboard_api;
mod dashboard_browser;
mod demo;
mod diff_model;
mod e2e_timelines;
mod extract_fixtures;
mod extract_generic;
mod extract_robustness;
mod extract_timelines;
mod feeds_e2e;
mod fingerprint;
mod frictions;
mod fuzz_regressions;
mod hostile;
mod noise;
mod notify_crash;
mod notify_desktop;
mod notify_filters;
mod notify_more;
mod notify_nats;
mod notify_presets;
mod notify_webhook;
mod replay_record;
mod service_daemon;
mod service_http;
mod service_units;
mod state_postgres;
mod structure;
mod vendor_feeds;
