"""CPU per replicated item: calrep against exchangelib, the same full sync
of the same simulated mailboxes, measured side by side in one run.

Each side gets its own `calrep sim` process (so the server's CPU is counted
for neither, and each side's requests are counted by the server):

- exchangelib (in this process): the group expanded with ExpandDL, then per
  mailbox the calendar folder (GetFolder), every item id (SyncFolderItems,
  paged), every item (GetItem), every modified occurrence's own item, and
  every file attachment's content (GetAttachment) — what calrep fetches.
  Items become exchangelib's `CalendarItem` objects and are kept no longer
  than a mailbox.
- calrep: `calrep run` of a task over the same group into a fresh SQLite
  replica, at engine concurrency 1 and 8, as a child process. Its
  definition takes the default calendar only, which is what exchangelib
  reads through `account.calendar` (it finds other calendar folders with
  FindFolder, which the simulator does not serve): both sides replicate
  the same items.

CPU is user + system time: `time.process_time()` for exchangelib, the
child's rusage for calrep (its writes to the replica included). Usage:

    python benches/exchangelib/full_sync.py CALREP_BINARY [MAILBOXES]

with exchangelib installed (benches/exchangelib/requirements.txt).
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

from exchangelib import BASIC, IMPERSONATION, Account, Build, Configuration, Credentials, DLMailbox, Version
from exchangelib.attachments import FileAttachment

SEED = 3


class Sim:
    """A `calrep sim` process on a free port."""

    def __init__(self, calrep: str, mailboxes: int) -> None:
        self.process = subprocess.Popen(
            [calrep, "sim", "--port", "0", "--mailboxes", str(mailboxes), "--seed", str(SEED)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        lines = [self.process.stdout.readline() for _ in range(5)]
        banner = "".join(lines)
        found = re.search(r"at (http://\S+)", banner)
        account = re.search(r'Basic account (\S+) / password "([^"]+)"', banner)
        group = re.search(r"e\.g\. (\S+)", banner)
        assert found and account and group, banner
        self.url, self.user, self.password, self.group = found.group(1), account.group(1), account.group(2), group.group(1)
        # What the simulator says of itself (its Graph face, its OAuth app).
        self.banner = banner

    def stop(self) -> int:
        """Stops the server; how many requests it answered."""
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=30)
        answered = re.search(r"stopped after (\d+) requests", out)
        assert answered, out
        return int(answered.group(1))


def exchangelib_sync(sim: Sim) -> Tuple[int, float]:
    """The full sync through exchangelib; (items, CPU seconds)."""
    started = time.process_time()
    config = Configuration(
        service_endpoint=sim.url,
        credentials=Credentials(sim.user, sim.password),
        auth_type=BASIC,
        version=Version(Build(15, 1, 2507, 6)),
    )
    service = Account(primary_smtp_address=sim.user, config=config, autodiscover=False, access_type=IMPERSONATION)

    def members(address: str, seen: Set[str]) -> Iterator[str]:
        for m in service.protocol.expand_dl(DLMailbox(email_address=address)):
            if m.mailbox_type in ("PublicDL", "PrivateDL") and m.email_address not in seen:
                seen.add(m.email_address)
                yield from members(m.email_address, seen)
            elif m.mailbox_type == "Mailbox":
                yield m.email_address

    items = 0
    for address in sorted(set(members(sim.group, set()))):
        account = Account(primary_smtp_address=address, config=config, autodiscover=False, access_type=IMPERSONATION)
        ids = [(i.id, i.changekey) for _, i in account.calendar.sync_items(only_fields=["id", "changekey"])]
        fetched = [i for i in account.fetch(ids) if not isinstance(i, Exception)]
        occurrences = [(o.item_id.id, o.item_id.changekey) for i in fetched for o in (i.modified_occurrences or [])]
        fetched += [o for o in account.fetch(occurrences) if not isinstance(o, Exception)] if occurrences else []
        for item in fetched:
            for attachment in item.attachments or []:
                if isinstance(attachment, FileAttachment):
                    _ = attachment.content
        items += len(ids)
    return items, time.process_time() - started


def calrep_sync(calrep: str, sim: Sim, concurrency: int) -> Tuple[int, float]:
    """`calrep run` of the same group into a fresh replica; (items, CPU seconds)."""
    site = (
        'directory = "exchange"\n'
        f'ews = {{ url = "{sim.url}", username = "{sim.user}", password_file = "secret", '
        f"impersonation = true, concurrency = {concurrency} }}"
    )
    return calrep_run(calrep, sim, concurrency, site, sim.password)


def calrep_run(calrep: str, sim: Sim, concurrency: int, site: str, secret: str) -> Tuple[int, float]:
    """`calrep run` of a "Default" definition over the simulator's group,
    read through `site` (the site's lines after its id; its secret file is
    `secret`), into a fresh replica; (items, CPU seconds)."""
    with tempfile.TemporaryDirectory(prefix="calrep-vs-exchangelib-") as folder:
        directory = Path(folder)
        (directory / "secret").write_text(secret)
        (directory / "calrep.toml").write_text(
            f"""
[replica]
path = "replica.db"

[engine]
concurrency = {concurrency}

[[sites]]
id = "hq"
{site}

[[definitions]]
id = "default-calendar"
include = "default"

[[schedules]]
id = "s"
time_zone = "UTC"
when.daily.once.start = "02:00"

[[tasks]]
id = "t"
site = "hq"
definition = "default-calendar"
schedule = "s"
group = {{ distribution_group = "{sim.group}" }}
"""
        )
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = subprocess.run(
            [calrep, "run", "--config", str(directory / "calrep.toml"), "--task", "t", "--json"],
            capture_output=True,
            text=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert run.returncode == 0, run.stderr
        # The run's totals: each mailbox's counts are in the report too.
        created = int(json.loads(run.stdout)["totals"]["items_created"])
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return created, cpu


def main() -> None:
    calrep = sys.argv[1]
    mailboxes = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    rows: List[Tuple[str, int, int, float]] = []
    for side in ("exchangelib", 1, 8):
        sim = Sim(calrep, mailboxes)
        try:
            if side == "exchangelib":
                items, cpu = exchangelib_sync(sim)
                name = "exchangelib 5.6"
            else:
                items, cpu = calrep_sync(calrep, sim, int(side))
                name = f"calrep, concurrency {side}"
        finally:
            requests = sim.stop()
        rows.append((name, items, requests, cpu))
    # Both sides replicate the default calendars of the same mailboxes: a
    # difference in items means one side did other work (or miscounted).
    counts = {items for _, items, _, _ in rows}
    assert len(counts) == 1, f"the sides replicated different numbers of items: {rows}"
    theirs = rows[0][3] / max(rows[0][1], 1)
    print(f"{mailboxes} simulated mailboxes (seed {SEED}), full sync, CPU = user + system\n")
    print("| client | items | requests | CPU | CPU per item | CPU per request | exchangelib ÷ this, per item |")
    print("|---|---|---|---|---|---|---|")
    for name, items, requests, cpu in rows:
        per_item = cpu / max(items, 1)
        print(
            f"| {name} | {items} | {requests} | {cpu:.3f} s | {per_item * 1e6:.0f} µs | "
            f"{cpu / max(requests, 1) * 1e6:.0f} µs | {theirs / per_item:.1f}× |"
        )


if __name__ == "__main__":
    main()
