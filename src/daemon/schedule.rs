//! When to poll next: the watch's interval with jitter, exponential backoff after
//! failures, and the server's `Retry-After`.

use std::time::Duration;

use rand::RngExt;

/// Longest wait after repeated failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);

/// `d` ± `frac`, so that many blogs with one interval spread out.
pub fn jitter(d: Duration, frac: f64) -> Duration {
    let f = rand::rng().random_range((1.0 - frac)..=(1.0 + frac));
    d.mul_f64(f)
}

/// The wait after `failures` consecutive failed polls: interval × 2^failures, capped,
/// with jitter, and never shorter than the server's `Retry-After`.
pub fn backoff(interval: Duration, failures: u32, retry_after: Option<Duration>) -> Duration {
    let factor = 2u32.saturating_pow(failures.min(16));
    let cap = MAX_BACKOFF.max(interval);
    let base = interval.saturating_mul(factor).min(cap);
    let d = jitter(base, 0.2).min(cap);
    match retry_after {
        Some(ra) => d.max(ra),
        None => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let i = Duration::from_secs(10);
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
        let d = backoff(Duration::from_millis(200), 1, Some(Duration::from_secs(2)));
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
