"""calrep.diff over iCalendar text and over replica items."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import calrep

UTC = timezone.utc
FROM, TO = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
WEEKLY = (
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:w\r\nSUMMARY:Review\r\nDTSTART:20260302T090000Z\r\n"
    "DURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def test_an_excluded_occurrence_is_removed() -> None:
    after = WEEKLY.replace("RRULE", "EXDATE:20260309T090000Z\r\nRRULE")
    result = calrep.diff(WEEKLY, after, FROM, TO)
    assert result["modified"] == [{"uid": "w", "fields": ["recurrence"]}]
    assert [(o["change"], o["original_start"]) for o in result["occurrences"]] == [
        ("removed", "2026-03-09T09:00:00Z")
    ]


def test_items_moved_in_the_replica_show_as_moved() -> None:
    item = {
        "id": "1",
        "uid": "u1",
        "subject": "Standup",
        "time": {"timed": {"start": "2026-06-01T09:00:00Z", "end": "2026-06-01T09:15:00Z"}},
        "zone": {"source_id": "UTC", "iana": "UTC"},
    }
    moved = {**item, "time": {"timed": {"start": "2026-06-01T10:00:00Z", "end": "2026-06-01T10:15:00Z"}}}
    result = calrep.diff([item], [moved], FROM, TO)
    assert [o["change"] for o in result["occurrences"]] == ["moved"]
    assert "time" in result["modified"][0]["fields"]


def test_bad_input_raises_the_right_class() -> None:
    with pytest.raises(TypeError, match="both"):
        calrep.diff(WEEKLY, [], FROM, TO)
    with pytest.raises(ValueError, match="not a JSON array of calendar items"):
        calrep.diff([{"id": 1}], [], FROM, TO)
    with pytest.raises(ValueError, match="before: iCalendar line"):
        calrep.diff("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n", WEEKLY, FROM, TO)
    with pytest.raises(ValueError, match="timezone-aware"):
        calrep.diff(WEEKLY, WEEKLY, datetime(2026, 1, 1), TO)
