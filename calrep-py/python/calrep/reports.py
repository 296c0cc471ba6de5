"""Typed views of what calrep reports; each keeps its JSON form for ``to_dict()``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional

from calrep.errors import MailboxError, ThrottledError

__all__ = ["MailboxReport", "MailboxVerification", "Occurrence", "RunReport", "VerifyReport", "parse_instant"]


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant as an aware datetime (``Z`` accepted on Python 3.9 too)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class MailboxReport:
    """How one mailbox fared in a run."""

    address: str
    #: ``healthy``, ``skipped``, ``locked``, ``needs_attention`` or ``failed``.
    outcome: str
    #: Why, for every outcome but ``healthy``.
    reason: Optional[str]
    #: Items and occurrences created, updated, deleted; attachment bytes.
    counts: Dict[str, int]
    calendars: int
    requests: int
    retries: int
    throttled_ms: int
    duration_ms: int
    warnings: List[str]

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> MailboxReport:
        return cls(
            address=d["address"],
            outcome=d["outcome"],
            reason=d.get("reason") or d.get("error") or d.get("task"),
            counts=dict(d["counts"]),
            calendars=d["calendars"],
            requests=d["requests"],
            retries=d["retries"],
            throttled_ms=d["throttled_ms"],
            duration_ms=d["duration_ms"],
            warnings=list(d.get("warnings", [])),
        )


@dataclass(frozen=True)
class RunReport:
    """What one run (or plan) of a task did, in MSE's terms."""

    task: str
    site: str
    dry_run: bool
    started: datetime
    finished: datetime
    #: ``Enabled``, ``Enabled With Warning``, ``Enabled With Errors`` or ``Failed``.
    status: str
    #: Why the whole run failed before it reached mailboxes, if it did.
    error: Optional[str]
    mailboxes: List[MailboxReport]
    #: Mailboxes kept in the replica but no longer updated by this task.
    frozen: List[str]
    totals: Dict[str, int]
    requests: int
    retries: int
    #: Waits on throttling summed over mailboxes (they overlap).
    throttled_ms: int
    #: Wall-clock time during which some mailbox waited on throttling.
    throttled_wall_ms: int
    #: Group entries skipped that are not mailboxes (contacts, cycles).
    not_mailboxes: int
    duration_ms: int
    _raw: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, text: str) -> RunReport:
        d = json.loads(text)
        return cls(
            task=d["task"],
            site=d["site"],
            dry_run=d["dry_run"],
            started=parse_instant(d["started"]),
            finished=parse_instant(d["finished"]),
            status=d["status"],
            error=d.get("error"),
            mailboxes=[MailboxReport.from_dict(m) for m in d["mailboxes"]],
            frozen=list(d["frozen"]),
            totals=dict(d["totals"]),
            requests=d["requests"],
            retries=d["retries"],
            throttled_ms=d["throttled_ms"],
            throttled_wall_ms=d["throttled_wall_ms"],
            not_mailboxes=d["not_mailboxes"],
            duration_ms=d["duration_ms"],
            _raw=d,
        )

    @property
    def failed(self) -> List[MailboxReport]:
        """The mailboxes that failed."""
        return [m for m in self.mailboxes if m.outcome == "failed"]

    def raise_for_failures(self) -> None:
        """Raises :class:`MailboxError` (:class:`ThrottledError` when throttling is every
        failure's cause) if the run failed as a whole or any mailbox failed."""
        failed = self.failed
        if self.error is None and not failed:
            return
        lines = [f"{m.address}: {m.reason}" for m in failed]
        if self.error is not None:
            lines.insert(0, self.error)
        message = f"task {self.task}: " + "; ".join(lines)
        if failed and self.error is None and all("throttled" in (m.reason or "") for m in failed):
            raise ThrottledError(message)
        raise MailboxError(message)

    def to_dict(self) -> Dict[str, Any]:
        """The report as calrep writes it (``calrep run --json``)."""
        return dict(self._raw)


@dataclass(frozen=True)
class MailboxVerification:
    """One mailbox's replica compared with its source."""

    address: str
    differences: List[str]
    error: Optional[str]


@dataclass(frozen=True)
class VerifyReport:
    """A task's replica compared with a full read of its sources."""

    task: str
    result: str
    """``"equal"``, ``"differences"``, or ``"incomplete"`` (no differences, but some mailboxes could not be read)."""
    unverified: int
    mailboxes: List[MailboxVerification]
    _raw: Dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, text: str) -> VerifyReport:
        d = json.loads(text)
        return cls(
            task=d["task"],
            result=d["result"],
            unverified=d["unverified"],
            mailboxes=[
                MailboxVerification(m["address"], list(m["differences"]), m.get("error")) for m in d["mailboxes"]
            ],
            _raw=d,
        )

    @property
    def is_equal(self) -> bool:
        """Whether every mailbox's replica equals its source."""
        return all(not m.differences and m.error is None for m in self.mailboxes)

    def to_dict(self) -> Dict[str, Any]:
        """The result as calrep writes it."""
        return dict(self._raw)


@dataclass(frozen=True)
class Occurrence:
    """One occurrence in the replica (times are aware datetimes in UTC)."""

    calendar: str
    item: str
    subject: str
    start: datetime
    end: datetime
    #: Where the series' pattern puts it (differs from ``start`` when moved).
    original_start: datetime
    is_exception: bool

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> Occurrence:
        o = d["occurrence"]
        return cls(
            calendar=d["calendar"],
            item=d["item"],
            subject=d["subject"],
            start=parse_instant(o["start"]),
            end=parse_instant(o["end"]),
            original_start=parse_instant(o["original_start"]),
            is_exception=o["is_exception"],
        )

    def to_dict(self) -> Dict[str, Any]:
        """Plain values, times as RFC 3339 text."""
        return {
            "calendar": self.calendar,
            "item": self.item,
            "subject": self.subject,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "original_start": self.original_start.isoformat(),
            "is_exception": self.is_exception,
        }
