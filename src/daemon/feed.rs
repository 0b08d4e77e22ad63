//! A blog task's source: the page, or the vendor feed the page embeds
//! ([`crate::extract::vendor`]), followed instead of the page once found.

use super::poll::BlogTask;
use crate::extract::vendor::Feed;
use crate::extract::Strategy;
use crate::fetch::{FetchError, Fetched, Validators};

impl BlogTask {
    /// Fetch the blog: its vendor feed when one is known, else the page — and when the
    /// page embeds a feed livewatch reads (automatic extraction only), that feed from
    /// then on. A failing feed falls back to the page (and is looked for again there).
    pub(super) async fn fetch_source(
        &self,
        validators: &Validators,
    ) -> (Result<Fetched, FetchError>, Option<Feed>) {
        let fetcher = &self.shared.fetcher;
        let url = &self.watch.url;
        let known = self.feed().clone();
        if let Some(feed) = known {
            let r = fetcher.fetch(&feed.url, validators).await;
            match &r {
                Ok(_) => return (r, Some(feed)),
                Err(e) => {
                    tracing::warn!(blog = %url, feed = %feed.url, "the {} failed ({}): reading the page again", feed.extractor(), e.detail());
                    *self.feed() = None;
                }
            }
        }
        let page = fetcher.fetch(url, validators).await;
        let (Ok(Fetched::Page(resp)), Strategy::Auto) = (&page, &self.watch.strategy) else {
            return (page, None);
        };
        let Some((feed, r)) = crate::fetch::feed::follow(fetcher, resp, chrono::Utc::now()).await
        else {
            return (page, None);
        };
        match r {
            Ok(_) => {
                tracing::info!(blog = %url, feed = %feed.url, "the page embeds a {} live blog: following its feed instead of the page", feed.vendor.name());
                *self.feed() = Some(feed.clone());
                (r, Some(feed))
            }
            Err(e) => {
                tracing::warn!(blog = %url, feed = %feed.url, "the page embeds a {} live blog, but its feed failed ({}): reading the page", feed.vendor.name(), e.detail());
                (page, None)
            }
        }
    }

    /// The feed followed (a std Mutex: held to copy or replace it, never across an
    /// `.await`).
    fn feed(&self) -> std::sync::MutexGuard<'_, Option<Feed>> {
        self.feed.lock().unwrap_or_else(|e| e.into_inner())
    }
}
