//! Following a vendor feed ([`crate::extract::vendor`]): the page a fetch returned, when
//! it embeds a live blog whose feed is public, is swapped for that feed.

use super::{FetchError, Fetched, Fetcher, Response, Validators};
use crate::extract::vendor::{self, Feed};
use crate::extract::Page;

/// The vendor feed `page` embeds, and the feed's own fetch; `None` when the page embeds
/// no feed livewatch reads. The feed is fetched unconditionally (its validators are not
/// the page's).
pub(crate) async fn follow(
    fetcher: &Fetcher,
    page: &Response,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<(Feed, Result<Fetched, FetchError>)> {
    let feed = vendor::discover_in(&Page {
        url: &page.final_url,
        body: &page.body,
        content_type: page.content_type.as_deref(),
        fetched_at: at,
    })?;
    let r = fetch_feed(fetcher, &feed).await;
    Some((feed, r))
}

/// Fetch `feed` (unconditionally: its validators are not the page's).
pub(crate) async fn fetch_feed(fetcher: &Fetcher, feed: &Feed) -> Result<Fetched, FetchError> {
    fetcher.fetch(&feed.url, &Validators::default()).await
}
