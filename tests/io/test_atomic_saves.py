"""Saves cannot lose data: atomic replace, exclusive create, nothing half-written (issue 14)."""

from __future__ import annotations

import os
import threading

import pytest

from planner.errors import PlannerInputError
from planner.io.store import save_table

TABLE = {"form": "chinchilla", "E": 1.8, "A": 400.0, "B": 400.0, "alpha": 0.34, "beta": 0.28, "source": "test"}


def test_a_second_save_without_overwrite_is_refused_and_the_first_survives(tmp_path):
    path = save_table(tmp_path, "law", "mine", TABLE)
    before = path.read_text()
    with pytest.raises(PlannerInputError, match="--overwrite"):
        save_table(tmp_path, "law", "mine", {**TABLE, "E": 2.0})
    assert path.read_text() == before
    save_table(tmp_path, "law", "mine", {**TABLE, "E": 2.0}, overwrite=True)
    assert "E = 2.0" in path.read_text()


def test_concurrent_saves_of_one_name_cannot_both_succeed(tmp_path):
    for round_ in range(10):
        ok, barrier = [], threading.Barrier(8)

        def save(i: int, r: int = round_) -> None:
            barrier.wait()
            try:
                save_table(tmp_path, "law", f"race{r}", {**TABLE, "E": 1.0 + i})
                ok.append(i)
            except PlannerInputError:
                pass

        threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(ok) == 1
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_a_write_that_fails_part_way_leaves_the_old_file_and_no_debris(tmp_path, monkeypatch):
    path = save_table(tmp_path, "law", "keep", TABLE)
    before = path.read_text()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(PlannerInputError, match="No space left on device; nothing was changed"):
        save_table(tmp_path, "law", "keep", {**TABLE, "E": 9.0}, overwrite=True)
    assert path.read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.toml"]


def test_control_characters_are_escaped_and_load_back(tmp_path):
    import tomllib

    path = save_table(tmp_path, "law", "odd", {**TABLE, "source": "a\x01b\x1b[31m\nc"})
    assert tomllib.loads(path.read_text())["odd"]["source"] == "a\x01b\x1b[31m\nc"


def test_saved_files_get_the_mode_a_plain_write_gives(tmp_path):
    from planner.io.store import write_text

    umask = os.umask(0o022)
    try:
        new = write_text(tmp_path / "new.txt", "x")
        assert new.stat().st_mode & 0o777 == 0o644
        os.chmod(new, 0o600)
        write_text(new, "y")  # a replaced file keeps its mode
        assert new.stat().st_mode & 0o777 == 0o600 and new.read_text() == "y"
    finally:
        os.umask(umask)
