"""The interpreter exits cleanly right after an awaited run, even under
load: calrep's threads never ask for the GIL while Python finalizes (that
aborted the process with SIGABRT, intermittently, before the fix)."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time

SCRIPT = r"""
import asyncio, os, tempfile
import calrep

with calrep.Simulator(seed=7, mailboxes=10) as sim:
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "password"), "w") as f:
        f.write(sim.password)
    config = calrep.load_config({
        "replica": {"path": "replica.db"},
        "sites": [{"id": "sim", "directory": "exchange",
                   "ews": {"url": sim.url, "username": sim.username, "password_file": "password"}}],
        "definitions": [{"id": "all", "include": "all"}],
        "schedules": [{"id": "s", "time_zone": "UTC", "when": {"daily": {"once": {"start": "02:00"}}}}],
        "tasks": [{"id": "t", "site": "sim", "definition": "all", "schedule": "s",
                   "group": {"distribution_group": sim.all_staff}}],
    }, base_dir=folder)
    engine = calrep.Engine(config, on_event=lambda event: None)
    report = asyncio.run(engine.run_task_async("t"))
    print(report.status)
"""


def _spin(deadline: float) -> None:
    while time.time() < deadline:
        pass


def test_exit_after_an_awaited_run_is_clean_under_load() -> None:
    deadline = time.time() + 120
    load = [multiprocessing.Process(target=_spin, args=(deadline,), daemon=True) for _ in range(2)]
    for p in load:
        p.start()
    try:
        for attempt in range(25):
            done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"attempt {attempt}: exit {done.returncode}\n{done.stderr}"
            assert done.stdout.strip().startswith("Enabled"), done.stdout
    finally:
        for p in load:
            p.terminate()
