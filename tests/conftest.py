"""Shared fixtures. Every measurement the tests use ships in planner/data/measured (see its
README), so the suite runs from a fresh clone with no ../shared beside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"


@pytest.fixture(autouse=True)
def _isolated_user_config(tmp_path, monkeypatch):
    """No test may read the developer's own ~/.config/compute-planner."""
    monkeypatch.setenv("COMPUTE_PLANNER_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """Run ``plan ARGV...`` in-process: (exit code, stdout, stderr)."""
    from planner.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def repo_root() -> Path:
    return ROOT


@pytest.fixture
def hardware_reference_table() -> str:
    """The accelerator table of the team's hardware reference (a shipped copy)."""
    return (TEST_DATA / "hardware_reference_table.md").read_text()
