"""planner.io: the TOML writer against the standard reader, and the one store's rules."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import PlannerInputError
from planner.io import (
    load_toml_file,
    measured_data_dir,
    save_law_table,
    save_task_table,
    saved_law_files,
    saved_task_files,
    to_toml,
)

keys = st.text(alphabet=st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=8)
scalars = st.one_of(st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=20))
tables = st.recursive(st.dictionaries(keys, st.one_of(scalars, st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4)), max_size=4),
                      lambda inner: st.dictionaries(keys, inner, max_size=3), max_leaves=12)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(tables)
def test_to_toml_round_trips_through_tomllib(data):
    assert tomllib.loads(to_toml(data)) == data


def test_store_saves_laws_and_tasks_apart_and_refuses_bad_names(tmp_path):
    law = save_law_table("mylab", {"E": 1.8, "A": 400.0, "B": 2000.0, "alpha": 0.34, "beta": 0.36})
    task = save_task_table("mytask", {"alpha": 0.3, "scale": 1.0})
    assert saved_law_files() == {"mylab": law} and saved_task_files() == {"mytask": task}
    assert load_toml_file(law, "law")["mylab"]["E"] == 1.8
    with pytest.raises(PlannerInputError, match="exists"):
        save_law_table("mylab", {"E": 1.0})
    with pytest.raises(PlannerInputError, match="lower-case"):
        save_task_table("My Task", {"alpha": 0.3})
    with pytest.raises(PlannerInputError, match="preset"):
        save_task_table("math", {"alpha": 0.3}, reserved={"math"})


def test_measured_data_ships_with_its_readme():
    folder = measured_data_dir()
    readme = (folder / "README.md").read_text()
    csvs = sorted(p.name for p in folder.glob("*.csv"))
    assert len(csvs) >= 7
    for name in csvs:
        assert f"`{name}`" in readme, f"{name} is not cited in the README"
