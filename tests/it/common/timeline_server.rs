//! A live blog over real HTTP: serves the timelines of `tests/fixtures/timelines/<name>/`
//! (one `NN.html` per step, listed in `manifest.json`) at `/<name>/`, the step chosen by
//! the test, the way a news site's server answers:
//!
//! - the current step's HTML as `text/html; charset=utf-8`, with a strong `ETag` (the
//!   first 32 hex digits of the SHA-256 of the bytes; `-gz` appended for the gzip form)
//!   and a `Last-Modified` per step (2024-01-01T00:00:00Z + 5 min × step; a step with the
//!   same bytes as the one before keeps its date), `Cache-Control: no-cache` and
//!   `Vary: Accept-Encoding`;
//! - `304 Not Modified` for a matching `If-None-Match` (either form of the tag, or `*`),
//!   or, without one, an `If-Modified-Since` at or after `Last-Modified`;
//! - gzip when `Accept-Encoding` allows it (`gzip` or `*` with q > 0); HEAD works;
//!   `/<name>` redirects to `/<name>/`.
//!
//! `POST /_step/<name>/<n>` moves to step n, `GET /_step/<name>` reads it, `GET /_health`
//! lists the timelines. Every request is logged (ts, method, path, status, bytes, step
//! and the conditional/encoding request headers), in memory and as JSON lines in a file.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::http_server::{answer, answer_json, now_ts, serve_state, After, Incoming, Listener};
use super::{manifest, read_file, timeline_dir, wait_for};

/// 2024-01-01T00:00:00Z, the date of step 0.
const EPOCH: i64 = 1_704_067_200;
const LOGGED_HEADERS: [&str; 4] = [
    "if-none-match",
    "if-modified-since",
    "accept-encoding",
    "user-agent",
];

struct Step {
    file: String,
    body: Vec<u8>,
    gz: Vec<u8>,
    etag: String,
    etag_gz: String,
    mtime: i64,
}

struct Timeline {
    steps: Vec<Step>,
    step: usize,
}

impl Timeline {
    fn load(name: &str) -> Timeline {
        let dir = timeline_dir(name);
        let m = manifest(name);
        let files = m["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("{}/manifest.json: no steps", dir.display()));
        let mut steps: Vec<Step> = Vec::new();
        for (i, st) in files.iter().enumerate() {
            let file = st["file"]
                .as_str()
                .unwrap_or_else(|| panic!("{}/manifest.json: step {i} has no file", dir.display()));
            let body = read_file(&dir.join(file));
            let hash = hex::encode(Sha256::digest(&body));
            let mut mtime = EPOCH + 300 * i as i64;
            if let Some(prev) = steps.last() {
                // An unchanged page keeps its validators.
                if prev.body == body {
                    mtime = prev.mtime;
                }
            }
            steps.push(Step {
                file: file.to_string(),
                gz: gzip(&body),
                etag: format!("\"{}\"", &hash[..32]),
                etag_gz: format!("\"{}-gz\"", &hash[..32]),
                body,
                mtime,
            });
        }
        Timeline { steps, step: 0 }
    }

    fn info(&self, name: &str) -> Value {
        json!({
            "name": name,
            "step": self.step,
            "steps": self.steps.len(),
            "file": self.steps[self.step].file,
        })
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

/// Whether `Accept-Encoding` allows gzip.
fn gzip_ok(accept: Option<&str>) -> bool {
    accept.unwrap_or("").split(',').any(|part| {
        let mut bits = part.split(';').map(str::trim);
        let coding = bits.next().unwrap_or("").to_ascii_lowercase();
        if coding != "gzip" && coding != "*" {
            return false;
        }
        let q = bits
            .find_map(|b| b.strip_prefix("q="))
            .map_or(1.0, |q| q.parse::<f64>().unwrap_or(0.0));
        q > 0.0
    })
}

fn http_date(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

#[derive(Default)]
struct State {
    timelines: HashMap<String, Timeline>,
    log: Vec<Value>,
    log_file: Option<std::fs::File>,
}

impl State {
    fn record(&mut self, req: &Incoming, status: u16, bytes: usize, step: Option<usize>) {
        let headers: serde_json::Map<String, Value> = LOGGED_HEADERS
            .iter()
            .filter_map(|h| Some((h.to_string(), Value::from(req.header(h)?))))
            .collect();
        let mut rec = json!({
            "ts": now_ts(),
            "method": req.method,
            "path": req.target,
            "status": status,
            "bytes": bytes,
            "headers": headers,
        });
        if let Some(n) = step {
            rec["step"] = n.into();
        }
        if let Some(f) = &mut self.log_file {
            let _ = writeln!(f, "{rec}");
        }
        self.log.push(rec);
    }
}

/// The timeline server: in this process, on a free port of 127.0.0.1, until dropped.
pub struct TimelineServer {
    pub port: u16,
    /// The request log, as JSON lines.
    pub log: PathBuf,
    state: Arc<Mutex<State>>,
    _listener: Listener,
}

impl TimelineServer {
    /// Serve `timelines` (names of `tests/fixtures/timelines/` folders), each at step 0;
    /// the request log goes to `dir/timeline-requests.jsonl`.
    pub fn start(dir: &Path, timelines: &[&str]) -> TimelineServer {
        let log = dir.join("timeline-requests.jsonl");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        let state = Arc::new(Mutex::new(State {
            timelines: timelines
                .iter()
                .map(|t| (t.to_string(), Timeline::load(t)))
                .collect(),
            log: Vec::new(),
            log_file: Some(log_file),
        }));
        let listener = serve_state(&state, handle);
        TimelineServer {
            port: listener.port,
            log,
            state,
            _listener: listener,
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}/", self.port)
    }

    /// Move timeline `name` to step `n` (over HTTP, as a test script would).
    pub fn set_step(&self, name: &str, n: usize) {
        let path = format!("/_step/{name}/{n}");
        let r = super::http::request(self.port, "POST", &path, &[], "")
            .expect("timeline server answers");
        assert_eq!(r.status, 200, "POST {path}: {}", r.body);
    }

    /// Requests to `/<name>/` logged so far.
    pub fn requests(&self, name: &str) -> Vec<Value> {
        let path = format!("/{name}/");
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|r| r["path"] == path.as_str() && r["method"] == "GET")
            .cloned()
            .collect()
    }

    /// Polls of `/<name>/` answered at step `n`.
    pub fn polls_at(&self, name: &str, n: usize) -> usize {
        self.requests(name)
            .iter()
            .filter(|r| r["step"] == n)
            .count()
    }

    /// Move to step `n` and wait until the watcher polled it `polls` times.
    pub fn advance(&self, name: &str, n: usize, polls: usize) {
        self.advance_to(name, n, polls);
    }

    /// Move to step `n` and wait for `polls` more polls at that step than before (for a
    /// step served again).
    pub fn advance_more(&self, name: &str, n: usize, polls: usize) {
        self.advance_to(name, n, self.polls_at(name, n) + polls);
    }

    fn advance_to(&self, name: &str, n: usize, total: usize) {
        self.set_step(name, n);
        let ok = wait_for(Duration::from_secs(30), || self.polls_at(name, n) >= total);
        assert!(
            ok,
            "{name} step {n}: the watcher did not reach {total} polls"
        );
    }

    /// How many steps timeline `name` has.
    pub fn steps(name: &str) -> usize {
        manifest(name)["steps"].as_array().map_or(0, Vec::len)
    }
}

fn handle(state: &Mutex<State>, req: Incoming, conn: &mut TcpStream) -> After {
    let parts: Vec<String> = req
        .path()
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    let mut st = state.lock().unwrap();
    match (m, parts.as_slice()) {
        ("GET" | "HEAD", ["_health"]) if req.path() == "/_health" => {
            let tl: serde_json::Map<String, Value> = st
                .timelines
                .iter()
                .map(|(n, t)| (n.clone(), t.info(n)))
                .collect();
            st.record(&req, 200, 0, None);
            drop(st);
            answer_json(conn, m, 200, &json!({"ok": true, "timelines": tl}))
        }
        ("GET" | "HEAD", ["_step", name]) => {
            let (status, v) = match st.timelines.get(*name) {
                Some(t) => (200, t.info(name)),
                None => (404, json!({"error": "no such timeline"})),
            };
            st.record(&req, status, 0, None);
            drop(st);
            answer_json(conn, m, status, &v)
        }
        ("POST", ["_step", name, n]) if st.timelines.contains_key(*name) => {
            let t = st.timelines.get_mut(*name).unwrap();
            let (status, v) = match n.parse::<usize>() {
                Err(_) => (400, json!({"error": "step must be an integer"})),
                Ok(n) if n >= t.steps.len() => (
                    400,
                    json!({"error": format!("step out of range 0..{}", t.steps.len() - 1)}),
                ),
                Ok(n) => {
                    t.step = n;
                    (200, t.info(name))
                }
            };
            st.record(&req, status, 0, None);
            drop(st);
            answer_json(conn, m, status, &v)
        }
        ("GET" | "HEAD", [name]) if st.timelines.contains_key(*name) => {
            if !req.path().ends_with('/') {
                st.record(&req, 301, 0, None);
                drop(st);
                return answer(conn, m, 301, &[("Location", format!("/{name}/"))], b"");
            }
            let t = &st.timelines[*name];
            let n = t.step;
            let s = &t.steps[n];
            let gz = gzip_ok(req.header("accept-encoding"));
            let not_modified = if let Some(inm) = req.header("if-none-match") {
                inm.split(',').map(str::trim).any(|tag| {
                    let weak_stripped = tag.strip_prefix("W/").unwrap_or(tag);
                    tag == "*" || [&s.etag, &s.etag_gz].iter().any(|e| *e == weak_stripped)
                })
            } else if let Some(ims) = req.header("if-modified-since") {
                DateTime::parse_from_rfc2822(ims).is_ok_and(|d| s.mtime <= d.timestamp())
            } else {
                false
            };
            let etag = if gz { &s.etag_gz } else { &s.etag };
            let mut headers = vec![
                ("ETag", etag.clone()),
                ("Last-Modified", http_date(s.mtime)),
                ("Cache-Control", "no-cache".to_string()),
                ("Vary", "Accept-Encoding".to_string()),
            ];
            let (status, body) = if not_modified {
                (304, Vec::new())
            } else {
                headers.push(("Content-Type", "text/html; charset=utf-8".into()));
                if gz {
                    headers.push(("Content-Encoding", "gzip".into()));
                    (200, s.gz.clone())
                } else {
                    (200, s.body.clone())
                }
            };
            let bytes = if m == "HEAD" { 0 } else { body.len() };
            st.record(&req, status, bytes, Some(n));
            drop(st);
            answer(conn, m, status, &headers, &body)
        }
        _ => {
            st.record(&req, 404, 10, None);
            drop(st);
            let ctype = [("Content-Type", "text/plain".to_string())];
            answer(conn, m, 404, &ctype, b"not found\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::http::{get, request};

    #[test]
    fn steps_validators_304_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let s = TimelineServer::start(dir.path(), &["guardian"]);
        let r = get(s.port, "/guardian/", &[]).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        let step0 = read_file(&timeline_dir("guardian").join("00.html"));
        assert_eq!(r.body.as_bytes(), &step0[..]);
        let etag = r.header("etag").unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
        assert_eq!(
            r.header("last-modified"),
            Some("Mon, 01 Jan 2024 00:00:00 GMT")
        );
        // 304 for the tag, for the date, 200 for an older date.
        let r = get(s.port, "/guardian/", &[("If-None-Match", &etag)]).unwrap();
        assert_eq!((r.status, r.body.as_str()), (304, ""));
        let since = [("If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT")];
        assert_eq!(get(s.port, "/guardian/", &since).unwrap().status, 304);
        let before = [("If-Modified-Since", "Sun, 31 Dec 2023 23:59:59 GMT")];
        assert_eq!(get(s.port, "/guardian/", &before).unwrap().status, 200);
        // gzip when accepted, with its own tag; not when refused.
        let r = get(s.port, "/guardian/", &[("Accept-Encoding", "br, gzip")]).unwrap();
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        assert!(r.header("etag").unwrap().ends_with("-gz\""));
        let r = get(s.port, "/guardian/", &[("Accept-Encoding", "gzip;q=0")]).unwrap();
        assert_eq!(r.header("content-encoding"), None);
        // Step 2 has other bytes: another tag and date, the old tag no longer answers 304.
        s.set_step("guardian", 2);
        let r = get(s.port, "/guardian/", &[("If-None-Match", &etag)]).unwrap();
        assert_eq!(r.status, 200);
        assert_ne!(r.header("etag").unwrap(), etag);
        assert_eq!(
            r.header("last-modified"),
            Some("Mon, 01 Jan 2024 00:10:00 GMT")
        );
        // Step control, its errors, the log with step numbers.
        let info = request(s.port, "GET", "/_step/guardian", &[], "").unwrap();
        assert!(info.body.contains("\"step\":2"), "{}", info.body);
        let bad = request(s.port, "POST", "/_step/guardian/99", &[], "").unwrap();
        assert_eq!(bad.status, 400);
        assert_eq!(get(s.port, "/nope/", &[]).unwrap().status, 404);
        assert_eq!(get(s.port, "/guardian", &[]).unwrap().status, 301);
        assert_eq!(s.polls_at("guardian", 0), 6);
        assert_eq!(s.polls_at("guardian", 2), 1);
        let logged = super::super::read_jsonl(&s.log);
        assert!(logged
            .iter()
            .any(|r| r["headers"]["if-none-match"] == etag.as_str()));
    }
}
