//! A hostile HTTP server for the black-box tests: plain `std::net` threads writing raw
//! bytes, so every byte (and every missing byte) is under the test's control.
//!
//! Each route gets its own listener (its own port), because livewatch limits concurrent
//! requests per host:port; a hanging route must not hold back the others. Every request
//! is logged with its arrival time and headers, so tests can assert what livewatch sent
//! and how often.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub route: String,
    pub path: String,
    /// Lower-case header names.
    pub headers: HashMap<String, String>,
    pub at: Instant,
    /// How many requests this route had seen before this one.
    pub n: usize,
}

/// What a route does with a connection once the request head is read.
pub type Handler = Arc<dyn Fn(&Request, &mut TcpStream, &Stop) + Send + Sync>;

/// Set when the server is dropped: long-running handlers check it.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sleep `d`, or less when the server stops; returns false when stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.is_set() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
        }
        !self.is_set()
    }
}

/// The server: routes by name, each on its own port.
pub struct HostileServer {
    ports: HashMap<String, u16>,
    log: Arc<Mutex<Vec<Request>>>,
    stop: Stop,
}

impl HostileServer {
    pub fn start(routes: Vec<(&str, Handler)>) -> HostileServer {
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Stop::default();
        let mut ports = HashMap::new();
        for (name, handler) in routes {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let port = listener.local_addr().unwrap().port();
            ports.insert(name.to_string(), port);
            let (log, stop, name) = (log.clone(), stop.clone(), name.to_string());
            let count = Arc::new(AtomicUsize::new(0));
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.is_set() {
                        return;
                    }
                    let Ok(mut conn) = conn else { continue };
                    let (log, stop, name, handler, count) = (
                        log.clone(),
                        stop.clone(),
                        name.clone(),
                        handler.clone(),
                        count.clone(),
                    );
                    std::thread::spawn(move || {
                        let Some((path, headers)) = read_head(&mut conn) else {
                            return;
                        };
                        let req = Request {
                            route: name,
                            path,
                            headers,
                            at: Instant::now(),
                            n: count.fetch_add(1, Ordering::SeqCst),
                        };
                        log.lock().unwrap().push(req.clone());
                        handler(&req, &mut conn, &stop);
                    });
                }
            });
        }
        HostileServer { ports, log, stop }
    }

    /// `http://127.0.0.1:PORT/NAME` for a route.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port(name))
    }

    pub fn port(&self, name: &str) -> u16 {
        *self
            .ports
            .get(name)
            .unwrap_or_else(|| panic!("no route {name}"))
    }

    /// The requests a route received so far.
    pub fn requests(&self, name: &str) -> Vec<Request> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.route == name)
            .cloned()
            .collect()
    }

    /// Gaps between consecutive requests of a route.
    pub fn gaps(&self, name: &str) -> Vec<Duration> {
        let r = self.requests(name);
        r.windows(2).map(|w| w[1].at - w[0].at).collect()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.0.store(true, Ordering::Relaxed);
        // Wake the accept loops so their threads end.
        for port in self.ports.values() {
            let _ = TcpStream::connect_timeout(
                &([127, 0, 0, 1], *port).into(),
                Duration::from_millis(200),
            );
        }
    }
}

/// Read the request line and headers (up to the blank line).
fn read_head(conn: &mut TcpStream) -> Option<(String, HashMap<String, String>)> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    // A TLS ClientHello (record type 0x16) on a plain-TCP route: log it as `<tls>` and
    // let the handler answer whatever it wants.
    if conn.peek(&mut byte).ok()? == 1 && byte[0] == 0x16 {
        return Some(("<tls>".to_string(), HashMap::new()));
    }
    while !buf.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((path, headers))
}

// ---- responses ----

/// Write a complete response with `Content-Length` and `Connection: close`.
pub fn respond(conn: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
    let _ = conn.flush();
    let _ = conn.shutdown(Shutdown::Write);
    // Drain what the client still sends so that closing does not reset the connection.
    let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = conn.read(&mut [0u8; 1024]);
}

/// A handler that always sends the same response.
pub fn fixed(status: &'static str, headers: Vec<(&'static str, String)>, body: Vec<u8>) -> Handler {
    Arc::new(move |_, conn, _| {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        respond(conn, status, &h, &body)
    })
}

/// An HTML page (`text/html`, with an optional charset parameter).
pub fn html(body: impl Into<Vec<u8>>, charset: Option<&str>) -> Handler {
    let ct = match charset {
        Some(c) => format!("text/html; charset={c}"),
        None => "text/html".to_string(),
    };
    fixed("200 OK", vec![("Content-Type", ct)], body.into())
}

/// Write `head` and then stream chunks from `next` until it returns None or the client
/// goes away.
pub fn stream(
    conn: &mut TcpStream,
    head: &str,
    stop: &Stop,
    mut next: impl FnMut() -> Option<Vec<u8>>,
) -> usize {
    if conn.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let mut sent = 0;
    while !stop.is_set() {
        let Some(chunk) = next() else { break };
        if conn.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    sent
}

// ---- pages ----

/// A schema.org `LiveBlogPosting` page with posts `1..=n` (newest first), each with a
/// headline `"{prefix} post {i}"` and a body.
pub fn live_blog_page(title: &str, prefix: &str, n: usize) -> String {
    let updates: Vec<String> = (1..=n)
        .rev()
        .map(|i| {
            let min = i % 60;
            let hour = 10 + (i / 60) % 10;
            format!(
                r#"{{"@type":"BlogPosting","@id":"{prefix}-{i}","headline":"{prefix} post {i}","articleBody":"Body of {prefix} post {i}: something happened.","datePublished":"2024-08-05T{hour:02}:{min:02}:00Z"}}"#
            )
        })
        .collect();
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<script type="application/ld+json">{{"@context":"https://schema.org","@type":"LiveBlogPosting","headline":"{title}","liveBlogUpdate":[{}]}}</script>
</head><body><h1>{title}</h1></body></html>"#,
        updates.join(",")
    )
}

/// The healthy blog: a JSON-LD live blog whose post count the test raises, with an ETag
/// per version and 304 answers to a matching `If-None-Match`.
#[derive(Clone)]
pub struct Healthy {
    pub posts: Arc<AtomicUsize>,
}

impl Healthy {
    pub fn new(posts: usize) -> Healthy {
        Healthy {
            posts: Arc::new(AtomicUsize::new(posts)),
        }
    }

    pub fn handler(&self) -> Handler {
        let posts = self.posts.clone();
        Arc::new(move |req, conn, _| {
            let n = posts.load(Ordering::SeqCst);
            let etag = format!("\"healthy-{n}\"");
            if req.headers.get("if-none-match") == Some(&etag) {
                respond(conn, "304 Not Modified", &[("ETag", &etag)], b"");
                return;
            }
            let body = live_blog_page("Healthy blog", "healthy", n);
            respond(
                conn,
                "200 OK",
                &[
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("ETag", &etag),
                ],
                body.as_bytes(),
            );
        })
    }

    /// Add one post; returns its headline.
    pub fn add_post(&self) -> String {
        let n = self.posts.fetch_add(1, Ordering::SeqCst) + 1;
        format!("healthy post {n}")
    }
}

// ---- the daemon's side ----

/// Peak resident set size (VmHWM) of a process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// One `[[watch]]` table polled every 200ms.
pub fn watch_toml(url: &str, extra: &str) -> String {
    format!("[[watch]]\nurl = \"{url}\"\ninterval = \"200ms\"\nadaptive = false\n{extra}\n")
}

/// A daemon config: the shared fetch settings, the watches, a JSON stdout notifier.
pub fn daemon_toml(max_body: &str, watches: &[String]) -> String {
    format!(
        "max_body = \"{max_body}\"\ntimeout = \"2s\"\nconnect_timeout = \"2s\"\n\n{}\n[[notifier]]\nname = \"out\"\ntype = \"stdout\"\njson = true\n",
        watches.join("\n")
    )
}
