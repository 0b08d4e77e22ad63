//! Time stamps as live blogs write them, to UTC.
//!
//! Absolute forms: RFC 3339 / ISO 8601 with an offset (or `Z`), epoch seconds or
//! milliseconds, "3:18 a.m. ET, June 1, 2023". Time-of-day forms that need a date from the
//! page: "12.50 BST", "21:06 (IST)", "3.51 pm:", "11.13 Uhr:". Relative forms ("16 min ago")
//! resolve against the fetch time; the extractors never use them for `published` or ids
//! because they move on every poll.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use regex::Regex;

/// Zone abbreviations and names as pages write them → IANA zones. One table, so a new
/// site's zone is one line. Lookup is case-insensitive on the whole word.
pub(crate) const ZONES: &[(&str, Tz)] = &[
    ("UTC", Tz::UTC),
    ("GMT", Tz::Europe__London),
    ("BST", Tz::Europe__London),
    ("UK", Tz::Europe__London),
    ("ET", Tz::America__New_York),
    ("EST", Tz::America__New_York),
    ("EDT", Tz::America__New_York),
    ("Eastern", Tz::America__New_York),
    ("CT", Tz::America__Chicago),
    ("CST", Tz::America__Chicago),
    ("CDT", Tz::America__Chicago),
    ("MT", Tz::America__Denver),
    ("MST", Tz::America__Denver),
    ("MDT", Tz::America__Denver),
    ("PT", Tz::America__Los_Angeles),
    ("PST", Tz::America__Los_Angeles),
    ("PDT", Tz::America__Los_Angeles),
    ("CET", Tz::Europe__Berlin),
    ("CEST", Tz::Europe__Berlin),
    ("MEZ", Tz::Europe__Berlin),
    ("MESZ", Tz::Europe__Berlin),
    ("Uhr", Tz::Europe__Berlin),
    ("WET", Tz::Europe__Lisbon),
    ("WEST", Tz::Europe__Lisbon),
    ("MSK", Tz::Europe__Moscow),
    ("SAST", Tz::Africa__Johannesburg),
    ("WAT", Tz::Africa__Lagos),
    ("EAT", Tz::Africa__Nairobi),
    ("PKT", Tz::Asia__Karachi),
    ("ICT", Tz::Asia__Bangkok),
    ("WIB", Tz::Asia__Jakarta),
    ("PHT", Tz::Asia__Manila),
    ("AWST", Tz::Australia__Perth),
    ("HST", Tz::Pacific__Honolulu),
    ("EET", Tz::Europe__Athens),
    ("EEST", Tz::Europe__Athens),
    ("IST", Tz::Asia__Kolkata),
    ("Beijing", Tz::Asia__Shanghai),
    ("HKT", Tz::Asia__Hong_Kong),
    ("Hong Kong", Tz::Asia__Hong_Kong),
    ("SGT", Tz::Asia__Singapore),
    ("JST", Tz::Asia__Tokyo),
    ("Tokyo", Tz::Asia__Tokyo),
    ("KST", Tz::Asia__Seoul),
    ("AEST", Tz::Australia__Sydney),
    ("AEDT", Tz::Australia__Sydney),
    ("NZST", Tz::Pacific__Auckland),
    ("NZDT", Tz::Pacific__Auckland),
];

/// The IANA zone for an abbreviation or city name ("BST", "et", "Beijing").
pub(crate) fn zone(abbr: &str) -> Option<Tz> {
    let abbr = abbr.trim().trim_matches(|c| c == '(' || c == ')');
    ZONES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(abbr))
        .map(|&(_, tz)| tz)
}

/// RFC 3339 / ISO 8601 with an offset; also tolerated: no seconds, `+0530` offsets, a space
/// instead of `T`. A stamp without any offset is taken as UTC.
pub(crate) fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.len() < 10 {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    static ISO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|z|UTC|[+-]\d{2}:?\d{2})?$").unwrap()
    });
    let c = ISO.captures(s)?;
    let num = |i: usize| {
        c.get(i)
            .map_or(0, |m| m.as_str().parse::<u32>().unwrap_or(0))
    };
    let date = NaiveDate::from_ymd_opt(num(1) as i32, num(2), num(3))?;
    let time = NaiveTime::from_hms_opt(num(4), num(5), num(6))?;
    let naive = NaiveDateTime::new(date, time);
    let offset_secs = match c.get(7).map(|m| m.as_str()) {
        None | Some("Z" | "z" | "UTC") => 0,
        Some(o) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let digits: String = o[1..].chars().filter(char::is_ascii_digit).collect();
            let h: i64 = digits[..2].parse().ok()?;
            let m: i64 = digits[2..].parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    Some(Utc.from_utc_datetime(&naive) - Duration::seconds(offset_secs))
}

/// Epoch seconds (9–10 digits) or milliseconds (12–13 digits).
pub(crate) fn parse_epoch(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = s.parse().ok()?;
    match s.len() {
        9 | 10 => DateTime::from_timestamp(n, 0),
        12 | 13 => DateTime::from_timestamp_millis(n),
        _ => None,
    }
}

/// An attribute value that is either ISO or epoch.
pub(crate) fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    parse_epoch(s).or_else(|| parse_iso(s))
}

/// A time of day as written on a page, with the zone word when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub hour: u32,
    pub minute: u32,
    pub zone: Option<Tz>,
}

static CLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(\d{1,2})(?:[:.h](\d{2}))?\s*
          (a\.?\s?m\.?|p\.?\s?m\.?)?\s*
          (?:\(?\s*([a-z]{2,5}|beijing|eastern|hong\ kong|tokyo)\s*\)?(?:\s*time)?)?
          \s*[:\-–—|]?\s*",
    )
    .unwrap()
});

/// "12.50 BST", "21:06 (IST)", "3.51 pm:", "11.13 Uhr:", "3:18 a.m. ET" at the start of `s`.
/// Returns the clock and the rest of the text after it (and after a `:`/dash separator).
pub(crate) fn parse_clock_prefix(s: &str) -> Option<(Clock, &str)> {
    let c = CLOCK.captures(s)?;
    let mut hour: u32 = c[1].parse().ok()?;
    let minute: u32 = c.get(2).map_or(Some(0), |m| m.as_str().parse().ok())?;
    if c.get(2).is_none() && c.get(3).is_none() {
        return None;
    }
    if let Some(ampm) = c.get(3) {
        let pm = ampm.as_str().to_ascii_lowercase().starts_with('p');
        if hour == 0 || hour > 12 {
            return None;
        }
        hour = match (pm, hour) {
            (false, 12) => 0,
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, h) => h,
        };
    }
    if hour > 23 || minute > 59 {
        return None;
    }
    let mut end = c.get(0)?.end();
    let zone = match c.get(4) {
        Some(z) => match zone(z.as_str()) {
            Some(tz) => Some(tz),
            // A word after the time that is no zone ("12.50 Police say…") is text.
            None => {
                end = z.start();
                None
            }
        },
        None => None,
    };
    Some((Clock { hour, minute, zone }, s[end..].trim_start()))
}

/// Local date + time of day in a zone → UTC (the earlier instant when ambiguous).
pub(crate) fn local_to_utc(
    date: NaiveDate,
    hour: u32,
    minute: u32,
    tz: Tz,
) -> Option<DateTime<Utc>> {
    let naive = date.and_hms_opt(hour, minute, 0)?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

const MONTHS: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    // German, French, Spanish, Italian month names that do not share an English prefix.
    ("januar", 1),
    ("jänner", 1),
    ("februar", 2),
    ("märz", 3),
    ("mai", 5),
    ("juni", 6),
    ("juli", 7),
    ("okt", 10),
    ("dez", 12),
    ("janv", 1),
    ("févr", 2),
    ("mars", 3),
    ("avr", 4),
    ("juin", 6),
    ("juil", 7),
    ("août", 8),
    ("déc", 12),
    ("ene", 1),
    ("abr", 4),
    ("ago", 8),
    ("dic", 12),
    ("gen", 1),
    ("mag", 5),
    ("giu", 6),
    ("lug", 7),
    ("set", 9),
    ("ott", 10),
];

fn month(word: &str) -> Option<u32> {
    let w = word.to_lowercase();
    MONTHS
        .iter()
        .filter(|(p, _)| w.starts_with(p))
        .max_by_key(|(p, _)| p.len())
        .map(|&(_, m)| m)
}

/// A written date: "June 1, 2023", "15 May 2023", "Dienstag, 27. August 2024",
/// "2 novembre 2023", "2023-05-15" anywhere in `s`.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    static MDY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b([a-zäéû]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})\b").unwrap()
    });
    static DMY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(\d{1,2})\.?\s+([a-zäéû]{3,9})\.?\s+(\d{4})\b").unwrap()
    });
    static YMD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b(\d{4})-(\d{2})-(\d{2})\b").unwrap());
    if let Some(c) = MDY.captures(s) {
        if let (Some(m), Ok(d), Ok(y)) = (month(&c[1]), c[2].parse(), c[3].parse()) {
            if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
                return Some(date);
            }
        }
    }
    if let Some(c) = DMY.captures(s) {
        if let (Ok(d), Some(m), Ok(y)) = (c[1].parse(), month(&c[2]), c[3].parse()) {
            if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
                return Some(date);
            }
        }
    }
    let c = YMD.captures(s)?;
    NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?)
}

/// A day heading or date line ("Donnerstag, 18. 7.", "Thursday 18 July", "July 18",
/// "18.07.2024", "Dienstag, 27. August 2024"): the whole short text is the date, with or
/// without a weekday. A missing year is the one that puts the day nearest before
/// `reference` (at most a day after it); with no reference a year-less day is `None`.
pub(crate) fn parse_day(s: &str, reference: Option<NaiveDate>) -> Option<NaiveDate> {
    static WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(?:mon|tue|wed|thu|fri|sat|sun|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo|lunedì|martedì|mercoledì|giovedì|venerdì|sabato|domenica)[a-z]*\.?,?\s*").unwrap()
    });
    static NUMERIC: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(\d{1,2})\.\s*(\d{1,2})\.?\s*(\d{4})?$").unwrap());
    static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(?:(\d{1,2})\.?\s+([a-zäéû]{3,9})\.?|([a-zäéû]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?)$").unwrap()
    });
    let t = crate::text::collapse_ws(&s.replace('\u{a0}', " "));
    let t = t.trim().trim_end_matches([':', '.', ',']).trim();
    if t.is_empty() || t.chars().count() > 40 {
        return None;
    }
    let rest = WEEKDAY.find(t).map_or(t, |m| &t[m.end()..]).trim();
    if rest.is_empty() {
        return None;
    }
    if let Some(d) = parse_date(rest) {
        // The date must be (nearly) the whole text.
        return (rest.chars().filter(|c| c.is_alphanumeric()).count() <= 24).then_some(d);
    }
    let (day, month) = if let Some(c) = NUMERIC.captures(rest) {
        let (d, m): (u32, u32) = (c[1].parse().ok()?, c[2].parse().ok()?);
        if let Some(y) = c.get(3) {
            return NaiveDate::from_ymd_opt(y.as_str().parse().ok()?, m, d);
        }
        (d, m)
    } else if let Some(c) = DAY_MONTH.captures(rest) {
        match (c.get(1), c.get(2), c.get(3), c.get(4)) {
            (Some(d), Some(m), _, _) => (d.as_str().parse().ok()?, month(m.as_str())?),
            (_, _, Some(m), Some(d)) => (d.as_str().parse().ok()?, month(m.as_str())?),
            _ => return None,
        }
    } else {
        return None;
    };
    let reference = reference?;
    let limit = reference.succ_opt()?;
    use chrono::Datelike;
    [reference.year(), reference.year() - 1]
        .into_iter()
        .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
        .find(|d| *d <= limit)
}

/// "3:18 a.m. ET, June 1, 2023" (CNN's formatted stamps) and similar "time zone, date".
pub(crate) fn parse_clock_and_date(s: &str, default_zone: Tz) -> Option<DateTime<Utc>> {
    let (clock, rest) = parse_clock_prefix(s)?;
    let date = parse_date(rest)?;
    local_to_utc(
        date,
        clock.hour,
        clock.minute,
        clock.zone.unwrap_or(default_zone),
    )
}

/// Whether `s` is a relative time ("16 min ago"), whatever the fetch time.
pub(crate) fn is_relative(s: &str) -> bool {
    parse_relative(s, DateTime::<Utc>::UNIX_EPOCH + Duration::days(365 * 30)).is_some()
}

/// "16 min ago", "2 hours ago", "1 hr 15 min ago", "42m ago", "vor 5 Minuten", "il y a 3
/// min", "hace 2 horas", "just now" → fetch time minus that.
pub(crate) fn parse_relative(s: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    static PART: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^(\d+)\s*(s|sec|secs|seconds?|sekunden?|m|min|mins|minutes?|minuten?|minutos?|minuti|h|hr|hrs|hours?|stunden?|heures?|horas?|ore|d|days?|tagen?|jours?|d[ií]as?|giorni)\b\.?,?\s*(?:and\s+|und\s+|et\s+|y\s+|e\s+)?").unwrap()
    });
    static AROUND: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)^\s*(?:vor|il y a|hace|about|ca\.)?\s*(.*?)\s*(?:ago|fa)?\s*$").unwrap()
    });
    let t = s.trim();
    if ["just now", "now", "gerade eben", "à l'instant", "ahora"]
        .iter()
        .any(|w| t.eq_ignore_ascii_case(w))
    {
        return Some(now);
    }
    let has_word = {
        let l = t.to_lowercase();
        l.ends_with("ago")
            || l.starts_with("vor ")
            || l.starts_with("il y a")
            || l.starts_with("hace ")
            || l.ends_with(" fa")
    };
    let mut rest = AROUND.captures(t)?.get(1)?.as_str();
    let mut secs: i64 = 0;
    let mut parts = 0;
    while !rest.is_empty() {
        let c = PART.captures(rest)?;
        let n: i64 = c[1].parse().ok()?;
        let unit = c[2].to_ascii_lowercase();
        let per = match unit.as_bytes()[0] {
            b's' if unit.starts_with("st") => 3600,
            b's' => 1,
            b'm' => 60,
            b'h' | b'o' => 3600,
            b'd' | b't' | b'j' | b'g' => 86400,
            _ => return None,
        };
        secs = secs.checked_add(n.checked_mul(per)?)?;
        parts += 1;
        rest = &rest[c.get(0)?.end()..];
    }
    // "5 min" alone is a duration, not a time; one part with "ago" (or "vor …"), or the
    // short forms "42m ago" / "16 min ago".
    if parts == 0 || !(has_word || parts == 1 && t.len() <= 12) {
        return None;
    }
    now.checked_sub_signed(Duration::seconds(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn iso_with_offsets() {
        assert_eq!(
            parse_iso("2023-05-15T11:12:16.000Z"),
            Some(utc("2023-05-15T11:12:16Z"))
        );
        assert_eq!(
            parse_iso("2023-11-02T21:06:00+05:30"),
            Some(utc("2023-11-02T15:36:00Z"))
        );
        assert_eq!(
            parse_iso("2023-11-02T21:06+0530"),
            Some(utc("2023-11-02T15:36:00Z"))
        );
        assert_eq!(
            parse_iso("2023-11-02 10:05Z"),
            Some(utc("2023-11-02T10:05:00Z"))
        );
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn epoch_seconds_and_millis() {
        assert_eq!(
            parse_epoch("1582171107000"),
            Some(utc("2020-02-20T03:58:27Z"))
        );
        assert_eq!(parse_epoch("1582171107"), Some(utc("2020-02-20T03:58:27Z")));
        assert_eq!(parse_epoch("12345"), None);
        assert_eq!(
            parse_stamp("1582171107000"),
            parse_stamp("2020-02-20T03:58:27Z")
        );
    }

    #[test]
    fn cnn_formatted_stamp() {
        let t = parse_clock_and_date("3:18 a.m. ET, June 1, 2023", Tz::UTC);
        assert_eq!(t, Some(utc("2023-06-01T07:18:00Z")));
        let t = parse_clock_and_date("6:40 a.m. ET, February 19, 2020", Tz::UTC);
        assert_eq!(t, Some(utc("2020-02-19T11:40:00Z")));
        let t = parse_clock_and_date("12:05 p.m. ET, February 19, 2020", Tz::UTC);
        assert_eq!(t, Some(utc("2020-02-19T17:05:00Z")));
    }

    #[test]
    fn clock_forms() {
        let (c, rest) = parse_clock_prefix("12.50 BST").unwrap();
        assert_eq!(
            (c.hour, c.minute, c.zone, rest),
            (12, 50, Some(Tz::Europe__London), "")
        );
        let (c, _) = parse_clock_prefix("21:06 (IST)").unwrap();
        assert_eq!((c.hour, c.minute, c.zone), (21, 6, Some(Tz::Asia__Kolkata)));
        let (c, rest) = parse_clock_prefix("3.51 pm: China Commerce Ministry").unwrap();
        assert_eq!(
            (c.hour, c.minute, c.zone, rest),
            (15, 51, None, "China Commerce Ministry")
        );
        let (c, rest) = parse_clock_prefix("11.13 Uhr: Israel meldet").unwrap();
        assert_eq!(
            (c.hour, c.minute, c.zone, rest),
            (11, 13, Some(Tz::Europe__Berlin), "Israel meldet")
        );
        let (c, rest) = parse_clock_prefix("12:30 am: Midnight news").unwrap();
        assert_eq!((c.hour, rest), (0, "Midnight news"));
        let (c, rest) = parse_clock_prefix("10.05 Police say").unwrap();
        assert_eq!((c.hour, c.zone, rest), (10, None, "Police say"));
        assert!(parse_clock_prefix("25.00 BST").is_none());
        assert!(parse_clock_prefix("Police at 10.05").is_none());
    }

    #[test]
    fn clock_in_zone_to_utc() {
        let d = NaiveDate::from_ymd_opt(2023, 5, 15).unwrap();
        assert_eq!(
            local_to_utc(d, 12, 50, zone("BST").unwrap()),
            Some(utc("2023-05-15T11:50:00Z"))
        );
        let d = NaiveDate::from_ymd_opt(2020, 2, 20).unwrap();
        assert_eq!(
            local_to_utc(d, 15, 51, zone("Beijing").unwrap()),
            Some(utc("2020-02-20T07:51:00Z"))
        );
        let d = NaiveDate::from_ymd_opt(2024, 8, 27).unwrap();
        assert_eq!(
            local_to_utc(d, 11, 13, zone("uhr").unwrap()),
            Some(utc("2024-08-27T09:13:00Z"))
        );
    }

    #[test]
    fn written_dates() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(parse_date("Dienstag, 27. August 2024"), d(2024, 8, 27));
        assert_eq!(parse_date("Monday 15 May 2023 12.50 BST"), d(2023, 5, 15));
        assert_eq!(parse_date("February 19, 2020"), d(2020, 2, 19));
        assert_eq!(parse_date("2 novembre 2023"), d(2023, 11, 2));
        assert_eq!(parse_date("Donnerstag, 29. März 2024"), d(2024, 3, 29));
    }

    #[test]
    fn day_headings_with_and_without_year() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        let r = d(2024, 7, 18);
        assert_eq!(parse_day("Donnerstag, 18.\u{a0}7.", r), d(2024, 7, 18));
        assert_eq!(parse_day("Mittwoch, 17. 7.", r), d(2024, 7, 17));
        assert_eq!(parse_day("Thursday 18 July", r), d(2024, 7, 18));
        assert_eq!(parse_day("July 16", r), d(2024, 7, 16));
        assert_eq!(parse_day("Dienstag, 27. August 2024", None), d(2024, 8, 27));
        assert_eq!(parse_day("18.07.2024", None), d(2024, 7, 18));
        // Late December seen in January: last year.
        assert_eq!(parse_day("31 December", d(2025, 1, 2)), d(2024, 12, 31));
        // No year and no reference: no day. Prose and clocks are no day headings.
        assert_eq!(parse_day("18. 7.", None), None);
        assert_eq!(parse_day("Live-Ticker", r), None);
        assert_eq!(parse_day("11.04 Uhr: Drohne", r), None);
        assert_eq!(
            parse_day("On July 16 the minister said that it would go ahead", r),
            None
        );
    }

    #[test]
    fn hour_only_clocks_need_am_or_pm() {
        let (c, rest) = parse_clock_prefix("10 p.m. Police say").unwrap();
        assert_eq!((c.hour, c.minute, rest), (22, 0, "Police say"));
        let (c, _) = parse_clock_prefix("9am ET").unwrap();
        assert_eq!((c.hour, c.zone), (9, Some(Tz::America__New_York)));
        let (c, _) = parse_clock_prefix("17h30 Le match").unwrap();
        assert_eq!((c.hour, c.minute), (17, 30));
        assert!(parse_clock_prefix("10 people died").is_none());
        assert!(parse_clock_prefix("2024 was").is_none());
    }

    #[test]
    fn relative_forms() {
        let now = utc("2020-02-19T11:42:00Z");
        assert_eq!(
            parse_relative("16 min ago", now),
            Some(utc("2020-02-19T11:26:00Z"))
        );
        assert_eq!(
            parse_relative("42m ago", now),
            Some(utc("2020-02-19T11:00:00Z"))
        );
        assert_eq!(
            parse_relative("2 hours ago", now),
            Some(utc("2020-02-19T09:42:00Z"))
        );
        assert_eq!(
            parse_relative("vor 5 Minuten", now),
            Some(utc("2020-02-19T11:37:00Z"))
        );
        assert_eq!(parse_relative("Updated 1:37 AM", now), None);
        assert_eq!(
            parse_relative("1 hr 15 min ago", now),
            Some(utc("2020-02-19T10:27:00Z"))
        );
        assert_eq!(
            parse_relative("il y a 3 min", now),
            Some(utc("2020-02-19T11:39:00Z"))
        );
        assert_eq!(parse_relative("5 people", now), None);
        assert_eq!(parse_relative("Live", now), None);
    }
}
