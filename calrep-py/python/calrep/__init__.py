"""calrep: a read-only, always-current replica of Exchange and Microsoft 365 calendars.

The engine, recurrence expansion, calendar diffs, the replica and the EWS
simulator, from Rust. Every call that waits releases the GIL; Ctrl-C stops a
run after the batches in flight. Progress is logged to the ``calrep`` logger.

>>> import calrep, datetime
>>> utc = datetime.timezone.utc
>>> [d.isoformat() for d in calrep.expand("FREQ=DAILY;COUNT=2", datetime.datetime(2026, 3, 28, 9), "Europe/Berlin",
...                                       datetime.datetime(2026, 1, 1, tzinfo=utc), datetime.datetime(2027, 1, 1, tzinfo=utc))]
['2026-03-28T09:00:00+01:00', '2026-03-29T09:00:00+02:00']
"""

from __future__ import annotations

import json
import logging
from array import array
from datetime import date, datetime, timezone, tzinfo
from os import PathLike
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from calrep import _calrep
from calrep._calrep import Config, Simulator, __version__
from calrep.errors import (
    CalrepError,
    ConfigError,
    MailboxError,
    RecurrenceError,
    ReplicaError,
    SourceError,
    TaskDisabledError,
    TaskError,
    ThrottledError,
)
from calrep.reports import MailboxReport, MailboxVerification, Occurrence, RunReport, VerifyReport

__all__ = [
    "CalrepError",
    "Config",
    "ConfigError",
    "Engine",
    "MailboxError",
    "MailboxReport",
    "MailboxVerification",
    "Occurrence",
    "RecurrenceError",
    "ReplicaError",
    "RunReport",
    "Simulator",
    "SourceError",
    "TaskDisabledError",
    "TaskError",
    "ThrottledError",
    "VerifyReport",
    "__version__",
    "diff",
    "expand",
    "expand_posix",
    "load_config",
]

logger = logging.getLogger("calrep")
logger.addHandler(logging.NullHandler())

When = Union[date, datetime]


def _instant(name: str, value: datetime) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime.datetime, not {type(value).__name__}")
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (a naive datetime is no instant)")
    return value.astimezone(timezone.utc).isoformat()


def load_config(source: Union[str, PathLike[str], Mapping[str, Any]], *, base_dir: Optional[str] = None) -> Config:
    """A configuration from a TOML/JSON file path or from a dict (relative paths
    start at the file's folder, or at ``base_dir`` for a dict)."""
    if isinstance(source, Mapping):
        return Config.from_text(json.dumps(dict(source)), "json", base_dir)
    if isinstance(source, (str, PathLike)):
        return Config.load(source)
    raise TypeError(f"a configuration is a path or a dict, not {type(source).__name__}")


class Engine:
    """Runs the tasks of a configuration into the replica it names.

    ``token_provider(site) -> str`` supplies bearer tokens for sites configured
    with ``host_tokens = true``; ``on_event(event: dict)`` sees every progress
    event (exceptions it raises are logged, never propagated into the run).
    """

    def __init__(
        self,
        config: Union[Config, str, PathLike[str], Mapping[str, Any]],
        *,
        token_provider: Optional[Callable[[str], str]] = None,
        on_event: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> None:
        if not isinstance(config, Config):
            config = load_config(config)
        if token_provider is not None and not callable(token_provider):
            raise TypeError("token_provider must be callable")
        if on_event is not None and not callable(on_event):
            raise TypeError("on_event must be callable")
        self.config = config
        self._inner = _calrep.Engine(
            config,
            token_provider=token_provider,
            on_event=None if on_event is None else _guarded(on_event),
        )

    def run_task(self, task: str, *, force: bool = False) -> RunReport:
        """Runs a task once (mailboxes that fail are in the report, see
        :meth:`RunReport.raise_for_failures`); ``force`` applies deletions the
        mass-delete guard holds back."""
        return RunReport.from_json(self._inner.run_task(task, force=force))

    def plan(self, task: str) -> RunReport:
        """What a run would change, writing nothing."""
        return RunReport.from_json(self._inner.plan(task))

    async def run_task_async(self, task: str, *, force: bool = False) -> RunReport:
        """:meth:`run_task` for asyncio, on calrep's runtime (cancelling stops the run)."""
        return RunReport.from_json(await self._inner.run_task_async(task, force=force))

    async def plan_async(self, task: str) -> RunReport:
        """:meth:`plan` for asyncio."""
        return RunReport.from_json(await self._inner.plan_async(task))

    def verify(self, task: str) -> VerifyReport:
        """Compares the replica of each of the task's mailboxes with a full read of its source."""
        return VerifyReport.from_json(self._inner.verify(task))

    def occurrences(self, mailbox: str, start: datetime, end: datetime) -> List[Occurrence]:
        """A mailbox's replicated occurrences overlapping [start, end) (aware datetimes)."""
        found = json.loads(self._inner.occurrences(mailbox, _instant("start", start), _instant("end", end)))
        return [Occurrence.from_dict(o) for o in found]

    def mailboxes(self) -> List[str]:
        """The addresses of the mailboxes in the replica."""
        return self._inner.mailboxes()

    def access_grant(
        self,
        account: str,
        *,
        mailboxes: Sequence[str] = (),
        delegated: Sequence[str] = (),
        admin: bool = False,
        expires: Optional[datetime] = None,
    ) -> str:
        """Issues ``account`` an app password for reading the replica in an
        outage: its own ``mailboxes``, ``delegated`` ones (others' private items
        masked), or everything (``admin``), until ``expires`` (aware). Returns the
        password: the only time it is seen, since only its hash is kept."""
        return self._inner.access_grant(
            account,
            mailboxes=list(mailboxes),
            delegated=list(delegated),
            admin=admin,
            expires=None if expires is None else _instant("expires", expires),
        )

    def access_revoke(self, account: str) -> None:
        """Removes ``account``: its password and feeds stop working at once."""
        self._inner.access_revoke(account)

    def access_accounts(self) -> List[Dict[str, Any]]:
        """The access accounts and their grants (never a password or its hash)."""
        accounts: List[Dict[str, Any]] = json.loads(self._inner.access_accounts())
        return accounts

    def export(self, mailbox: str, calendar: Optional[str] = None, *, inline_attachments: bool = False) -> str:
        """A mailbox's replica (or one calendar of it) as an iCalendar document."""
        return self._inner.export(mailbox, calendar, inline_attachments=inline_attachments)

    def events(self, timeout: float = 0.0) -> Iterator[Dict[str, Any]]:
        """The progress events not yet taken, oldest first; waits up to ``timeout``
        seconds for each, and ends when none comes."""
        while True:
            event = self._inner.next_event(timeout)
            if event is None:
                return
            yield json.loads(event)

    def serve(self, *, poll_seconds: float = 1.0, reload_seconds: int = 60) -> List[Tuple[str, str, Optional[str]]]:
        """Runs enabled tasks on their schedules until :meth:`stop` (from another
        thread) or Ctrl-C; returns the runs made as ``(task, due, status)``."""
        return self._inner.serve(poll_seconds=poll_seconds, reload_seconds=reload_seconds)

    def stop(self) -> None:
        """Stops :meth:`serve` after the batches in flight."""
        self._inner.stop()

    @property
    def replica_path(self) -> str:
        """The replica's SQLite file."""
        return str(self._inner.replica_path)


def _guarded(on_event: Callable[[Dict[str, Any]], None]) -> Callable[[str], None]:
    def call(event: str) -> None:
        try:
            on_event(json.loads(event))
        except Exception:
            logger.exception("the on_event callback raised; the run goes on")

    return call


def expand(
    rrule: str,
    dtstart: When,
    tz: Union[str, tzinfo, None],
    start: datetime,
    end: datetime,
    exdates: Iterable[When] = (),
    rdates: Iterable[When] = (),
) -> List[Any]:
    """The occurrences of ``rrule`` (RFC 5545) from ``dtstart`` that start in
    [``start``, ``end``).

    ``dtstart`` is a wall-clock time in ``tz`` (an IANA or Windows zone name,
    or a ``zoneinfo.ZoneInfo``; None is UTC), an aware datetime, or a date
    for all-day series. The occurrences are aware datetimes in ``tz`` (dates
    for all-day series). ``start``/``end`` must be aware. ``exdates`` and
    ``rdates`` take the same forms as ``dtstart``. An aware ``dtstart`` is
    read as its wall-clock time in ``tz``; as RFC 5545 says, a wall time that
    occurs twice means its first occurrence.
    """
    return _calrep.expand(rrule, dtstart, tz, start, end, list(exdates), list(rdates))


def expand_posix(
    rrule: str,
    dtstart: When,
    tz: Union[str, tzinfo, None],
    start: datetime,
    end: datetime,
    exdates: Iterable[When] = (),
    rdates: Iterable[When] = (),
) -> array[int]:
    """The occurrences :func:`expand` finds, as POSIX seconds in an
    ``array.array('q')``: numbers for callers that want numbers, a buffer
    ``numpy.frombuffer(found, dtype=numpy.int64)`` reads without a copy.
    Dates and floating times are read as wall-clock times in ``tz``.

    >>> import calrep, datetime
    >>> utc = datetime.timezone.utc
    >>> list(calrep.expand_posix("FREQ=DAILY;COUNT=2", datetime.datetime(2026, 3, 28, 9), "Europe/Berlin",
    ...                          datetime.datetime(2026, 1, 1, tzinfo=utc), datetime.datetime(2027, 1, 1, tzinfo=utc)))
    [1774684800, 1774767600]
    """
    return _calrep.expand_posix(rrule, dtstart, tz, start, end, list(exdates), list(rdates))


CalendarText = Union[str, Sequence[Mapping[str, Any]]]


def diff(before: CalendarText, after: CalendarText, start: datetime, end: datetime) -> Dict[str, Any]:
    """How ``after`` differs from ``before`` — both iCalendar text, or both
    lists of calendar items as the replica keeps them — with occurrence
    changes in [``start``, ``end``): ``added``, ``removed``, ``modified`` and
    ``occurrences``."""
    if isinstance(before, str) and isinstance(after, str):
        texts, ical = (before, after), True
    elif not isinstance(before, str) and not isinstance(after, str):
        texts, ical = (json.dumps(list(before)), json.dumps(list(after))), False
    else:
        raise TypeError("before and after must both be iCalendar text or both be lists of items")
    result: Dict[str, Any] = json.loads(
        _calrep.diff(*texts, _instant("start", start), _instant("end", end), ical=ical)
    )
    return result
