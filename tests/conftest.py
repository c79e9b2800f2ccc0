"""Shared fixtures. The reference data lives beside the project in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_user_config(tmp_path, monkeypatch):
    """No test may read the developer's own ~/.config/compute-planner."""
    monkeypatch.setenv("COMPUTE_PLANNER_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture
def shared_reference() -> Path:
    path = SHARED / "reference"
    if not path.is_dir():
        pytest.fail(f"reference material missing at {path}: the shared/ folder must sit beside the repo")
    return path
