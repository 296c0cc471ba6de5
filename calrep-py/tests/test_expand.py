"""calrep.expand: aware datetimes, clear errors, and python-dateutil as the oracle."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from typing import Any, List, Tuple, Union
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

import calrep
from calrep import _calrep

UTC = timezone.utc
FROM, TO = datetime(2026, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)


def test_occurrences_are_aware_in_the_series_zone() -> None:
    found = calrep.expand("FREQ=WEEKLY;BYDAY=MO;COUNT=2", datetime(2026, 3, 23, 9), "W. Europe Standard Time", FROM, TO)
    assert [d.isoformat() for d in found] == ["2026-03-23T09:00:00+01:00", "2026-03-30T09:00:00+02:00"]
    assert all(d.tzinfo == ZoneInfo("Europe/Berlin") for d in found)


def test_all_day_series_give_dates_and_exdates_apply() -> None:
    found = calrep.expand("FREQ=DAILY;COUNT=3", date(2026, 3, 1), None, FROM, TO, exdates=[date(2026, 3, 2)])
    assert found == [date(2026, 3, 1), date(2026, 3, 3)]


def test_the_repeated_hour_keeps_its_fold() -> None:
    # 01:30 New York happens twice on 2026-11-01; an hourly series in UTC
    # meets both, and the second is fold=1.
    found = calrep.expand("FREQ=HOURLY;COUNT=3", datetime(2026, 11, 1, 5, 30), "UTC", FROM, TO)
    in_ny = [d.astimezone(ZoneInfo("America/New_York")) for d in found]
    assert [(d.hour, d.fold) for d in in_ny] == [(1, 0), (1, 1), (2, 0)]
    # An instant given as an RDATE of a New York series comes back in New
    # York time, in the second fold.
    ny = calrep.expand(
        "FREQ=DAILY;COUNT=1", datetime(2026, 10, 31, 1, 30), "America/New_York", FROM, TO, rdates=[found[1]]
    )
    # (PEP 495: a datetime in the fold never equals one of another zone,
    # so instants are compared as timestamps.)
    assert ny[1].timestamp() == found[1].timestamp() and (ny[1].hour, ny[1].fold) == (1, 1)


def test_a_skipped_time_shows_as_the_time_after_the_gap() -> None:
    # 02:30 does not happen in New York on 2026-03-08: RFC 5545 reads it
    # with the offset from before the gap, 07:30Z, which shows as 03:30.
    found = calrep.expand("FREQ=DAILY;COUNT=3", datetime(2026, 3, 7, 2, 30), "America/New_York", FROM, TO)
    assert [d.isoformat() for d in found] == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:30:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]
    # zoneinfo's own arithmetic agrees on every instant.
    posix = calrep.expand_posix("FREQ=DAILY;COUNT=3", datetime(2026, 3, 7, 2, 30), "America/New_York", FROM, TO)
    assert [int(d.timestamp()) for d in found] == list(posix)


@pytest.mark.parametrize(
    ("args", "error", "needle"),
    [
        (("FREQ=SOMETIMES", datetime(2026, 1, 1), "UTC", FROM, TO), calrep.RecurrenceError, "FREQ"),
        (("FREQ=DAILY;BYHOUR=25", datetime(2026, 1, 1), "UTC", FROM, TO), ValueError, "BYHOUR"),
        (("FREQ=DAILY", datetime(2026, 1, 1), "Europe/Atlantis", FROM, TO), ValueError, "Atlantis"),
        (("FREQ=DAILY", datetime(2026, 1, 1), "UTC", datetime(2026, 1, 1), TO), ValueError, "timezone-aware"),
        (("FREQ=DAILY", "2026-01-01", "UTC", FROM, TO), TypeError, "dtstart"),
        (("FREQ=DAILY", datetime(2026, 1, 1), 3, FROM, TO), TypeError, "tz"),
    ],
)
def test_bad_input_raises_the_right_class(args: tuple, error: type, needle: str) -> None:
    with pytest.raises(error, match=needle):
        calrep.expand(*args)


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo", "UTC"]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def random_rule(rng: random.Random) -> str:
    count = f"COUNT={rng.randint(1, 40)}"
    return rng.choice(
        [
            f"FREQ=DAILY;INTERVAL={rng.randint(1, 4)};{count}",
            f"FREQ=WEEKLY;BYDAY={','.join(sorted(rng.sample(DAYS, rng.randint(1, 3)), key=DAYS.index))};{count}",
            f"FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=2027-06-30T00:00:00Z".replace("-", "").replace(":", ""),
            f"FREQ=MONTHLY;BYMONTHDAY={rng.choice([1, 15, 28, -1])};{count}",
            f"FREQ=MONTHLY;BYDAY={rng.choice(['1MO', '2TU', '-1FR', '3WE'])};{count}",
            f"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;{count}",
            f"FREQ=YEARLY;BYMONTH={rng.choice([3, 10, 12])};BYDAY=-1SU;{count}",
            f"FREQ=YEARLY;INTERVAL={rng.randint(1, 2)};{count}",
        ]
    )


def dateutil_oracle(rule: str, dtstart: datetime) -> List[datetime]:
    found = rrulestr(rule, dtstart=dtstart).between(FROM, TO, inc=True)
    found = [d for d in found if d < TO]
    # RFC 5545: DTSTART is always the first instance; dateutil keeps it only
    # when the rule produces it.
    if dtstart not in found and FROM <= dtstart < TO:
        found.insert(0, dtstart)
    return found


def test_expansion_matches_python_dateutil() -> None:
    rng = random.Random(20261127)
    for case in range(400):
        zone = rng.choice(ZONES)
        # Hours away from DST transitions, where dateutil keeps wall times
        # that do not exist and RFC 5545 does not.
        start = datetime(2026, 1, 1, rng.choice([8, 9, 12, 17, 20]), rng.choice([0, 15, 30])) + timedelta(
            days=rng.randint(0, 700)
        )
        rule = random_rule(rng)
        ours = calrep.expand(rule, start, zone, FROM, TO)
        theirs = dateutil_oracle(rule, start.replace(tzinfo=ZoneInfo(zone)))
        assert ours == theirs, f"case {case}: {rule} from {start} in {zone}"
        assert [d.replace(tzinfo=None) for d in ours] == [d.replace(tzinfo=None) for d in theirs]


def test_a_reversed_window_is_refused_as_on_the_command_line() -> None:
    with pytest.raises(ValueError, match="start must be before end"):
        calrep.expand("FREQ=DAILY;COUNT=3", datetime(2026, 3, 1, 9), "UTC", TO, FROM)


def test_posix_seconds_are_the_instants_of_the_datetimes() -> None:
    rng = random.Random(20261129)
    for case in range(200):
        zone = rng.choice(ZONES)
        start = datetime(2026, 1, 1, rng.randint(0, 23), rng.choice([0, 30])) + timedelta(days=rng.randint(0, 700))
        rule = random_rule(rng)
        found = calrep.expand_posix(rule, start, zone, FROM, TO)
        assert found.typecode == "q" and found.itemsize == 8
        # Python's own arithmetic from the aware datetimes, independent of
        # the Rust path that made the numbers.
        assert list(found) == [int(d.timestamp()) for d in calrep.expand(rule, start, zone, FROM, TO)], (
            f"case {case}: {rule} from {start} in {zone}"
        )


def test_posix_seconds_read_dates_as_midnight_in_the_zone() -> None:
    found = calrep.expand_posix("FREQ=DAILY;COUNT=2", date(2026, 3, 28), "Europe/Berlin", FROM, TO)
    berlin = ZoneInfo("Europe/Berlin")
    assert list(found) == [int(datetime(2026, 3, d, tzinfo=berlin).timestamp()) for d in (28, 29)]
    assert list(calrep.expand_posix("FREQ=DAILY", datetime(2026, 1, 1), "UTC", FROM, datetime(2026, 1, 1, 1, tzinfo=UTC))) == [
        int(FROM.timestamp())
    ]


def _shape(found: List[Any]) -> List[Tuple[type, str, object, int]]:
    return [(type(d), d.isoformat(), getattr(d, "tzinfo", None), getattr(d, "fold", 0)) for d in found]


def test_the_datetime_capsule_builds_what_pyo3_builds() -> None:
    # The capsule (datetime.datetime_CAPI) and pyo3's constructors must give
    # equal objects: same type, fields, tzinfo and fold, dates and floating
    # times included.
    rng = random.Random(20261130)
    cases: List[Tuple[str, Union[date, datetime], str]] = [
        ("FREQ=HOURLY;COUNT=30", datetime(2026, 11, 1, 0, 30), "America/New_York")  # the fold
    ]
    cases += [("FREQ=DAILY;COUNT=5", date(2026, 3, 28), "Europe/Berlin")]
    cases += [(random_rule(rng), datetime(2026, 1, 1, rng.randint(0, 23)), rng.choice(ZONES)) for _ in range(50)]
    for rule, start, zone in cases:
        fast = calrep.expand(rule, start, zone, FROM, TO)
        before = _calrep._use_datetime_capi(False)
        try:
            slow = calrep.expand(rule, start, zone, FROM, TO)
        finally:
            _calrep._use_datetime_capi(before)
        assert _shape(fast) == _shape(slow), (rule, start, zone)
    found = calrep.expand("FREQ=DAILY;COUNT=2", datetime(2026, 3, 28, 9), "Europe/Berlin", FROM, TO)
    assert [type(d) for d in found] == [datetime, datetime]
    # Across the change to summer time (same-zone subtraction in Python
    # ignores offsets, so instants are compared as timestamps).
    assert found[1].timestamp() - found[0].timestamp() == 23 * 3600


def test_window_bounds_keep_their_whole_second_at_any_microsecond() -> None:
    # A bound's microseconds are dropped (the second it falls in counts),
    # also where a float timestamp would round up: late in year 9999.
    late = datetime(2026, 3, 1, 9, 0, 0, 999999, tzinfo=UTC)
    assert len(calrep.expand_posix("FREQ=DAILY;COUNT=3", datetime(2026, 3, 1, 9), "UTC", late, TO)) == 3
    end = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    # The end is 23:59:59 (exclusive), not the next second a float gives.
    assert list(calrep.expand_posix("FREQ=YEARLY", datetime(9999, 12, 31, 23, 59, 59), "UTC", FROM, end)) == []
    before_epoch = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    found = calrep.expand_posix("FREQ=DAILY;COUNT=1", datetime(1969, 12, 31, 23, 59, 59), "UTC", before_epoch, TO)
    assert list(found) == [-1]
