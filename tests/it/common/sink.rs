//! A webhook receiver that fails on purpose: a real HTTP/1.1 server on 127.0.0.1 (in this
//! process, until dropped) that records every request and answers according to a fault
//! plan.
//!
//! Faults (`MODE`): an HTTP status (`500`, `503`, `429`, …; with `Retry-After` when the plan
//! has one), `slow[:SECS]` (answer after SECS, default the plan's delay, 5 s), `drop`
//! (read the request, close without an answer), `reset` (read the request, abort with a
//! TCP RST), `ok`. The plan: the first N requests get MODE (`--fail-first N --fail-mode
//! MODE`), or the n-th request the n-th MODE of a sequence (`--sequence 429,drop,500*2,ok`),
//! or requests arriving A..B s after the plan was set get MODE (`--fail-window A:B`);
//! `--fail-path PREFIX` faults only matching paths; `--status` answers normal requests;
//! `--retry-after`, `--delay`. At run time `POST /_sink/config` (JSON: `fail_first
//! fail_mode sequence fail_window retry_after delay status fail_path`) replaces the plan,
//! `POST /_sink/reset` forgets the records; `GET /_sink/health`, `GET /_sink/requests`.
//! Control requests are never recorded nor faulted.
//!
//! A record: `seq ts method path query http_version headers` (lower-case names, repeats
//! joined with ", ") `body` (text, or null when not UTF-8, then `body_b64`) `json` (the
//! parsed body or null) `client action` (`ok status slow drop reset`) `status` (sent, or
//! null).

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use super::http;
use super::http_server::{answer, answer_json, now_ts, serve_state, After, Incoming, Listener};

const CONTROL: &str = "/_sink/";

/// What the sink does with one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    Ok,
    Status(u16),
    /// Answer after this long (`None`: the plan's delay).
    Slow(Option<Duration>),
    Drop,
    Reset,
}

impl Fault {
    pub fn parse(s: &str) -> Result<Fault, String> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "ok" => return Ok(Fault::Ok),
            "drop" => return Ok(Fault::Drop),
            "reset" => return Ok(Fault::Reset),
            _ => {}
        }
        if let Some(rest) = s.strip_prefix("slow") {
            return match rest.strip_prefix(':') {
                None if rest.is_empty() => Ok(Fault::Slow(None)),
                Some(secs) => secs
                    .parse::<f64>()
                    .ok()
                    .and_then(|v| Duration::try_from_secs_f64(v).ok())
                    .map(|d| Fault::Slow(Some(d)))
                    .ok_or(format!("bad mode {s:?}")),
                None => Err(format!("bad mode {s:?}")),
            };
        }
        match s.parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => Ok(Fault::Status(code)),
            _ => Err(format!("bad mode {s:?}")),
        }
    }
}

/// `MODE[*K],…`
fn parse_sequence<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<Fault>, String> {
    let mut out = Vec::new();
    for item in items.into_iter().map(str::trim).filter(|i| !i.is_empty()) {
        let (mode, rep) = match item.rsplit_once('*') {
            Some((m, r)) => (m, r.parse().map_err(|_| format!("bad repeat {item:?}"))?),
            None => (item, 1),
        };
        let f = Fault::parse(mode)?;
        out.extend(std::iter::repeat_n(f, rep));
    }
    Ok(out)
}

/// The fault plan.
#[derive(Debug)]
pub struct Plan {
    sequence: Vec<Fault>,
    window: Option<(f64, f64, Fault)>,
    retry_after: Option<String>,
    delay: Duration,
    status: u16,
    fail_path: Option<String>,
    /// Faultable requests seen since the plan was set.
    counter: usize,
    since: Instant,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            sequence: Vec::new(),
            window: None,
            retry_after: None,
            delay: Duration::from_secs(5),
            status: 200,
            fail_path: None,
            counter: 0,
            since: Instant::now(),
        }
    }
}

impl Plan {
    /// A plan from the command-line style flags (`--fail-first 2 --fail-mode 503`, …).
    pub fn from_args(args: &[&str]) -> Result<Plan, String> {
        let mut cfg = serde_json::Map::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let key = match *flag {
                "--fail-first" => "fail_first",
                "--fail-mode" => "fail_mode",
                "--fail-window" => "fail_window",
                "--sequence" => "sequence",
                "--retry-after" => "retry_after",
                "--delay" => "delay",
                "--status" => "status",
                "--fail-path" => "fail_path",
                other => return Err(format!("unknown sink flag {other:?}")),
            };
            let v = it.next().ok_or(format!("{flag} needs a value"))?;
            let v = match key {
                "fail_first" | "status" => {
                    json!(v.parse::<u64>().map_err(|e| format!("{flag}: {e}"))?)
                }
                "delay" => json!(v.parse::<f64>().map_err(|e| format!("{flag}: {e}"))?),
                _ => json!(v),
            };
            cfg.insert(key.into(), v);
        }
        let mut plan = Plan::default();
        plan.configure(&Value::Object(cfg))?;
        Ok(plan)
    }

    /// Replace the plan from a JSON object (as `POST /_sink/config`); the delay and the
    /// normal status are kept unless given.
    pub fn configure(&mut self, cfg: &Value) -> Result<(), String> {
        let text = |k: &str| -> Option<String> {
            match cfg.get(k)? {
                Value::Null => None,
                Value::String(s) if s.is_empty() => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            }
        };
        let mode = Fault::parse(&text("fail_mode").unwrap_or_else(|| "503".into()))?;
        let sequence = match cfg.get("sequence") {
            Some(Value::String(s)) if !s.is_empty() => parse_sequence(s.split(','))?,
            Some(Value::Array(a)) if !a.is_empty() => {
                let items: Vec<String> = a
                    .iter()
                    .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                    .collect();
                parse_sequence(items.iter().map(String::as_str))?
            }
            _ => {
                let n = cfg.get("fail_first").and_then(Value::as_u64).unwrap_or(0);
                vec![mode; n as usize]
            }
        };
        let window = match cfg.get("fail_window") {
            Some(Value::String(s)) if !s.is_empty() => {
                let (a, b) = s
                    .split_once(':')
                    .ok_or(format!("fail_window {s:?}: want A:B"))?;
                let p = |x: &str| x.parse::<f64>().map_err(|e| format!("fail_window: {e}"));
                Some((p(a)?, p(b)?, mode))
            }
            Some(Value::Array(a)) if a.len() == 2 => {
                let p = |v: &Value| v.as_f64().ok_or(format!("fail_window {v}: not a number"));
                Some((p(&a[0])?, p(&a[1])?, mode))
            }
            _ => None,
        };
        let delay = match cfg.get("delay") {
            Some(v) if !v.is_null() => Some(
                v.as_f64()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or(format!("delay {v}: not seconds"))?,
            ),
            _ => None,
        };
        let status = match cfg.get("status") {
            Some(v) if !v.is_null() => Some(
                v.as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .ok_or(format!("status {v}: not a status"))?,
            ),
            _ => None,
        };
        self.sequence = sequence;
        self.window = window;
        self.retry_after = text("retry_after");
        self.delay = delay.unwrap_or(self.delay);
        self.status = status.unwrap_or(self.status);
        self.fail_path = text("fail_path");
        self.counter = 0;
        self.since = Instant::now();
        Ok(())
    }

    fn decide(&mut self, path: &str) -> Fault {
        if self
            .fail_path
            .as_ref()
            .is_some_and(|p| !path.starts_with(p))
        {
            return Fault::Ok;
        }
        let idx = self.counter;
        self.counter += 1;
        if let Some(f) = self.sequence.get(idx) {
            return *f;
        }
        if let Some((a, b, mode)) = self.window {
            let t = self.since.elapsed().as_secs_f64();
            if a <= t && t < b {
                return mode;
            }
        }
        Fault::Ok
    }

    fn describe(&self) -> Value {
        json!({
            "sequence": self.sequence.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>(),
            "fail_window": self.window.map(|(a, b, m)| json!([a, b, format!("{m:?}")])),
            "retry_after": self.retry_after,
            "delay": self.delay.as_secs_f64(),
            "status": self.status,
            "fail_path": self.fail_path,
            "faultable_requests_seen": self.counter,
        })
    }
}

struct State {
    plan: Plan,
    records: Vec<Value>,
    seq: u64,
    log: PathBuf,
    started: Instant,
}

impl State {
    fn write_log(&self) {
        let mut text = String::new();
        for r in &self.records {
            text.push_str(&r.to_string());
            text.push('\n');
        }
        let _ = std::fs::write(&self.log, text);
    }

    fn add(&mut self, mut rec: Value) -> u64 {
        self.seq += 1;
        rec["seq"] = self.seq.into();
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
        {
            let _ = writeln!(f, "{rec}");
        }
        self.records.push(rec);
        self.seq
    }
}

/// The webhook sink; records also go to a JSON-lines file, [`Sink::log`].
pub struct Sink {
    pub port: u16,
    pub log: PathBuf,
    state: Arc<Mutex<State>>,
    _listener: Listener,
}

impl Sink {
    /// Start with the fault plan given as flags (see the module docs); records go to
    /// `dir/sink.jsonl`.
    pub fn start(dir: &Path, args: &[&str]) -> Sink {
        let plan = Plan::from_args(args).unwrap_or_else(|e| panic!("webhook sink: {e}"));
        let log = dir.join("sink.jsonl");
        let state = Arc::new(Mutex::new(State {
            plan,
            records: Vec::new(),
            seq: 0,
            log: log.clone(),
            started: Instant::now(),
        }));
        state.lock().unwrap().write_log();
        let listener = serve_state(&state, handle);
        Sink {
            port: listener.port,
            log,
            state,
            _listener: listener,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Every recorded request.
    pub fn records(&self) -> Vec<Value> {
        self.state.lock().unwrap().records.clone()
    }

    /// Records answered 2xx.
    pub fn delivered(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| {
                r["status"]
                    .as_u64()
                    .is_some_and(|s| (200..300).contains(&s))
            })
            .collect()
    }

    /// Change the fault plan (`POST /_sink/config`).
    pub fn configure(&self, json: &str) {
        let ctype = [("Content-Type", "application/json")];
        let r = http::request(self.port, "POST", "/_sink/config", &ctype, json)
            .expect("webhook sink answers");
        assert_eq!(r.status, 200, "sink config: {}", r.body);
    }
}

fn control(state: &Mutex<State>, req: &Incoming, conn: &mut TcpStream) -> After {
    let m = req.method.as_str();
    let mut st = state.lock().unwrap();
    let (status, v) = match (m, &req.path()[CONTROL.len()..]) {
        (_, "health") => (
            200,
            json!({"ok": true, "uptime": st.started.elapsed().as_secs_f64(),
                   "plan": st.plan.describe(), "requests": st.records.len()}),
        ),
        (_, "requests") => (200, Value::Array(st.records.clone())),
        ("POST", "config") => {
            let cfg = if req.body.is_empty() {
                Ok(json!({}))
            } else {
                serde_json::from_slice::<Value>(&req.body).map_err(|e| e.to_string())
            };
            match cfg.and_then(|c| st.plan.configure(&c)) {
                Ok(()) => (200, json!({"ok": true, "plan": st.plan.describe()})),
                Err(e) => (400, json!({"ok": false, "error": e})),
            }
        }
        ("POST", "reset") => {
            st.records.clear();
            st.seq = 0;
            st.plan.counter = 0;
            st.plan.since = Instant::now();
            st.write_log();
            (200, json!({"ok": true}))
        }
        _ => (
            404,
            json!({"ok": false, "error": "unknown control endpoint"}),
        ),
    };
    drop(st);
    answer_json(conn, m, status, &v)
}

fn handle(state: &Mutex<State>, req: Incoming, conn: &mut TcpStream) -> After {
    if req.path().starts_with(CONTROL) {
        return control(state, &req, conn);
    }
    let mut headers = serde_json::Map::new();
    for (k, v) in &req.headers {
        let joined = match headers.get(k).and_then(Value::as_str) {
            Some(prev) => format!("{prev}, {v}"),
            None => v.clone(),
        };
        headers.insert(k.clone(), joined.into());
    }
    let text = std::str::from_utf8(&req.body).ok();
    let parsed = text
        .filter(|t| !t.is_empty())
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .unwrap_or(Value::Null);
    let mut st = state.lock().unwrap();
    let fault = st.plan.decide(req.path());
    let (action, status) = match fault {
        Fault::Ok => ("ok", Some(st.plan.status)),
        Fault::Slow(_) => ("slow", Some(st.plan.status)),
        Fault::Status(s) => ("status", Some(s)),
        Fault::Drop => ("drop", None),
        Fault::Reset => ("reset", None),
    };
    let mut rec = json!({
        "ts": now_ts(), "method": req.method, "path": req.path(), "query": req.query(),
        "http_version": req.version, "headers": headers, "body": text, "json": parsed,
        "client": req.client, "action": action, "status": status,
    });
    if text.is_none() {
        rec["body_b64"] = base64::engine::general_purpose::STANDARD
            .encode(&req.body)
            .into();
    }
    let seq = st.add(rec);
    let (delay, retry_after) = (st.plan.delay, st.plan.retry_after.clone());
    drop(st);

    let m = req.method.as_str();
    match fault {
        Fault::Drop => {
            let _ = conn.shutdown(Shutdown::Both);
            After::Close
        }
        Fault::Reset => {
            // Linger 0: closing the socket sends a RST instead of a FIN.
            let _ = socket2::SockRef::from(&*conn).set_linger(Some(Duration::ZERO));
            After::Close
        }
        Fault::Status(code) => {
            let mut h = vec![("Content-Type", "application/json".to_string())];
            if let Some(ra) = retry_after {
                h.push(("Retry-After", ra));
            }
            let body = json!({"ok": false, "seq": seq, "error": format!("injected {code}")});
            answer(conn, m, code, &h, body.to_string().as_bytes())
        }
        Fault::Ok | Fault::Slow(_) => {
            if let Fault::Slow(d) = fault {
                std::thread::sleep(d.unwrap_or(delay));
            }
            let code = status.unwrap_or(200);
            answer_json(conn, m, code, &json!({"ok": true, "seq": seq}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Read};

    fn post(port: u16, body: &str) -> std::io::Result<http::Response> {
        let ctype = [("Content-Type", "application/json")];
        http::request(port, "POST", "/hook", &ctype, body)
    }

    #[test]
    fn modes_parse_and_sequences_repeat() {
        assert_eq!(Fault::parse("503"), Ok(Fault::Status(503)));
        assert_eq!(
            Fault::parse("slow:0.5"),
            Ok(Fault::Slow(Some(Duration::from_millis(500))))
        );
        assert!(Fault::parse("99").is_err() && Fault::parse("slowly").is_err());
        let seq = parse_sequence("429, drop,500*2,ok".split(',')).unwrap();
        let want = [
            Fault::Status(429),
            Fault::Drop,
            Fault::Status(500),
            Fault::Status(500),
            Fault::Ok,
        ];
        assert_eq!(seq, want);
        assert!(Plan::from_args(&["--nope", "1"]).is_err());
    }

    #[test]
    fn statuses_retry_after_drop_reset_then_ok_and_runtime_config() {
        let dir = tempfile::tempdir().unwrap();
        let sink = Sink::start(
            dir.path(),
            &["--sequence", "429,drop,reset,ok", "--retry-after", "2"],
        );
        let r = post(sink.port, r#"{"n":1}"#).unwrap();
        assert_eq!((r.status, r.header("retry-after")), (429, Some("2")));
        // Dropped: the connection closes with no answer.
        let e = post(sink.port, r#"{"n":2}"#).err().expect("no answer");
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
        // Reset: a TCP RST.
        let mut s = TcpStream::connect(("127.0.0.1", sink.port)).unwrap();
        s.write_all(b"POST /hook HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"n\":3}")
            .unwrap();
        let mut buf = Vec::new();
        let e = s.read_to_end(&mut buf).expect_err("reset");
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
        assert_eq!(post(sink.port, r#"{"n":4}"#).unwrap().status, 200);
        let recs = sink.records();
        let actions: Vec<&str> = recs.iter().map(|r| r["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["status", "drop", "reset", "ok"]);
        assert_eq!(recs[0]["json"]["n"], 1);
        assert_eq!(recs[3]["headers"]["content-type"], "application/json");
        assert_eq!(sink.delivered().len(), 1);
        assert_eq!(super::super::read_jsonl(&sink.log).len(), 4);

        // At run time: fail the first one with 503, then slow answers.
        sink.configure(r#"{"fail_first": 1, "fail_mode": "503"}"#);
        assert_eq!(post(sink.port, "{}").unwrap().status, 503);
        assert_eq!(post(sink.port, "{}").unwrap().status, 200);
        sink.configure(r#"{"fail_first": 5, "fail_mode": "slow:0.3"}"#);
        let t = Instant::now();
        assert_eq!(post(sink.port, "{}").unwrap().status, 200);
        assert!(t.elapsed() >= Duration::from_millis(300));
        // Control requests are not recorded; a bad config is refused.
        let ctype = [("Content-Type", "application/json")];
        let bad = http::request(
            sink.port,
            "POST",
            "/_sink/config",
            &ctype,
            r#"{"fail_mode":"x"}"#,
        );
        assert_eq!(bad.unwrap().status, 400);
        assert_eq!(sink.records().len(), 7);
        // A fail window faults only what arrives inside it; fail_path only its paths.
        sink.configure(r#"{"fail_window": "0:60", "fail_mode": "500", "fail_path": "/hook"}"#);
        assert_eq!(post(sink.port, "{}").unwrap().status, 500);
        let other = http::request(sink.port, "POST", "/other", &ctype, "{}").unwrap();
        assert_eq!(other.status, 200);
    }
}
