"""Configuration errors reach Python as the right exception with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

import calrep


def test_every_problem_is_named_with_its_path() -> None:
    with pytest.raises(calrep.ConfigError) as raised:
        calrep.load_config(
            {"tasks": [{"id": "t", "site": "nowhere", "definition": "d", "schedule": "s", "group": {"mailbox": "a@b.c"}}]}
        )
    message = str(raised.value)
    assert "tasks[0]" in message and "nowhere" in message
    # A ConfigError is also a ValueError.
    assert isinstance(raised.value, ValueError)


def test_a_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no configuration file"):
        calrep.load_config(tmp_path / "missing.toml")


def test_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError):
        calrep.load_config(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="format"):
        calrep.Config.from_text("", "yaml")


def test_a_toml_file_loads_with_paths_relative_to_it(tmp_path: Path) -> None:
    path = tmp_path / "calrep.toml"
    path.write_text('[[sites]]\nid = "hq"\ndemo = { seed = 1, mailboxes = 10 }\n')
    config = calrep.load_config(path)
    assert config.base_dir == tmp_path
    assert config.task_ids == []
