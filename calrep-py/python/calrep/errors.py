"""The exceptions calrep raises, all rooted at :class:`CalrepError`.

Where Python has a matching built-in, the class also derives from it, so
``except ValueError`` catches a bad configuration or a malformed rule.
"""

from __future__ import annotations

__all__ = [
    "CalrepError",
    "ConfigError",
    "MailboxError",
    "RecurrenceError",
    "ReplicaError",
    "SourceError",
    "TaskDisabledError",
    "TaskError",
    "ThrottledError",
]


class CalrepError(Exception):
    """Anything calrep reports as failed."""


class ConfigError(CalrepError, ValueError):
    """The configuration is invalid; the message lists every problem with its path."""


class TaskError(CalrepError, LookupError):
    """The task is not configured (or refers to something that is not)."""


class TaskDisabledError(TaskError):
    """The task is configured but disabled."""


class SourceError(CalrepError):
    """The task's site has no usable mailbox source (a secret that cannot be read, say)."""


class MailboxError(CalrepError, LookupError):
    """A mailbox is unknown, or mailboxes failed in a run (see ``RunReport.raise_for_failures``)."""


class ThrottledError(MailboxError):
    """Every failed mailbox of a run failed because the server throttled it."""


class RecurrenceError(CalrepError, ValueError):
    """A recurrence rule, zone or calendar text cannot be read or expanded."""


class ReplicaError(CalrepError):
    """The replica database cannot be opened, read or written."""
