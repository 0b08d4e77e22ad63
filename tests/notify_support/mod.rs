//! Parts shared by the notifier tests: the shared webhook-sink, a tiny real HTTP server
//! (std TcpListener) for generated live-blog pages and fake chat APIs, a generated
//! JSON-LD live blog, and a private desktop session (desktop-notify-env).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{read_jsonl, tool, wait_for, Proc};

/// `../shared/tools/webhook-sink` on a free port.
pub struct Sink {
    pub proc: Proc,
    pub port: u16,
    pub log: PathBuf,
}

impl Sink {
    pub fn start(dir: &Path, args: &[&str]) -> Sink {
        let port_file = dir.join("sink.port");
        let log = dir.join("sink.jsonl");
        let child = Command::new("python3")
            .arg(tool("webhook-sink"))
            .arg("--port-file")
            .arg(&port_file)
            .arg("--log")
            .arg(&log)
            .args(["--max-lifetime", "600"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("webhook-sink starts");
        let proc = Proc(child);
        assert!(
            wait_for(Duration::from_secs(10), || std::fs::read_to_string(
                &port_file
            )
            .is_ok_and(|s| s.trim().parse::<u16>().is_ok())),
            "webhook-sink did not start"
        );
        let port = std::fs::read_to_string(&port_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Sink { proc, port, log }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Every recorded request.
    pub fn records(&self) -> Vec<serde_json::Value> {
        read_jsonl(&self.log)
    }

    /// Records answered 2xx.
    pub fn delivered(&self) -> Vec<serde_json::Value> {
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
        let (status, body) = request(self.port, "POST", "/_sink/config", json);
        assert_eq!(status, 200, "sink config: {body}");
    }
}

/// A blocking HTTP/1.1 request with a body; returns (status, body).
pub fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// One request as a [`Server`] saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What a handler answers: status, content type, body.
pub type Reply = (u16, &'static str, String);
type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A tiny real HTTP/1.1 server on 127.0.0.1 (one thread per connection, one request
/// per connection) that records every request.
pub struct Server {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let s = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (h, s) = (handler.clone(), s.clone());
                std::thread::spawn(move || {
                    let _ = serve_one(conn, &*h, &s);
                });
            }
        });
        Server { port, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_one(
    conn: TcpStream,
    handler: &Handler,
    seen: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    let mut r = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                len = v.parse().unwrap_or(0);
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    let req = Request {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, ctype, out) = handler(&req);
    seen.lock().unwrap().push(req);
    let mut w = conn;
    write!(
        w,
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{out}",
        out.len()
    )?;
    w.flush()
}

/// A page server whose page can be replaced while it runs.
pub struct PageServer {
    pub server: Server,
    pub page: Arc<Mutex<String>>,
}

impl PageServer {
    pub fn start(html: String) -> PageServer {
        let page = Arc::new(Mutex::new(html));
        let p = page.clone();
        let server =
            Server::start(move |_| (200, "text/html; charset=utf-8", p.lock().unwrap().clone()));
        PageServer { server, page }
    }

    pub fn url(&self) -> String {
        self.server.url("/live")
    }

    pub fn set(&self, html: String) {
        *self.page.lock().unwrap() = html;
    }
}

/// One generated post: id, headline, body paragraphs.
pub struct GenPost {
    pub id: String,
    pub headline: String,
    pub body: String,
}

/// `n` posts `post-1` … `post-n`, `post-n` the newest.
pub fn gen_posts(n: usize) -> Vec<GenPost> {
    (1..=n)
        .map(|i| GenPost {
            id: format!("post-{i}"),
            headline: format!("Update number {i}"),
            body: format!(
                "Paragraph one of update {i}, with some words.\n\nParagraph two of update {i}."
            ),
        })
        .collect()
}

/// A live-blog page with a JSON-LD `LiveBlogPosting`, newest post first.
pub fn live_page(title: &str, posts: &[GenPost]) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z").unwrap();
    let updates: Vec<serde_json::Value> = posts
        .iter()
        .enumerate()
        .rev()
        .map(|(i, p)| {
            let t = (base + chrono::Duration::minutes(i as i64)).to_rfc3339();
            let body: String = p
                .body
                .split("\n\n")
                .map(|para| format!("<p>{para}</p>"))
                .collect();
            serde_json::json!({
                "@type": "BlogPosting",
                "@id": format!("https://example.test/live#{}", p.id),
                "url": format!("https://example.test/live#{}", p.id),
                "headline": p.headline,
                "articleBody": body,
                "datePublished": t,
                "dateModified": t,
            })
        })
        .collect();
    let ld = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": title,
        "coverageStartTime": base.to_rfc3339(),
        "liveBlogUpdate": updates,
    });
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\n<script type=\"application/ld+json\">{ld}</script></head><body><h1>{title}</h1></body></html>"
    )
}

/// A private D-Bus session with dunst (`desktop-notify-env start --dir D`), stopped
/// when dropped.
pub struct DesktopEnv {
    pub dir: PathBuf,
    pub vars: Vec<(String, String)>,
}

impl DesktopEnv {
    pub fn start(dir: &Path) -> DesktopEnv {
        let out = Command::new(tool("desktop-notify-env"))
            .arg("start")
            .arg("--dir")
            .arg(dir)
            .args(["--max-lifetime", "600"])
            .stderr(Stdio::inherit())
            .output()
            .expect("desktop-notify-env runs");
        assert!(out.status.success(), "desktop-notify-env start failed");
        let vars = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        DesktopEnv {
            dir: dir.to_path_buf(),
            vars,
        }
    }

    pub fn var(&self, k: &str) -> String {
        self.vars
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("desktop-notify-env did not export {k}"))
    }

    /// What dunst received so far.
    pub fn log(&self) -> Vec<serde_json::Value> {
        read_jsonl(Path::new(&self.var("DESKTOP_NOTIFY_LOG")))
    }
}

impl Drop for DesktopEnv {
    fn drop(&mut self) {
        let _ = Command::new(tool("desktop-notify-env"))
            .arg("stop")
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `livewatch run` with extra environment, stdout appended to `out`.
pub fn run_daemon_env(config: &Path, state: &Path, out: &Path, env: &[(String, String)]) -> Proc {
    let open = |p: PathBuf| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap()
    };
    let child = crate::common::livewatch()
        .arg("run")
        .arg("--config")
        .arg(config)
        .arg("--state")
        .arg(state)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(open(out.to_path_buf()))
        .stderr(open(out.with_extension("log")))
        .spawn()
        .expect("livewatch starts");
    Proc(child)
}

/// `livewatch outbox [ACTION] --state STATE`: (exit code, stdout).
pub fn outbox(state: &Path, action: Option<&str>) -> (Option<i32>, String) {
    let mut c = crate::common::livewatch();
    c.arg("outbox").arg("--state").arg(state);
    if let Some(a) = action {
        c.arg(a);
    }
    let out = c.output().expect("livewatch outbox runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The daemon's log so far (stderr), for failure messages.
pub fn log_of(out: &Path) -> String {
    std::fs::read_to_string(out.with_extension("log")).unwrap_or_default()
}
