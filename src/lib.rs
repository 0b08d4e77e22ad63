//! livewatch follows news live blogs post by post.
//!
//! # Layout
//!
//! Data flows one way, **fetch → extract → diff → store → notify**, one module per stage,
//! with [`daemon`] wiring them. Every module, with its job:
//!
//! - [`fetch`]: HTTP with a body cap, conditional GET, per-host limits and slowdowns, errors
//!   by class.
//! - [`fingerprint`]: the content fingerprint of a page in one pass over the bytes: equal
//!   fingerprints, equal posts, so the page is not parsed.
//! - [`extract`]: page bytes → posts (pure). Its parts:
//!   - [`extract::decode`]: bytes → text (charset); [`extract::depth`]: a bound on nesting
//!     before the parser; [`extract::html_text`]: HTML → plain text; [`extract::time`]: time
//!     stamps as blogs write them → UTC; [`extract::select`]: the built-in selectors,
//!     compiled once.
//!   - [`extract::jsonld`], [`extract::microdata`]: schema.org `LiveBlogPosting`.
//!   - [`extract::profiles`]: site profiles as data, one file each
//!     ([`extract::profiles::amp_live_list`], [`extract::profiles::br24`],
//!     [`extract::profiles::cbsnews`], [`extract::profiles::cnbc`],
//!     [`extract::profiles::cnn`], [`extract::profiles::guardian`],
//!     [`extract::profiles::ndtv`], [`extract::profiles::reach`],
//!     [`extract::profiles::repubblica`]).
//!   - [`extract::generic`]: the layout analyser for unknown sites (repeated blocks), with
//!     [`extract::flat`] (flat feeds), [`extract::heading`] (time-prefixed headings) and
//!     [`extract::layout`] (a candidate layout and its score).
//!   - [`extract::css`]: the user's own selectors.
//! - [`diff`]: stored posts + polled posts → changes (pure; new, edit, correction,
//!   removed), with [`diff::normalize`] (what an edit is judged on) and
//!   [`diff::correction`] (which paragraphs are corrections).
//! - [`store`]: one SQLite file: blogs, posts and revisions, the event outbox, feed queries.
//! - [`notify`]: notifiers that deliver one event each: [`notify::stdout`],
//!   [`notify::webhook`], [`notify::desktop`], the chat presets [`notify::slack`],
//!   [`notify::discord`], [`notify::telegram`], [`notify::ntfy`], and [`notify::email`],
//!   [`notify::mqtt`], [`notify::command`]; shared by them: [`notify::http`] (one request
//!   with retries classified), [`notify::message`] (an event's human text),
//!   [`notify::template`] (user templates); [`notify::route`] (the filters that pick a
//!   notifier's events).
//! - [`daemon`]: the running parts: [`daemon::poll`] (a blog's poll loop: the I/O of a
//!   poll), [`daemon::outcome`] (the pure step of a poll: what was seen → what to write
//!   and tell), [`daemon::pace`] (adaptive intervals, closing, retiring),
//!   [`daemon::schedule`] (jitter, and the one `Backoff` of polls and deliveries),
//!   [`daemon::delivery`] (outbox → notifier workers, retries, bursts),
//!   [`daemon::supervisor`] (systemd notify and watchdog).
//!
//! Around them: [`config`] (the TOML config, validated, and its errors), [`model`] (Post,
//! Event), [`text`] (small string helpers), [`cli`] (the commands), [`control`] (the
//! daemon's control loop: signals, SIGHUP reload, watchdog, sd-notify), [`telemetry`]
//! (logging),
//! [`metrics`] (counters behind `/metrics`), [`server`] (HTTP: [`server::health`],
//! [`server::feeds`] with the event stream), [`replay`] (record a blog's responses, replay
//! them through the pipeline), [`demo`] (a changing live blog on loopback).

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
