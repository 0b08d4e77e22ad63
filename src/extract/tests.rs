//! Unit tests of the chain on small constructed pages.

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn run(html: &str, ct: Option<&str>) -> Extraction {
    let page = Page {
        url: "https://example.org/live",
        body: html.as_bytes(),
        content_type: ct,
        fetched_at: at("2024-05-01T12:00:00Z"),
    };
    extract(&page, &Strategy::Auto)
}

#[test]
fn derived_ids_are_stable_across_edits() {
    let page = |headline: &str, body: &str, ago: &str| {
        format!(
            "<html><body><div class=feed>\
             <div class=entry><h2>{headline}</h2><time datetime='2024-05-01T11:00:00Z'>{ago}</time><p>{body}</p></div>\
             <div class=entry><h2>Older</h2><time datetime='2024-05-01T10:00:00Z'>2 hours ago</time><p>Older text here.</p></div>\
             <div class=entry><h2>Oldest</h2><time datetime='2024-05-01T09:00:00Z'>3 hours ago</time><p>Oldest text here.</p></div>\
             </div></body></html>"
        )
    };
    let a = run(&page("First", "Body one.", "5 min ago"), None);
    let b = run(
        &page("First, edited", "Body one, edited.", "8 min ago"),
        None,
    );
    assert_eq!(a.posts.len(), 3, "{:?}", a.attempts);
    let ids = |e: &Extraction| e.posts.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    assert!(a.posts[0].id.starts_with("lw-"));
    assert_eq!(a.posts[0].published, Some(at("2024-05-01T11:00:00Z")));
}

fn entry(headline: &str, time: &str, body: &str) -> String {
    format!("<div class=entry><h2>{headline}</h2>{time}<p>{body}</p></div>")
}

fn feed(entries: &[String]) -> String {
    format!(
        "<html><head><title>Live</title></head><body><div class=feed>{}</div></body></html>",
        entries.concat()
    )
}

#[test]
fn relative_times_never_set_published_nor_move_ids() {
    let page = |ago: [&str; 3]| {
        feed(&[
            entry(
                "Third",
                &format!("<span class=ago>{}</span>", ago[0]),
                "Third body text.",
            ),
            entry(
                "Second",
                &format!("<span class=ago>{}</span>", ago[1]),
                "Second body text.",
            ),
            entry(
                "First",
                &format!("<span class=ago>{}</span>", ago[2]),
                "First body text.",
            ),
        ])
    };
    let css = Strategy::Css(Selectors {
        post: ".entry".into(),
        headline: Some("h2".into()),
        time: Some(".ago".into()),
        ..Selectors::default()
    });
    let get = |html: &str| {
        let page = Page {
            url: "",
            body: html.as_bytes(),
            content_type: None,
            fetched_at: at("2024-05-01T12:00:00Z"),
        };
        extract(&page, &css)
    };
    let a = get(&page(["1 min ago", "16 min ago", "2 hours ago"]));
    let b = get(&page(["4 min ago", "19 min ago", "3 hours ago"]));
    assert_eq!(a.extractor, "css");
    assert_eq!(a.posts.len(), 3);
    assert!(a.posts.iter().all(|p| p.published.is_none()));
    let ids = |e: &Extraction| e.posts.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
}

#[test]
fn derived_ids_survive_a_headline_edit_when_timed() {
    let t = |s: &str| format!("<time datetime='{s}'>{s}</time>");
    let a = run(
        &feed(&[
            entry("A", &t("2024-05-01T11:00:00Z"), "Alpha."),
            entry("B", &t("2024-05-01T11:00:00Z"), "Beta."),
            entry("C", &t("2024-05-01T10:00:00Z"), "Gamma."),
        ]),
        None,
    );
    let b = run(
        &feed(&[
            entry("A edited", &t("2024-05-01T11:00:00Z"), "Alpha, edited."),
            entry("B", &t("2024-05-01T11:00:00Z"), "Beta."),
            entry("C", &t("2024-05-01T10:00:00Z"), "Gamma."),
        ]),
        None,
    );
    let ids = |e: &Extraction| e.posts.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    // Two posts with the same minute still get different ids.
    assert_ne!(a.posts[0].id, a.posts[1].id);
}

#[test]
fn broken_jsonld_next_to_good_html() {
    let html = format!(
        "<html><head><script type='application/ld+json'>{{\"@type\": \"LiveBlogPosting\", \"liveBlogUpdate\": [{{\"headline\": </script></head><body>{}</body></html>",
        feed(&[
            entry("One", "<time datetime='2024-05-01T11:00:00Z'>11:00</time>", "Text one."),
            entry("Two", "<time datetime='2024-05-01T10:00:00Z'>10:00</time>", "Text two."),
            entry("Three", "<time datetime='2024-05-01T09:00:00Z'>09:00</time>", "Text three."),
        ])
    );
    let ex = run(&html, None);
    assert_eq!(ex.posts.len(), 3, "{:?}", ex.attempts);
    assert_eq!(ex.extractor, "generic");
    assert_eq!(ex.posts[0].headline.as_deref(), Some("One"));
    assert_eq!(ex.posts[0].body, "Text one.");
    assert!(ex
        .attempts
        .iter()
        .any(|a| a.extractor == "jsonld" && a.reason.contains("JSON-LD block 1")));
}

#[test]
fn sloppy_jsonld_alone_gives_posts() {
    let html = "<html><head><script type='application/ld+json'>\n{\"@context\":\"https://schema.org\",\"@graph\":[{\"@type\":\"LiveBlogPosting\",\
        \"liveBlogUpdate\":[{\"@type\":\"BlogPosting\",\"url\":\"https://x.org/live#p2\",\"headline\":\"Two\",\"articleBody\":\"Line one\nline two\",\
        \"datePublished\":\"2024-05-01T11:00:00+02:00\",},{\"@type\":\"BlogPosting\",\"url\":\"https://x.org/live#p1\",\"headline\":\"One\",\
        \"articleBody\":\"&lt;p&gt;First&lt;/p&gt;\",\"datePublished\":\"2024-05-01T08:00:00Z\"},]}]}</script></head><body><p>nothing</p></body></html>";
    let ex = run(html, None);
    assert_eq!(ex.extractor, "jsonld");
    assert_eq!(ex.posts.len(), 2);
    assert_eq!(ex.posts[0].id, "p2");
    assert_eq!(ex.posts[0].published, Some(at("2024-05-01T09:00:00Z")));
    assert_eq!(ex.posts[1].body, "First");
}

#[test]
fn windows_1252_page_by_header() {
    let mut raw: Vec<u8> = b"<html><body><div class=feed>".to_vec();
    for (h, t) in [
        (&b"Caf\xe9"[..], "11"),
        (&b"Na\xefve"[..], "10"),
        (&b"\x93Quoted\x94"[..], "09"),
    ] {
        raw.extend_from_slice(b"<div class=entry><h2>");
        raw.extend_from_slice(h);
        raw.extend_from_slice(
            format!("</h2><time datetime='2024-05-01T{t}:00:00Z'></time><p>Body text</p></div>")
                .as_bytes(),
        );
    }
    raw.extend_from_slice(b"</div></body></html>");
    let page = Page {
        url: "",
        body: &raw,
        content_type: Some("text/html; charset=windows-1252"),
        fetched_at: at("2024-05-01T12:00:00Z"),
    };
    let ex = extract(&page, &Strategy::Auto);
    let heads: Vec<_> = ex.posts.iter().filter_map(|p| p.headline.clone()).collect();
    assert_eq!(heads, ["Café", "Naïve", "“Quoted”"]);
}

#[test]
fn charset_only_in_meta() {
    let mut raw: Vec<u8> = b"<html><head><meta charset=\"iso-8859-1\"><title>Le direct</title></head><body><div class=feed>".to_vec();
    for t in ["11", "10", "09"] {
        raw.extend_from_slice(b"<div class=entry><h2>Entr");
        raw.push(0xe9);
        raw.extend_from_slice(
            format!("e {t}</h2><time datetime='2024-05-01T{t}:00:00Z'></time><p>R").as_bytes(),
        );
        raw.push(0xe9);
        raw.extend_from_slice(b"sum\xe9</p></div>");
    }
    raw.extend_from_slice(b"</div></body></html>");
    let page = Page {
        url: "",
        body: &raw,
        content_type: Some("text/html"),
        fetched_at: at("2024-05-01T12:00:00Z"),
    };
    let ex = extract(&page, &Strategy::Auto);
    assert_eq!(ex.posts.len(), 3);
    assert_eq!(ex.posts[0].headline.as_deref(), Some("Entrée 11"));
    assert_eq!(ex.posts[0].body, "Résumé");
}

#[test]
fn closed_by_phrase_or_coverage_end() {
    let body = feed(&[
        entry(
            "End",
            "<time datetime='2024-05-01T11:00:00Z'></time>",
            "This live blog is now closed. Thanks for reading.",
        ),
        entry(
            "B",
            "<time datetime='2024-05-01T10:00:00Z'></time>",
            "Text.",
        ),
        entry(
            "C",
            "<time datetime='2024-05-01T09:00:00Z'></time>",
            "Text.",
        ),
    ]);
    assert_eq!(
        run(&body, None).closed,
        Some(Closed::Phrase("this live blog is now closed".into()))
    );
    // Any case, in every language of the table.
    for (page, phrase) in [
        (
            "<p>THIS LIVE BLOG IS NOW CLOSED</p>",
            "this live blog is now closed",
        ),
        ("<p>Ce direct est terminé.</p>", "ce direct est terminé"),
        ("<p>CE DIRECT EST TERMINÉ</p>", "ce direct est terminé"),
        (
            "<div>La diretta è terminata</div>",
            "la diretta è terminata",
        ),
    ] {
        let html = format!("<html><body>{page}</body></html>");
        assert_eq!(
            run(&html, None).closed,
            Some(Closed::Phrase(phrase.into())),
            "{page}"
        );
    }
    // In a script it is no statement.
    let quiet = "<html><body><script>var s = 'This live blog is now closed';</script><p>x</p></body></html>";
    assert_eq!(run(quiet, None).closed, None);
    let ended = "<script type='application/ld+json'>{\"@type\":\"LiveBlogPosting\",\"coverageEndTime\":\"2024-05-01T10:00:00Z\"}</script>";
    assert_eq!(
        run(ended, None).closed,
        Some(Closed::CoverageEnd(at("2024-05-01T10:00:00Z")))
    );
    let later = ended.replace("2024-05-01T10", "2024-05-02T10");
    assert_eq!(run(&later, None).closed, None);
}

#[test]
fn empty_page_says_what_was_tried() {
    let ex = run("<html><body><p>Hello</p></body></html>", None);
    assert!(ex.posts.is_empty());
    let tried: Vec<_> = ex.attempts.iter().map(|a| a.extractor.as_str()).collect();
    assert_eq!(tried, ["jsonld", "microdata", "generic"]);
    let ex = extract(
        &Page {
            url: "",
            body: b"<p>x</p>",
            content_type: None,
            fetched_at: at("2024-05-01T12:00:00Z"),
        },
        &Strategy::Css(Selectors {
            post: "div[".into(),
            ..Selectors::default()
        }),
    );
    assert!(ex.attempts[0].reason.contains("not valid CSS"));
}

#[test]
fn pinned_copy_is_reported_once() {
    let html = "<html><body><div id=liveblog-body>\
        <div id=pinned-post><article class=block><header><time datetime='2024-05-01T10:00:00Z'></time><h2>Pinned</h2></header><p>Same text.</p></article></div>\
        <article id=block-b class=block><header><time datetime='2024-05-01T11:00:00Z'></time></header><p>Newer.</p></article>\
        <article id=block-a class=block><header><time datetime='2024-05-01T10:00:00Z'></time><h2>Pinned</h2></header><p>Same text.</p></article>\
        </div></body></html>";
    let ex = run(html, None);
    assert_eq!(ex.extractor, "guardian");
    let ids: Vec<_> = ex.posts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["block-b", "block-a"]);
}

#[test]
fn never_panics_on_hostile_input() {
    let now = at("2024-05-01T12:00:00Z");
    let go = |body: &[u8]| {
        for s in [
            Strategy::Auto,
            Strategy::Named("generic".into()),
            Strategy::Named("cnbc".into()),
            Strategy::Named("jsonld".into()),
        ] {
            let _ = extract(
                &Page {
                    url: "not a url",
                    body,
                    content_type: Some("text/html; charset=nonsense"),
                    fetched_at: now,
                },
                &s,
            );
        }
    };
    go(b"");
    go(b"\xff\xfe\x00<\x00h\x00");
    go(b"<html><body><div class=feed><div class=entry><h2>Trunc");
    go("<h2>12.50 BST: x</h2><p>é".as_bytes());
    go(b"<script type='application/ld+json'>{\"@type\":\"LiveBlogPosting\",\"liveBlogUpdate\":[[[[[[[{\"a\":</script>");
    let deep_json = format!(
        "<script type='application/ld+json'>{}{}</script>",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    go(deep_json.as_bytes());
    go(format!("{}x", "<div>".repeat(3000)).as_bytes());
    go(b"<h2>99.99 Uhr: no</h2><h2>23.59 pm: no</h2><time datetime='99999-99-99T99:99Z'>x</time>");
}

#[test]
fn a_short_headline_is_not_cut_off_the_body_that_starts_with_it() {
    let page = "<html><body><div class=feed>\
        <div class=entry><h2>Fire</h2><time datetime='2024-05-01T11:00:00Z'></time><p>Fire crews were called at noon.</p></div>\
        <div class=entry><h2>Vote count: turnout is up</h2><time datetime='2024-05-01T10:00:00Z'></time><p>Vote count: turnout is up. Officials said so.</p></div>\
        <div class=entry><h2>Roads</h2><time datetime='2024-05-01T09:00:00Z'></time><p>Roads: closed in the centre.</p></div>\
        </div></body></html>";
    let ex = run(page, None);
    let bodies: Vec<&str> = ex.posts.iter().map(|p| p.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "Fire crews were called at noon.",
            // A headline of three words or more, or one followed by a separator, repeated
            // at the start of the body is dropped from it.
            "Officials said so.",
            "closed in the centre."
        ]
    );
}

/// Every fixture page and timeline step, and the generated 1 MiB page.
fn fixture_pages() -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("tests/fixtures");
    let mut dirs = vec![
        fixtures.join("pages"),
        fixtures.join("unprofiled"),
        root.join("benches/pages"),
    ];
    let mut timelines: Vec<_> = std::fs::read_dir(fixtures.join("timelines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.append(&mut timelines);
    let mut out = vec![];
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "html"))
            .collect();
        files.sort();
        for f in files {
            out.push((f.display().to_string(), std::fs::read(&f).unwrap()));
        }
    }
    out
}

#[test]
fn the_lean_parse_gives_every_fixture_the_same_extraction() {
    let pages = fixture_pages();
    assert!(pages.len() > 60, "fixtures missing: {}", pages.len());
    let (mut cut, mut differ) = (0, vec![]);
    for (name, body) in &pages {
        let page = Page {
            url: "https://example.org/live",
            body,
            content_type: Some("text/html; charset=utf-8"),
            fetched_at: at("2024-09-01T00:00:00Z"),
        };
        let text = decode::decode(page.body, page.content_type);
        let Some(lean) = crate::markup::prune_all(&text) else {
            continue;
        };
        if lean.len() < text.len() {
            cut += 1;
        }
        let full = Html::parse_document(&depth::bound(&text));
        let lean = Html::parse_document(&depth::bound(&lean));
        for strategy in [Strategy::Auto, Strategy::Named("generic".into())] {
            let at = Some(page.fetched_at);
            let a = extract_doc(&full, &text, &page, &strategy, at);
            let b = extract_doc(&lean, &text, &page, &strategy, at);
            let (a, b) = (format!("{a:#?}"), format!("{b:#?}"));
            if let Some((x, y)) = a.lines().zip(b.lines()).find(|(x, y)| x != y) {
                differ.push(format!("{name} ({strategy:?}): {x:?} became {y:?}"));
            } else if a != b {
                differ.push(format!("{name} ({strategy:?}): the posts differ in number"));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "the lean parse changed extractions:\n{}",
        differ.join("\n")
    );
    // The test means something only if most pages were cut.
    assert!(
        cut * 2 > pages.len(),
        "only {cut} of {} pages cut",
        pages.len()
    );
}

#[test]
fn a_page_without_posts_is_read_whole_for_its_diagnosis() {
    // A feed container that holds nothing but a script: without the script's text it
    // looks like an empty feed, with it not. What the page is told is the whole page's.
    let js = "var x = 1;\n".repeat(4000);
    let html = format!(
        "<html><head><title>Live</title></head><body>\
         <div id=\"live-feed\" class=\"updates\"><script>{js}</script></div></body></html>"
    );
    assert!(
        matches!(crate::markup::prune(&html), Cow::Owned(_)),
        "the page must be one the lean parse cuts"
    );
    let page = Page {
        url: "https://example.org/live",
        body: html.as_bytes(),
        content_type: Some("text/html; charset=utf-8"),
        fetched_at: at("2024-09-01T00:00:00Z"),
    };
    let got = extract(&page, &Strategy::Auto);
    assert!(got.posts.is_empty());
    let full = Html::parse_document(&html);
    let mut want = extract_doc(&full, &html, &page, &Strategy::Auto, Some(page.fetched_at));
    want.attempts
        .extend(vendor::diagnose(&full, &html, page.url));
    assert_eq!(
        format!("{:?}", got.attempts),
        format!("{:?}", want.attempts)
    );
    // The pruned tree alone would have said something else.
    let lean = Html::parse_document(&crate::markup::prune(&html));
    assert_ne!(
        format!("{:?}", vendor::diagnose(&lean, &html, page.url)),
        format!("{:?}", vendor::diagnose(&full, &html, page.url))
    );
}
