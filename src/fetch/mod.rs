//! Fetching pages: one shared HTTP client, a body cap enforced while streaming
//! (decompression included), conditional GET, a per-host concurrency limit, and the
//! classification of failures that the scheduler turns into backoff.

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
    /// blake3 of the body: an identical body is not parsed again.
    pub hash: [u8; 32],
    /// Bytes as received on the wire are not known after decompression; this is the
    /// decoded size.
    pub len: usize,
}

/// Why a fetch failed. The class decides the backoff and what status shows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("body larger than the {cap} byte cap: stopped reading")]
    TooLarge { cap: u64 },
    #[error("HTTP {status}{}", retry_after.map(|d| format!(" (Retry-After {}s)", d.as_secs())).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("too many redirects or a redirect loop")]
    Redirects,
    #[error("invalid URL: {0}")]
    Url(String),
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// A short class name for metrics and status (`timeout`, `connect`, `too_large`, `http_5xx`…).
    pub fn class(&self) -> &'static str {
        match self {
            FetchError::Timeout(_) => "timeout",
            FetchError::Connect(_) => "connect",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Status { status, .. } if *status == 429 => "http_429",
            FetchError::Status { status, .. } if *status >= 500 => "http_5xx",
            FetchError::Status { .. } => "http_4xx",
            FetchError::Redirects => "redirect",
            FetchError::Url(_) => "url",
            FetchError::Other(_) => "other",
        }
    }

    /// The server asked us to wait this long (429/503 `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The page is gone for good (404/410): stop polling it.
    pub fn is_gone(&self) -> bool {
        matches!(self, FetchError::Status { status: 410, .. })
    }
}

/// The shared HTTP client with its per-host limits.
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
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
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
            })
            .unwrap_or_default();
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
        let hash = *blake3::hash(&body).as_bytes();
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

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.settings.timeout)
        } else if e.is_redirect() {
            FetchError::Redirects
        } else if e.is_builder() {
            FetchError::Url(e.to_string())
        } else if e.is_connect() {
            FetchError::Connect(error_chain(&e))
        } else {
            FetchError::Other(error_chain(&e))
        }
    }
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
    let mut body = Vec::with_capacity(resp.content_length().unwrap_or(64 * 1024).min(cap) as usize);
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Http)? {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
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
}
