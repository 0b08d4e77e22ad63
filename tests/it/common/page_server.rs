//! A small real HTTP/1.1 server on 127.0.0.1 for tests: serves pages set by the test
//! (status, headers, body) per path, and logs every request with its time.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One canned response.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn html(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: body.into(),
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: format!("status {status}\n").into_bytes(),
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// A logged request.
#[derive(Clone, Debug)]
pub struct Request {
    pub at: Instant,
    pub path: String,
    pub headers: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    pages: HashMap<String, Reply>,
    log: Vec<Request>,
}

/// The server; it runs until the test process ends.
#[derive(Clone)]
pub struct PageServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl PageServer {
    pub fn start() -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || handle(conn, st));
            }
        });
        PageServer { port, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn set(&self, path: &str, reply: Reply) {
        self.state.lock().unwrap().pages.insert(path.into(), reply);
    }

    pub fn requests(&self, path: &str) -> Vec<Request> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

fn handle(conn: TcpStream, st: Arc<Mutex<State>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let reply = {
            let mut s = st.lock().unwrap();
            s.log.push(Request {
                at: Instant::now(),
                path: path.clone(),
                headers,
            });
            // A page set without a query answers every query of its path.
            s.pages
                .get(&path)
                .or_else(|| s.pages.get(path.split('?').next().unwrap_or("")))
                .cloned()
                .unwrap_or_else(|| Reply::status(404))
        };
        let mut out = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            reply.status,
            reply.body.len()
        );
        for (k, v) in &reply.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        if conn.write_all(out.as_bytes()).is_err() || conn.write_all(&reply.body).is_err() {
            return;
        }
    }
}

/// A live-blog page with JSON-LD: `posts` are (id, headline, body, minute), newest
/// first; `extra_ld` is added to the LiveBlogPosting object, `extra_html` to the body.
pub fn live_page(posts: &[(&str, &str, &str, u32)], extra_ld: &str, extra_html: &str) -> String {
    let updates: Vec<String> = posts
        .iter()
        .map(|(id, h, b, m)| {
            format!(
                r#"{{"@type":"BlogPosting","@id":"{id}","headline":"{h}","articleBody":"{b}","datePublished":"2026-11-26T10:{m:02}:00Z"}}"#
            )
        })
        .collect();
    let articles: Vec<String> = posts
        .iter()
        .map(|(id, h, b, m)| {
            format!(
                r#"<article id="{id}" class="post"><h2>{h}</h2><time datetime="2026-11-26T10:{m:02}:00Z">10:{m:02}</time><p>{b}</p></article>"#
            )
        })
        .collect();
    format!(
        r#"<!doctype html><html><head><title>Test blog</title>
<script type="application/ld+json">{{"@context":"https://schema.org","@type":"LiveBlogPosting","headline":"Test blog"{extra_ld},"liveBlogUpdate":[{}]}}</script>
</head><body><main>{extra_html}<div class="live">{}</div></main></body></html>"#,
        updates.join(","),
        articles.join("\n")
    )
}
