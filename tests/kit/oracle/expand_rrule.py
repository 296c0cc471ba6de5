"""Oracle for series expansion: python-dateutil's rrule, in zoneinfo zones.

Reads a JSON list of cases on stdin, each with an RFC 5545 rule, a wall-clock
DTSTART, a zone, and a window; prints for each the UTC starts (ISO 8601) of
the occurrences that start inside (window_from - duration, window_to).
"""

import json
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

UTC = timezone.utc


def expand(case):
    zone = ZoneInfo(case["zone"])
    dtstart = datetime.fromisoformat(case["dtstart"]).replace(tzinfo=zone)
    rule = rrulestr(case["rrule"], dtstart=dtstart)
    lo = datetime.fromisoformat(case["from"].replace("Z", "+00:00")) - timedelta(seconds=case["duration"])
    hi = datetime.fromisoformat(case["to"].replace("Z", "+00:00"))
    out = []
    for wall in rule:
        start = wall.astimezone(UTC)
        # Wall-clock order equals instant order except inside overlaps, so
        # stop a day past the window.
        if start >= hi + timedelta(days=2):
            break
        if lo < start < hi:
            out.append(start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return sorted(set(out))


def main():
    cases = json.load(sys.stdin)
    json.dump([expand(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
