//! Per-notifier filters (`kinds`, `blogs`, `match`, `exclude`) and the watch's `notify`
//! list, as the daemon applies them when it routes events to the outbox.

use std::sync::Arc;

use livewatch::config;
use livewatch::daemon::{poll::route_events, Route};
use livewatch::model::{BlogRef, Event, EventKind, Post};

const CONFIG: &str = r#"
[[watch]]
url = "https://a.example/live"
name = "Alpha"

[[watch]]
url = "https://b.example/live"
notify = ["all", "corrections"]

[[notifier]]
name = "all"
type = "stdout"

[[notifier]]
name = "corrections"
type = "stdout"
kinds = ["correction", "removed"]

[[notifier]]
name = "alpha-only"
type = "stdout"
blogs = ["Alpha"]

[[notifier]]
name = "ukraine"
type = "stdout"
match = "(?i)ukrain"
exclude = "(?i)sport"
"#;

fn event(blog: &str, title: Option<&str>, kind: EventKind, text: &str) -> Event {
    let mut post = Post::new("p1", text);
    post.headline = Some(text.lines().next().unwrap().to_string());
    Event {
        id: format!("evt_{blog}_{kind}_{}", text.len()),
        kind,
        detected_at: chrono::Utc::now(),
        blog: BlogRef {
            url: blog.to_string(),
            title: title.map(str::to_string),
        },
        post: Some(post),
        previous: None,
        diff: None,
        message: None,
    }
}

fn routed(watch: usize, e: Event) -> Vec<String> {
    let cfg = config::parse(CONFIG, "c.toml", &|_| None).unwrap();
    let client = reqwest::Client::new();
    let routes: Vec<Route> = cfg
        .notifiers
        .iter()
        .map(|spec| Route {
            spec: spec.clone(),
            notifier: livewatch::notify::build(spec, &client),
        })
        .collect();
    let routes = Arc::new(routes);
    let mut out = route_events(&cfg.watches[watch], &routes, [e]);
    out.pop().unwrap().1
}

#[test]
fn kinds_blogs_match_and_exclude_pick_the_notifiers() {
    let a = "https://a.example/live";
    assert_eq!(
        routed(
            0,
            event(a, Some("Alpha"), EventKind::New, "Ukraine talks resume")
        ),
        ["all", "alpha-only", "ukraine"]
    );
    assert_eq!(
        routed(
            0,
            event(a, Some("Alpha"), EventKind::Correction, "Markets fall")
        ),
        ["all", "corrections", "alpha-only"]
    );
    // `exclude` wins over `match`; the match is case-insensitive by its own flag.
    assert_eq!(
        routed(
            0,
            event(a, Some("Alpha"), EventKind::New, "UKRAINE sport results")
        ),
        ["all", "alpha-only"]
    );
    // `match` looks at the body too, not only the headline.
    assert_eq!(
        routed(
            0,
            event(a, Some("Alpha"), EventKind::Edit, "Talks\n\nin Ukraine")
        ),
        ["all", "alpha-only", "ukraine"]
    );
}

#[test]
fn the_watch_notify_list_limits_the_notifiers() {
    let b = "https://b.example/live";
    // Blog B only notifies "all" and "corrections"; "alpha-only" matches by URL or
    // name only, so it would not take it anyway; "ukraine" is not in the list.
    assert_eq!(
        routed(1, event(b, None, EventKind::New, "Ukraine news")),
        ["all"]
    );
    assert_eq!(
        routed(1, event(b, None, EventKind::Removed, "Ukraine news")),
        ["all", "corrections"]
    );
}

#[test]
fn blogs_filter_accepts_the_url_too() {
    let cfg = config::parse(
        "[[notifier]]\nname = \"n\"\ntype = \"stdout\"\nblogs = [\"https://a.example/live\"]\n",
        "c.toml",
        &|_| None,
    )
    .unwrap();
    let f = &cfg.notifiers[0].filter;
    assert!(f.accepts(&event(
        "https://a.example/live",
        Some("Alpha"),
        EventKind::New,
        "x"
    )));
    assert!(!f.accepts(&event(
        "https://b.example/live",
        Some("Alpha"),
        EventKind::New,
        "x"
    )));
}
