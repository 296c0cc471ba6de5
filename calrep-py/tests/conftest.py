"""Shared fixtures: a simulator and a configuration that replicates it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

import calrep


@pytest.fixture(scope="module")
def sim() -> Iterator[calrep.Simulator]:
    with calrep.Simulator(seed=7, mailboxes=20) as s:
        yield s


def config_dict(sim: calrep.Simulator, *, auth: dict) -> dict:
    return {
        "replica": {"path": "replica.db"},
        "sites": [{"id": "sim", "directory": "exchange", "ews": {"url": sim.url, "username": sim.username, **auth}}],
        "definitions": [{"id": "all", "include": "all"}],
        "schedules": [{"id": "nightly", "time_zone": "UTC", "when": {"daily": {"once": {"start": "02:00"}}}}],
        "tasks": [
            {
                "id": "everyone",
                "site": "sim",
                "definition": "all",
                "schedule": "nightly",
                "group": {"distribution_group": sim.all_staff},
            }
        ],
    }


@pytest.fixture()
def config(sim: calrep.Simulator, tmp_path: Path) -> calrep.Config:
    (tmp_path / "password").write_text(sim.password)
    return calrep.load_config(config_dict(sim, auth={"password_file": "password"}), base_dir=str(tmp_path))
