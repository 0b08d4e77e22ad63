//! Parts shared by the notifier tests: the shared webhook-sink, a tiny real HTTP server
//! (std TcpListener) for generated live-blog pages and fake chat APIs, a generated
//! JSON-LD live blog, and a private desktop session (desktop-notify-env).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use super::{http, read_jsonl, spawn_with_port_file, tool, Proc};

/// `../shared/tools/webhook-sink` on a free port.
pub struct Sink {
    pub proc: Proc,
    pub port: u16,
    pub log: PathBuf,
}

/// Start a recording server script (`python SCRIPT --port-file F --log L
/// --max-lifetime 600 ARGS…`, quiet) with its files in `dir` named after `stem`; returns
/// it, its port and its JSON-lines log.
pub fn spawn_recorder(
    python: &str,
    script: &Path,
    dir: &Path,
    stem: &str,
    args: &[&str],
) -> (Proc, u16, PathBuf) {
    let port_file = dir.join(format!("{stem}.port"));
    let log = dir.join(format!("{stem}.jsonl"));
    let mut cmd = Command::new(python);
    cmd.arg(script)
        .arg("--port-file")
        .arg(&port_file)
        .arg("--log")
        .arg(&log)
        .args(["--max-lifetime", "600"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (proc, port) = spawn_with_port_file(stem, &mut cmd, &port_file);
    (proc, port, log)
}

impl Sink {
    pub fn start(dir: &Path, args: &[&str]) -> Sink {
        let (proc, port, log) = spawn_recorder("python3", &tool("webhook-sink"), dir, "sink", args);
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
        let ctype = [("Content-Type", "application/json")];
        let r = http::request(self.port, "POST", "/_sink/config", &ctype, json)
            .expect("webhook-sink answers");
        assert_eq!(r.status, 200, "sink config: {}", r.body);
    }
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
