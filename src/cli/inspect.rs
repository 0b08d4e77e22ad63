//! The one-shot commands that look at a page, the config or the state: `check`,
//! `config check`, `notify-test`, `status` and `outbox`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{
    load_config, runtime, state_dir, CheckArgs, ConfigArgs, OutboxArgs, StatusArgs, UsageError,
};
use crate::config::{self, Config};
use crate::extract::{self, Page, Strategy};
use crate::store::Store;
use crate::text::plural;

pub(super) fn config_check(file: Option<PathBuf>) -> Result<ExitCode> {
    let cfg = load_config(file)?;
    println!(
        "{}: ok ({} watches, {} notifiers)",
        cfg.path.as_deref().unwrap_or(Path::new("?")).display(),
        cfg.watches.len(),
        cfg.notifiers.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn check(a: CheckArgs) -> Result<ExitCode> {
    let fetched_at = a.at.unwrap_or_else(chrono::Utc::now);
    // A saved file has no fetch time of its own: only `--at` gives one.
    let mut clocked = true;
    let cfg = a.config.clone().map(|p| load_config(Some(p))).transpose()?;
    let fetch_settings = cfg.as_ref().map(|c| c.fetch.clone()).unwrap_or_default();
    let is_url =
        url::Url::parse(&a.target).is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https");
    if !is_url && !Path::new(&a.target).exists() {
        anyhow::bail!(UsageError(format!(
            "{}: no such file (to fetch a page, give its http:// or https:// URL)",
            a.target
        )));
    }
    let mut fetched = None;
    let (body, url, content_type) = if !is_url {
        let body = std::fs::read(&a.target).with_context(|| format!("cannot read {}", a.target))?;
        clocked = a.at.is_some();
        let url = a.url.clone().unwrap_or_else(|| {
            let abs = std::fs::canonicalize(&a.target).unwrap_or_else(|_| PathBuf::from(&a.target));
            format!("file://{}", abs.display())
        });
        (body, url, None)
    } else {
        let rt = runtime()?;
        let fetcher = crate::fetch::Fetcher::new(fetch_settings)?;
        let watched = cfg
            .as_ref()
            .and_then(|c| c.watches.iter().find(|w| w.url == a.target));
        let browser = a.browser || watched.is_some_and(|w| w.fetch == config::FetchMode::Browser);
        let settle = watched.and_then(|w| w.settle.clone());
        let r = if browser {
            rt.block_on(fetcher.fetch_browser(&a.target, settle.as_deref()))
        } else {
            rt.block_on(fetcher.fetch(&a.target, &Default::default()))
        };
        match r.with_context(|| format!("cannot fetch {}", a.target))? {
            crate::fetch::Fetched::Page(p) => {
                let parts = (p.body.clone(), p.final_url.clone(), p.content_type.clone());
                fetched = Some((rt, fetcher, p));
                parts
            }
            crate::fetch::Fetched::NotModified => {
                anyhow::bail!("the server answered 304 to an unconditional GET")
            }
        }
    };
    let page = Page {
        url: &url,
        body: &body,
        content_type: content_type.as_deref(),
        fetched_at,
    };
    let watched = cfg.as_ref().and_then(|c| {
        let wanted = [
            Some(a.target.as_str()),
            a.url.as_deref(),
            Some(url.as_str()),
        ];
        c.watches
            .iter()
            .find(|w| wanted.contains(&Some(w.url.as_str())))
    });
    let strategy = match a.extractor {
        Some(n) if n != "auto" => Strategy::Named(n),
        Some(_) => Strategy::Auto,
        None => watched.map(|w| w.strategy.clone()).unwrap_or_default(),
    };
    // A page that embeds a vendor feed livewatch reads: the feed's posts, as the daemon
    // would follow it.
    let feed = match (&fetched, &strategy) {
        (Some((rt, fetcher, resp)), Strategy::Auto) => {
            rt.block_on(crate::fetch::feed::follow(fetcher, resp, fetched_at))
        }
        _ => None,
    };
    if let Some((f, _)) = &feed {
        eprintln!("{} embed: following its feed {}", f.vendor.name(), f.url);
    }
    let ex = if let Some((f, r)) = feed {
        match r.with_context(|| format!("cannot fetch the feed {}", f.url))? {
            crate::fetch::Fetched::Page(p) => f.extract(&p.body),
            crate::fetch::Fetched::NotModified => {
                anyhow::bail!("the feed answered 304 to an unconditional GET")
            }
        }
    } else if clocked {
        extract::extract(&page, &strategy)
    } else {
        extract::extract_unclocked(&page, &strategy)
    };
    if ex.posts.is_empty() {
        eprintln!("no posts found in {}", a.target);
        for at in &ex.attempts {
            eprintln!("  {}: {}", at.extractor, at.reason);
        }
        return Ok(ExitCode::from(1));
    }
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if a.json {
        for p in &ex.posts {
            writeln!(out, "{}", serde_json::to_string(p)?)?;
        }
    } else {
        writeln!(
            out,
            "{} — {} posts ({})",
            ex.title.as_deref().unwrap_or(&url),
            ex.posts.len(),
            ex.extractor
        )?;
        if let Some(l) = &ex.layout {
            writeln!(out, "layout: {}", layout_line(l))?;
        }
        match &ex.runner_up {
            Some(r) => writeln!(out, "runner-up: {}", layout_line(r))?,
            None if ex.layout.is_some() => writeln!(out, "runner-up: none")?,
            None => {}
        }
        for p in &ex.posts {
            let time = p
                .published
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "(no time)".into());
            writeln!(
                out,
                "\n{time}  {}",
                p.headline.as_deref().unwrap_or("(no headline)")
            )?;
            if let Some(b) = &p.byline {
                writeln!(out, "  by {b}")?;
            }
            let first = p.body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            writeln!(out, "  {}", crate::text::truncate(first, 160))?;
            writeln!(out, "  id: {}", p.id)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// "flat feed (time markers) at div#mainBodyArea, 38 posts, score 21034".
fn layout_line(l: &extract::generic::Layout) -> String {
    format!(
        "{} at {}, {} posts, score {:.0}",
        l.kind,
        crate::text::collapse_ws(&l.at),
        l.posts,
        l.score
    )
}

pub(super) async fn notify_test(a: ConfigArgs) -> Result<ExitCode> {
    let cfg = load_config(a.config)?;
    if cfg.notifiers.is_empty() {
        println!("no notifiers configured");
        return Ok(ExitCode::from(1));
    }
    let fetcher = crate::fetch::Fetcher::new(cfg.fetch.clone())?;
    let now = chrono::Utc::now();
    let mut post = crate::model::Post::new(
        "livewatch-test",
        "This is a test event from livewatch notify-test.",
    );
    post.headline = Some("livewatch test notification".into());
    post.published = Some(now);
    let event = crate::model::Event {
        id: format!("evt_test_{}", now.timestamp_millis()),
        kind: crate::model::EventKind::Test,
        detected_at: now,
        blog: crate::model::BlogRef {
            url: "https://example.org/livewatch-test".into(),
            title: Some("livewatch".into()),
        },
        post: Some(post),
        previous: None,
        diff: None,
        message: None,
    };
    let mut failed = 0;
    for spec in &cfg.notifiers {
        let n = crate::notify::build(spec, fetcher.client());
        let d = crate::notify::Delivery {
            event: &event,
            earlier_remote_id: None,
            attempt: 1,
        };
        match tokio::time::timeout(spec.timeout + Duration::from_secs(5), n.deliver(&d)).await {
            Ok(Ok(_)) => println!("{} ({}): delivered", spec.name, spec.kind.type_name()),
            Ok(Err(e)) => {
                failed += 1;
                println!("{} ({}): FAILED: {e}", spec.name, spec.kind.type_name())
            }
            Err(_) => {
                failed += 1;
                println!(
                    "{} ({}): FAILED: no answer in time",
                    spec.name,
                    spec.kind.type_name()
                )
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The store, and the config when there is one (given, or the default when it exists and
/// no `--state` was given).
fn open_store(config: Option<PathBuf>, state: Option<PathBuf>) -> Result<(Store, Option<Config>)> {
    let cfg = match (&state, config) {
        (Some(_), None) => None,
        (_, Some(path)) => Some(config::load(&path)?),
        (None, None) => {
            let path = config::default_config_path();
            if path.exists() {
                Some(config::load(&path)?)
            } else {
                None
            }
        }
    };
    let dir = state_dir(state.clone(), cfg.as_ref());
    // `--state DIR` names a SQLite state dir; else the config's `state` picks.
    let backend = match (&state, &cfg) {
        (None, Some(c)) => c.state.clone(),
        _ => config::StateBackend::Sqlite,
    };
    if backend == config::StateBackend::Sqlite && !Store::file_in(&dir).exists() {
        anyhow::bail!("no state in {} yet (has livewatch run?)", dir.display());
    }
    Ok((Store::open_state(&backend, &dir)?, cfg))
}

/// Pending deliveries as people read them: `no events pending`, or `3 events pending
/// delivery: 2 to desk, 1 to team (team is not in the config: …)`.
fn pending_text(pending: &[(String, i64)], cfg: Option<&Config>) -> String {
    let total: i64 = pending.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return "no events pending".into();
    }
    let parts: Vec<String> = pending
        .iter()
        .map(|(name, n)| {
            let gone = cfg.is_some_and(|c| !c.notifiers.iter().any(|s| &s.name == name));
            if gone {
                format!("{n} to {name} (no longer in the config: `livewatch outbox drop {name}` forgets them)")
            } else {
                format!("{n} to {name}")
            }
        })
        .collect();
    format!(
        "{} pending delivery: {}",
        plural(total, "event", "events"),
        parts.join(", ")
    )
}

pub(super) fn status(a: StatusArgs) -> Result<ExitCode> {
    let (store, cfg) = open_store(a.config, a.state)?;
    let pending = store.pending_by_blog_notifier()?;
    let now = chrono::Utc::now();
    let ago = |t: Option<chrono::DateTime<chrono::Utc>>| match t {
        None => "never".to_string(),
        Some(t) => {
            let s = (now - t).num_seconds().max(0) as u64;
            format!("{} ago", humantime::format_duration(Duration::from_secs(s)))
        }
    };
    // Names of the watches added through the HTTP API.
    let api_names: std::collections::HashMap<String, String> = store
        .api_watches()?
        .into_iter()
        .filter_map(|w| Some((w.url, w.spec.get("name")?.as_str()?.to_string())))
        .collect();
    let mut out = std::io::stdout().lock();
    for b in store.blogs()? {
        let (posts, removed) = store.post_counts(b.id)?;
        let pend = pending.get(&b.id).map(Vec::as_slice).unwrap_or_default();
        let p: i64 = pend.iter().map(|(_, n)| n).sum();
        let name = cfg
            .as_ref()
            .and_then(|c| c.watches.iter().find(|w| w.url == b.url))
            .and_then(|w| w.name.clone())
            .or_else(|| api_names.get(&b.url).cloned());
        // Instances sharing a PostgreSQL state: which one polls the blog.
        let lease = match store.is_postgres() {
            true => store.lease_of(&b.url)?,
            false => None,
        };
        let lease_until = |until: i64| chrono::DateTime::from_timestamp_millis(until);
        if a.json {
            let lease = lease.as_ref().map(|(instance, until)| {
                serde_json::json!({"instance": instance, "until": lease_until(*until)})
            });
            let v = serde_json::json!({
                "url": b.url, "name": name, "title": b.title, "status": b.status, "retired": b.retired,
                "polls": b.polls, "failures": b.failures, "last_error": b.last_error,
                "last_poll_at": b.last_poll_at, "last_success_at": b.last_success_at,
                "last_new_post_at": b.last_new_post_at, "posts": posts, "removed": removed,
                "pending_events": p,
                "pending_by_notifier": pend.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                "schedule": b.sched, "lease": lease,
            });
            writeln!(out, "{v}")?;
            continue;
        }
        writeln!(
            out,
            "{}",
            name.as_deref().or(b.title.as_deref()).unwrap_or(&b.url)
        )?;
        if name.is_some() {
            if let Some(t) = &b.title {
                writeln!(out, "  title:      {}", crate::text::truncate(t, 100))?;
            }
        }
        writeln!(out, "  url:        {}", b.url)?;
        writeln!(
            out,
            "  status:     {}{}",
            if b.retired { "retired; " } else { "" },
            b.status
        )?;
        let polls = match (b.polls, b.failures) {
            (_, 0) => format!("{}, 0 failing in a row", plural(b.polls, "poll", "polls")),
            (0, f) => format!(
                "no poll has succeeded yet; {} in a row",
                plural(f.into(), "failure", "failures")
            ),
            (n, f) => format!(
                "{} succeeded, the last {} failed",
                plural(n, "poll", "polls"),
                plural(f.into(), "one", "ones")
            ),
        };
        writeln!(out, "  last poll:  {} ({polls})", ago(b.last_poll_at))?;
        writeln!(out, "  last new:   {}", ago(b.last_new_post_at))?;
        writeln!(
            out,
            "  posts:      {posts} seen, {removed} removed; {}",
            pending_text(pend, cfg.as_ref())
        )?;
        if let Some(r) = &b.sched.reason {
            writeln!(out, "  interval:   {r}")?;
        }
        if let Some((instance, until)) = &lease {
            let left = lease_until(*until).map_or(0, |t| (t - now).num_seconds());
            writeln!(
                out,
                "  polled by:  {instance} (lease {})",
                match left {
                    l if l >= 0 => format!("ends in {l}s unless renewed"),
                    l => format!("expired {}s ago: another instance takes it", -l),
                }
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn outbox(a: OutboxArgs) -> Result<ExitCode> {
    let (store, cfg) = open_store(a.config, a.state)?;
    let mut out = std::io::stdout().lock();
    match (a.action.as_deref(), a.notifier.as_deref()) {
        (Some("retry"), None) => {
            let n = store.retry_dead(chrono::Utc::now())?;
            writeln!(out, "{n} dead-lettered deliveries queued again")?;
        }
        (Some("drop"), Some(name)) => {
            let n = store.drop_undelivered(name)?;
            writeln!(
                out,
                "{} to {name} dropped (the events stay in the history and feeds)",
                plural(n as i64, "undelivered event", "undelivered events")
            )?;
        }
        (Some("drop"), None) => anyhow::bail!(UsageError(
            "outbox drop needs the notifier's name: livewatch outbox drop NOTIFIER".into()
        )),
        (Some(action), Some(_)) => anyhow::bail!(UsageError(format!(
            "outbox {action} takes no notifier name"
        ))),
        (Some(_), None) | (None, Some(_)) => anyhow::bail!(UsageError(
            "use `livewatch outbox`, `livewatch outbox retry` or `livewatch outbox drop NOTIFIER`"
                .into()
        )),
        (None, None) => {
            let rows = store.outbox(None)?;
            if rows.is_empty() {
                writeln!(out, "outbox empty: nothing pending, nothing dead")?;
            }
            for p in rows {
                let gone = cfg
                    .as_ref()
                    .is_some_and(|c| !c.notifiers.iter().any(|s| s.name == p.notifier));
                writeln!(
                    out,
                    "{:<7} {:<12} {} {:<10} attempts={} {}{}{}",
                    p.state,
                    p.notifier,
                    p.event.id,
                    p.event.kind.as_str(),
                    p.attempts,
                    crate::text::truncate(
                        p.event.post.as_ref().map(|p| p.title()).unwrap_or(""),
                        60
                    ),
                    p.last_error
                        .map(|e| format!("  last error: {e}"))
                        .unwrap_or_default(),
                    if gone {
                        "  (notifier no longer in the config: `livewatch outbox drop NAME`)"
                            .replace("NAME", &p.notifier)
                    } else {
                        String::new()
                    }
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
