//! When to try again: the watch's interval with jitter, and the exponential [`Backoff`]
//! after failures (of polls, and of deliveries) that honours a `Retry-After`.

use std::time::Duration;

use rand::RngExt;

/// Longest wait after repeated failed polls.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);
/// Longest wait between two delivery attempts of one event.
pub(crate) const MAX_RETRY_DELAY: Duration = Duration::from_secs(10 * 60);

/// `d` ± `frac`, so that many blogs with one interval spread out.
pub(crate) fn jitter(d: Duration, frac: f64) -> Duration {
    let f = rand::rng().random_range((1.0 - frac)..=(1.0 + frac));
    d.mul_f64(f)
}

/// Exponential backoff, the one policy of polling after failures and of delivery
/// retries: `base` × 2^n (n failures in a row), capped at `cap`, ± `jitter`, and never
/// shorter than the other side's `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// The fraction the wait varies by, up or down.
    pub jitter: f64,
}

impl Backoff {
    /// Polling after failed polls: interval × 2^failures ± 20 %, at most
    /// [`MAX_BACKOFF`] (or the interval, when that is longer).
    pub(crate) fn polling(interval: Duration) -> Self {
        Backoff {
            base: interval,
            cap: MAX_BACKOFF.max(interval),
            jitter: 0.2,
        }
    }

    /// Delivery retries: `retry_wait` × 2^attempts ± 25 %, at most [`MAX_RETRY_DELAY`].
    pub(crate) fn delivery(retry_wait: Duration) -> Self {
        Backoff {
            base: retry_wait,
            cap: MAX_RETRY_DELAY,
            jitter: 0.25,
        }
    }

    /// The wait after `n` failures in a row (`n` = 0: the first retry waits `base`).
    pub(crate) fn wait(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let d = self.base.saturating_mul(2u32.saturating_pow(n.min(20)));
        let d = jitter(d.min(self.cap), self.jitter).min(self.cap);
        retry_after.map_or(d, |ra| d.max(ra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let i = Duration::from_secs(10);
        let backoff = |i, n, ra| Backoff::polling(i).wait(n, ra);
        let b1 = backoff(i, 1, None);
        assert!(
            b1 >= Duration::from_secs(16) && b1 <= Duration::from_secs(24),
            "{b1:?}"
        );
        let b5 = backoff(i, 5, None);
        assert!(b5 >= Duration::from_secs(256), "{b5:?}");
        assert!(backoff(i, 30, None) <= MAX_BACKOFF);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let d = Backoff::polling(Duration::from_millis(200)).wait(1, Some(Duration::from_secs(2)));
        assert!(d >= Duration::from_secs(2), "{d:?}");
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            let d = jitter(Duration::from_secs(10), 0.1);
            assert!(d >= Duration::from_secs(9) && d <= Duration::from_secs(11));
        }
    }
}
