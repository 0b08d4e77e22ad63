//! Adaptive polling: the next interval follows the blog's pace. Pure: the caller passes
//! the time, so the policy is tested with a simulated clock.
//!
//! - Activity (a new post, an edit or a correction) brings the interval back to the
//!   watch's `interval` at once, and updates an exponentially weighted mean of the gaps
//!   between activities.
//! - Without activity the interval is a quarter of the larger of that mean gap and the
//!   time since the last activity: a blog that posts every 4 minutes is polled about
//!   every minute; one quiet for an hour, every 15 minutes. Clamped to
//!   `[interval, max_interval]`.
//! - A closed blog (`coverageEndTime` in the past, an end phrase, or no new post for
//!   `retire_after`) is polled at `max_interval` for a grace period, in which corrections
//!   still come in, and then retired. A page's end signal counts once the blog has been
//!   quiet for a `max_interval` (and, for `coverageEndTime`, nothing changed after it);
//!   a new post or edit during the grace period reopens the blog. With `adaptive = false`
//!   a blog is never closed.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Watch;
use crate::extract::Closed;

/// Weight of the newest gap in the mean.
const EWMA_WEIGHT: f64 = 0.3;
/// Polls per expected gap between activities.
const POLLS_PER_GAP: f64 = 4.0;
/// Activity times kept for the status line ("live: 4 posts in 10 min").
const RECENT: usize = 32;

/// A blog's pace: the state is the store's ([`crate::store::Pace`]); the policy is here.
pub use crate::store::Pace;

/// What to do after a poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub next: Duration,
    /// The blog was found closed in this poll: send one `closed` notice.
    pub newly_closed: Option<String>,
    /// The grace period is over: stop polling.
    pub retire: bool,
}

impl Pace {
    /// The same pace as `other` but for the last interval chosen and its reason, which
    /// only `livewatch status` shows (a poll recomputes them from the rest).
    pub fn same_state(&self, other: &Pace) -> bool {
        let Pace {
            mean_gap,
            last_activity,
            recent,
            closed_at,
            closed_why,
            retired,
            interval_ms: _,
            reason: _,
        } = self;
        *mean_gap == other.mean_gap
            && *last_activity == other.last_activity
            && *recent == other.recent
            && *closed_at == other.closed_at
            && *closed_why == other.closed_why
            && *retired == other.retired
    }

    /// Update after a successful poll at `now` with `activity` post changes, and choose
    /// the next interval.
    pub fn after_poll(
        &mut self,
        watch: &Watch,
        now: DateTime<Utc>,
        activity: usize,
        closed: Option<&Closed>,
    ) -> Decision {
        if activity > 0 {
            if let Some(last) = self.last_activity {
                let gap = (now - last).num_milliseconds().max(0) as f64 / 1000.0;
                self.mean_gap = Some(match self.mean_gap {
                    Some(m) => m * (1.0 - EWMA_WEIGHT) + gap * EWMA_WEIGHT,
                    None => gap,
                });
            }
            self.last_activity = Some(now);
            for _ in 0..activity.min(RECENT) {
                self.recent.push(now);
            }
            let excess = self.recent.len().saturating_sub(RECENT);
            self.recent.drain(..excess);
        }
        if self.last_activity.is_none() {
            // The baseline counts as the start of the quiet.
            self.last_activity = Some(now);
        }
        if activity > 0 && self.closed_at.is_some() && !self.retired {
            // The newsroom is posting again: whatever the page says, it is live.
            self.closed_at = None;
            self.closed_why = None;
        }

        let mut newly_closed = None;
        if self.closed_at.is_none() && watch.adaptive {
            let quiet = self.quiet(now);
            // A page's own end signal is believed once the blog has also been quiet for
            // one `max_interval`: archived pages keep a stale coverageEndTime while posts
            // are still added, and a resumed blog must not flap between closed and live.
            let settled = quiet >= watch.max_interval;
            let last_change = self.recent.last().copied();
            let why = match closed {
                Some(Closed::CoverageEnd(t))
                    if settled && *t <= now && last_change.is_none_or(|c| c <= *t) =>
                {
                    Some(format!(
                        "coverageEndTime {}",
                        t.format("%Y-%m-%d %H:%M UTC")
                    ))
                }
                Some(Closed::Phrase(p)) if settled => {
                    Some(format!("the page says \u{201c}{p}\u{201d}"))
                }
                _ => (quiet >= watch.retire_after)
                    .then(|| format!("no new post for {}", human(watch.retire_after))),
            };
            if let Some(why) = why {
                self.closed_at = Some(now);
                self.closed_why = Some(why.clone());
                newly_closed = Some(why);
            }
        }

        let (next, reason, retire) = if let Some(since) = self.closed_at {
            let why = self.closed_why.clone().unwrap_or_default();
            if (now - since).to_std().unwrap_or_default() >= watch.retire_grace {
                self.retired = true;
                (watch.max_interval, format!("retired (closed: {why})"), true)
            } else {
                (watch.max_interval, format!("closed: {why}"), false)
            }
        } else if !watch.adaptive {
            (watch.interval, "fixed interval".to_string(), false)
        } else if activity > 0 {
            (watch.interval, self.live_reason(now), false)
        } else {
            let quiet = self.quiet(now).as_secs_f64();
            let basis = self.mean_gap.unwrap_or(0.0).max(quiet) / POLLS_PER_GAP;
            let next = Duration::from_secs_f64(basis).clamp(watch.interval, watch.max_interval);
            let reason = if self.recent_in(now, Duration::from_secs(600)) > 0 {
                self.live_reason(now)
            } else {
                format!("quiet {}", human(self.quiet(now)))
            };
            (next, reason, false)
        };
        self.interval_ms = Some(next.as_millis() as u64);
        self.reason = Some(format!("{} ({reason})", human(next)));
        Decision {
            next,
            newly_closed,
            retire,
        }
    }

    fn quiet(&self, now: DateTime<Utc>) -> Duration {
        self.last_activity
            .map(|t| (now - t).to_std().unwrap_or_default())
            .unwrap_or_default()
    }

    fn recent_in(&self, now: DateTime<Utc>, window: Duration) -> usize {
        self.recent
            .iter()
            .filter(|t| (now - **t).to_std().unwrap_or_default() <= window)
            .count()
    }

    fn live_reason(&self, now: DateTime<Utc>) -> String {
        format!(
            "live: {} changes in 10 min",
            self.recent_in(now, Duration::from_secs(600))
        )
    }
}

/// "15m", "2h 5m", "500ms" — short, for status lines.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s}s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn watch() -> Watch {
        let mut w = Watch::new("http://b/");
        w.interval = Duration::from_secs(10);
        w.max_interval = Duration::from_secs(15 * 60);
        w
    }

    #[test]
    fn follows_the_pace_then_backs_off_then_snaps_back() {
        let w = watch();
        let mut p = Pace::default();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        p.after_poll(&w, t0, 0, None);
        // A post every minute for an hour, polled at the chosen intervals.
        let mut now = t0;
        let mut next_post = t0 + chrono::Duration::minutes(1);
        let end = t0 + chrono::Duration::hours(1);
        let mut intervals = vec![];
        while now < end {
            let activity = if now >= next_post {
                next_post += chrono::Duration::minutes(1);
                1
            } else {
                0
            };
            let d = p.after_poll(&w, now, activity, None);
            intervals.push(d.next);
            now += chrono::Duration::from_std(d.next).unwrap();
        }
        // Following a one-minute pace: never slower than 30 s while live.
        let late = &intervals[intervals.len() / 2..];
        assert!(
            late.iter().all(|d| *d <= Duration::from_secs(30)),
            "{late:?}"
        );
        assert!(
            late.iter().any(|d| *d > w.interval),
            "it does adapt: {late:?}"
        );
        // Then silence: the interval grows to max_interval.
        let mut last = Duration::ZERO;
        for _ in 0..40 {
            let d = p.after_poll(&w, now, 0, None);
            assert!(d.next >= last, "monotonic back-off");
            last = d.next;
            now += chrono::Duration::from_std(d.next).unwrap();
        }
        assert_eq!(last, w.max_interval);
        assert!(
            p.reason.as_deref().unwrap().contains("quiet"),
            "{:?}",
            p.reason
        );
        // A new post: back to the fastest interval on the next poll.
        let d = p.after_poll(&w, now, 1, None);
        assert_eq!(d.next, w.interval);
    }

    #[test]
    fn fixed_interval_when_not_adaptive() {
        let mut w = watch();
        w.adaptive = false;
        let mut p = Pace::default();
        let t0 = Utc::now();
        for i in 0..10 {
            let d = p.after_poll(&w, t0 + chrono::Duration::hours(i), 0, None);
            assert_eq!(d.next, w.interval);
        }
    }

    #[test]
    fn closed_then_retired_after_grace() {
        let w = watch();
        let mut p = Pace::default();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let end = Closed::CoverageEnd(t0 - chrono::Duration::hours(1));
        let d = p.after_poll(&w, t0, 0, Some(&end));
        assert!(
            d.newly_closed.is_none(),
            "not before a max_interval of quiet"
        );
        let t1 = t0 + chrono::Duration::from_std(w.max_interval).unwrap();
        let d = p.after_poll(&w, t1, 0, Some(&end));
        assert!(d
            .newly_closed
            .as_deref()
            .unwrap()
            .contains("coverageEndTime 2026-01-01 11:00 UTC"));
        assert_eq!(d.next, w.max_interval);
        assert!(!d.retire);
        let d = p.after_poll(&w, t1 + chrono::Duration::hours(1), 0, Some(&end));
        assert!(d.newly_closed.is_none(), "one closed notice only");
        assert!(!d.retire);
        let d = p.after_poll(
            &w,
            t1 + chrono::Duration::from_std(w.retire_grace).unwrap(),
            0,
            Some(&end),
        );
        assert!(d.retire);
        assert!(p.retired);
    }

    #[test]
    fn stale_coverage_end_on_a_page_that_still_posts_is_live() {
        let w = watch();
        let mut p = Pace::default();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        // An archived page: coverageEndTime years ago, yet posts keep coming.
        let end = Closed::CoverageEnd(t0 - chrono::Duration::days(900));
        let mut t = t0;
        for i in 0..40 {
            let d = p.after_poll(&w, t, usize::from(i % 3 == 0), Some(&end));
            assert!(d.newly_closed.is_none(), "poll {i}");
            t += chrono::Duration::minutes(5);
        }
        // A page that says it ended closes after a quiet max_interval, and a new post
        // reopens it.
        let phrase = Closed::Phrase("this live blog has ended".into());
        let t1 = t + chrono::Duration::from_std(w.max_interval).unwrap();
        assert!(p
            .after_poll(&w, t1, 0, Some(&phrase))
            .newly_closed
            .is_some());
        let d = p.after_poll(&w, t1 + chrono::Duration::minutes(1), 1, Some(&phrase));
        assert!(d.newly_closed.is_none() && !d.retire);
        assert_eq!(d.next, w.interval, "reopened: fast again");
        assert!(p.closed_at.is_none());
    }

    #[test]
    fn long_silence_closes_the_blog() {
        let w = watch();
        let mut p = Pace::default();
        let t0 = Utc::now();
        p.after_poll(&w, t0, 1, None);
        let d = p.after_poll(&w, t0 + chrono::Duration::hours(49), 0, None);
        assert!(d.newly_closed.unwrap().contains("no new post for 48 h"));
    }
}
