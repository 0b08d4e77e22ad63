//! A blog's state for people (live, quiet, closed, retired, failing, paused, new) and
//! why, from its stored row: shown by `/blogs`, the watch API and the dashboard.

use chrono::Utc;

/// A blog's state for people, and why: `paused`, `retired`, `failing` (the last error),
/// `closed` (why the blog counts as ended), `live` (changes in the last 10 minutes),
/// `quiet` (since when) or `new` (not polled yet).
pub(crate) fn blog_state(
    b: &crate::store::BlogRow,
    paused: bool,
    now: chrono::DateTime<Utc>,
) -> (&'static str, String) {
    let pace = b.sched.clone();
    let window = chrono::Duration::minutes(10);
    if paused {
        return ("paused", "paused through the API".into());
    }
    if b.retired || pace.retired {
        let why = pace.closed_why.unwrap_or_else(|| "closed".into());
        return ("retired", format!("no longer polled ({why})"));
    }
    if b.failures > 0 {
        let why = b
            .last_error
            .clone()
            .unwrap_or_else(|| "the last poll failed".into());
        return ("failing", format!("{} failed polls: {why}", b.failures));
    }
    if pace.closed_at.is_some() {
        return ("closed", pace.closed_why.unwrap_or_else(|| "closed".into()));
    }
    if b.polls == 0 {
        return ("new", "not polled yet".into());
    }
    let recent = pace.recent.iter().filter(|t| now - **t <= window).count();
    if recent > 0 {
        let s = if recent == 1 { "" } else { "s" };
        return ("live", format!("{recent} change{s} in 10 min"));
    }
    let since = pace.last_activity.or(b.last_new_post_at);
    match since {
        Some(t) => (
            "quiet",
            format!(
                "no change for {}",
                crate::daemon::pace::human((now - t).to_std().unwrap_or_default())
            ),
        ),
        None => ("quiet", "no change seen yet".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blogs_state_says_why() {
        let now = Utc::now();
        let mut b = crate::store::BlogRow {
            id: 1,
            polls: 3,
            ..Default::default()
        };
        assert_eq!(blog_state(&b, false, now).0, "quiet");
        assert_eq!(blog_state(&b, true, now).0, "paused");
        b.sched = crate::store::Pace {
            recent: vec![now - chrono::Duration::minutes(2)],
            ..Default::default()
        };
        assert_eq!(
            blog_state(&b, false, now),
            ("live", "1 change in 10 min".into())
        );
        b.sched = crate::store::Pace {
            closed_at: Some(now),
            closed_why: Some("coverage ended".into()),
            ..Default::default()
        };
        assert_eq!(
            blog_state(&b, false, now),
            ("closed", "coverage ended".into())
        );
        b.failures = 2;
        b.last_error = Some("HTTP 503".into());
        let (s, why) = blog_state(&b, false, now);
        assert_eq!(s, "failing");
        assert!(why.contains("HTTP 503") && why.contains('2'), "{why}");
        b.retired = true;
        assert_eq!(blog_state(&b, false, now).0, "retired");
        let fresh = crate::store::BlogRow::default();
        assert_eq!(blog_state(&fresh, false, now).0, "new");
    }
}
