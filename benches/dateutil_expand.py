"""python-dateutil's side of the expansion benchmark.

Reads the rule set (JSON list from `expand-vs-dateutil`) on stdin, expands each
rule over its window the way calrep does (zoneinfo zone, start ≥ from and
< to, distinct UTC instants), and prints per rule the occurrence count and the best
time of several runs in seconds, as JSON.
"""

import json
import sys
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

UTC = timezone.utc


def expand(case):
    zone = ZoneInfo(case["zone"])
    start = datetime.fromisoformat(case["dtstart"]).replace(tzinfo=zone)
    lo = datetime.fromisoformat(case["from"].replace("Z", "+00:00"))
    hi = datetime.fromisoformat(case["to"].replace("Z", "+00:00"))
    rule = rrulestr("RRULE:" + case["rrule"], dtstart=start)
    out = set()
    for t in rule:
        u = t.astimezone(UTC)
        if u >= hi:
            break
        if u >= lo:
            out.add(u)
    # Two wall-clock times in a spring-forward gap can name one instant;
    # RFC 5545 counts it once, as calrep does.
    return sorted(out)


def main():
    results = []
    for case in json.load(sys.stdin):
        best = float("inf")
        count = 0
        for _ in range(5):
            t0 = time.perf_counter()
            count = len(expand(case))
            best = min(best, time.perf_counter() - t0)
        results.append({"name": case["name"], "count": count, "seconds": best})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
