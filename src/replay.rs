//! `livewatch record` and `livewatch replay`: save what a blog served over time, then run
//! the daemon's own pipeline over the saved responses offline.
//!
//! A recording is a directory:
//!
//! - `0001.html`, `0002.html`, …: each distinct response body (a body identical to the
//!   previous one is not saved again), as received after decompression;
//! - `0001.json`, …: its meta `{url, final_url, fetched_at, status, headers}`;
//! - `polls.jsonl`: every poll in order, one line each: `{"at", "status", "file"}` where
//!   `file` names the saved response (`"0003"`) or is null for a 304 or a body identical
//!   to the previous one, and `{"at", "error"}` for a failed fetch.
//!
//! Replay feeds each poll to [`BlogTask::handle`], the same code the daemon runs after a
//! fetch, with a fresh store in a temporary directory and the recorded fetch time as the
//! poll time (so "5 min ago" resolves as it did). Unchanged polls matter: a removal is
//! confirmed by a second poll. Event ids derive from the blog URL and the post, so replay
//! gives the live ids when the blog URL is the recorded one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::{FetchSettings, Watch};
use crate::daemon::poll::BlogTask;
use crate::daemon::Shared;
use crate::extract::Strategy;
use crate::fetch::{FetchError, Fetched, Fetcher, Response, Validators};
use crate::model::Event;
use crate::store::{Store, StoreError};

/// The poll log's file name inside a recording.
pub const POLLS_FILE: &str = "polls.jsonl";

/// Record and replay errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{0} already holds a recording; record into a new or empty directory")]
    NotEmpty(PathBuf),
    #[error("{0} holds no recording (no {POLLS_FILE} and no NNNN.json files)")]
    NoRecording(PathBuf),
    #[error("{path}: poll {line} names {file}, which is missing or unreadable")]
    MissingResponse {
        path: PathBuf,
        line: usize,
        file: String,
    },
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RecordingError + '_ {
    move |source| RecordingError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The meta file saved beside each response body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResponseMeta {
    /// The URL that was polled.
    pub url: String,
    /// The URL after redirects.
    pub final_url: String,
    pub fetched_at: DateTime<Utc>,
    pub status: u16,
    /// Response headers (lower-case names; repeated headers joined with ", ").
    pub headers: BTreeMap<String, String>,
}

/// One line of `polls.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PollLine {
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The saved response, when this poll brought a new body.
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `record` does.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    pub url: String,
    pub dir: PathBuf,
    pub every: Duration,
    /// Stop after this long (else only on `stop`).
    pub duration: Option<Duration>,
    pub fetch: FetchSettings,
}

/// What a recording session saved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecordSummary {
    pub polls: usize,
    pub saved: usize,
    pub failed: usize,
}

/// Poll `opts.url` every `opts.every` until `opts.duration` passes or `stop` turns true,
/// saving each distinct body. Conditional GET and the body cap come from [`Fetcher`].
pub async fn record(
    opts: &RecordOptions,
    mut stop: watch::Receiver<bool>,
    mut progress: impl FnMut(&PollLine),
) -> Result<RecordSummary, RecordingError> {
    std::fs::create_dir_all(&opts.dir).map_err(io_err(&opts.dir))?;
    let polls_path = opts.dir.join(POLLS_FILE);
    if polls_path.exists() {
        return Err(RecordingError::NotEmpty(opts.dir.clone()));
    }
    let mut polls = std::fs::File::create(&polls_path).map_err(io_err(&polls_path))?;
    let fetcher = Fetcher::new(opts.fetch.clone())?;
    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let mut validators = Validators::default();
    let mut last_hash: Option<[u8; 32]> = None;
    let mut summary = RecordSummary::default();
    loop {
        let fetched = fetcher.fetch_with_headers(&opts.url, &validators).await;
        let at = Utc::now();
        let line = match fetched {
            Ok((Fetched::NotModified, _)) => PollLine {
                at,
                status: Some(304),
                file: None,
                error: None,
            },
            Ok((Fetched::Page(resp), headers)) => {
                validators = resp.validators.clone();
                let file = if last_hash == Some(resp.hash) {
                    None
                } else {
                    last_hash = Some(resp.hash);
                    summary.saved += 1;
                    let name = format!("{:04}", summary.saved);
                    save_response(&opts.dir, &name, &opts.url, at, &resp, &headers)?;
                    Some(name)
                };
                PollLine {
                    at,
                    status: Some(200),
                    file,
                    error: None,
                }
            }
            Err(e) => {
                summary.failed += 1;
                PollLine {
                    at,
                    status: None,
                    file: None,
                    error: Some(e.detail()),
                }
            }
        };
        summary.polls += 1;
        let json = serde_json::to_string(&line).map_err(|source| RecordingError::Json {
            path: polls_path.clone(),
            source,
        })?;
        writeln!(polls, "{json}")
            .and_then(|_| polls.flush())
            .map_err(io_err(&polls_path))?;
        progress(&line);
        let mut wake = tokio::time::Instant::now() + opts.every;
        if let Some(d) = deadline {
            if tokio::time::Instant::now() >= d {
                break;
            }
            wake = wake.min(d);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = crate::daemon::stopped(&mut stop) => break,
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break;
        }
    }
    Ok(summary)
}

fn save_response(
    dir: &Path,
    name: &str,
    url: &str,
    at: DateTime<Utc>,
    resp: &Response,
    headers: &reqwest::header::HeaderMap,
) -> Result<(), RecordingError> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in headers {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        map.entry(k.as_str().to_string())
            .and_modify(|cur| {
                cur.push_str(", ");
                cur.push_str(&v);
            })
            .or_insert(v);
    }
    let meta = ResponseMeta {
        url: url.to_string(),
        final_url: resp.final_url.clone(),
        fetched_at: at,
        status: 200,
        headers: map,
    };
    let body_path = dir.join(format!("{name}.html"));
    std::fs::write(&body_path, &resp.body).map_err(io_err(&body_path))?;
    let meta_path = dir.join(format!("{name}.json"));
    let json = serde_json::to_string_pretty(&meta).map_err(|source| RecordingError::Json {
        path: meta_path.clone(),
        source,
    })?;
    std::fs::write(&meta_path, json).map_err(io_err(&meta_path))
}

/// Read a saved response back as the fetcher would have returned it.
fn load_response(dir: &Path, name: &str) -> Result<(ResponseMeta, Response), RecordingError> {
    let meta_path = dir.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&meta_path).map_err(io_err(&meta_path))?;
    let meta: ResponseMeta =
        serde_json::from_str(&text).map_err(|source| RecordingError::Json {
            path: meta_path.clone(),
            source,
        })?;
    let body_path = dir.join(format!("{name}.html"));
    let body = std::fs::read(&body_path).map_err(io_err(&body_path))?;
    let header = |h: &str| meta.headers.get(h).cloned();
    let resp = Response {
        final_url: meta.final_url.clone(),
        len: body.len(),
        hash: crate::fetch::body_hash(&body),
        content_type: header("content-type"),
        validators: Validators {
            etag: header("etag"),
            last_modified: header("last-modified"),
        },
        body,
    };
    Ok((meta, resp))
}

/// The polls of a recording: `polls.jsonl`, or (for a hand-made recording without one)
/// each `NNNN.json` in order, each followed by one unchanged poll so removals confirm.
pub fn read_polls(dir: &Path) -> Result<Vec<PollLine>, RecordingError> {
    let polls_path = dir.join(POLLS_FILE);
    if polls_path.exists() {
        let text = std::fs::read_to_string(&polls_path).map_err(io_err(&polls_path))?;
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let p: PollLine =
                serde_json::from_str(line).map_err(|source| RecordingError::Json {
                    path: polls_path.clone(),
                    source,
                })?;
            out.push(p);
        }
        return Ok(out);
    }
    let rd = std::fs::read_dir(dir).map_err(io_err(dir))?;
    let mut names: Vec<String> = rd
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let (meta, _) = load_response(dir, &n)?;
        out.push(PollLine {
            at: meta.fetched_at,
            status: Some(meta.status),
            file: Some(n),
            error: None,
        });
        out.push(PollLine {
            at: meta.fetched_at,
            status: Some(304),
            file: None,
            error: None,
        });
    }
    Ok(out)
}

/// What `replay` does.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    pub dir: PathBuf,
    /// The blog URL for events (default: the recorded URL, which gives the live ids).
    pub url: Option<String>,
    /// The watch's name, as in the config.
    pub name: Option<String>,
    pub strategy: Strategy,
    /// Polls that fail in a row before a `problem` event (the config's `problem_after`).
    pub problem_after: u32,
    /// Keep the replay's state database in this directory, to inspect it (`livewatch
    /// status` on it shows the blog as the replay left it). Default: a temporary one.
    pub state: Option<PathBuf>,
}

/// Run the recording through the daemon's pipeline; `emit` gets each event in commit
/// order. Returns the number of events.
pub async fn replay(
    opts: &ReplayOptions,
    mut emit: impl FnMut(&Event),
) -> Result<usize, RecordingError> {
    let dir = &opts.dir;
    let polls = read_polls(dir)?;
    let first_file = polls.iter().find_map(|p| p.file.clone());
    let url = match (&opts.url, &first_file) {
        (Some(u), _) => u.clone(),
        (None, Some(f)) => load_response(dir, f)?.0.url,
        (None, None) => return Err(RecordingError::NoRecording(dir.clone())),
    };
    let temp = tempfile::tempdir().map_err(io_err(&std::env::temp_dir()))?;
    let store = Store::open(opts.state.as_deref().unwrap_or(temp.path()))?;
    let shared = Arc::new(Shared::standalone(
        store.clone(),
        // Never used to fetch: every response comes from the recording.
        Fetcher::new(FetchSettings::default())?,
        opts.problem_after.max(1),
    ));
    let mut w = Watch::new(url.clone());
    w.name = opts.name.clone();
    w.strategy = opts.strategy.clone();
    let task = BlogTask::new(shared, w, Arc::new(Vec::new()));
    let polls_path = dir.join(POLLS_FILE);
    let mut last_file: Option<String> = None;
    let mut seq = 0;
    let mut count = 0;
    for (i, poll) in polls.iter().enumerate() {
        let fetched = if let Some(err) = &poll.error {
            Err(FetchError::Other(err.clone()))
        } else {
            if poll.file.is_some() {
                last_file = poll.file.clone();
            }
            let not_modified = poll.file.is_none() && poll.status == Some(304);
            match &last_file {
                Some(f) if !not_modified => {
                    // A new body, or one identical to the previous (handed over again, so
                    // the daemon's own "body unchanged" check sees it).
                    let (_, resp) =
                        load_response(dir, f).map_err(|_| RecordingError::MissingResponse {
                            path: polls_path.clone(),
                            line: i + 1,
                            file: f.clone(),
                        })?;
                    Ok(Fetched::Page(resp))
                }
                _ => Ok(Fetched::NotModified),
            }
        };
        task.handle(fetched, poll.at).await;
        let after = seq;
        let new = store
            .call(move |s| s.events_after(after, 1_000_000))
            .await?;
        for (s, e) in new {
            seq = s;
            count += 1;
            emit(&e);
        }
    }
    // Checks that changed only the time are held back by the task: write them too.
    task.flush().await;
    Ok(count)
}
