//! `record` (save a blog's distinct responses) and `replay` (run the pipeline over them).

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::{duration_arg, interval_arg, load_config, RecordArgs, ReplayArgs, UsageError};
use crate::extract::Strategy;

pub(super) async fn record(a: RecordArgs) -> Result<ExitCode> {
    use tokio::signal::unix::{signal, SignalKind};
    let every = interval_arg("--every", &a.every)?;
    let duration = a
        .duration
        .as_deref()
        .map(|d| duration_arg("--for", d))
        .transpose()?;
    if url::Url::parse(&a.url).is_err() {
        anyhow::bail!(UsageError(format!("{:?} is not a URL", a.url)));
    }
    let opts = crate::replay::RecordOptions {
        url: a.url.clone(),
        dir: a.dir.clone(),
        every,
        duration,
        fetch: a
            .config
            .clone()
            .map(|p| load_config(Some(p)).map(|c| c.fetch))
            .transpose()?
            .unwrap_or_default(),
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = stop_tx.send(true);
    });
    let summary = crate::replay::record(&opts, stop_rx, |p| match (&p.file, &p.error) {
        (Some(f), _) => tracing::info!(at = %p.at, "saved response {f}"),
        (None, Some(e)) => tracing::warn!(at = %p.at, "poll failed: {e}"),
        (None, None) => tracing::debug!(at = %p.at, status = ?p.status, "unchanged"),
    })
    .await?;
    eprintln!(
        "{}: {} polls, {} distinct responses saved, {} failed",
        a.dir.display(),
        summary.polls,
        summary.saved,
        summary.failed
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn replay(a: ReplayArgs) -> Result<ExitCode> {
    use std::io::Write;
    let opts = crate::replay::ReplayOptions {
        dir: a.dir.clone(),
        url: a.url,
        name: a.name,
        strategy: match a.extractor {
            Some(n) if n != "auto" => Strategy::Named(n),
            _ => Strategy::Auto,
        },
        problem_after: 3,
        ..Default::default()
    };
    let mut out = std::io::stdout().lock();
    let mut write_err = None;
    let n = crate::replay::replay(&opts, |e| {
        let line = if a.json {
            serde_json::to_string(e).unwrap_or_default()
        } else {
            crate::notify::stdout::human(e)
        };
        if let Err(err) = writeln!(out, "{line}") {
            write_err.get_or_insert(err);
        }
    })
    .await?;
    if let Some(e) = write_err {
        return Err(e).context("cannot write to stdout");
    }
    tracing::info!(events = n, "replay done");
    Ok(ExitCode::SUCCESS)
}
