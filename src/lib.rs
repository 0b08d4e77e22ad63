//! livewatch follows news live blogs post by post.
//!
//! # Layout
//!
//! Data flows one way, **fetch → extract → diff → store → notify**, one module per stage,
//! with [`daemon`] wiring them. Every module, with its job:
//!
//! - [`fetch`]: HTTP with a body cap, conditional GET, per-host limits and slowdowns, errors
//!   by class; [`fetch::feed`]: following the vendor feed a page embeds; [`fetch::browser`]:
//!   the headless-Chromium fetcher (`fetch = "browser"`).
//! - [`markup`]: byte-level HTML scanning (tags, raw text, comments) without a DOM, and the
//!   page without its JavaScript and CSS for the lean parse.
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
//!   - [`extract::vendor`]: what the HTML does not carry: [`extract::vendor::markers`]
//!     (vendor embeds and client-side rendering, named when a page is empty) and the feeds
//!     read instead, [`extract::vendor::wordpress`] (WordPress Liveblog) and
//!     [`extract::vendor::sourcefabric`] (Sourcefabric Liveblog).
//! - [`diff`]: stored posts + polled posts → changes (pure; new, edit, correction,
//!   removed), with [`diff::normalize`] (what an edit is judged on) and
//!   [`diff::correction`] (which paragraphs are corrections).
//! - [`store`]: one SQLite file or a PostgreSQL database (`state`), by concern:
//!   [`store::schema`] (tables, migrations, the schema version), [`store::db`] (the one
//!   connection API of both backends), [`store::value`] (the values, rows and `params!`
//!   both share), [`store::pg`] (the PostgreSQL pool), [`store::leases`] (instances and
//!   blog leases over PostgreSQL, shared host slowdowns), [`store::testpg`] (a private
//!   PostgreSQL server for the tests), [`store::blogs`] (a blog's state, its typed status and pace),
//!   [`store::posts`] (posts and their revisions), [`store::outbox`] (events and their
//!   deliveries, typed delivery states), [`store::feeds`] (what feeds and `/blogs` read),
//!   [`store::watches`] (watches added through the API, a post's history).
//! - [`notify`]: notifiers that deliver one event each: [`notify::stdout`],
//!   [`notify::webhook`], [`notify::desktop`], the chat presets [`notify::slack`],
//!   [`notify::discord`], [`notify::telegram`], [`notify::ntfy`], and [`notify::email`],
//!   [`notify::mqtt`], [`notify::nats`] (JetStream), [`notify::command`]; shared by them: [`notify::spec`] (a notifier's
//!   validated settings), [`notify::route`] (the filters that pick a notifier's events),
//!   [`notify::http`] (one request with retries classified), [`notify::message`] (an
//!   event's human text), [`notify::template`] (user templates).
//! - [`daemon`]: the running parts: [`daemon::poll`] (a blog's poll loop: the I/O of a
//!   poll; [`daemon::poll::feed`]: which source it fetches, page or vendor feed),
//!   [`daemon::outcome`] (the pure step of a poll: what was seen → what to write and tell),
//!   [`daemon::pace`] (adaptive intervals, closing, retiring), [`daemon::parsing`] (one
//!   page parsed per core, and polls that will parse held back while bodies queue),
//!   [`daemon::schedule`] (jitter, and the one `Backoff` of polls and deliveries),
//!   [`daemon::delivery`] (outbox
//!   → notifier workers, retries, bursts), [`daemon::watches`] (watches added through the
//!   API, run beside the config's), [`daemon::leases`] (with PostgreSQL: which blogs this
//!   instance holds, claimed, renewed and released), [`daemon::supervisor`] (systemd notify and watchdog).
//!
//! Around them:
//!
//! - [`config`]: the TOML config: [`config::file`] (the file as written),
//!   [`config::validate`] (checking it, every error with its place), [`config::model`] (the
//!   settings the daemon runs on), [`config::error`] (how errors read), [`config::units`]
//!   (durations, sizes), [`config::env`] (`${VAR}`), [`config::paths`] (XDG places).
//! - [`cli`]: the arguments and dispatch; the commands in [`cli::foreground`] (`watch`,
//!   `demo`), [`cli::inspect`] (`check`, `config check`, `status`, `outbox`, …) and
//!   [`cli::recording`] (`record`, `replay`).
//! - [`control`]: the daemon's control loop: signals, SIGHUP reload, watchdog, sd-notify.
//! - [`server`]: HTTP under `listen`: [`server::health`] (`/healthz`, `/metrics`),
//!   [`server::feeds`] (Atom, JSON Feed, `/blogs`, the `/events` stream), [`server::api`]
//!   (the watch API), [`server::dashboard`] (the page), [`server::state`] (a blog's state
//!   for people).
//! - [`model`] (Post, Event), [`text`] (small string helpers), [`telemetry`] (logging),
//!   [`metrics`] (counters behind `/metrics`), [`replay`] (record a blog's responses,
//!   replay them through the pipeline), [`demo`] (a changing live blog on loopback).

#![warn(unreachable_pub)]

pub mod cli;
pub mod config;
pub(crate) mod control;
pub mod daemon;
pub(crate) mod demo;
pub mod diff;
pub mod extract;
pub mod fetch;
pub mod fingerprint;
pub mod markup;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod replay;
pub(crate) mod server;
pub mod store;
pub(crate) mod telemetry;
pub(crate) mod text;
