"""Oracle for exported series: python-dateutil expands the DTSTART, RRULE
and EXDATE lines calrep wrote, and prints each case's instants in a window
as UTC ISO 8601 strings. Date-only values are read in the case's zone."""

import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

UTC = timezone.utc


def expand(case):
    zone = ZoneInfo(case["zone"])
    rules = rrulestr(case["text"], forceset=True, tzids=lambda name: ZoneInfo(name))
    lo = datetime.fromisoformat(case["from"].replace("Z", "+00:00"))
    hi = datetime.fromisoformat(case["to"].replace("Z", "+00:00"))
    out = []
    for t in rules:
        if t.tzinfo is None:
            t = t.replace(tzinfo=zone, fold=0)
        t = t.astimezone(UTC)
        if t >= hi:
            break
        if t >= lo:
            out.append(t.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return out


def main():
    json.dump([expand(c) for c in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
