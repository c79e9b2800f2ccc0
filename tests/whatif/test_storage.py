"""Sweeps on an optuna storage (issue 16): workers share the points with none lost or done
twice, and a worker killed mid-sweep loses nothing after a resume. The same tests run on a
journal file and, when ``.ci/run`` (or you) started one, a real PostgreSQL server named by
``PLANNER_TEST_POSTGRES_URL``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get("PLANNER_TEST_POSTGRES_URL")


@pytest.fixture(params=["journal", "postgresql"])
def storage(request, tmp_path) -> str:
    if request.param == "journal":
        return str(tmp_path / "sweep.journal")
    if not POSTGRES:
        pytest.skip("no PostgreSQL server: PLANNER_TEST_POSTGRES_URL is unset (.ci/run starts one where postgres is installed)")
    return POSTGRES


def _worker(storage: str, study: str, *flags: str, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "COMPUTE_PLANNER_CONFIG_DIR": str(tmp / "config"), "PLANNER_BLAS_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "planner.cli", "sweep", *flags, "--storage", storage, "--study", study, "--json"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _trials(storage: str, study: str):
    import optuna

    from planner.whatif.store import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=study, storage=open_storage(storage)).get_trials(deepcopy=False)


def _completed_points(storage: str, study: str) -> list[int]:
    from optuna.trial import TrialState

    return sorted(t.params["point"] for t in _trials(storage, study) if t.state == TrialState.COMPLETE and "result" in t.user_attrs)


def test_four_workers_finish_a_40_point_sweep_with_every_point_exactly_once(storage, tmp_path):
    study = f"four-{uuid.uuid4().hex[:8]}"
    flags = ("--budget", "1e21:1e23:40", "--no-layout")
    workers = [_worker(storage, study, *flags, tmp=tmp_path) for _ in range(4)]
    outs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], [err for _, err in outs]
    assert _completed_points(storage, study) == list(range(40))
    docs = [json.loads(out) for out, _ in outs]
    assert all([p["index"] for p in d["points"]] == list(range(40)) for d in docs)
    assert docs[0]["points"] == docs[3]["points"]  # every worker reads the same results back


def test_a_worker_killed_mid_sweep_loses_nothing_after_a_resume(storage, tmp_path):
    from optuna.trial import TrialState

    study = f"kill-{uuid.uuid4().hex[:8]}"
    flags = ("--budget", "1e21:1e23:20", "--gpus", "64")  # with a layout search: long enough points to kill one
    victim = _worker(storage, study, *flags, tmp=tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if len(_completed_points(storage, study)) >= 3 and any(t.state == TrialState.RUNNING for t in _trials(storage, study)):
                break
        except Exception:  # the study is not created yet
            pass
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    before = _completed_points(storage, study)
    assert 3 <= len(before) < 20
    resumed = _worker(storage, study, *flags, tmp=tmp_path)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert _completed_points(storage, study) == list(range(20))
    assert [p["index"] for p in json.loads(out)["points"]] == list(range(20))
    states = [t.state for t in _trials(storage, study)]
    assert TrialState.RUNNING not in states and states.count(TrialState.COMPLETE) == 20


def test_a_study_name_holds_one_sweep(storage, tmp_path, cli):
    study = f"one-{uuid.uuid4().hex[:8]}"
    assert cli("sweep", "--budget", "1e21,1e22", "--no-layout", "--storage", storage, "--study", study)[0] == 0
    code, _, err = cli("sweep", "--budget", "1e21,1e23", "--no-layout", "--storage", storage, "--study", study)
    assert code == 2 and "holds a different sweep" in err
    code, out, _ = cli("sweep", "--budget", "1e21,1e22", "--no-layout", "--storage", storage, "--study", study, "--json")
    assert code == 0 and len(json.loads(out)["points"]) == 2  # read back, nothing redone
    assert len(_trials(storage, study)) == 2


def test_a_bayesian_layout_search_on_a_storage_resumes_and_extends(cli, tmp_path):
    journal = str(tmp_path / "layout.journal")
    argv = ["layout", "--params", "7B", "--gpus", "64", "--method", "bayesian", "--storage", journal, "--study", "s", "--json"]
    first = json.loads(cli(*argv, "--trials", "30")[1])
    again = json.loads(cli(*argv, "--trials", "30")[1])
    assert again["evaluated"] == first["evaluated"] and again["layout"] == first["layout"]  # nothing redone
    assert len(_trials(journal, "s")) == 30
    more = json.loads(cli(*argv, "--trials", "60")[1])
    assert len(_trials(journal, "s")) == 60 and more["evaluated"] >= first["evaluated"]
    assert more["step_time_s"] <= first["step_time_s"]
    code, _, err = cli("layout", "--params", "7B", "--gpus", "64", "--storage", journal)
    assert code == 2 and "--method bayesian" in err


def test_a_sweep_whose_creator_died_mid_enqueue_is_finished_by_the_next_worker(storage, monkeypatch):
    """The creator named the sweep and enqueued half its points, then died: the next worker
    waits for the queue to stop growing, enqueues the missing half, and every point is planned
    exactly once."""
    import optuna

    import planner.whatif.store as store
    from planner.whatif.sweep import SweepPoint

    monkeypatch.setattr(store, "ENQUEUE_STALL_S", 0.3)
    points = [SweepPoint(i, (("budget", f"1e{21 + i}"),), {"budget_flops": 10.0 ** (21 + i), "choose_layout": False,
                                                            "serving_cost": "flops"}) for i in range(6)]
    path, name = storage, f"half-{uuid.uuid4().hex[:8]}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=store.open_storage(path), direction="minimize")
    study.set_user_attr("points", json.dumps([dict(p.label) for p in points], sort_keys=True))
    for p in points[:3]:
        study.enqueue_trial({"point": p.index}, skip_if_exists=False)
    results = store.run_on_storage(points, storage_url=path, study_name=name)
    assert [r.index for r in results] == list(range(6)) and all(r.status == "optimal" for r in results)
    assert _completed_points(path, name) == list(range(6))  # each once
    assert optuna.load_study(study_name=name, storage=store.open_storage(path)).user_attrs["enqueued"] is True


def test_a_worker_killed_before_it_named_itself_is_retried_past_the_grace(storage, tmp_path, cli, monkeypatch):
    # The window the kill test can hit: a trial turned RUNNING whose worker died before it set
    # its pid (and, on a database, maybe before its first heartbeat). Past the grace, the next
    # worker that looks fails it and puts the point back, so a resume cannot wait forever.
    import optuna
    from optuna.trial import TrialState

    from planner.whatif import store

    study_name = f"orphan-{uuid.uuid4().hex[:8]}"
    assert cli("sweep", "--budget", "1e21,1e22", "--no-layout", "--storage", storage, "--study", study_name)[0] == 0
    study = optuna.load_study(study_name=study_name, storage=store.open_storage(storage))
    study.enqueue_trial({"point": 0}, skip_if_exists=False)
    orphan = study.ask()  # WAITING -> RUNNING, and nobody names itself
    store._retry_dead_workers(study)
    assert study._storage.get_trial(orphan._trial_id).state == TrialState.RUNNING  # inside the grace: left alone
    monkeypatch.setattr(store, "GRACE_S", 0.0)
    store._retry_dead_workers(study)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert study._storage.get_trial(orphan._trial_id).state == TrialState.FAIL
    assert TrialState.RUNNING not in states and states.count(TrialState.WAITING) == 1  # the point is back in the queue
