"""calrep.expand against dateutil.rrule on the same rules, in one run.

Both produce timezone-aware datetimes for the same window; the figure is the
ratio of their times (goal: calrep >= 20x faster). A third column builds
calrep's datetimes with pyo3's own constructors instead of CPython's
datetime C API (the path before the capsule), and a fourth gives the
vectorised `expand_posix` (POSIX seconds in an array). Every repetition times
all sides one after the other, so a slow phase of the machine slows them
alike, in an order that rotates (the first side after another rule pays
for cold caches); each side's best repetition counts. Usage:

    python calrep-py/bench/expand_vs_dateutil.py [--quick]

--quick runs one cold repetition: it proves the sides agree, and its ratios
are not the goal's figure (BENCHMARKS.md quotes the best of 20).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from typing import Callable, Dict, List, Tuple
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

import calrep
from calrep import _calrep

UTC = timezone.utc
FROM, TO = datetime(2026, 1, 1, tzinfo=UTC), datetime(2036, 1, 1, tzinfo=UTC)
RULES: List[Tuple[str, datetime, str]] = [
    ("FREQ=DAILY", datetime(2026, 1, 5, 9), "Europe/Berlin"),
    ("FREQ=WEEKLY;BYDAY=MO,WE,FR", datetime(2026, 1, 5, 9), "America/New_York"),
    ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", datetime(2026, 1, 30, 17), "Asia/Kolkata"),
    ("FREQ=MONTHLY;BYMONTHDAY=-1", datetime(2026, 1, 31, 12), "Australia/Sydney"),
    ("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", datetime(2026, 3, 29, 10), "Europe/London"),
]
SIDES = ["calrep", "pyo3 constructors", "expand_posix", "dateutil"]


def timed(f: Callable[[], int]) -> Tuple[float, int]:
    t = time.perf_counter()
    n = f()
    return time.perf_counter() - t, n


def pyo3_constructors(rule: str, start: datetime, zone: str) -> int:
    before = _calrep._use_datetime_capi(False)
    try:
        return len(calrep.expand(rule, start, zone, FROM, TO))
    finally:
        _calrep._use_datetime_capi(before)


def main() -> None:
    quick = "--quick" in sys.argv
    repeat = 1 if quick else 20
    print(f"window {FROM.date()}..{TO.date()}, best of {repeat}, sides interleaved")
    if quick:
        # scripts/test runs this once to prove the sides still agree; one
        # cold repetition pays every first-call cost, so its ratios run well
        # below the goal's measure and must not be read as it.
        print("--quick: checks that every side runs and agrees; the ratios below are NOT the goal's figure")
    best: Dict[Tuple[str, str], float] = {}
    for repetition in range(repeat):
        order = SIDES[repetition % len(SIDES) :] + SIDES[: repetition % len(SIDES)]
        for rule, start, zone in RULES:
            aware = start.replace(tzinfo=ZoneInfo(zone))
            runs = {
                "calrep": lambda: len(calrep.expand(rule, start, zone, FROM, TO)),
                "pyo3 constructors": lambda: pyo3_constructors(rule, start, zone),
                "expand_posix": lambda: len(calrep.expand_posix(rule, start, zone, FROM, TO)),
                "dateutil": lambda: len(rrulestr(rule, dtstart=aware).between(FROM, TO, inc=True)),
            }
            counts = set()
            for side in order:
                t, n = timed(runs[side])
                counts.add(n)
                best[(rule, side)] = min(best.get((rule, side), t), t)
            assert len(counts) == 1, (rule, counts)
    totals = {side: sum(best[(rule, side)] for rule, _, _ in RULES) for side in SIDES}
    print(f"{'rule':48} " + "  ".join(f"{side:>17}" for side in SIDES) + "  calrep ÷ dateutil")
    for rule, _, _ in RULES:
        cells = "  ".join(f"{best[(rule, side)] * 1e3:14.3f} ms" for side in SIDES)
        print(f"{rule:48} {cells}  {best[(rule, 'dateutil')] / best[(rule, 'calrep')]:6.1f}x")
    cells = "  ".join(f"{totals[side] * 1e3:14.3f} ms" for side in SIDES)
    print(f"{'all rules':48} {cells}  {totals['dateutil'] / totals['calrep']:6.1f}x")
    print(
        f"ratios to dateutil, all rules: calrep {totals['dateutil'] / totals['calrep']:.1f}x, "
        f"pyo3 constructors {totals['dateutil'] / totals['pyo3 constructors']:.1f}x, "
        f"expand_posix {totals['dateutil'] / totals['expand_posix']:.1f}x"
    )


if __name__ == "__main__":
    main()
