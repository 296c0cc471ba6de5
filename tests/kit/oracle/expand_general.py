"""Oracle for RFC 5545 rule expansion: python-dateutil's rrule in zoneinfo zones.

Reads a JSON list of cases on stdin, each with an RRULE, a wall-clock DTSTART
(a date for all-day series), a zone and a window; prints for each the
occurrences starting inside [from, to): UTC instants as ISO 8601 with Z, or
dates for all-day series.

Two readings are applied on top of dateutil, both documented in DESIGN.md
("Recurrence") and both where calrep follows RFC 5545 and the other
references rather than dateutil:
- DTSTART is always an instance of the set (RFC 5545 3.8.5), even when the
  rule does not produce it; it does not count towards COUNT.
- A YEARLY rule with BYMONTHDAY but no BYMONTH, BYWEEKNO or BYYEARDAY takes
  its month from DTSTART (libical and ical.net agree; dateutil uses every
  month).
Duplicate instants (two wall-clock times in a gap map to one instant) count
once, as RFC 5545 says; dateutil compares same-zone datetimes by wall clock
and keeps both.
"""

import json
import sys
import warnings
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

UTC = timezone.utc


def month_from_start(rule_text, month):
    parts = dict(p.split("=", 1) for p in rule_text.split(";"))
    if (
        parts.get("FREQ") == "YEARLY"
        and "BYMONTHDAY" in parts
        and not any(k in parts for k in ("BYMONTH", "BYWEEKNO", "BYYEARDAY"))
    ):
        return rule_text + f";BYMONTH={month}"
    return rule_text


def bounded(rule, hi):
    """The rule cut two days past the window (the cut changes nothing inside
    it), so that a rule which never matches does not run to the year 9999;
    None when the window ends before the rule starts."""
    bound = hi + timedelta(days=2)
    if bound < rule._dtstart:
        return None
    if rule._until is None or rule._until > bound:
        with warnings.catch_warnings():
            # UNTIL next to COUNT is deprecated in dateutil; harmless here.
            warnings.simplefilter("ignore")
            return rule.replace(until=bound)
    return rule


def parse(text, start, hi):
    """The rule, or None when dateutil proves it never produces anything
    (it refuses such rules; calrep expands them to nothing)."""
    try:
        return bounded(rrulestr("RRULE:" + text, dtstart=start), hi)
    except ValueError as e:
        if "generates an empty set" in str(e):
            return None
        raise


def expand(case):
    lo = datetime.fromisoformat(case["from"].replace("Z", "+00:00"))
    hi = datetime.fromisoformat(case["to"].replace("Z", "+00:00"))
    if case["all_day"]:
        start = datetime.combine(date.fromisoformat(case["dtstart"]), datetime.min.time())
        text = month_from_start(case["rrule"], start.month)
        rule = parse(text, start, hi.replace(tzinfo=None))
        days = {start.date()}
        for t in rule or ():
            if t.replace(tzinfo=UTC) >= hi:
                break
            days.add(t.date())
        inside = lambda d: lo <= datetime.combine(d, datetime.min.time(), UTC) < hi
        return sorted(d.isoformat() for d in days if inside(d))
    zone = ZoneInfo(case["zone"])
    start = datetime.fromisoformat(case["dtstart"]).replace(tzinfo=zone)
    text = month_from_start(case["rrule"], start.month)
    rule = parse(text, start, hi)
    instants = {start.astimezone(UTC)}
    for t in rule or ():
        u = t.astimezone(UTC)
        # Wall-clock order equals instant order except inside an overlap, so
        # stopping a day past the window loses nothing.
        if (u - hi).total_seconds() > 86400:
            break
        instants.add(u)
    return sorted(u.strftime("%Y-%m-%dT%H:%M:%SZ") for u in instants if lo <= u < hi)


def main():
    cases = json.load(sys.stdin)
    json.dump([expand(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
