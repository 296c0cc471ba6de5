"""calrep.expand against dateutil.rrule on the same rules, in one run.

Both produce timezone-aware datetimes for the same window; the figure is the
ratio of their times (goal: calrep >= 20x faster). Usage:

    python calrep-py/bench/expand_vs_dateutil.py [--quick]
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from typing import Callable, List, Tuple
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

import calrep

UTC = timezone.utc
FROM, TO = datetime(2026, 1, 1, tzinfo=UTC), datetime(2036, 1, 1, tzinfo=UTC)
RULES: List[Tuple[str, datetime, str]] = [
    ("FREQ=DAILY", datetime(2026, 1, 5, 9), "Europe/Berlin"),
    ("FREQ=WEEKLY;BYDAY=MO,WE,FR", datetime(2026, 1, 5, 9), "America/New_York"),
    ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", datetime(2026, 1, 30, 17), "Asia/Kolkata"),
    ("FREQ=MONTHLY;BYMONTHDAY=-1", datetime(2026, 1, 31, 12), "Australia/Sydney"),
    ("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", datetime(2026, 3, 29, 10), "Europe/London"),
]


def best(f: Callable[[], int], repeat: int) -> Tuple[float, int]:
    times, n = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        n = f()
        times.append(time.perf_counter() - t)
    return min(times), n


def main() -> None:
    repeat = 1 if "--quick" in sys.argv else 7
    print(f"window {FROM.date()}..{TO.date()}, best of {repeat}")
    total_ours = total_theirs = 0.0
    for rule, start, zone in RULES:
        ours_t, ours_n = best(lambda: len(calrep.expand(rule, start, zone, FROM, TO)), repeat)
        aware = start.replace(tzinfo=ZoneInfo(zone))
        theirs_t, theirs_n = best(lambda: len(rrulestr(rule, dtstart=aware).between(FROM, TO, inc=True)), repeat)
        assert ours_n == theirs_n, (rule, ours_n, theirs_n)
        total_ours += ours_t
        total_theirs += theirs_t
        print(
            f"{rule:48} {ours_n:5} occurrences  calrep {ours_t * 1e3:7.2f} ms  "
            f"dateutil {theirs_t * 1e3:8.2f} ms  {theirs_t / ours_t:5.1f}x"
        )
    print(f"all rules: calrep {total_ours * 1e3:.2f} ms, dateutil {total_theirs * 1e3:.2f} ms, "
          f"ratio {total_theirs / total_ours:.1f}x")


if __name__ == "__main__":
    main()
