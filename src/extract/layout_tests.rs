//! The layout analyser on small pages written for these tests, one group per pattern of
//! issue 13: flat feeds, one feed of several classes, the feed not the sidebar, times without
//! a date, relative times only, no single source deciding, whole bodies, and the reported
//! layout.

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn page<'a>(url: &'a str, html: &'a str, fetched: &str) -> Page<'a> {
    Page {
        url,
        body: html.as_bytes(),
        content_type: Some("text/html; charset=utf-8"),
        fetched_at: at(fetched),
    }
}

/// Extract with a known fetch time.
fn run(url: &str, html: &str, fetched: &str) -> Extraction {
    extract(&page(url, html, fetched), &Strategy::Auto)
}

/// Extract as `check FILE` does without `--at`: no fetch time.
fn run_file(html: &str) -> Extraction {
    extract_unclocked(
        &page("file:///tmp/page.html", html, "2030-01-01T00:00:00Z"),
        &Strategy::Auto,
    )
}

fn times(ex: &Extraction) -> Vec<Option<String>> {
    ex.posts
        .iter()
        .map(|p| p.published.map(|t| t.to_rfc3339()))
        .collect()
}

fn firsts(ex: &Extraction) -> Vec<String> {
    ex.posts
        .iter()
        .map(|p| {
            p.headline
                .clone()
                .unwrap_or_else(|| p.body.lines().next().unwrap_or("").to_string())
        })
        .collect()
}

fn t(s: &str) -> Option<String> {
    Some(at(s).to_rfc3339())
}

// 1. Flat feeds.

#[test]
fn flat_feed_of_bold_clocks_across_wrapper_divs_and_midnight() {
    let html = r#"<html><head><title>Storm: latest</title>
        <meta name="last-modified" content="2026-01-15"></head><body>
        <nav><p><strong>09.00</strong> Menu</p></nav>
        <div id="body">
          <div class="intro"><p><strong>&bull; Summary point one</strong><br><strong>&bull; Two</strong></p></div>
          <div class="part1"><h3>Latest</h3><p><strong>17.00 </strong>We are closing the live coverage for today.</p></div>
          <div class="part2"><p>Meanwhile, more on the storm damage.</p></div>
          <div class="part3">
            <p><strong>9.05</strong> The river burst its banks in the town centre this morning.</p>
            <p>Residents were evacuated.</p>
            <p><strong>00.10</strong> Overnight, winds reached 90 mph on the coast.</p>
            <p><strong>23.50</strong> The warning has been raised to red for the whole region.</p>
          </div>
        </div></body></html>"#;
    let ex = run_file(html);
    assert_eq!(
        firsts(&ex),
        [
            "We are closing the live coverage for today.",
            "The river burst its banks in the town centre this morning.",
            "Overnight, winds reached 90 mph on the coast.",
            "The warning has been raised to red for the whole region.",
        ],
        "{:?}",
        ex.layout
    );
    assert_eq!(
        ex.posts[0].body,
        "We are closing the live coverage for today.\n\nMeanwhile, more on the storm damage."
    );
    // A clock that goes up walking down the page is the day before.
    assert_eq!(
        times(&ex),
        [
            t("2026-01-15T17:00:00Z"),
            t("2026-01-15T09:05:00Z"),
            t("2026-01-15T00:10:00Z"),
            t("2026-01-14T23:50:00Z"),
        ]
    );
    assert_eq!(ex.layout.as_ref().unwrap().kind, "flat feed (time markers)");
}

#[test]
fn flat_feed_of_time_headings_under_day_headings_without_year() {
    let html = r#"<html><head><title>Ticker</title>
        <script type="application/ld+json">{"@type":"NewsArticle","datePublished":"2024-07-01T08:00:00+02:00","dateModified":"2024-07-18T13:08:00+02:00"}</script>
        </head><body><section class="article">
        <h2>Live-Ticker</h2>
        <h2 class="subtitle">Donnerstag, 18.&nbsp;7.</h2>
        <h5 id="doc-3"><span>11.04 Uhr: Drohne trifft Fahrzeug</span></h5>
        <p>Bei einem Angriff wurde ein Fahrzeug getroffen.</p>
        <div class="advertisement"></div>
        <p>Die Angaben liessen sich nicht prüfen.</p>
        <h2 class="subtitle">Mittwoch, 17. 7.</h2>
        <h5 id="doc-2"><span>14.30 Uhr: Verhandlungen gehen weiter</span></h5>
        <p>Die Gespräche in Kairo werden fortgesetzt.</p>
        <h5 id="doc-1"><span>1.10 Uhr: Nachtsitzung beendet</span></h5>
        <p>Die Sitzung endete ohne Ergebnis.</p>
        </section></body></html>"#;
    let ex = run_file(html);
    let ids: Vec<&str> = ex.posts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["doc-3", "doc-2", "doc-1"]);
    assert_eq!(
        ex.posts[0].headline.as_deref(),
        Some("Drohne trifft Fahrzeug")
    );
    assert_eq!(
        ex.posts[0].body,
        "Bei einem Angriff wurde ein Fahrzeug getroffen.\n\nDie Angaben liessen sich nicht prüfen."
    );
    // "Uhr" is Central European time; 1.10 on the 17th is the 16th in UTC.
    assert_eq!(
        times(&ex),
        [
            t("2024-07-18T09:04:00Z"),
            t("2024-07-17T12:30:00Z"),
            t("2024-07-16T23:10:00Z"),
        ]
    );
}

#[test]
fn flat_feed_of_pm_lines_and_time_only_markers() {
    let html = r#"<html><head><title>Election night</title>
        <meta property="article:modified_time" content="2026-11-04T04:30:00Z"></head><body>
        <article><div class="story-body">
        <p>Follow along for results.</p>
        <p><b>11 p.m. ET</b></p>
        <p>Polls have closed in the western states.</p>
        <blockquote class="tweet"><p>Turnout is the highest in decades.</p>— Reporter (@rep)</blockquote>
        <p><b>10 p.m. ET</b></p>
        <p>The first results are in from the east.</p>
        <p><b>9:15 p.m. ET</b></p>
        <p>Counting has begun.</p>
        </div></article></body></html>"#;
    let ex = run_file(html);
    assert_eq!(
        firsts(&ex),
        [
            "Polls have closed in the western states.",
            "The first results are in from the east.",
            "Counting has begun.",
        ]
    );
    assert!(ex.posts[0]
        .body
        .contains("Turnout is the highest in decades."));
    assert_eq!(
        times(&ex),
        [
            t("2026-11-04T04:00:00Z"),
            t("2026-11-04T03:00:00Z"),
            t("2026-11-04T02:15:00Z"),
        ]
    );
}

#[test]
fn flat_feed_of_separators_with_untimed_posts() {
    let html = r#"<html><head><title>The Latest</title></head><body>
        <div class="article-body"><div class="inner">
        <p>MADRID — The prime minister says a plan will launch in January.</p>
        <p>Details follow on Tuesday.</p>
        <p>___</p>
        <p>HERE'S WHAT YOU NEED TO KNOW:</p>
        <p>— Vaccine trial results are in</p>
        <p>— Schools close early</p>
        <p>___</p>
        <p>Follow the coverage at https://example.org/hub</p>
        <p>___</p>
        <p>HERE'S WHAT ELSE IS HAPPENING:</p>
        <p>LONDON — Trials showed the vaccine was up to 90% effective.</p>
        <p>__</p>
        <p>GENEVA — Emissions fell during the lockdowns, the agency says.</p>
        </div></div></body></html>"#;
    let ex = run_file(html);
    assert_eq!(
        firsts(&ex),
        [
            "MADRID — The prime minister says a plan will launch in January.",
            "LONDON — Trials showed the vaccine was up to 90% effective.",
            "GENEVA — Emissions fell during the lockdowns, the agency says.",
        ],
        "{:?}",
        ex.layout
    );
    assert!(ex.posts.iter().all(|p| p.published.is_none()));
    assert_eq!(ex.layout.as_ref().unwrap().kind, "flat feed (separators)");
}

// 2. One feed, several classes.

#[test]
fn alternating_and_key_event_classes_are_one_feed() {
    let item = |class: &str, minute: u32, text: &str, time_first: bool| {
        let time = format!("<div class=\"comment-time\"><span>{minute}'</span></div>");
        let body = format!("<div class=\"comment-body\">{text}</div>");
        let (a, b) = if time_first {
            (time, body)
        } else {
            (body, time)
        };
        format!("<div class=\"match-comment {class}\" data-time=\"{minute}\">{a}{b}</div>")
    };
    let html = format!(
        "<html><head><title>Live match</title></head><body><div class=\"comments\">{}{}{}{}</div>\
         <div class=\"scores\"><div class=\"score\" data-time=\"3\">3'</div><div class=\"score\" data-time=\"2\">2'</div></div></body></html>",
        item("slider left", 91, "Full time after a late equaliser.", true),
        item("slider right goal", 88, "Goal! A header from the corner.", false),
        item("slider left", 70, "A yellow card for a late tackle.", true),
        item("slider right", 12, "The visitors press high from the start.", false),
    );
    let ex = run_file(&html);
    assert_eq!(
        firsts(&ex),
        [
            "Full time after a late equaliser.",
            "Goal! A header from the corner.",
            "A yellow card for a late tackle.",
            "The visitors press high from the start.",
        ]
    );
    // The match minute is not body text, and not a time of day.
    assert!(
        ex.posts.iter().all(|p| !p.body.contains('\'')),
        "{:?}",
        ex.posts
    );
    assert!(ex.posts.iter().all(|p| p.published.is_none()));
}

// 3. The feed, not the sidebar.

#[test]
fn the_feed_wins_over_a_longer_timed_sidebar_and_results_table() {
    let post = |id: &str, time: &str, head: &str| {
        format!(
            "<div class=\"entry\" id=\"{id}\"><time datetime=\"{time}\">x</time><h3>{head}</h3>\
             <p>{head} — a full paragraph of reporting that explains what happened, who said what and why it matters to readers today.</p></div>"
        )
    };
    let side: String = (0..8)
        .map(|i| {
            format!(
                "<li class=\"item\"><a href=\"/s{i}\">Story number {i}</a> <time datetime=\"2026-03-0{}T10:00:00Z\">{}h ago</time></li>",
                i % 9 + 1,
                i + 1
            )
        })
        .collect();
    let results: String = (0..10)
        .map(|i| format!("<tr class=\"fixture\"><td><time datetime=\"2026-03-10T1{i}:00:00Z\">1{i}:00</time></td><td>A v B</td></tr>"))
        .collect();
    let html = format!(
        "<html><head><title>Live</title></head><body><main><div class=\"feed\">{}{}{}</div></main>\
         <div class=\"rail\"><ul class=\"list\">{side}</ul><table>{results}</table></div></body></html>",
        post("p3", "2026-03-10T12:00:00Z", "Talks resume"),
        post("p2", "2026-03-10T11:00:00Z", "Minister speaks"),
        post("p1", "2026-03-10T10:00:00Z", "Summit opens"),
    );
    let ex = run_file(&html);
    let ids: Vec<&str> = ex.posts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        ["p3", "p2", "p1"],
        "{:?} / {:?}",
        ex.layout,
        ex.runner_up
    );
    let (chosen, second) = (ex.layout.unwrap(), ex.runner_up.unwrap());
    assert!(chosen.at.contains("feed"), "{chosen:?}");
    assert!(chosen.score > second.score, "{chosen:?} {second:?}");
}

// 4. Times without a date.

const BARE_CLOCKS: &str = r#"<html><head><title>Live</title>HEAD</head><body><div class="ticker">
    <h3>18:00: Final whistle</h3><p>The match ended in a draw.</p>
    <h3>16:30: Kick-off</h3><p>The teams are out.</p>
    <h3>15:00: Team news</h3><p>Two changes for the hosts.</p>
    </div></body></html>"#;

#[test]
fn no_date_anywhere_gives_no_time_never_today() {
    let ex = run_file(&BARE_CLOCKS.replace("HEAD", ""));
    assert_eq!(ex.posts.len(), 3, "{:?}", ex.attempts);
    assert_eq!(times(&ex), [None, None, None]);
    // Ids do not depend on a guessed day either: the same on every run.
    let again = run_file(&BARE_CLOCKS.replace("HEAD", ""));
    let ids = |e: &Extraction| e.posts.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&ex), ids(&again));
}

#[test]
fn bare_clocks_take_the_day_from_json_ld_or_the_fetch_time() {
    let jsonld = r#"<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"NewsArticle","dateModified":"2026-05-02T18:20:00Z"}]}</script>"#;
    let ex = run_file(&BARE_CLOCKS.replace("HEAD", jsonld));
    assert_eq!(
        times(&ex),
        [
            t("2026-05-02T18:00:00Z"),
            t("2026-05-02T16:30:00Z"),
            t("2026-05-02T15:00:00Z"),
        ]
    );
    // `check --at` / the daemon: the fetch time is the day when the page states none.
    let ex = run(
        "https://example.com/live",
        &BARE_CLOCKS.replace("HEAD", ""),
        "2026-06-01T18:05:00Z",
    );
    assert_eq!(ex.posts[0].published, Some(at("2026-06-01T18:00:00Z")));
}

// 5. Relative times only.

fn relative_page(ago: [&str; 3]) -> String {
    let post = |id: &str, ago: &str, head: &str| {
        format!(
            "<article class=\"post\" id=\"{id}\"><header><span class=\"post-time\">{ago}</span><h2>{head}</h2></header>\
             <div class=\"content\"><p>{head}: the text of the post, long enough to be a post.</p></div></article>"
        )
    };
    format!(
        "<html><head><title>Live</title></head><body><div id=\"feed\">{}{}{}</div></body></html>",
        post("h_3", ago[0], "Third"),
        post("h_2", ago[1], "Second"),
        post("h_1", ago[2], "First")
    )
}

#[test]
fn relative_times_only_are_posts_timed_by_the_fetch_time() {
    let a = run(
        "https://example.com/live",
        &relative_page(["1 min ago", "16 min ago", "1 hr 15 min ago"]),
        "2026-02-19T11:42:00Z",
    );
    assert_eq!(
        times(&a),
        [
            t("2026-02-19T11:41:00Z"),
            t("2026-02-19T11:26:00Z"),
            t("2026-02-19T10:27:00Z"),
        ]
    );
    // Three minutes later the same posts, the same times.
    let b = run(
        "https://example.com/live",
        &relative_page(["4 min ago", "19 min ago", "1 hr 18 min ago"]),
        "2026-02-19T11:45:00Z",
    );
    assert_eq!(times(&a), times(&b));
    // A saved file without --at: the posts, no times.
    let f = run_file(&relative_page(["1 min ago", "16 min ago", "2 hr ago"]));
    assert_eq!(f.posts.len(), 3);
    assert_eq!(times(&f), [None, None, None]);
}

#[test]
fn relative_times_never_make_derived_ids() {
    let strip = |s: String| {
        s.replace(" id=\"h_3\"", "")
            .replace(" id=\"h_2\"", "")
            .replace(" id=\"h_1\"", "")
    };
    let a = run(
        "https://example.com/live",
        &strip(relative_page(["1 min ago", "16 min ago", "2 hr ago"])),
        "2026-02-19T11:42:00Z",
    );
    let b = run(
        "https://example.com/live",
        &strip(relative_page(["5 min ago", "20 min ago", "2 hr ago"])),
        "2026-02-19T11:46:30Z",
    );
    let ids = |e: &Extraction| e.posts.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(a.posts.len(), 3);
    assert_eq!(ids(&a), ids(&b));
}

// 6. No single source decides which posts exist.

#[test]
fn an_html_post_missing_from_lagging_json_ld_is_a_post() {
    let update = |id: &str, t: &str, head: &str| {
        format!(
            r#"{{"@type":"BlogPosting","@id":"{id}","headline":"{head}","datePublished":"{t}","articleBody":"{head} body text."}}"#
        )
    };
    let jsonld = format!(
        r#"<script type="application/ld+json">{{"@type":"LiveBlogPosting","headline":"Live","liveBlogUpdate":[{},{}]}}</script>"#,
        update("u2", "2026-04-01T10:30:00Z", "Second"),
        update("u1", "2026-04-01T10:00:00Z", "First"),
    );
    let post = |id: &str, t: &str, head: &str| {
        format!("<div class=\"upd\" id=\"{id}\"><time datetime=\"{t}\">{t}</time><h2>{head}</h2><p>{head} body text.</p></div>")
    };
    let html = format!(
        "<html><head><title>Live</title>{jsonld}</head><body><div class=\"feed\">{}{}{}</div></body></html>",
        post("u3", "2026-04-01T11:00:00Z", "Third, not in the JSON-LD yet"),
        post("u2", "2026-04-01T10:30:00Z", "Second"),
        post("u1", "2026-04-01T10:00:00Z", "First"),
    );
    let ex = run("https://example.com/live", &html, "2026-04-01T11:05:00Z");
    let ids: Vec<&str> = ex.posts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["u3", "u2", "u1"], "{}", ex.extractor);
    assert_eq!(ex.posts[0].published, Some(at("2026-04-01T11:00:00Z")));
}

#[test]
fn a_profile_whose_selectors_and_state_blob_find_nothing_still_gives_the_html_posts() {
    // CNN's profile applies (its state-blob script is there), but the blob is empty and the
    // posts are not where its selectors look.
    let html = relative_page(["1 min ago", "16 min ago", "2 hr ago"])
        .replace("id=\"feed\"", "class=\"stream\"")
        .replace(
            "<title>Live</title>",
            "<title>Live</title><script id=\"apollo-client\">window.__APOLLO_STATE__=\"\"</script>",
        );
    let ex = run(
        "https://edition.cnn.com/live",
        &html,
        "2026-02-19T11:42:00Z",
    );
    assert_eq!(ex.extractor, "cnn");
    let ids: Vec<&str> = ex.posts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["h_3", "h_2", "h_1"]);
    assert_eq!(ex.posts[0].published, Some(at("2026-02-19T11:41:00Z")));
}

#[test]
fn page_level_json_ld_author_headline_and_date_are_not_a_posts() {
    let update = |id: &str| {
        format!(
            r#"{{"@type":"BlogPosting","@id":"{id}","headline":"Live: the page","datePublished":"2026-04-01T12:00:00Z","author":[{{"name":"Ann"}},{{"name":"Bo"}}],"articleBody":"Body of {id}, a post."}}"#
        )
    };
    let html = format!(
        r#"<html><head><title>Live</title><script type="application/ld+json">{{"@type":"LiveBlogPosting","headline":"Live: the page","author":[{{"name":"Ann"}},{{"name":"Bo"}}],"liveBlogUpdate":[{},{}]}}</script></head><body><p>No HTML feed.</p></body></html>"#,
        update("b2"),
        update("b1")
    );
    let ex = run("https://example.com/live", &html, "2026-04-01T12:05:00Z");
    assert_eq!(ex.posts.len(), 2);
    for p in &ex.posts {
        assert_eq!(p.byline, None, "{p:?}");
        assert_eq!(p.headline, None, "{p:?}");
        assert_eq!(p.published, None, "{p:?}");
    }
}

// 7. Bodies whole.

#[test]
fn lists_tables_quotes_links_and_embeds_stay_in_the_body_chrome_does_not() {
    let post = |id: &str, t: &str, inner: &str| {
        format!("<div class=\"post\" id=\"{id}\"><time datetime=\"{t}\">t</time>{inner}</div>")
    };
    let html = format!(
        "<html><head><title>Live</title></head><body><div class=\"feed\">{}{}{}{}</div></body></html>",
        post(
            "p4",
            "2026-04-01T12:00:00Z",
            "<p>What we know:</p><ul><li>Three injured</li><li>Road closed</li></ul><p>Share</p><p>Read more</p>"
        ),
        post(
            "p3",
            "2026-04-01T11:00:00Z",
            "<table><tr><th>Party</th><th>Seats</th></tr><tr><td>Blue</td><td>12</td></tr></table><blockquote><p>We won.</p></blockquote>"
        ),
        post(
            "p2",
            "2026-04-01T10:00:00Z",
            "<p><a href=\"https://example.org/wrap\">Our full wrap of the day</a></p>"
        ),
        post(
            "p1",
            "2026-04-01T09:00:00Z",
            "<iframe src=\"https://example.org/embed\"><noframe>Tweet: the bridge is open</noframe></iframe>"
        ),
    );
    let ex = run("https://example.com/live", &html, "2026-04-01T12:05:00Z");
    let by_id = |id: &str| ex.posts.iter().find(|p| p.id == id).unwrap();
    assert_eq!(
        by_id("p4").body,
        "What we know:\n\nThree injured\nRoad closed"
    );
    assert_eq!(by_id("p3").body, "Party | Seats\nBlue | 12\n\nWe won.");
    assert_eq!(by_id("p2").body, "Our full wrap of the day");
    assert_eq!(by_id("p1").body, "");
    assert_eq!(by_id("p1").captions, ["Tweet: the bridge is open"]);
}

// 8. The reported layout.

#[test]
fn the_layout_its_score_and_the_runner_up_are_reported() {
    let ex = run_file(&BARE_CLOCKS.replace("HEAD", ""));
    let l = ex.layout.expect("a layout");
    assert_eq!(l.posts, 3);
    assert!(l.score > 0.0);
    assert!(l.at.contains("div.ticker"), "{l:?}");
    if let Some(r) = ex.runner_up {
        assert!(r.score <= l.score, "{r:?}");
    }
}
