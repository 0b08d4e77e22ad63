//! `livewatch demo`: a live blog on loopback that changes while livewatch watches it.
//!
//! The blog is built from a real page compiled into the binary (a CBS News live blog of
//! 20 February 2020, `assets/demo/`): its posts are extracted once, with livewatch's own
//! extractors, and served as a page (HTML posts plus schema.org JSON-LD) that follows a
//! [`Script`]: a baseline, then every [`STEP`] one change — a new post, an edit of it (the
//! rest of its text arrives), a correction of an older post ("Correction: …" appended and
//! the wrong figure fixed), the removal of a post — and afterwards the remaining newer
//! posts of the real page, one at a time. The script is pure: which posts the page shows
//! is a function of the time since the start.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::extract::{self, Page, Strategy};
use crate::model::Post;
use crate::notify::template::html_escape;

/// Time between two scripted changes.
pub(crate) const STEP: Duration = Duration::from_secs(8);
/// Time between the releases of the remaining posts after the four scripted changes.
pub(crate) const LATER_STEP: Duration = Duration::from_secs(15);
/// The watch's name (the events' blog title).
pub(crate) const NAME: &str = "Debate night live (demo)";

/// The saved page, gzipped.
static PAGE_GZ: &[u8] =
    include_bytes!("../assets/demo/cbsnews-democratic-debate-nevada-2020-02-20.html.gz");
/// Where the saved page came from, and when it was saved.
pub(crate) const SOURCE_URL: &str =
    "https://www.cbsnews.com/live-updates/democratic-debate-nevada-clash-bloomberg/";
pub(crate) const SOURCE_LABEL: &str = "a CBS News live blog of 20 February 2020";

/// The saved page's title and posts (newest first), as livewatch extracts them.
pub(crate) fn source() -> anyhow::Result<(Option<String>, Vec<Post>)> {
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(PAGE_GZ).read_to_end(&mut body)?;
    let saved_at = DateTime::parse_from_rfc3339("2020-02-20T07:00:00Z")
        .expect("a valid time")
        .with_timezone(&Utc);
    let page = Page {
        url: SOURCE_URL,
        body: &body,
        content_type: Some("text/html; charset=utf-8"),
        fetched_at: saved_at,
    };
    let ex = extract::extract(&page, &Strategy::Auto);
    let posts: Vec<Post> = ex
        .posts
        .into_iter()
        .filter(|p| !p.body.trim().is_empty() || p.headline.is_some())
        .map(|mut p| {
            // The page writes "By Jane Doe"; the demo page adds its own "By".
            p.byline = p.byline.map(|b| b.trim_start_matches("By ").to_string());
            p
        })
        .collect();
    anyhow::ensure!(
        posts.len() >= 6,
        "the built-in demo page yields only {} posts",
        posts.len()
    );
    Ok((ex.title, posts))
}

/// Paragraphs of a post body (separated by blank lines).
fn paragraphs(body: &str) -> Vec<&str> {
    body.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

/// The first part of a body, as a post looks when first published (the rest comes in an
/// edit): its first paragraph, else its first sentence, else its first half.
fn first_part(body: &str) -> String {
    let paras = paragraphs(body);
    if paras.len() >= 2 {
        return paras[0].to_string();
    }
    let text = paras.first().copied().unwrap_or("");
    if let Some(i) = text.find(". ") {
        if i + 2 < text.len() {
            return text[..=i].to_string();
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    words[..words.len().div_ceil(2)].join(" ")
}

/// A figure in `body` to get wrong before the correction: (byte range, right, wrong).
/// A whole number standing alone (not part of `99.9`, `1,200`, `COVID19` or a year).
fn a_figure(body: &str) -> Option<(std::ops::Range<usize>, String, String)> {
    let b = body.as_bytes();
    let joins = |i: usize| {
        b.get(i).is_some_and(|c| c.is_ascii_alphanumeric())
            || (matches!(b.get(i), Some(b'.' | b','))
                && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    };
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let before_ok = start == 0
            || !(b[start - 1].is_ascii_alphanumeric() || matches!(b[start - 1], b'.' | b','));
        if before_ok && !joins(i) {
            let right = &body[start..i];
            if let Ok(n @ 2..1900) = right.parse::<u32>() {
                return Some((start..i, right.to_string(), (n + 1).to_string()));
            }
        }
    }
    None
}

/// Which posts the demo page shows when. Posts are newest first.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    start: DateTime<Utc>,
    /// On the page from the start, newest first (times moved to just before the start).
    base: Vec<Post>,
    /// Released one at a time, oldest first; the first is published short, then edited.
    fresh: Vec<Post>,
    /// Index in `base` of the post that gets the correction, its body before and after.
    corrected: (usize, String, String),
    /// Index in `base` of the post that is removed.
    removed: usize,
}

impl Script {
    /// The script for `posts` (newest first, as extracted) starting at `start`, served at
    /// `base_url` (the posts' links point there).
    pub(crate) fn new(mut posts: Vec<Post>, start: DateTime<Utc>, base_url: &str) -> Script {
        // Pages state whole seconds.
        let start = chrono::SubsecRound::trunc_subsecs(start, 0);
        for p in &mut posts {
            p.url = Some(format!("{base_url}#{}", p.id));
        }
        // The newest posts of the page come during the demo, oldest first; the first of
        // them has more than one paragraph, so that the edit adds real text.
        let held = (posts.len() / 3).clamp(1, 5);
        let mut base = posts.split_off(held);
        let mut fresh = posts;
        fresh.reverse();
        if let Some(i) = fresh.iter().position(|p| paragraphs(&p.body).len() >= 2) {
            let p = fresh.remove(i);
            fresh.insert(0, p);
        }
        // Times: the newest post on the page was published three minutes before the start;
        // released posts at their release.
        let newest = base.iter().find_map(|p| p.published);
        let shift = newest.map(|t| start - chrono::Duration::minutes(3) - t);
        for p in &mut base {
            if let Some(d) = shift {
                p.published = p.published.map(|t| t + d);
                p.updated = p.updated.map(|t| t + d);
            }
        }
        for p in &mut fresh {
            p.published = None;
            p.updated = None;
        }
        let removed = base.len() / 2;
        let corrected = (1..base.len())
            .filter(|&i| i != removed)
            .find_map(|i| a_figure(&base[i].body).map(|f| (i, f)));
        let corrected = match corrected {
            Some((i, (range, right, wrong))) => {
                let body = base[i].body.clone();
                let mut before = body.clone();
                before.replace_range(range, &wrong);
                let after = format!(
                    "{body}\n\nCorrection: an earlier version of this post gave the figure {wrong}; it is {right}."
                );
                (i, before, after)
            }
            None => {
                let i = if removed == 1 { 2 } else { 1 };
                let body = base[i].body.clone();
                let after = format!(
                    "{body}\n\nCorrection: an earlier version of this post misstated a detail."
                );
                (i, body, after)
            }
        };
        base[corrected.0].body = corrected.1.clone();
        Script {
            start,
            base,
            fresh,
            corrected,
            removed,
        }
    }

    /// When the last scripted change happens, from the start.
    pub(crate) fn length(&self) -> Duration {
        STEP * 4 + LATER_STEP * (self.fresh.len().saturating_sub(1) as u32)
    }

    fn at(&self, offset: Duration) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(offset).unwrap_or_default()
    }

    /// The posts on the page `elapsed` after the start, newest first.
    pub(crate) fn posts_at(&self, elapsed: Duration) -> Vec<Post> {
        let step = (elapsed.as_millis() / STEP.as_millis()) as u32;
        let mut base = self.base.clone();
        if step >= 3 {
            let p = &mut base[self.corrected.0];
            p.body = self.corrected.2.clone();
            p.updated = Some(self.at(STEP * 3));
        }
        if step >= 4 {
            base.remove(self.removed);
        }
        let later = elapsed
            .checked_sub(STEP * 4)
            .map_or(0, |d| (d.as_millis() / LATER_STEP.as_millis()) as usize);
        let released = match step {
            0 => 0,
            1..=4 => 1,
            _ => (1 + later).min(self.fresh.len()),
        };
        let mut posts: Vec<Post> = Vec::with_capacity(base.len() + released);
        for (i, p) in self.fresh[..released].iter().enumerate().rev() {
            let mut p = p.clone();
            let offset = if i == 0 {
                STEP
            } else {
                STEP * 4 + LATER_STEP * i as u32
            };
            p.published = Some(self.at(offset));
            if i == 0 {
                if step < 2 {
                    p.body = first_part(&p.body);
                } else {
                    p.updated = Some(self.at(STEP * 2));
                }
            }
            posts.push(p);
        }
        posts.extend(base);
        posts
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The demo page: the posts as HTML articles, and as schema.org JSON-LD.
pub(crate) fn render(title: &str, url: &str, posts: &[Post]) -> String {
    let updates: Vec<serde_json::Value> = posts
        .iter()
        .map(|p| {
            serde_json::json!({
                "@type": "BlogPosting",
                "@id": p.url.clone().unwrap_or_default(),
                "url": p.url,
                "headline": p.headline.as_deref().map(html_escape),
                "articleBody": paragraphs(&p.body)
                    .iter()
                    .map(|para| format!("<p>{}</p>", html_escape(para)))
                    .collect::<String>(),
                "datePublished": p.published.map(rfc3339),
                "dateModified": p.updated.or(p.published).map(rfc3339),
                "author": p.byline.as_deref().map(|b| serde_json::json!({"@type": "Person", "name": html_escape(b)})),
            })
        })
        .collect();
    let ld = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": title,
        "url": url,
        "liveBlogUpdate": updates,
    });
    // `</` inside a script element would end it.
    let ld = ld.to_string().replace("</", "<\\/");
    let mut h = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>{t}</title>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"refresh\" content=\"5\">\n\
         <script type=\"application/ld+json\">{ld}</script>\n\
         <style>body{{font-family:sans-serif;max-width:42em;margin:auto;padding:1em}}\
         article{{border-top:1px solid #ccc;padding:.5em 0}}.meta{{color:#666;font-size:.9em}}</style>\n\
         </head><body>\n<header><h1>{t}</h1>\n<p class=\"note\">livewatch demo: {src}, replayed as a live blog that changes every few seconds.</p></header>\n<main id=\"live\">\n",
        t = html_escape(title),
        src = html_escape(SOURCE_LABEL),
    );
    for p in posts {
        h.push_str(&format!("<article id=\"{}\">\n", html_escape(&p.id)));
        if let Some(t) = p.published {
            h.push_str(&format!(
                "<p class=\"meta\"><time datetime=\"{}\">{}</time></p>\n",
                rfc3339(t),
                t.format("%H:%M UTC")
            ));
        }
        if let Some(hl) = &p.headline {
            h.push_str(&format!("<h2>{}</h2>\n", html_escape(hl)));
        }
        for para in paragraphs(&p.body) {
            h.push_str(&format!("<p>{}</p>\n", html_escape(para)));
        }
        if let Some(b) = &p.byline {
            h.push_str(&format!("<p class=\"byline\">By {}</p>\n", html_escape(b)));
        }
        h.push_str("</article>\n");
    }
    h.push_str("</main>\n</body></html>\n");
    h
}

/// The demo blog being served.
pub(crate) struct Blog {
    pub title: String,
    pub url: String,
    pub script: Script,
    started: tokio::time::Instant,
}

impl Blog {
    /// The page as it is now.
    pub(crate) fn page(&self) -> String {
        render(
            &self.title,
            &self.url,
            &self.script.posts_at(self.started.elapsed()),
        )
    }
}

/// Serve the demo blog on `listener` until `stop` turns true.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    title: String,
    script: Script,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let url = format!("http://{}/", listener.local_addr()?);
    let blog = Arc::new(Blog {
        script,
        title,
        url,
        started: tokio::time::Instant::now(),
    });
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let blog = blog.clone();
            async move { axum::response::Html(blog.page()) }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { crate::daemon::stopped(&mut stop).await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{compare, Known};
    use crate::model::EventKind;

    /// The kinds the diff reports when the page goes from its state at each poll to the
    /// next, polled every `every` for `until`.
    fn kinds_over(script: &Script, every: Duration, until: Duration) -> Vec<EventKind> {
        let mut known: Vec<Known> = Vec::new();
        let mut kinds = Vec::new();
        let mut t = Duration::ZERO;
        let mut poll = 0;
        while t <= until {
            let posts = script.posts_at(t);
            let out = compare(&known, &posts, poll);
            if poll > 0 {
                kinds.extend(out.changes.iter().map(|c| c.kind));
            } else {
                assert!(out.changes.iter().all(|c| c.kind == EventKind::New));
            }
            for u in out.updates {
                match known.iter_mut().find(|k| k.post.id == u.post.id) {
                    Some(k) => *k = u,
                    None => known.push(u),
                }
            }
            poll += 1;
            t += every;
        }
        kinds
    }

    #[test]
    fn the_built_in_page_yields_posts_with_headlines() {
        let (title, posts) = source().unwrap();
        assert!(title.is_some_and(|t| t.contains("debate")));
        assert!(posts.len() >= 20, "{}", posts.len());
        assert!(posts.iter().all(|p| p.headline.is_some()));
    }

    #[test]
    fn within_forty_seconds_a_new_post_an_edit_a_correction_and_a_removal() {
        let (_, posts) = source().unwrap();
        let script = Script::new(posts, Utc::now(), "http://127.0.0.1:1/");
        let kinds = kinds_over(&script, Duration::from_secs(1), Duration::from_secs(40));
        assert_eq!(
            kinds,
            [
                EventKind::New,
                EventKind::Edit,
                EventKind::Correction,
                EventKind::Removed
            ],
            "one change per step, in order"
        );
        // Later, the remaining newer posts of the page come one at a time.
        let later = kinds_over(
            &script,
            Duration::from_secs(1),
            script.length() + Duration::from_secs(2),
        );
        assert_eq!(later.len(), 4 + script.fresh.len() - 1, "{later:?}");
        assert!(script.fresh.len() > 1, "more new posts come later");
        assert!(script.length() < Duration::from_secs(180));
    }

    #[test]
    fn the_rendered_page_extracts_back_to_the_script_posts() {
        let (_, posts) = source().unwrap();
        let start = Utc::now();
        let url = "http://127.0.0.1:1/";
        let script = Script::new(posts, start, url);
        for t in [0, 9, 17, 25, 33, 60] {
            let shown = script.posts_at(Duration::from_secs(t));
            let html = render("Demo blog", url, &shown);
            let page = Page {
                url,
                body: html.as_bytes(),
                content_type: None,
                fetched_at: start + chrono::Duration::seconds(t as i64),
            };
            let ex = extract::extract(&page, &Strategy::Auto);
            let ids = |v: &[Post]| v.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
            assert_eq!(ids(&ex.posts), ids(&shown), "at {t}s ({})", ex.extractor);
            for (got, want) in ex.posts.iter().zip(&shown) {
                assert_eq!(got.body, want.body, "at {t}s");
                assert_eq!(got.headline, want.headline, "at {t}s");
                assert_eq!(got.published, want.published, "at {t}s");
            }
        }
    }

    #[test]
    fn a_figure_is_found_as_a_whole_number_and_not_a_year() {
        let (r, right, wrong) = a_figure("In 2020, 12 of 40 voters").unwrap();
        assert_eq!((r, right.as_str(), wrong.as_str()), (9..11, "12", "13"));
        assert_eq!(a_figure("In 2020, COVID19 spread"), None);
        assert_eq!(a_figure("99.9% of 1,200"), None);
        assert_eq!(first_part("One. Two three."), "One.");
        assert_eq!(first_part("A\n\nB"), "A");
    }

    #[test]
    fn untrusted_text_is_escaped_in_the_page() {
        let mut p = Post::new("x\"><script>", "<b>bold</b> & </script>");
        p.headline = Some("<img src=x onerror=alert(1)>".into());
        let html = render("T</title>", "http://127.0.0.1:1/", &[p]);
        assert!(!html.contains("<b>bold"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("T</title>"));
        assert_eq!(
            html.matches("</script>").count(),
            1,
            "only the JSON-LD's own end"
        );
    }
}
