//! Fetching pages: one shared HTTP client, a body cap enforced while streaming
//! (decompression included), conditional GET, a per-host concurrency limit, and the
//! classification of failures that the scheduler turns into backoff.

pub(crate) mod browser;
pub(crate) mod feed;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::FetchSettings;

/// HTTP validators remembered per blog for conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A successful fetch.
#[derive(Debug)]
pub enum Fetched {
    /// 304: nothing changed, nothing to parse.
    NotModified,
    /// A full body (within the cap).
    Page(Response),
}

/// A 200 response read whole (it fit under the cap).
#[derive(Debug)]
pub struct Response {
    /// The URL after redirects.
    pub final_url: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub validators: Validators,
    /// [`body_hash`] of the body: an identical body is not parsed again.
    pub hash: [u8; 32],
    /// Bytes as received on the wire are not known after decompression; this is the
    /// decoded size.
    pub len: usize,
}

/// What identifies a body as the same as the last one: xxh3-128 of its bytes and its
/// length. Not a cryptographic hash (it need not be: the publisher can serve the old
/// page anyway), and about a tenth of blake3's cost on every poll whose bytes changed —
/// nearly every poll of a live blog.
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(&xxhash_rust::xxh3::xxh3_128(body).to_le_bytes());
    out[16..24].copy_from_slice(&(body.len() as u64).to_le_bytes());
    out[24..].copy_from_slice(b"xxh3-128");
    out
}

/// Why a fetch failed. The class decides the backoff and what status shows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// No connection to the server (refused, unreachable…): the cause says which.
    #[error("cannot connect")]
    Connect {
        #[source]
        source: reqwest::Error,
    },
    #[error("body larger than the {cap} byte cap: stopped reading")]
    TooLarge { cap: u64 },
    #[error("HTTP {status}{}{}", reason(*status), retry_after.map(|d| format!(" (Retry-After {}s)", d.as_secs())).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("too many redirects or a redirect loop")]
    Redirects,
    #[error("invalid URL")]
    Url {
        #[source]
        source: reqwest::Error,
    },
    /// Any other failure of the request.
    #[error("the request failed")]
    Request {
        #[source]
        source: reqwest::Error,
    },
    /// A failure known only by its text (a recorded poll, a client that cannot be built).
    #[error("{0}")]
    Other(String),
    /// The host name does not resolve.
    #[error("cannot resolve the host name {host}")]
    Dns {
        host: String,
        #[source]
        source: reqwest::Error,
    },
    /// The TLS handshake failed (not TLS on the other end, bad certificate…).
    #[error("TLS handshake failed")]
    Tls {
        #[source]
        source: reqwest::Error,
    },
    /// The server reset the TCP connection.
    #[error("the server reset the connection")]
    Reset,
    /// The connection closed before a complete response head arrived.
    #[error("the server closed the connection without a complete answer")]
    NoAnswer,
    /// The connection closed before the body's stated length arrived.
    #[error("the connection closed before the whole page arrived")]
    Truncated,
    /// A redirect to something that is not http(s) (`file:`, `ftp:`, …), not followed.
    #[error("redirect to a non-HTTP address refused: {to}")]
    BadRedirect { to: String },
}

/// " Not Found" for 404: the standard reason phrase, if any.
fn reason(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!(" {r}"))
        .unwrap_or_default()
}

impl FetchError {
    /// A short class name for metrics and status (`timeout`, `connect`, `too_large`, `http_5xx`…).
    pub fn class(&self) -> &'static str {
        match self {
            FetchError::Timeout(_) => "timeout",
            FetchError::Connect { .. } => "connect",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Status { status, .. } if *status == 429 => "http_429",
            FetchError::Status { status, .. } if *status >= 500 => "http_5xx",
            FetchError::Status { .. } => "http_4xx",
            FetchError::Redirects | FetchError::BadRedirect { .. } => "redirect",
            FetchError::Url { .. } => "url",
            FetchError::Other(_) | FetchError::Request { .. } => "other",
            FetchError::Dns { .. } => "dns",
            FetchError::Tls { .. } => "tls",
            FetchError::Reset | FetchError::NoAnswer | FetchError::Truncated => "connection",
        }
    }

    /// The server asked us to wait this long (429/503 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The page is gone for good (HTTP 410; a 404 may be a passing fault and is retried):
    /// stop polling it.
    pub fn is_gone(&self) -> bool {
        matches!(self, FetchError::Status { status: 410, .. })
    }

    /// One line for the blog's status and the log: the error with its most telling
    /// cause ("cannot connect: Connection refused (os error 111)"). The whole chain stays
    /// reachable through [`std::error::Error::source`], each cause printed once by `{:#}`.
    pub fn detail(&self) -> String {
        match self {
            FetchError::Connect { source } | FetchError::Dns { source, .. } => {
                format!("{self}: {}", root_cause(source))
            }
            FetchError::Tls { source } => {
                let tls = causes(source)
                    .into_iter()
                    .find_map(|c| c.downcast_ref::<rustls::Error>().map(|t| t.to_string()));
                format!("{self}: {}", tls.unwrap_or_else(|| root_cause(source)))
            }
            FetchError::Url { source } => format!("{self}: {}", error_chain(source)),
            FetchError::Request { source } => error_chain(source),
            _ => self.to_string(),
        }
    }
}

/// The shared HTTP client with its per-host limits.
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Hosts that answered 429 (or 503 with Retry-After): every blog on them slows down.
    penalties: Mutex<HashMap<String, Penalty>>,
    /// The headless browser for `fetch = "browser"` watches (started on first use).
    browser: browser::Browser,
}

/// How much a host asked us to slow down.
#[derive(Debug, Clone, Copy)]
struct Penalty {
    /// Multiplier on the intervals of every blog on the host (1, 2, 4 … 16).
    factor: u32,
    /// No request to the host before this.
    until: tokio::time::Instant,
    /// The last refusal (or the last decay step): the slowdown eases off one step per
    /// [`PENALTY_COOLDOWN`] of quiet, so one blog's success on the host does not undo
    /// another blog's 429 at once.
    since: tokio::time::Instant,
}

/// How long a host must go without refusing us before its slowdown halves.
const PENALTY_COOLDOWN: Duration = Duration::from_secs(120);

/// The host key of a URL: `host:port`.
fn host_key(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
        })
        .unwrap_or_default()
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Other(format!("cannot build HTTP client: {e}")))?;
        Ok(Fetcher {
            client,
            settings,
            hosts: Mutex::new(HashMap::new()),
            penalties: Mutex::new(HashMap::new()),
            browser: browser::Browser::default(),
        })
    }

    /// The settings this fetcher was built with.
    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// The shared client, for notifiers that POST.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Wait for a slot on the URL's host (at most `per_host` requests at once).
    pub async fn host_permit(&self, url: &str) -> OwnedSemaphorePermit {
        let host = host_key(url);
        let sem = {
            // A std Mutex: held only for the map lookup, never across an .await.
            let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_host)))
                .clone()
        };
        sem.acquire_owned()
            .await
            .expect("host semaphores are never closed")
    }

    /// Load `url` in the headless browser and return its rendered DOM (see
    /// [`browser`]), within the same per-host limit and body cap as [`Fetcher::fetch`].
    /// `settle`: a CSS selector whose appearance means the page is rendered.
    pub async fn fetch_browser(
        &self,
        url: &str,
        settle: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        let _permit = self.host_permit(url).await;
        self.browser.fetch(&self.settings, url, settle).await
    }

    /// GET `url`, conditional on `validators`, reading at most `max_body` bytes.
    pub async fn fetch(&self, url: &str, validators: &Validators) -> Result<Fetched, FetchError> {
        Ok(self.fetch_with_headers(url, validators).await?.0)
    }

    /// [`Fetcher::fetch`], also returning the response headers (`livewatch record` saves
    /// them beside the body).
    pub async fn fetch_with_headers(
        &self,
        url: &str,
        validators: &Validators,
    ) -> Result<(Fetched, HeaderMap), FetchError> {
        let _permit = self.host_permit(url).await;
        let mut req = self.client.get(url);
        if let Some(etag) = &validators.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        let resp = req.send().await.map_err(|e| self.classify(e))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok((Fetched::NotModified, resp.headers().clone()));
        }
        if status.is_redirection() {
            // reqwest follows http(s) redirects itself; one left over points elsewhere.
            let to = resp
                .headers()
                .get(header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_else(|| "(no Location header)".to_string());
            return Err(FetchError::BadRedirect {
                to: crate::text::truncate(&to, 100),
            });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                retry_after: retry_after(resp.headers()),
            });
        }
        let final_url = resp.url().to_string();
        let headers = resp.headers().clone();
        let body = read_capped(resp, self.settings.max_body)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => FetchError::TooLarge {
                    cap: self.settings.max_body,
                },
                ReadError::Http(e) => self.classify(e),
            })?;
        let hash = body_hash(&body);
        let header_str = |h| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let page = Fetched::Page(Response {
            final_url,
            len: body.len(),
            body,
            content_type: header_str(header::CONTENT_TYPE),
            validators: Validators {
                etag: header_str(header::ETAG),
                last_modified: header_str(header::LAST_MODIFIED),
            },
            hash,
        });
        Ok((page, headers))
    }

    /// Record the outcome of a request for the host's politeness state: a 429 (or a 503
    /// with Retry-After) doubles the slowdown of every blog on the host (up to 16×) and
    /// blocks it until Retry-After; a success after [`PENALTY_COOLDOWN`] without refusals
    /// halves the slowdown.
    pub fn note_host_result(&self, url: &str, result: Result<(), &FetchError>) {
        let key = host_key(url);
        // A std Mutex: held for a map update only, never across an .await.
        let mut p = self.penalties.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Err(FetchError::Status {
                status,
                retry_after,
            }) if *status == 429 || (*status == 503 && retry_after.is_some()) => {
                let now = tokio::time::Instant::now();
                let e = p.entry(key).or_insert(Penalty {
                    factor: 1,
                    until: now,
                    since: now,
                });
                e.factor = (e.factor * 2).min(16);
                e.until = e.until.max(now + retry_after.unwrap_or_default());
                e.since = now;
            }
            Ok(()) => {
                let now = tokio::time::Instant::now();
                if let Some(e) = p.get_mut(&key) {
                    if now.saturating_duration_since(e.since) < PENALTY_COOLDOWN {
                        return;
                    }
                    e.since = now;
                    e.factor = (e.factor / 2).max(1);
                    // A host back at 1× stays listed (as no slowdown) while instances
                    // share their slowdowns: its `since` says the slowdown was lifted.
                }
            }
            Err(_) => {}
        }
    }

    /// The slowdown factor of the URL's host (1 = none) and the time before which no
    /// request should go to it.
    pub fn host_slowdown(&self, url: &str) -> (u32, Option<tokio::time::Instant>) {
        let p = self.penalties.lock().unwrap_or_else(|e| e.into_inner());
        match p.get(&host_key(url)) {
            Some(e) if e.factor > 1 || e.until > tokio::time::Instant::now() => {
                (e.factor, Some(e.until))
            }
            _ => (1, None),
        }
    }

    /// Every host's slowdown, to share with other instances: (host, factor, until,
    /// since), the times in Unix ms.
    pub fn host_slowdowns(&self) -> Vec<(String, u32, i64, i64)> {
        let (now, wall) = (
            tokio::time::Instant::now(),
            chrono::Utc::now().timestamp_millis(),
        );
        let to_wall = |t: tokio::time::Instant| {
            if t >= now {
                wall + (t - now).as_millis() as i64
            } else {
                wall - (now - t).as_millis() as i64
            }
        };
        let p = self.penalties.lock().unwrap_or_else(|e| e.into_inner());
        p.iter()
            .map(|(h, e)| (h.clone(), e.factor, to_wall(e.until), to_wall(e.since)))
            .collect()
    }

    /// Take another instance's slowdown of `host` (see [`Fetcher::host_slowdowns`]) when
    /// it is newer (a later `since`) than this instance's.
    pub fn adopt_host_slowdown(&self, host: &str, factor: u32, until_ms: i64, since_ms: i64) {
        let (now, wall) = (
            tokio::time::Instant::now(),
            chrono::Utc::now().timestamp_millis(),
        );
        let to_instant = |ms: i64| {
            let d = Duration::from_millis(ms.abs_diff(wall));
            if ms >= wall {
                now + d
            } else {
                now.checked_sub(d).unwrap_or(now)
            }
        };
        let remote = Penalty {
            factor: factor.clamp(1, 16),
            until: to_instant(until_ms),
            since: to_instant(since_ms),
        };
        let mut p = self.penalties.lock().unwrap_or_else(|e| e.into_inner());
        match p.get_mut(host) {
            // Equal `since` is this instance's own (sent and read back).
            Some(local) if local.since >= remote.since => {}
            Some(local) => *local = remote,
            None => {
                p.insert(host.to_string(), remote);
            }
        }
    }

    /// Turn a reqwest error into what went wrong, by the types in its source chain.
    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return FetchError::Timeout(self.settings.timeout);
        }
        if e.is_redirect() {
            return FetchError::Redirects;
        }
        if e.is_builder() {
            return FetchError::Url {
                source: e.without_url(),
            };
        }
        if e.is_dns() {
            return FetchError::Dns {
                host: e
                    .url()
                    .and_then(|u| u.host_str())
                    .unwrap_or("?")
                    .to_string(),
                source: e.without_url(),
            };
        }
        let mut tls = false;
        for c in causes(&e) {
            if c.downcast_ref::<rustls::Error>().is_some() {
                tls = true;
                break;
            }
            if c.downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_incomplete_message)
            {
                return FetchError::NoAnswer;
            }
            match c.downcast_ref::<std::io::Error>().map(std::io::Error::kind) {
                Some(std::io::ErrorKind::ConnectionReset) => return FetchError::Reset,
                Some(std::io::ErrorKind::UnexpectedEof) => return FetchError::Truncated,
                _ => {}
            }
        }
        let source = e.without_url();
        if tls {
            FetchError::Tls { source }
        } else if source.is_connect() {
            FetchError::Connect { source }
        } else {
            FetchError::Request { source }
        }
    }
}

/// `e` and every cause under it. An `io::Error` wrapping another error reports that
/// error's *source* as its own, skipping the wrapped error itself (tokio-rustls wraps a
/// `rustls::Error` so, twice); `get_ref` reaches it.
fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut cur = Some(e);
    while let Some(c) = cur {
        out.push(c);
        cur = match c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => c.source(),
        };
    }
    out
}

/// The innermost cause's message: the most specific one ("Connection refused (os error
/// 111)"), without the layers that only repeat the URL.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    causes(e).last().map(|c| c.to_string()).unwrap_or_default()
}

/// The error and its causes on one line ("error sending request: connection refused").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

enum ReadError {
    TooLarge,
    Http(reqwest::Error),
}

/// Read a body chunk by chunk and stop as soon as it passes `cap` bytes. reqwest hands us
/// decompressed chunks, so the same cap stops gzip and brotli bombs. This is the only
/// body reader in livewatch (`clippy.toml` bans the unbounded ones).
async fn read_capped(mut resp: reqwest::Response, cap: u64) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(ReadError::TooLarge);
    }
    // With a stated length (an uncompressed response) each chunk goes straight into a
    // buffer of that size and is let go: the body is held once, not twice.
    if let Some(n) = resp.content_length() {
        let mut body = Vec::with_capacity(n as usize);
        while let Some(chunk) = resp.chunk().await.map_err(ReadError::Http)? {
            if (body.len() + chunk.len()) as u64 > cap {
                return Err(ReadError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(body);
    }
    // Otherwise the chunks are kept and put together once, at the final size: a body of
    // unknown length grown by doubling held up to twice its size and was copied about
    // twice over.
    let mut chunks = Vec::new();
    let mut len = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Http)? {
        len += chunk.len() as u64;
        if len > cap {
            return Err(ReadError::TooLarge);
        }
        chunks.push(chunk);
    }
    let mut body = Vec::with_capacity(len as usize);
    for c in chunks {
        body.extend_from_slice(&c);
    }
    Ok(body)
}

/// Read a capped response body for notifiers (responses are small; 64 KiB is plenty).
pub async fn read_small_body(resp: reqwest::Response) -> String {
    match read_capped(resp, 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::from("<unreadable or oversized response body>"),
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        let future = chrono::Utc::now() + chrono::Duration::seconds(120);
        h.insert(header::RETRY_AFTER, future.to_rfc2822().parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[tokio::test]
    async fn a_refused_connection_keeps_its_cause_and_prints_it_once() {
        // A port nothing listens on: bind, take the number, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let f = Fetcher::new(FetchSettings::default()).unwrap();
        let e = f
            .fetch(&format!("http://127.0.0.1:{port}/"), &Validators::default())
            .await
            .expect_err("nothing listens");
        assert_eq!(e.class(), "connect");
        let detail = e.detail();
        assert!(detail.starts_with("cannot connect: "), "{detail}");
        // The whole chain, as the CLI prints it: every cause, none twice.
        let full = format!("{:#}", anyhow::Error::new(e));
        assert_eq!(full.matches("cannot connect").count(), 1, "{full}");
        let refused = full.matches("refused").count();
        assert_eq!(refused, 1, "the OS cause once in {full}");
    }

    #[test]
    fn error_classes() {
        let e = FetchError::Status {
            status: 503,
            retry_after: None,
        };
        assert_eq!(e.class(), "http_5xx");
        assert!(FetchError::Status {
            status: 410,
            retry_after: None
        }
        .is_gone());
        assert_eq!(FetchError::TooLarge { cap: 1 }.class(), "too_large");
    }

    #[test]
    fn status_lines_read_plainly() {
        let e = |status, retry_after| FetchError::Status {
            status,
            retry_after,
        };
        assert_eq!(e(404, None).to_string(), "HTTP 404 Not Found");
        assert_eq!(
            e(429, Some(Duration::from_secs(2))).to_string(),
            "HTTP 429 Too Many Requests (Retry-After 2s)"
        );
        assert_eq!(e(599, None).to_string(), "HTTP 599");
        assert_eq!(
            FetchError::Timeout(Duration::from_secs(2)).to_string(),
            "timed out after 2s"
        );
    }
}
