//! Talking to the service manager over systemd's notify protocol: `READY=1`,
//! `RELOADING=1` (with `MONOTONIC_USEC=`), `STOPPING=1`, `WATCHDOG=1` and a one-line
//! `STATUS=`. Every call is a no-op without `NOTIFY_SOCKET`, so the same code runs in a
//! terminal.
//!
//! The watchdog is pinged from the daemon's control loop (the loop that also handles
//! signals), through [`Supervisor::tick`]: if that loop or the runtime under it stalls, the
//! pings stop and systemd restarts the service. The same tick stamps
//! [`Health::last_tick_ms`], which `/healthz` reads.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use super::Health;
use crate::metrics::LastError;

/// Longest gap between two control-loop ticks (also when there is no watchdog), so that
/// `/healthz` can tell a live scheduler from a stuck one.
pub(crate) const MAX_TICK: Duration = Duration::from_secs(1);

/// How often the `STATUS=` line is recomputed.
pub(crate) const STATUS_EVERY: Duration = Duration::from_secs(5);

/// The service manager's side of the daemon.
#[derive(Debug)]
pub(crate) struct Supervisor {
    /// `WATCHDOG_USEC` when it is meant for this process.
    watchdog: Option<Duration>,
    last_ping: Option<Instant>,
    last_status: String,
}

impl Supervisor {
    /// Read `WATCHDOG_USEC` / `WATCHDOG_PID` from the environment.
    pub(crate) fn from_env() -> Supervisor {
        let watchdog = sd_notify::watchdog_enabled().filter(|d| !d.is_zero());
        if let Some(d) = watchdog {
            tracing::debug!("systemd watchdog every {d:?}; pinging at half that");
        }
        Supervisor {
            watchdog,
            last_ping: None,
            last_status: String::new(),
        }
    }

    /// How often the control loop must call [`Supervisor::tick`]: half the watchdog
    /// interval (as sd_watchdog_enabled(3) advises), at most [`MAX_TICK`].
    pub(crate) fn tick_period(&self) -> Duration {
        self.watchdog
            .map_or(MAX_TICK, |w| (w / 2).min(MAX_TICK))
            .max(Duration::from_millis(10))
    }

    /// The control loop is alive: stamp `health` and ping the watchdog when half its
    /// interval has passed since the last ping.
    pub(crate) fn tick(&mut self, health: &Health) {
        health
            .last_tick_ms
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
        let Some(w) = self.watchdog else { return };
        let half = w / 2;
        // Half a tick of slack so a ping is not skipped because a tick came a little early.
        let due = self
            .last_ping
            .is_none_or(|t| t.elapsed() + self.tick_period() / 2 >= half);
        if due {
            send(&[NotifyState::Watchdog]);
            self.last_ping = Some(Instant::now());
        }
    }

    /// Config loaded and state opened.
    pub(crate) fn ready(&self) {
        send(&[NotifyState::Ready]);
    }

    /// A reload starts; [`Supervisor::ready`] ends it (systemd ≥ 253 wants the monotonic
    /// time with `RELOADING=1`).
    pub(crate) fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(t) => send(&[NotifyState::Reloading, t]),
            Err(e) => {
                tracing::debug!("no monotonic clock for MONOTONIC_USEC: {e}");
                send(&[NotifyState::Reloading]);
            }
        }
    }

    /// Shutdown has begun.
    pub(crate) fn stopping(&self) {
        send(&[NotifyState::Stopping]);
    }

    /// Send `STATUS=line` if it differs from the last one sent.
    pub(crate) fn status(&mut self, line: String) {
        if line != self.last_status {
            send(&[NotifyState::Status(&line)]);
            self.last_status = line;
        }
    }
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify failed: {e}");
    }
}

/// The one-line `STATUS=` summary: "watching 12 blogs; 3 events pending; last error …".
pub(crate) fn status_line(
    blogs: usize,
    pending: Option<i64>,
    last_error: Option<&LastError>,
) -> String {
    let mut s = format!("watching {blogs} blog{}", if blogs == 1 { "" } else { "s" });
    match pending {
        Some(1) => s.push_str("; 1 event pending"),
        Some(n) => s.push_str(&format!("; {n} events pending")),
        None => s.push_str("; outbox unreadable"),
    }
    match last_error {
        Some(e) => s.push_str(&format!(
            "; last error {}: {}: {}",
            e.at.format("%H:%M:%SZ"),
            e.blog,
            crate::text::truncate(&e.message, 120)
        )),
        None => s.push_str("; no errors"),
    }
    // STATUS= is one line: a newline would end the field.
    s.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_reads_well() {
        assert_eq!(
            status_line(1, Some(0), None),
            "watching 1 blog; 0 events pending; no errors"
        );
        let e = LastError {
            blog: "http://x/".into(),
            message: "HTTP 503\nmore".into(),
            at: chrono::DateTime::from_timestamp(3600 * 5 + 7, 0).unwrap(),
        };
        assert_eq!(
            status_line(12, Some(3), Some(&e)),
            "watching 12 blogs; 3 events pending; last error 05:00:07Z: http://x/: HTTP 503 more"
        );
    }

    #[test]
    fn tick_period_is_half_the_watchdog_at_most_a_second() {
        let mut s = Supervisor::from_env();
        s.watchdog = Some(Duration::from_millis(600));
        assert_eq!(s.tick_period(), Duration::from_millis(300));
        s.watchdog = Some(Duration::from_secs(30));
        assert_eq!(s.tick_period(), MAX_TICK);
        s.watchdog = None;
        assert_eq!(s.tick_period(), MAX_TICK);
    }

    #[test]
    fn tick_stamps_health() {
        let h = Health::default();
        let mut s = Supervisor::from_env();
        s.watchdog = None;
        s.tick(&h);
        let t = h.last_tick_ms.load(Ordering::Relaxed);
        assert!((chrono::Utc::now().timestamp_millis() - t).abs() < 5_000);
    }
}
