"""Oracle for schedule runs, written independently of calrep's Rust code.

Reads a JSON list of cases on stdin and prints, for each, the list of run
instants (UTC, ISO 8601) computed with Python's zoneinfo:

- a wall-clock time that occurs twice (fall-back) runs at its first
  occurrence (fold=0);
- a wall-clock time that never occurs (spring-forward gap) runs at the first
  valid wall-clock minute after it, found by stepping forward minute by minute;
- runs are the distinct instants strictly after `after`, in order.
"""

import json
import sys
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc


def exists(wall, zone):
    aware = wall.replace(tzinfo=zone, fold=0)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def run_instant(wall, zone):
    candidate = wall
    while not exists(candidate, zone):
        candidate = candidate.replace(second=0) + timedelta(minutes=1)
    return candidate.replace(tzinfo=zone, fold=0).astimezone(UTC)


def parse_hm(text):
    return time.fromisoformat(text)


def slots(case):
    """Wall-clock times of one day's runs."""
    start = parse_hm(case["start"])
    if case.get("end") is None:
        return [start]
    end = parse_hm(case["end"])
    step = timedelta(minutes=case["interval"])
    out, t = [], datetime.combine(date(2000, 1, 1), start)
    limit = datetime.combine(date(2000, 1, 1), end)
    while t <= limit:
        out.append(t.time())
        t += step
    return out


def runs(case):
    zone = ZoneInfo(case["zone"])
    after = datetime.fromisoformat(case["after"].replace("Z", "+00:00"))
    count = case["count"]
    if case["kind"] == "one_off":
        t = run_instant(datetime.fromisoformat(case["at"]), zone)
        return [t] if t > after else []
    days = set(case["days"])  # Monday = 0
    found = set()
    day = after.astimezone(zone).date() - timedelta(days=1)
    # Walk days until `count` runs are certain: one extra day past the point
    # where enough were found keeps overlaps and gaps near midnight honest.
    extra = 2
    while extra > 0:
        if day.weekday() in days:
            for slot in slots(case):
                t = run_instant(datetime.combine(day, slot), zone)
                if t > after:
                    found.add(t)
        if len(found) >= count:
            extra -= 1
        day += timedelta(days=1)
    return sorted(found)[:count]


def main():
    cases = json.load(sys.stdin)
    out = [[t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in runs(c)] for c in cases]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
