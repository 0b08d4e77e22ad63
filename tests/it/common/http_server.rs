//! The core of the test servers (timeline server, webhook sink): a real HTTP/1.1 server
//! on 127.0.0.1 made of std `TcpListener` threads, one thread per connection, with
//! keep-alive, `Content-Length` and chunked request bodies. It stops accepting when its
//! [`Listener`] is dropped.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One parsed request.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub version: String,
    /// Lower-case names, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub client: String,
}

impl Incoming {
    /// The first header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

/// What a handler did with the connection.
pub enum After {
    /// Answered; read the next request on the same connection (unless the client asked
    /// to close).
    KeepAlive,
    /// Leave the connection closed (the handler answered and closed, dropped or reset it).
    Close,
}

/// A handler: gets the request and the connection to answer on.
pub type Handler = dyn Fn(Incoming, &mut TcpStream) -> After + Send + Sync;

/// The listening side; dropping it stops accepting new connections.
pub struct Listener {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Listen on a free port of 127.0.0.1 and serve every connection with `handler`.
pub fn serve(handler: Arc<Handler>) -> Listener {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stopped.load(Ordering::SeqCst) {
                return;
            }
            let Ok(conn) = conn else { continue };
            let h = handler.clone();
            std::thread::spawn(move || connection(conn, &*h));
        }
    });
    Listener { port, stop }
}

/// [`serve`] with a handler function over shared state.
pub fn serve_state<S: Send + 'static>(
    state: &Arc<std::sync::Mutex<S>>,
    handle: fn(&std::sync::Mutex<S>, Incoming, &mut TcpStream) -> After,
) -> Listener {
    let st = state.clone();
    serve(Arc::new(move |req, conn: &mut TcpStream| {
        handle(&st, req, conn)
    }))
}

fn connection(conn: TcpStream, handler: &Handler) {
    // An idle keep-alive connection is closed after a minute.
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let client = conn.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let Ok(read_side) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_side);
    let mut conn = conn;
    while let Ok(Some(mut req)) = read_request(&mut reader) {
        req.client = client.clone();
        let close = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
            || req.version == "HTTP/1.0";
        match handler(req, &mut conn) {
            After::KeepAlive if !close => {}
            _ => return,
        }
    }
}

/// Read one request; `None` at the end of the connection.
pub fn read_request(r: &mut impl BufRead) -> io::Result<Option<Incoming>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let version = parts.next().unwrap_or("HTTP/1.1").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut req = Incoming {
        method,
        target,
        version,
        headers,
        body: Vec::new(),
        client: String::new(),
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let size = size.split(';').next().unwrap_or("").trim();
            let n = usize::from_str_radix(size, 16).unwrap_or(0);
            if n == 0 {
                // Trailers up to the empty line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t)? == 0 || t.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; n];
            r.read_exact(&mut chunk)?;
            req.body.extend_from_slice(&chunk);
            let mut crlf = String::new();
            r.read_line(&mut crlf)?;
        }
    } else {
        let n: usize = req
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        req.body = vec![0; n];
        r.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

/// The reason phrase of the statuses the test servers send.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Write a response. `Content-Length` is added (except for 304); the body is left out
/// for HEAD and 304.
pub fn respond(
    w: &mut impl Write,
    method: &str,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if status != 304 {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    if method != "HEAD" && status != 304 {
        w.write_all(body)?;
    }
    w.flush()
}

/// Respond and say whether the connection can carry on.
pub fn answer(
    w: &mut TcpStream,
    method: &str,
    status: u16,
    headers: &[(&str, String)],
    body: &[u8],
) -> After {
    match respond(w, method, status, headers, body) {
        Ok(()) => After::KeepAlive,
        Err(_) => After::Close,
    }
}

/// Respond with a JSON body.
pub fn answer_json(w: &mut TcpStream, method: &str, status: u16, v: &serde_json::Value) -> After {
    let body = format!("{v}\n");
    let ctype = [("Content-Type", "application/json".to_string())];
    answer(w, method, status, &ctype, body.as_bytes())
}

/// Seconds since the Unix epoch, with milliseconds.
pub fn now_ts() -> f64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}
