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
