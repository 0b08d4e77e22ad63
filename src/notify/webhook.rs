//! The webhook notifier: a POST of the event JSON (README "Event object") with
//! `X-Livewatch-Event`, `X-Livewatch-Delivery` and, when a secret is set,
//! `X-Livewatch-Signature-256: sha256=HEX` (HMAC-SHA256 of the raw body).

use std::collections::BTreeMap;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::http::Http;
use super::{Delivered, Delivery, DeliveryError, Notifier};

/// The signature header value for `body`: `sha256=` and the hex HMAC-SHA256 with
/// `secret` as the key.
pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(&mac.finalize().into_bytes()[..]))
}

/// POSTs every event as JSON to one URL.
pub(crate) struct Webhook {
    http: Http,
    url: String,
    secret: Option<String>,
    headers: BTreeMap<String, String>,
    /// The JSON body as a template (`template = …`), when set.
    pub template: Option<std::sync::Arc<super::template::BodyTemplate>>,
}

impl Webhook {
    pub(crate) fn new(
        http: Http,
        url: String,
        secret: Option<String>,
        headers: BTreeMap<String, String>,
    ) -> Self {
        Webhook {
            http,
            url,
            secret,
            headers,
            template: None,
        }
    }

    /// The body of one delivery: the event JSON, or the rendered template (valid JSON).
    pub(crate) fn body(&self, event: &crate::model::Event) -> Result<Vec<u8>, DeliveryError> {
        match &self.template {
            Some(t) => super::template::render_body(t, event),
            None => serde_json::to_vec(event)
                .map_err(|e| DeliveryError::Permanent(format!("cannot encode the event: {e}"))),
        }
    }

    /// The headers of one delivery (custom ones first, so they cannot replace ours).
    pub(crate) fn headers_for(&self, d: &Delivery<'_>, body: &[u8]) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        h.push(("Content-Type".into(), "application/json".into()));
        h.push(("X-Livewatch-Event".into(), d.event.kind.as_str().into()));
        h.push(("X-Livewatch-Delivery".into(), d.event.id.clone()));
        if let Some(s) = &self.secret {
            h.push(("X-Livewatch-Signature-256".into(), signature(s, body)));
        }
        h
    }
}

#[async_trait]
impl Notifier for Webhook {
    async fn deliver(&self, d: &Delivery<'_>) -> Result<Delivered, DeliveryError> {
        let body = self.body(d.event)?;
        let mut req = self.http.client().post(&self.url);
        for (k, v) in self.headers_for(d, &body) {
            req = req.header(k, v);
        }
        self.http.send(req.body(body)).await?;
        Ok(Delivered::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn headers_carry_kind_id_and_signature() {
        let http = Http::new(reqwest::Client::new(), std::time::Duration::from_secs(1));
        let mut custom = BTreeMap::new();
        custom.insert("Authorization".to_string(), "Bearer x".to_string());
        let w = Webhook::new(http, "http://127.0.0.1/".into(), Some("k".into()), custom);
        let e = crate::notify::message::tests::correction();
        let d = Delivery {
            event: &e,
            earlier_remote_id: None,
            attempt: 1,
        };
        let h = w.headers_for(&d, b"{}");
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("X-Livewatch-Event"), Some("correction"));
        assert_eq!(get("X-Livewatch-Delivery"), Some("evt_123"));
        assert_eq!(get("Content-Type"), Some("application/json"));
        assert_eq!(get("Authorization"), Some("Bearer x"));
        assert_eq!(
            get("X-Livewatch-Signature-256").map(str::to_string),
            Some(signature("k", b"{}"))
        );
    }
}
