//! Dates and times written as RFC 3339 text (`2026-03-01`,
//! `2026-03-01T09:00:00`, `2026-03-01T08:00:00Z`) by hand.
//!
//! Every binding's expansion prints one instant per occurrence, and chrono's
//! general formatter (`format("%Y-…")`) parses its pattern and dispatches per
//! field each time: about 0.8 µs an instant. These write the fixed forms
//! digit by digit. Years outside 0000–9999 and leap seconds, which the fixed
//! forms cannot hold, go to chrono's formatter, so the text is always what
//! chrono would have written.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};

/// Appends `date` as `YYYY-MM-DD`.
///
/// ```
/// let mut out = String::new();
/// calrep_core::rfc3339::write_date(&mut out, "2026-03-01".parse()?);
/// assert_eq!(out, "2026-03-01");
/// # Ok::<(), chrono::ParseError>(())
/// ```
pub fn write_date(out: &mut String, date: NaiveDate) {
    let mut digits = [0u8; 10];
    if fill_date(&mut digits, date) {
        push_ascii(out, &digits);
    } else {
        let _ = write!(out, "{}", date.format("%Y-%m-%d"));
    }
}

/// Appends a wall-clock time as `YYYY-MM-DDTHH:MM:SS` (no zone: a floating
/// time).
///
/// ```
/// let mut out = String::new();
/// calrep_core::rfc3339::write_local(&mut out, "2026-03-01T09:05:00".parse()?);
/// assert_eq!(out, "2026-03-01T09:05:00");
/// # Ok::<(), chrono::ParseError>(())
/// ```
pub fn write_local(out: &mut String, time: NaiveDateTime) {
    let mut digits = [0u8; 19];
    if fill_local(&mut digits, time) {
        push_ascii(out, &digits);
    } else {
        let _ = write!(out, "{}", time.format("%Y-%m-%dT%H:%M:%S"));
    }
}

/// Appends an instant as `YYYY-MM-DDTHH:MM:SSZ`.
///
/// ```
/// let mut out = String::new();
/// calrep_core::rfc3339::write_utc(&mut out, "2026-03-01T08:00:00Z".parse()?);
/// assert_eq!(out, "2026-03-01T08:00:00Z");
/// # Ok::<(), chrono::ParseError>(())
/// ```
pub fn write_utc(out: &mut String, instant: DateTime<Utc>) {
    let mut digits = [0u8; 20];
    if fill_local(&mut digits, instant.naive_utc()) {
        digits[19] = b'Z';
        push_ascii(out, &digits);
    } else {
        let _ = write!(out, "{}", instant.format("%Y-%m-%dT%H:%M:%SZ"));
    }
}

/// An instant as `YYYY-MM-DDTHH:MM:SSZ`, in a new string.
///
/// ```
/// let t = "2026-03-01T08:00:00Z".parse()?;
/// assert_eq!(calrep_core::rfc3339::utc(t), "2026-03-01T08:00:00Z");
/// # Ok::<(), chrono::ParseError>(())
/// ```
pub fn utc(instant: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(20);
    write_utc(&mut out, instant);
    out
}

/// `YYYY-MM-DD` into the first ten bytes; false when the year has no four
/// digits.
fn fill_date(out: &mut [u8], date: NaiveDate) -> bool {
    let Ok(year) = u32::try_from(date.year()) else {
        return false;
    };
    if year > 9999 {
        return false;
    }
    two(&mut out[0..2], year / 100);
    two(&mut out[2..4], year % 100);
    out[4] = b'-';
    two(&mut out[5..7], date.month());
    out[7] = b'-';
    two(&mut out[8..10], date.day());
    true
}

/// `YYYY-MM-DDTHH:MM:SS` into the first nineteen bytes; false when the
/// fixed form cannot hold it.
fn fill_local(out: &mut [u8], time: NaiveDateTime) -> bool {
    // A leap second (nanoseconds past 1e9) is written :60 by chrono.
    if time.nanosecond() >= 1_000_000_000 || !fill_date(out, time.date()) {
        return false;
    }
    out[10] = b'T';
    two(&mut out[11..13], time.hour());
    out[13] = b':';
    two(&mut out[14..16], time.minute());
    out[16] = b':';
    two(&mut out[17..19], time.second());
    true
}

/// Two decimal digits of `value` (below 100).
fn two(out: &mut [u8], value: u32) {
    // Both digits fit in a u8: value < 100 everywhere this is called.
    out[0] = b'0' + (value / 10 % 10) as u8;
    out[1] = b'0' + (value % 10) as u8;
}

fn push_ascii(out: &mut String, bytes: &[u8]) {
    // Only ASCII digits and punctuation were written, so this never fails.
    if let Ok(text) = std::str::from_utf8(bytes) {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    /// chrono's general formatter is the reference: the same text for
    /// instants all over chrono's range, at random and at the edges.
    #[test]
    fn writes_what_chronos_formatter_writes() {
        let mut state = 0x2026_1129_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        let mut instants: Vec<DateTime<Utc>> = vec![
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 12, 31, 23, 59, 59).unwrap(),
        ];
        // A leap second: 23:59:60.
        if let Some(leap) = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
        {
            instants.push(leap.and_utc());
        }
        for _ in 0..100_000 {
            // Seconds across years -300,000..300,000 and across 1900..2100.
            let wide = (next() % 18_000_000_000_000) as i64 - 9_000_000_000_000;
            let near = (next() % 6_311_390_400) as i64 - 2_208_988_800;
            for secs in [wide, near] {
                if let Some(t) = DateTime::from_timestamp(secs, 0) {
                    instants.push(t);
                }
            }
        }
        for t in instants {
            assert_eq!(utc(t), t.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "{t:?}");
            let mut local = String::new();
            write_local(&mut local, t.naive_utc());
            assert_eq!(local, t.format("%Y-%m-%dT%H:%M:%S").to_string());
            let mut date = String::new();
            write_date(&mut date, t.date_naive());
            assert_eq!(date, t.format("%Y-%m-%d").to_string());
        }
    }
}
