//! The HTTP side shared by the webhook and the chat presets: one request with the
//! notifier's timeout, and the classification of its answer into done, retry later, or
//! give up now.

use std::time::Duration;

use super::DeliveryError;
use crate::fetch::{error_chain, read_small_body, retry_after};

/// Characters of a response body kept in an error message.
const ERROR_BODY_CHARS: usize = 200;

/// What an HTTP status means for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// 2xx: delivered.
    Success,
    /// 4xx other than 408 and 429: the receiver refuses this request; retrying the same
    /// bytes cannot help.
    Permanent,
    /// Everything else (5xx, 408, 429, 1xx, 3xx): try again later.
    Retry,
}

/// Classify an HTTP status code.
pub(crate) fn classify(status: u16) -> Class {
    match status {
        200..=299 => Class::Success,
        408 | 429 => Class::Retry,
        400..=499 => Class::Permanent,
        _ => Class::Retry,
    }
}

/// Set a JSON body (reqwest's `json` feature is not built in).
pub(crate) fn json(
    req: reqwest::RequestBuilder,
    body: &serde_json::Value,
) -> reqwest::RequestBuilder {
    req.header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
}

/// A successful answer.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The response body (capped; see [`read_small_body`]).
    pub body: String,
}

/// A reqwest client with the notifier's own timeout.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    timeout: Duration,
}

impl Http {
    pub(crate) fn new(client: reqwest::Client, timeout: Duration) -> Self {
        Http { client, timeout }
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Send `req` and classify the outcome: connection errors, resets, dropped
    /// connections and timeouts are retried; so are 5xx, 408 and 429 (after the
    /// `Retry-After` they carry); other 4xx are permanent, with the status and the start
    /// of the body in the message.
    pub(crate) async fn send(&self, req: reqwest::RequestBuilder) -> Result<Answer, DeliveryError> {
        let resp = req.timeout(self.timeout).send().await.map_err(|e| {
            let why = if e.is_timeout() {
                format!("no answer within {:?}", self.timeout)
            } else {
                error_chain(&e)
            };
            DeliveryError::retry(why)
        })?;
        let status = resp.status().as_u16();
        let after = retry_after(resp.headers());
        let body = read_small_body(resp).await;
        let short = || {
            let b = crate::text::collapse_ws(&body);
            if b.is_empty() {
                format!("HTTP {status}")
            } else {
                format!(
                    "HTTP {status}: {}",
                    crate::text::truncate(&b, ERROR_BODY_CHARS)
                )
            }
        };
        match classify(status) {
            Class::Success => Ok(Answer { body }),
            Class::Permanent => Err(DeliveryError::Permanent(short())),
            Class::Retry => Err(DeliveryError::Retry {
                reason: short(),
                after,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        for s in [200, 201, 202, 204, 299] {
            assert_eq!(classify(s), Class::Success, "{s}");
        }
        for s in [400, 401, 403, 404, 410, 413, 422] {
            assert_eq!(classify(s), Class::Permanent, "{s}");
        }
        for s in [408, 429, 500, 502, 503, 504, 301, 100] {
            assert_eq!(classify(s), Class::Retry, "{s}");
        }
    }
}
