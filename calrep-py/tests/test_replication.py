"""A full replication against the simulator through the Python API."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest

import calrep
from conftest import config_dict


def test_replicate_plan_verify_and_read_back(sim: calrep.Simulator, config: calrep.Config) -> None:
    events: list = []
    engine = calrep.Engine(config, on_event=events.append)
    plan = engine.plan("everyone")
    assert plan.dry_run and plan.totals["items_created"] > 0
    report = engine.run_task("everyone")
    assert isinstance(report, calrep.RunReport)
    assert not report.dry_run
    assert len(report.mailboxes) == len(plan.mailboxes) >= 20
    assert report.totals["items_created"] == plan.totals["items_created"]
    assert report.to_dict()["task"] == "everyone"
    assert {e["event"] for e in events} >= {"run_started", "mailbox_finished", "run_finished"}
    # The pull queue holds the same events.
    assert len(list(engine.events())) == len(events)
    assert engine.verify("everyone").is_equal

    healthy = next(m.address for m in report.mailboxes if m.outcome == "healthy")
    utc = timezone.utc
    found = engine.occurrences(healthy, datetime(2026, 11, 1, tzinfo=utc), datetime(2026, 12, 1, tzinfo=utc))
    assert found and all(o.start.tzinfo is not None and o.start < o.end for o in found)
    assert engine.export(healthy).startswith("BEGIN:VCALENDAR")
    assert healthy in engine.mailboxes()


def test_lookups_fail_with_the_right_class(config: calrep.Config) -> None:
    engine = calrep.Engine(config)
    with pytest.raises(calrep.TaskError, match="nobody"):
        engine.run_task("nobody")
    utc = timezone.utc
    with pytest.raises(calrep.MailboxError, match="nobody@demo.example"):
        engine.occurrences("nobody@demo.example", datetime(2026, 1, 1, tzinfo=utc), datetime(2026, 2, 1, tzinfo=utc))
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.occurrences("nobody@demo.example", datetime(2026, 1, 1), datetime(2026, 2, 1, tzinfo=utc))


def test_progress_goes_to_the_calrep_logger(config: calrep.Config, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="calrep"):
        calrep.Engine(config).run_task("everyone")
    messages = [r.getMessage() for r in caplog.records if r.name == "calrep"]
    assert any(m.startswith("task everyone:") for m in messages)


def test_a_raising_event_callback_is_logged_and_the_run_goes_on(
    config: calrep.Config, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(event: dict) -> None:
        raise RuntimeError("thrown on purpose")

    report = calrep.Engine(config, on_event=explode).run_task("everyone")
    assert len(report.mailboxes) >= 20
    assert any("on_event callback raised" in r.getMessage() for r in caplog.records)


def test_host_tokens(sim: calrep.Simulator, tmp_path) -> None:
    asked = []

    def tokens(site: str) -> str:
        asked.append(site)
        return sim.issue_token()

    config = calrep.load_config(config_dict(sim, auth={"host_tokens": True}), base_dir=str(tmp_path))
    report = calrep.Engine(config, token_provider=tokens).run_task("everyone")
    report.raise_for_failures()
    assert asked and set(asked) == {"sim"}

    def refuse(site: str) -> str:
        raise PermissionError("no account for " + site)

    refused = calrep.Engine(
        calrep.load_config(config_dict(sim, auth={"host_tokens": True}), base_dir=str(tmp_path / "x")),
        token_provider=refuse,
    )
    report = refused.run_task("everyone")
    assert report.error is not None and "no account for sim" in report.error
    with pytest.raises(calrep.MailboxError, match="no account for sim"):
        report.raise_for_failures()


def test_change_rounds_serve_the_organisation_as_changed(tmp_path: Path) -> None:
    with calrep.Simulator(seed=3, mailboxes=10) as before, calrep.Simulator(seed=3, mailboxes=10, change_rounds=1) as after:
        (tmp_path / "password").write_text(before.password)
        first = calrep.load_config(config_dict(before, auth={"password_file": "password"}), base_dir=str(tmp_path))
        assert calrep.Engine(first).run_task("everyone").status.startswith("Enabled")
        second = calrep.load_config(config_dict(after, auth={"password_file": "password"}), base_dir=str(tmp_path))
        report = calrep.Engine(second).verify("everyone")
        assert report.result == "differences", report.to_dict()


def graph_config(sim: calrep.Simulator, *, auth: dict, base_dir: Path) -> calrep.Config:
    """The conftest configuration with its site read over Microsoft Graph."""
    config = config_dict(sim, auth={})
    config["sites"] = [
        {
            "id": "sim",
            "directory": "graph",
            "graph": {"tenant": "demo.onmicrosoft.com", "url": sim.graph_url, "authority": sim.authority, **auth},
        }
    ]
    return calrep.load_config(config, base_dir=str(base_dir))


def test_a_microsoft_365_site_replicates_over_graph(sim: calrep.Simulator, tmp_path: Path) -> None:
    (tmp_path / "app-secret").write_text(sim.client_secret)
    config = graph_config(sim, auth={"client_id": sim.client_id, "secret_file": "app-secret"}, base_dir=tmp_path)
    engine = calrep.Engine(config)
    report = engine.run_task("everyone")
    report.raise_for_failures()
    healthy = [m for m in report.mailboxes if m.outcome == "healthy"]
    skipped = [m for m in report.mailboxes if m.outcome == "skipped"]
    # transitiveMembers reports disabled and unlicensed accounts: skipped.
    assert len(healthy) + len(skipped) == len(sim.mailboxes) and skipped
    assert sim.requests().get("graph.delta", 0) > 0
    assert engine.verify("everyone").result == "equal"

    # The host's tokens (MSAL, a managed identity) instead of a secret.
    asked = []

    def tokens(site: str) -> str:
        asked.append(site)
        return sim.issue_token()

    hosted = graph_config(sim, auth={"host_tokens": True}, base_dir=tmp_path / "hosted")
    calrep.Engine(hosted, token_provider=tokens).run_task("everyone").raise_for_failures()
    assert asked and set(asked) == {"sim"}


def test_access_accounts_are_issued_listed_and_revoked(config: calrep.Config) -> None:
    engine = calrep.Engine(config)
    expires = datetime(2030, 1, 1, tzinfo=timezone.utc)
    password = engine.access_grant("ann", mailboxes=["ann@demo.example"], delegated=["ceo@demo.example"], expires=expires)
    assert len(password) == 27
    accounts = engine.access_accounts()
    assert [a["name"] for a in accounts] == ["ann"]
    assert accounts[0]["delegated"] == ["ceo@demo.example"] and accounts[0]["expires"] == "2030-01-01T00:00:00Z"
    assert password not in json.dumps(accounts) and "argon2" not in json.dumps(accounts)
    with pytest.raises(ValueError):
        engine.access_grant("bob", mailboxes=["not an address"])
    engine.access_revoke("ann")
    assert engine.access_accounts() == []
    with pytest.raises(calrep.CalrepError):
        engine.access_revoke("ann")
