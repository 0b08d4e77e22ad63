//! A blog task's source: the page, or the vendor feed the page embeds
//! ([`crate::extract::vendor`]), followed instead of the page once found.

use super::BlogTask;
use crate::config::FetchMode;
use crate::extract::vendor::Feed;
use crate::extract::Strategy;
use crate::fetch::{FetchError, Fetched};
use crate::fingerprint::Fingerprint;
use crate::store::BlogRow;

/// Feed polls between two reads of the page, to see that it still embeds the same feed
/// (a publisher may end the embed or move to another vendor).
pub(super) const PAGE_RECHECK: u32 = 50;

/// The feed a blog task follows, and its polls since the page was last read.
#[derive(Debug, Default)]
pub(crate) struct Followed {
    feed: Option<Feed>,
    polls: u32,
}

/// What [`BlogTask::fetch_source`] fetched: the page or the feed, which feed, and the
/// page's content fingerprint when it was computed already (`Some(None)`: computed, but
/// the scanner could not vouch for the page).
pub(super) struct Source {
    pub(super) fetched: Result<Fetched, FetchError>,
    pub(super) feed: Option<Feed>,
    pub(super) fingerprint: Option<Option<Fingerprint>>,
    /// The page is to be parsed with a look for an embedded vendor feed (a page fetched
    /// for an automatic watch; not a replayed one).
    pub(super) look: bool,
}

impl Source {
    fn page(fetched: Result<Fetched, FetchError>) -> Source {
        Source {
            fetched,
            feed: None,
            fingerprint: None,
            look: false,
        }
    }

    /// The page, with its content fingerprint computed already.
    fn seen(fetched: Result<Fetched, FetchError>, fp: Option<Fingerprint>) -> Source {
        Source {
            fetched,
            feed: None,
            fingerprint: Some(fp),
            look: false,
        }
    }
}

impl BlogTask {
    /// Fetch the blog: its vendor feed when one is known, else the page — and when the
    /// page embeds a feed livewatch reads (automatic extraction only), that feed from
    /// then on. A failing feed falls back to the page (and is looked for again there);
    /// every [`PAGE_RECHECK`] polls the page is read again. A `fetch = "browser"` watch
    /// reads the rendered page every time. The look for a feed is part of the page's
    /// parse ([`crate::extract::extract_looking`]; only when the page names a vendor),
    /// so noise alone, which is not parsed, costs no look; a page parsed for news is
    /// parsed once, not once to look and once to extract.
    pub(super) async fn fetch_source(&self, blog: &BlogRow) -> Source {
        let validators = &blog.validators;
        let fetcher = &self.shared.fetcher;
        let url = &self.watch.url;
        if self.watch.fetch == FetchMode::Browser {
            // The rendered page holds what the scripts loaded: nothing to follow.
            return Source::page(
                fetcher
                    .fetch_browser(url, self.watch.settle.as_deref())
                    .await,
            );
        }
        let (known, recheck) = {
            let mut f = self.feed();
            f.polls += 1;
            (f.feed.clone(), f.polls > PAGE_RECHECK)
        };
        if let Some(feed) = known.as_ref().filter(|_| !recheck) {
            let r = fetcher.fetch(&feed.url, validators).await;
            match &r {
                Ok(_) => {
                    return Source {
                        fetched: r,
                        feed: Some(feed.clone()),
                        fingerprint: None,
                        look: false,
                    }
                }
                Err(e) => {
                    tracing::warn!(blog = %url, feed = %feed.url, "the {} failed ({}): reading the page again", feed.extractor(), e.detail());
                    self.feed().feed = None;
                }
            }
        }
        self.feed().polls = 0;
        let page = fetcher.fetch(url, validators).await;
        let (Ok(Fetched::Page(resp)), Strategy::Auto) = (&page, &self.watch.strategy) else {
            return Source::page(page);
        };
        // The same page as last time, or the same content: it is not parsed, and it was
        // looked at when it was (a page read while a feed was followed has no stored
        // fingerprint, so a recheck always looks).
        if blog.body_hash == Some(resp.hash) {
            return Source::page(page);
        }
        let fp = self.fingerprint_of(resp, false);
        if fp.is_some() && fp == blog.content_fp {
            return Source::seen(page, fp);
        }
        // It is parsed: the extraction looks for an embedded feed on the same parse.
        Source {
            fetched: page,
            feed: None,
            fingerprint: Some(fp),
            look: true,
        }
    }

    /// The page parsed for a poll embeds `found`: follow it from now on, and fetch it for
    /// this poll (`None` when its fetch failed: the page is read instead).
    pub(super) async fn follow(&self, found: Feed) -> Option<Source> {
        let url = &self.watch.url;
        let r = crate::fetch::feed::fetch_feed(&self.shared.fetcher, &found).await;
        match r {
            Ok(ref fetched) => {
                if let Fetched::Page(resp) = fetched {
                    crate::metrics::global().bytes(resp.len);
                }
                let mut f = self.feed();
                if f.feed.as_ref() != Some(&found) {
                    tracing::info!(blog = %url, feed = %found.url, "the page embeds a {} live blog: following its feed instead of the page", found.vendor.name());
                }
                f.feed = Some(found.clone());
                f.polls = 0;
                drop(f);
                Some(Source {
                    fetched: r,
                    feed: Some(found),
                    fingerprint: None,
                    look: false,
                })
            }
            Err(e) => {
                tracing::warn!(blog = %url, feed = %found.url, "the page embeds a {} live blog, but its feed failed ({}): reading the page", found.vendor.name(), e.detail());
                None
            }
        }
    }

    /// The page was parsed and embeds no feed: stop following the one followed, if any.
    pub(super) fn embeds_none(&self) {
        if let Some(old) = self.feed().feed.take() {
            tracing::info!(blog = %self.watch.url, feed = %old.url, "the page no longer embeds the {} live blog: reading the page", old.vendor.name());
        }
    }

    /// The feed followed (a std Mutex: held to copy or replace it, never across an
    /// `.await`).
    fn feed(&self) -> std::sync::MutexGuard<'_, Followed> {
        self.feed.lock().unwrap_or_else(|e| e.into_inner())
    }
}
