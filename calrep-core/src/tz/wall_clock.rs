//! Turning a wall-clock time in a zone into one instant, by two rules that
//! schedules, recurrence sets, calendar items and the EWS writer share. For
//! a schedule: a time that occurs twice (fall-back overlap) runs at its first
//! occurrence, and a time that never occurs (spring-forward gap) runs at the
//! first valid instant after it, which is the moment the gap ends.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a schedule runs for `wall` in `zone`.
pub(crate) fn run_instant(zone: Tz, wall: NaiveDateTime) -> Option<DateTime<Tz>> {
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(a, b) => Some(a.min(b)),
        LocalResult::None => gap_end(zone, wall),
    }
}

/// The instant RFC 5545 (section 3.3.5) gives a wall-clock time, as used to
/// expand calendar recurrences: a time that occurs twice means its first
/// occurrence; a time that never occurs is read with the offset from before
/// the gap, which moves it forward by the gap's length (02:30 in a one-hour
/// gap at 02:00 becomes 03:30).
pub(crate) fn rfc5545_instant(zone: Tz, wall: NaiveDateTime) -> Option<DateTime<Tz>> {
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(a, b) => Some(a.min(b)),
        LocalResult::None => {
            let end = gap_end(zone, wall)?;
            let gap_start = (end - TimeDelta::seconds(1)).naive_local() + TimeDelta::seconds(1);
            Some(end + (wall - gap_start))
        }
    }
}

/// The instant a spring-forward gap containing `wall` ends: the first instant
/// whose wall-clock time is later than `wall`.
fn gap_end(zone: Tz, wall: NaiveDateTime) -> Option<DateTime<Tz>> {
    // Every zone's offset lies within [-15h, +15h], so the instant we look for
    // lies within this bracket around `wall` read as UTC. Search in whole
    // seconds: transitions fall on whole seconds.
    let wall_secs = wall.and_utc().timestamp();
    let local_of = |secs: i64| {
        DateTime::<Utc>::from_timestamp(secs, 0).map(|t| {
            let utc = t.naive_utc();
            utc + zone.offset_from_utc_datetime(&utc).fix()
        })
    };
    let bracket = TimeDelta::hours(15).num_seconds();
    let (mut lo, mut hi) = (wall_secs - bracket, wall_secs + bracket);
    // Invariant: local(lo) <= wall < local(hi).
    if local_of(lo)? > wall || local_of(hi)? <= wall {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_of(mid)? > wall {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::<Utc>::from_timestamp(hi, 0).map(|t| t.with_timezone(&zone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn wall(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn gap_times_run_when_the_gap_ends() {
        // New York springs forward at 02:00 EST (07:00Z) on 2024-03-10.
        let t = run_instant(chrono_tz::America::New_York, wall(2024, 3, 10, 2, 30)).unwrap();
        assert_eq!(
            t.with_timezone(&Utc).to_rfc3339(),
            "2024-03-10T07:00:00+00:00"
        );
        // Santiago's gap is at midnight: 00:00–01:00 does not exist on 2024-09-08.
        let t = run_instant(chrono_tz::America::Santiago, wall(2024, 9, 8, 0, 30)).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-09-08T01:00:00-03:00");
        // Lord Howe moves by half an hour.
        let t = run_instant(chrono_tz::Australia::Lord_Howe, wall(2024, 10, 6, 2, 10)).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-10-06T02:30:00+11:00");
    }

    #[test]
    fn rfc5545_moves_gap_times_forward_by_the_gap() {
        let t = rfc5545_instant(chrono_tz::America::New_York, wall(2024, 3, 10, 2, 30)).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-03-10T03:30:00-04:00");
        let t = rfc5545_instant(chrono_tz::Australia::Lord_Howe, wall(2024, 10, 6, 2, 10)).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-10-06T02:40:00+11:00");
    }

    #[test]
    fn overlap_times_run_at_their_first_occurrence() {
        let t = run_instant(chrono_tz::America::New_York, wall(2024, 11, 3, 1, 30)).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-11-03T01:30:00-04:00");
    }
}
