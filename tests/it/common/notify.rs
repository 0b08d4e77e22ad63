//! Parts of the notifier tests: a tiny real HTTP server (std TcpListener) for generated
//! live-blog pages and fake chat APIs and a generated JSON-LD live blog; and, re-exported,
//! the webhook sink that fails on purpose ([`Sink`]) and the private desktop session
//! ([`DesktopEnv`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

pub use super::desktop::DesktopEnv;
pub use super::sink::Sink;

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
