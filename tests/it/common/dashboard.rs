//! A daemon with its HTTP endpoint on loopback, for the dashboard and API tests: its
//! config, its port, JSON requests to its API and its events (stdout notifier, JSON).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::http::{request, Response};
use super::{dump, free_port, read_jsonl, run_daemon_env, wait_for, write_config, Proc};

pub const LONG: Duration = Duration::from_secs(30);

/// One `[[watch]]` table polled every 200 ms without adaptive pacing.
pub fn watch_toml(url: &str) -> String {
    format!("[[watch]]\nurl = \"{url}\"\ninterval = \"200ms\"\nadaptive = false\n\n")
}

/// A config listening on `listen` with these extra top-level lines and watches, and one
/// stdout notifier `out` (JSON).
pub fn config_text(listen: &str, top: &str, watches: &[&str]) -> String {
    let mut t = format!("listen = \"{listen}\"\n{top}\n\n");
    for w in watches {
        t.push_str(&watch_toml(w));
    }
    t.push_str("[[notifier]]\nname = \"out\"\ntype = \"stdout\"\njson = true\n");
    t
}

/// The daemon under test.
pub struct Dash {
    pub port: u16,
    pub config: PathBuf,
    pub state: PathBuf,
    pub out: PathBuf,
    pub env: Vec<(String, String)>,
    pub proc: Option<Proc>,
}

impl Dash {
    /// Start `livewatch run` on 127.0.0.1 on a free port, watching `watches`.
    pub fn start(dir: &Path, watches: &[&str]) -> Dash {
        let port = free_port();
        let cfg = config_text(&format!("127.0.0.1:{port}"), "", watches);
        Dash::start_with(dir, port, &cfg, &[])
    }

    /// Start with this config text and environment; waits until the endpoint answers.
    pub fn start_with(dir: &Path, port: u16, config: &str, env: &[(&str, &str)]) -> Dash {
        let mut d = Dash {
            port,
            config: write_config(dir, config),
            state: dir.join("state"),
            out: dir.join("events.jsonl"),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            proc: None,
        };
        d.run();
        d
    }

    /// Start the daemon (again, after [`Dash::stop`]) and wait for its endpoint.
    pub fn run(&mut self) {
        self.proc = Some(run_daemon_env(
            &self.config,
            &self.state,
            &self.out,
            &self.env,
        ));
        let port = self.port;
        assert!(
            wait_for(LONG, || request(port, "GET", "/healthz", &[], "").is_ok()),
            "the HTTP endpoint does not answer\n{}",
            self.dump()
        );
    }

    /// Stop with SIGTERM (waiting for the exit) and start again on the same port and state.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.signal("TERM");
            assert!(p.wait_exit(LONG).is_some(), "the daemon did not stop");
        }
    }

    pub fn signal(&self, sig: &str) {
        self.proc.as_ref().expect("running").signal(sig);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn dump(&self) -> String {
        dump(&self.out)
    }

    /// The events delivered so far.
    pub fn events(&self) -> Vec<Value> {
        read_jsonl(&self.out)
    }

    /// Wait for an event of `kind` whose post headline or body contains `text`.
    pub fn wait_event(&self, kind: &str, text: &str) -> Value {
        let mut found = None;
        let ok = wait_for(LONG, || {
            found = self.events().into_iter().find(|e| {
                e["kind"] == kind
                    && (e["post"]["headline"].as_str().unwrap_or("").contains(text)
                        || e["post"]["body"].as_str().unwrap_or("").contains(text))
            });
            found.is_some()
        });
        assert!(ok, "no {kind} event with {text:?}\n{}", self.dump());
        found.unwrap()
    }

    /// A request with extra headers; a JSON body when `body` is given.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let mut h: Vec<(&str, &str)> = headers.to_vec();
        if body.is_some() {
            h.push(("Content-Type", "application/json"));
        }
        request(self.port, method, path, &h, &text)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.dump()))
    }

    /// (status, JSON body) of an API request without extra headers.
    pub fn api(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let r = self.call(method, path, &[], body);
        let v = if r.body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&r.body)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {}", r.body))
        };
        (r.status, v)
    }

    /// `/api/watches`.
    pub fn watches(&self) -> Vec<Value> {
        let (status, v) = self.api("GET", "/api/watches", None);
        assert_eq!(status, 200, "{v}");
        v.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Dash {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let _ = p.0.kill();
            let _ = p.0.wait();
        }
    }
}

/// A page of repeated post blocks (`<article>` with a time, a heading and a paragraph)
/// without structured data, newest first: the layout analyser's case. Headlines and
/// bodies are HTML as given.
pub fn blocks_page(title: &str, posts: &[super::notify::GenPost]) -> String {
    let mut html = String::new();
    for (i, p) in posts.iter().enumerate().rev() {
        html.push_str(&format!(
            "<article class=\"update\" id=\"{id}\"><time datetime=\"2026-01-01T{h:02}:00:00Z\">{h:02}:00</time>\
             <h2>{headline}</h2><p>{body}</p></article>\n",
            id = p.id,
            h = 10 + i,
            headline = p.headline,
            body = p.body,
        ));
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><header><nav><a href=\"/\">Home</a></nav></header><main><h1>{title}</h1>{html}</main></body></html>"
    )
}

/// `n` posts for [`blocks_page`], `u1` … `un`, long enough to be read as posts.
pub fn block_posts(n: usize) -> Vec<super::notify::GenPost> {
    (1..=n)
        .map(|i| super::notify::GenPost {
            id: format!("u{i}"),
            headline: format!("Update {i} on the storm"),
            body: format!(
                "Rain and wind kept falling over the coast this hour, number {i}, with crews out \
                 on every road and more to come later in the evening."
            ),
        })
        .collect()
}
