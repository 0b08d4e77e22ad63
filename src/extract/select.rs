//! Compiled CSS selectors for the built-in rules, compiled once per process.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use scraper::Selector;

/// A compiled selector for a static string, compiled once per process.
pub fn sel(css: &'static str) -> &'static Selector {
    static CACHE: LazyLock<Mutex<HashMap<&'static str, &'static Selector>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&s) = cache.get(css) {
        return s;
    }
    // Built-in selectors are tested; an invalid one matches nothing rather than panicking.
    let s: &'static Selector =
        Box::leak(Box::new(Selector::parse(css).unwrap_or_else(|_| {
            Selector::parse("livewatch-invalid-selector").unwrap()
        })));
    cache.insert(css, s);
    s
}
