use super::*;

fn fp(html: &str) -> Option<Fingerprint> {
    let key = watch_key(&Strategy::Auto);
    fingerprint(
        &key,
        &Strategy::Auto,
        "https://x.test/",
        None,
        html.as_bytes(),
    )
}

fn same(a: &str, b: &str) {
    assert_eq!(fp(a), fp(b), "\n{a}\n{b}");
    assert!(fp(a).is_some());
}

fn differ(a: &str, b: &str) {
    assert_ne!(fp(a), fp(b), "\n{a}\n{b}");
}

#[test]
fn noise_does_not_count() {
    // Comments, scripts, styles, nonces, attribute order, whitespace runs.
    same(
        "<div id=a class=b><p>Hello  world</p><!-- x1 --><script nonce=1>var t=1</script></div>",
        "<div class=b  id=a><p>Hello\n world</p><!-- x2 --><script nonce=2>var t=2</script></div>",
    );
    same("<style>.a{}</style><p>x</p>", "<style>.b{}</style><p>x</p>");
    same(
        "<a href=\"/p?utm_source=a&id=3#p1\" data-refresh=\"1\">x</a><img src=\"a.jpg?cb=1\">",
        "<a data-refresh=\"2\" href=\"/p?id=3&utm_medium=b#p1\">x</a><img src=\"a.jpg?cb=2\">",
    );
    // Relative times and counters, as the diff drops them.
    same(
        "<p>Updated 3 min ago</p><span>12 comments</span>",
        "<p>Updated 17 min ago</p><span>1,204 comments</span>",
    );
    same(
        "<p>Posted 2 hours ago: news</p>",
        "<p>Posted 3 hours ago: news</p>",
    );
}

#[test]
fn what_extractors_read_counts() {
    differ("<p>Hello world</p>", "<p>Hello World</p>");
    differ("<p>a<b>b</b> c</p>", "<p>a<b>b</b>c</p>");
    differ("<div id=a>x</div>", "<div id=b>x</div>");
    differ("<div class=a>x</div>", "<div class=b>x</div>");
    differ(
        "<time datetime=2024>x</time>",
        "<time datetime=2025>x</time>",
    );
    differ("<div data-post-id=1>x</div>", "<div data-post-id=2>x</div>");
    differ(
        "<div data-sort-time=1>x</div>",
        "<div data-sort-time=2>x</div>",
    );
    differ("<a href=/a#p1>x</a>", "<a href=/a#p2>x</a>");
    differ("<a href=/a?page=2>x</a>", "<a href=/a?page=3>x</a>");
    differ(
        "<script type=application/ld+json>{\"a\":1}</script>",
        "<script type=application/ld+json>{\"a\":2}</script>",
    );
    differ(
        "<script>window.__APOLLO_STATE__=\"YQ==\"</script>",
        "<script>window.__APOLLO_STATE__=\"Yg==\"</script>",
    );
    differ("<title>A</title>", "<title>B</title>");
    differ("<p>60-year-old</p>", "<p>61-year-old</p>");
    differ("<p>x</p>", "<div>x</div>");
    differ("<p>x</p>", "<p>x</p><p></p>");
    // A comment ended by `--!>` hides nothing after it.
    differ("<!-- a --!><p>one</p> -->", "<!-- a --!><p>two</p> -->");
    // CDATA in SVG is text.
    differ("<svg><![CDATA[a]]></svg>", "<svg><![CDATA[b]]></svg>");
}

#[test]
fn word_boundaries_across_tags_are_kept() {
    // "x3 min ago" is one word run for the diff: no relative time, so the number counts.
    differ("<p>x<b>3 min ago</b></p>", "<p>x<b>4 min ago</b></p>");
    differ("<p><b>3 min ago</b>x</p>", "<p><b>4 min ago</b>x</p>");
    same("<p>x <b>3 min ago</b> y</p>", "<p>x <b>4 min ago</b> y</p>");
    same(
        "<p>x <b>3 min ago</b></p><p>y</p>",
        "<p>x <b>9 min ago</b></p><p>y</p>",
    );
}

#[test]
fn unsure_pages_have_no_fingerprint() {
    assert_eq!(
        fp("<script><!-- <script> </script> --></script><p>x</p>"),
        None
    );
    let key = watch_key(&Strategy::Auto);
    let utf16 = [0xFF, 0xFE, b'<', 0, b'p', 0];
    assert_eq!(fingerprint(&key, &Strategy::Auto, "u", None, &utf16), None);
}

#[test]
fn the_watch_and_the_page_url_count() {
    let html = b"<p>x</p>";
    let auto = watch_key(&Strategy::Auto);
    let named = Strategy::Named("generic".into());
    let a = fingerprint(&auto, &Strategy::Auto, "https://x.test/", None, html);
    let b = fingerprint(&watch_key(&named), &named, "https://x.test/", None, html);
    let c = fingerprint(&auto, &Strategy::Auto, "https://y.test/", None, html);
    let d = fingerprint(
        &auto,
        &Strategy::Auto,
        "https://x.test/",
        Some("text/html; charset=latin1"),
        html,
    );
    assert_ne!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, d);
}

#[test]
fn css_profiles_see_every_attribute() {
    let css = Strategy::Css(crate::extract::Selectors {
        post: "div[data-refresh]".into(),
        ..Default::default()
    });
    let key = watch_key(&css);
    let f = |h: &str| fingerprint(&key, &css, "u", None, h.as_bytes());
    assert_ne!(
        f("<div data-refresh=1>x</div>"),
        f("<div data-refresh=2>x</div>")
    );
    assert_eq!(
        fp("<div data-refresh=1>x</div>"),
        fp("<div data-refresh=2>x</div>")
    );
}

#[test]
fn tracking_parameters_are_stripped_from_links() {
    assert_eq!(
        strip_tracking("https://a/p?utm_source=x&id=2&fbclid=9#post-1"),
        "https://a/p?id=2#post-1"
    );
    assert_eq!(strip_tracking("/p?cb=1"), "/p");
    assert_eq!(strip_tracking("/p#a?b"), "/p#a?b");
}

/// Every `data-*` attribute and state-blob name the extractors mention is read by the
/// fingerprint: a new extractor attribute cannot silently fall out of it.
#[test]
fn every_attribute_and_state_blob_the_extractors_name_is_covered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/extract");
    let mut files = vec![];
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let attr = regex::Regex::new(r#"["\[](data-[a-z0-9_-]+)"#).unwrap();
    let blob = regex::Regex::new(r"__[A-Z][A-Z_]+__").unwrap();
    let mut seen = 0;
    // `extract/vendor/` reads embed attributes only to find a vendor feed (on every
    // fetched page, before the fingerprint shortcut is considered) and to word why a page
    // without posts is empty (such a page has no stored fingerprint to match): never
    // behind the shortcut.
    let vendor = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/extract/vendor");
    for f in files.iter().filter(|f| !f.starts_with(&vendor)) {
        let src = std::fs::read_to_string(f).unwrap();
        for c in attr.captures_iter(&src) {
            seen += 1;
            assert!(
                attribute_read(c[1].as_bytes(), false),
                "{}: {} not in the fingerprint",
                f.display(),
                &c[1]
            );
        }
        for m in blob.find_iter(&src) {
            assert!(
                STATE_MARKERS.contains(&m.as_str()),
                "{}: state blob {} not in STATE_MARKERS",
                f.display(),
                m.as_str()
            );
        }
    }
    assert!(
        seen >= 5,
        "only {seen} data- attributes found: the scan is broken"
    );
}

#[test]
fn asset_links_do_not_count_but_other_links_do() {
    same(
        "<link rel=stylesheet href=/a.css?v=1><p>x</p>",
        "<link rel=stylesheet href=/a.css?v=2><p>x</p>",
    );
    differ(
        "<link rel=canonical href=/a?v=1><p>x</p>",
        "<link rel=canonical href=/a?v=2><p>x</p>",
    );
}

#[test]
fn the_prefilters_pass_every_form_the_patterns_drop_and_few_others() {
    use super::{may_be_counter, may_be_time};
    for t in [
        "Updated 3 min ago",
        "3 mins\nago",
        "5\u{a0}minutes\u{a0}ago",
        "2 HOURS AGO",
        "just now, 1 update",
        "vor 5 Minuten",
        "il y a 3 min",
        "hace 2 horas",
        "5 minuti fa",
    ] {
        assert!(may_be_time(t.as_bytes()), "{t:?}");
    }
    // Words that only contain the pattern's words: no regex run (nothing is dropped).
    for t in ["April 5", "Chicago 2024", "12 facts", "until 2025", "ago2"] {
        assert!(!may_be_time(t.as_bytes()), "{t:?}");
    }
    for t in [
        "12 comments",
        "1,204 Comments",
        "1.2k shares",
        "3 M views",
        "5\u{a0}likes",
    ] {
        assert!(may_be_counter(t.as_bytes()), "{t:?}");
    }
    for t in ["looks like 5 people", "a view of 2024", "shared by 3"] {
        assert!(!may_be_counter(t.as_bytes()), "{t:?}");
    }
    // Whatever a prefilter says, the result is as the diff sees it.
    same("<p>x 3 min ago</p>", "<p>x 9 min ago</p>");
    differ("<p>April 5</p>", "<p>April 6</p>");
    same("<p>News 12 comments</p>", "<p>News 1,204 comments</p>");
}
