//! livewatch follows news live blogs post by post.
//!
//! # Layout
//!
//! Data flows one way, one module per stage:
//!
//! - [`fetch`]: HTTP with caps, conditional GET, per-host limits, backoff.
//! - [`extract`]: page bytes → posts (pure; JSON-LD, microdata, site profiles, generic, CSS).
//! - [`diff`]: stored posts + polled posts → changes (pure; new, edit, correction, removed).
//! - [`store`]: one SQLite file: blogs, posts, revisions, the event outbox.
//! - [`notify`]: notifiers that deliver one event each (stdout, webhook, desktop, presets),
//!   and the routing filters that pick a notifier's events.
//! - [`daemon`]: the scheduler wiring the stages together, and the delivery workers.
//!
//! Around them: [`config`] (TOML config and its errors), [`model`] (Post, Event),
//! [`cli`] (the commands), [`control`] (the daemon's control loop: signals, SIGHUP reload,
//! watchdog, sd-notify), [`telemetry`] (logging), [`metrics`] (counters behind `/metrics`),
//! [`server`] (HTTP: health, feeds, the event stream), [`replay`] (record a blog's
//! responses, replay them through the pipeline), [`demo`] (a changing live blog on loopback),
//! [`text`] (string helpers; HTML to text is [`extract::html_text`]).

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod demo;
pub mod diff;
pub mod extract;
pub mod fetch;
pub mod fingerprint;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod replay;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod text;
