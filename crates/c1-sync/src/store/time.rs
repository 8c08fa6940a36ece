//! The text shape of c1z timestamps (c1z-format.md §1.4).
//!
//! The SDK writes `discovered_at`, `started_at` and `ended_at` with Go's layout
//! `2006-01-02 15:04:05.999999999`: local time, no zone, fractional seconds with trailing zeros
//! trimmed (and no dot at all for a whole second). Readers compare these columns as text, so the
//! shape must be exact.

use chrono::{DateTime, Local, TimeZone, Timelike};

/// Formats `t` the way the SDK stores timestamps in SQLite.
pub(crate) fn sqlite_time<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let mut out = t.format("%Y-%m-%d %H:%M:%S").to_string();
    // A leap second shows as nanos >= 1e9 in chrono; fold it into the last representable value.
    let nanos = t.nanosecond().min(999_999_999);
    if nanos != 0 {
        let digits = format!("{nanos:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// The current local time in the SDK's text shape.
pub(crate) fn now_text() -> String {
    sqlite_time(&Local::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, NaiveDate, Utc};

    fn at(nanos: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(2026, 3, 3)
            .unwrap()
            .and_hms_nano_opt(9, 45, 13, nanos)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn trims_trailing_zeros_like_go() {
        assert_eq!(sqlite_time(&at(60_060_000)), "2026-03-03 09:45:13.06006");
        assert_eq!(sqlite_time(&at(56_791_000)), "2026-03-03 09:45:13.056791");
        assert_eq!(
            sqlite_time(&at(123_456_789)),
            "2026-03-03 09:45:13.123456789"
        );
        assert_eq!(sqlite_time(&at(500_000_000)), "2026-03-03 09:45:13.5");
        assert_eq!(sqlite_time(&at(0)), "2026-03-03 09:45:13");
    }

    #[test]
    fn uses_the_wall_clock_of_the_zone_without_printing_it() {
        let plus2 = FixedOffset::east_opt(2 * 3600).unwrap();
        let t = at(1_000).with_timezone(&plus2);
        assert_eq!(sqlite_time(&t), "2026-03-03 11:45:13.000001");
    }

    #[test]
    fn now_has_the_shape() {
        let s = now_text();
        let (date_time, frac) = s.split_once('.').unwrap_or((s.as_str(), ""));
        assert_eq!(date_time.len(), 19, "{s}");
        assert!(
            chrono::NaiveDateTime::parse_from_str(date_time, "%Y-%m-%d %H:%M:%S").is_ok(),
            "{s}"
        );
        assert!(
            frac.chars().all(|c| c.is_ascii_digit()) && !frac.ends_with('0'),
            "{s}"
        );
    }
}
