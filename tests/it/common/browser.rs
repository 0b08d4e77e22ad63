//! A real Chromium driven through chromedriver (WebDriver, with the fantoccini client) for
//! the dashboard tests. Debian's `chromium` and `chromium-driver` packages: a missing one
//! fails naming it. Each browser has its own profile folder and chromedriver on a free
//! port; both end with the [`Browser`].

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

use super::{free_port, require_program, Proc};

/// A headless Chromium session.
pub struct Browser {
    pub client: Client,
    rt: tokio::runtime::Runtime,
    _driver: Proc,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start() -> Browser {
        let chromium = require_program("chromium", "chromium", "the dashboard's browser tests");
        let driver = require_program(
            "chromedriver",
            "chromium-driver",
            "the dashboard's browser tests (WebDriver)",
        );
        let port = free_port();
        let driver = Proc(
            Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let profile = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        // An alert stays open for the test to find (instead of being dismissed).
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            let attempt = rt.block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps.clone())
                    .connect(&url),
            );
            match attempt {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => {
                    panic!("no WebDriver session with chromedriver and {chromium:?}: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        Browser {
            client,
            rt,
            _driver: driver,
            _profile: profile,
        }
    }

    pub fn goto(&self, url: &str) {
        self.rt
            .block_on(self.client.goto(url))
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Run `script` (a function body; `arguments` are `args`) and return its value.
    pub fn js_with(&self, script: &str, args: Vec<Value>) -> Value {
        self.rt
            .block_on(self.client.execute(script, args))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    pub fn js(&self, script: &str) -> Value {
        self.js_with(script, vec![])
    }

    /// Poll `script` until it returns something truthy (30 s at most) and return it; the
    /// failure message says what was awaited and shows the page's text.
    pub fn wait_js(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.js_with(script, args.clone());
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let text = self.js("return document.body ? document.body.innerText : ''");
                panic!(
                    "timed out waiting for {what}; the page shows:\n{}",
                    text.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Click the element `css` selects, as a user does (WebDriver element click).
    pub fn click(&self, css: &str) {
        self.rt
            .block_on(async {
                let e = self.client.find(fantoccini::Locator::Css(css)).await?;
                e.click().await
            })
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Empty the input `css` selects and type `text` into it, key by key.
    pub fn type_into(&self, css: &str, text: &str) {
        self.rt
            .block_on(async {
                let e = self.client.find(fantoccini::Locator::Css(css)).await?;
                e.clear().await?;
                e.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// The text of an open alert, confirm or prompt dialog, if one is open.
    pub fn dialog(&self) -> Option<String> {
        self.rt.block_on(self.client.get_alert_text()).ok()
    }

    /// A PNG of the window, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        let png = self
            .rt
            .block_on(self.client.screenshot())
            .expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ = self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), client.close()).await });
    }
}
