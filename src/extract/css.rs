//! The user's CSS profile (`Strategy::Css`).

use std::collections::HashSet;

use scraper::{ElementRef, Html, Selector};

use super::html_text::{line_of, text_of};
use super::time::{is_relative, parse_stamp};
use super::{Context, Draft, Selectors};

fn compile(name: &str, css: &str) -> Result<Selector, String> {
    Selector::parse(css).map_err(|e| format!("the {name} selector {css:?} is not valid CSS: {e}"))
}

fn first<'a>(el: ElementRef<'a>, s: &Option<Selector>) -> Option<ElementRef<'a>> {
    s.as_ref().and_then(|s| el.select(s).next())
}

/// Posts by the user's selectors, in page order. An invalid selector is an error message.
pub(crate) fn extract(doc: &Html, s: &Selectors, ctx: &Context) -> Result<Vec<Draft>, String> {
    let post = compile("post", &s.post)?;
    let opt =
        |name: &str, css: &Option<String>| css.as_deref().map(|c| compile(name, c)).transpose();
    let id = opt("id", &s.id)?;
    let headline = opt("headline", &s.headline)?;
    let time = opt("time", &s.time)?;
    let byline = opt("byline", &s.byline)?;
    let body = opt("body", &s.body)?;
    Ok(doc
        .select(&post)
        .map(|el| {
            let mut skip = HashSet::new();
            let h = first(el, &headline);
            let b = first(el, &byline);
            let t = first(el, &time);
            skip.extend([h, b, t].into_iter().flatten().map(|e| e.id()));
            let published = t.and_then(|t| {
                let raw = t
                    .value()
                    .attr("datetime")
                    .map(str::to_string)
                    .unwrap_or_else(|| line_of(t));
                if is_relative(&raw) {
                    return None;
                }
                parse_stamp(&raw).or_else(|| ctx.clock_text(&raw))
            });
            let id = match first(el, &id) {
                Some(e) => e
                    .value()
                    .id()
                    .map(str::to_string)
                    .or_else(|| Some(line_of(e))),
                None => el.value().id().map(str::to_string),
            };
            let text = text_of(first(el, &body).unwrap_or(el), &skip);
            Draft {
                id,
                headline: h.map(line_of),
                byline: b.map(line_of),
                published,
                body: text.body(),
                captions: text.captions,
                ..Draft::default()
            }
        })
        .collect())
}
