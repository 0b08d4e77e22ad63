//! The same page polled 1,000 times with fresh noise each time (relative times, page
//! stamps, cache-busters, nonces, ad-slot and embed tokens, attribute order) → 0 events.
//! Runs the real extractor and the real diff, as the daemon does on every changed body.

use chrono::{Duration, TimeZone, Utc};
use livewatch::diff::{compare, Known};
use livewatch::extract::{extract, Page, Strategy};
use rand::{RngExt, SeedableRng};
use regex::Regex;

fn fixture(name: &str) -> Vec<u8> {
    crate::common::read_file(&crate::common::pages_dir().join(name))
}

/// Rewrite every volatile part of a page with fresh random values.
struct Noise {
    rng: rand::rngs::StdRng,
    relative: Regex,
    busters: Regex,
    nonce: Regex,
    tokens: Regex,
    attr_pair: Regex,
    body: Regex,
}

impl Noise {
    fn new(seed: u64) -> Self {
        Noise {
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            relative: Regex::new(r"\b\d+ (min|mins|minutes|hr|hrs|hours) ago").unwrap(),
            busters: Regex::new(r"([?&](?:v|ver|cb|ts|_|hash|rev)=)[A-Za-z0-9._-]+").unwrap(),
            nonce: Regex::new(r#"(nonce|data-token|data-ad-slot|data-embed-token)="[^"]*""#)
                .unwrap(),
            tokens: Regex::new(r#"("(?:timestamp|serverTime|requestId|buildId)":)\s*"?[\w:.-]+"?"#)
                .unwrap(),
            attr_pair: Regex::new(
                r#"<(script|link|img|iframe) ([a-z-]+="[^"]*") ([a-z-]+="[^"]*")"#,
            )
            .unwrap(),
            body: Regex::new(r"<body[^>]*>").unwrap(),
        }
    }

    fn apply(&mut self, html: &str) -> String {
        let r = &mut self.rng;
        let n = r.random_range(1..59u32);
        let s = self
            .relative
            .replace_all(html, |c: &regex::Captures<'_>| format!("{n} {} ago", &c[1]));
        let hex: String = format!("{:x}", r.random::<u64>());
        let s = self
            .busters
            .replace_all(&s, |c: &regex::Captures<'_>| format!("{}{hex}", &c[1]));
        let s = self
            .nonce
            .replace_all(&s, |c: &regex::Captures<'_>| format!("{}=\"{hex}\"", &c[1]));
        let ts = r.random::<u32>();
        let s = self
            .tokens
            .replace_all(&s, |c: &regex::Captures<'_>| format!("{}{ts}", &c[1]));
        let swap = r.random_bool(0.5);
        let s = self.attr_pair.replace_all(&s, |c: &regex::Captures<'_>| {
            if swap {
                format!("<{} {} {}", &c[1], &c[3], &c[2])
            } else {
                c[0].to_string()
            }
        });
        // A page-level stamp and a fresh ad slot at the top of the body.
        let stamp = format!(
            "$0<div class=\"ad-slot\" id=\"ad-{hex}\" data-refresh=\"{ts}\"></div><span class=\"page-updated\">Updated {n} min ago</span>"
        );
        self.body.replacen(&s, 1, stamp.as_str()).into_owned()
    }
}

fn polls_without_events(name: &str, polls: usize) {
    let raw = fixture(name);
    let html = String::from_utf8_lossy(&raw).into_owned();
    let url = "https://live.example/blog";
    let t0 = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
    let first = extract(
        &Page {
            url,
            body: raw.as_slice(),
            content_type: Some("text/html; charset=utf-8"),
            fetched_at: t0,
        },
        &Strategy::Auto,
    );
    assert!(!first.posts.is_empty(), "{name}: no posts");
    let mut known: Vec<Known> = first
        .posts
        .iter()
        .enumerate()
        .map(|(i, p)| Known::first_seen(p.clone(), 0, i))
        .collect();
    let mut noise = Noise::new(42);
    let mut changed_bytes = 0;
    for i in 1..=polls {
        let page = noise.apply(&html);
        if page != html {
            changed_bytes += 1;
        }
        let ex = extract(
            &Page {
                url,
                body: page.as_bytes(),
                content_type: Some("text/html; charset=utf-8"),
                fetched_at: t0 + Duration::seconds(30 * i as i64),
            },
            &Strategy::Auto,
        );
        let out = compare(&known, &ex.posts, i as i64);
        assert!(
            out.changes.is_empty(),
            "{name}: poll {i} emitted {:?}",
            out.changes
                .iter()
                .map(|c| (c.kind, c.post.id.clone(), c.diff.clone()))
                .collect::<Vec<_>>()
        );
        for u in out.updates {
            if let Some(k) = known.iter_mut().find(|k| k.post.id == u.post.id) {
                *k = u;
            }
        }
    }
    assert_eq!(
        changed_bytes, polls,
        "{name}: the noise must change every poll"
    );
}

#[test]
fn cnn_page_polled_1000_times_with_noise_gives_no_events() {
    polls_without_events("cnn-coronavirus-outbreak-2020-02-19.html", 1000);
}

#[test]
fn guardian_page_with_noise_gives_no_events() {
    polls_without_events("guardian-russia-ukraine-war-2023-05-15.html", 150);
}

#[test]
fn independent_amp_page_with_noise_gives_no_events() {
    polls_without_events("independent-womens-world-cup-amp-2023-08-14.html", 150);
}
