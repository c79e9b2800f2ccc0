"""Sweeps on an optuna storage: resumable, and shared by workers on one or many machines.

Optuna is the engine, not a home-made queue. Each point is one trial, enqueued once (by
whoever creates the study) with the fixed parameter ``point``; a worker pops a waiting trial
(optuna's own atomic WAITING -> RUNNING transition, so no point is done twice), plans it,
stores the plan document as the trial's user attribute and completes it.

A worker killed mid-point leaves its trial RUNNING. On a database (``postgresql://``,
``sqlite://`` ...) optuna's heartbeat fails such a trial after its grace period and
:class:`optuna.storages.RetryHeartbeatStaleTrialCallback` enqueues it again. A journal file has no
heartbeat, so each trial records its worker's host and process id, and a worker on that host
whose process is gone is failed and re-enqueued by the next worker that looks (on a database
too, so that a local resume need not wait for the grace period). A worker killed between
taking its point and naming itself (perhaps before its first heartbeat, which no grace period
then fails) leaves a trial with no process id: past the grace, any worker fails and re-enqueues
it. Either way the point is retried, and it is counted once: only COMPLETE trials hold results.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from planner.errors import PlannerInputError
from planner.whatif.sweep import PointResult, SweepPoint, run_point

__all__ = ["HEARTBEAT_S", "open_storage", "read_results", "run_on_storage"]

#: Heartbeat of database storages and the grace after which a silent trial is failed (a
#: planner setting: a full plan takes seconds, so a minute of silence means a dead worker).
HEARTBEAT_S = 5
GRACE_S = 20


def open_storage(url: str) -> Any:
    """A journal file (a path, or ``journal:PATH``) or a database URL (``postgresql://…``)."""
    import optuna

    if "://" in url:
        import inspect
        import warnings

        name = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in
                inspect.signature(optuna.storages.RDBStorage).parameters else "failed_trial_callback")
        last: Exception | None = None
        for attempt in range(10):  # workers starting together race to create optuna's tables: the losers retry
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    retry = _retry_callback()(max_retry=None)
                    return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S, **{name: retry})
            except ImportError as exc:  # no driver: retrying will not help
                last = exc
                break
            except Exception as exc:  # server down, bad URL, or the table-creation race
                last = exc
                time.sleep(0.2 * (attempt + 1))
        text = str(last).splitlines()[0] if last is not None and str(last) else ""
        raise PlannerInputError(f"--storage {url}: cannot open the database ({type(last).__name__}: {text})")
    path = url.removeprefix("journal:")
    from optuna.storages.journal import JournalFileBackend

    try:
        return optuna.storages.JournalStorage(JournalFileBackend(path))
    except OSError as exc:
        raise PlannerInputError(f"--storage {path}: {exc.strerror or exc}") from None
    except ValueError:  # the file is there but is not an optuna journal
        raise PlannerInputError(f"--storage {path}: not an optuna journal file") from None


def _retry_callback() -> Any:
    """Optuna's retry of heartbeat-failed trials (renamed in optuna 4.9)."""
    import optuna

    new = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    return new if new is not None else optuna.storages.RetryFailedTrialCallback


#: How long a worker that joins a study whose creator has not finished enqueueing waits for the
#: trial count to stop growing before it takes the creator for dead and enqueues what is
#: missing (a planner setting).
ENQUEUE_STALL_S = 5.0


def _study(storage: Any, name: str, points: Sequence[SweepPoint], *, stall_s: float | None = None) -> Any:
    """The study, created with every point enqueued once (by whoever creates it); a study of
    the same name made for other points is refused. The creator names the sweep (``points``)
    before it enqueues and says ``enqueued`` after; a worker that finds the first without the
    second waits while the queue grows, and if it stalls (the creator died mid-enqueue) enqueues
    the points that are missing and says ``enqueued`` itself."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    labels = json.dumps([dict(p.label) for p in points], sort_keys=True)
    try:
        study = optuna.create_study(study_name=name, storage=storage, direction="minimize")
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage)
        for _ in range(600):  # the creator names the sweep first thing: wait for it (at most a minute)
            if "points" in study.user_attrs:
                break
            time.sleep(0.1)
        if study.user_attrs.get("points") != labels:
            raise PlannerInputError(f"study '{name}' in this storage holds a different sweep: give another --study name") from None
        _finish_enqueue(study, points, ENQUEUE_STALL_S if stall_s is None else stall_s)
        return study
    study.set_user_attr("points", labels)
    for p in points:
        study.enqueue_trial({"point": p.index}, skip_if_exists=False)
    study.set_user_attr("enqueued", True)
    return study


def _finish_enqueue(study: Any, points: Sequence[SweepPoint], stall_s: float) -> None:
    count, since = -1, time.monotonic()
    while "enqueued" not in study.user_attrs:
        n = len(study.get_trials(deepcopy=False))
        if n != count:
            count, since = n, time.monotonic()
        elif time.monotonic() - since > stall_s:  # the creator stopped: enqueue what it did not
            queued = {t.system_attrs.get("fixed_params", {}).get("point") for t in study.get_trials(deepcopy=False)}
            for p in points:
                if p.index not in queued:
                    study.enqueue_trial({"point": p.index}, skip_if_exists=True)
            study.set_user_attr("enqueued", True)
            return
        time.sleep(0.1)  # user_attrs and get_trials read the storage afresh each time


def _retry_dead_workers(study: Any) -> None:
    """Fail and re-enqueue RUNNING trials whose worker on this host is gone (a journal file has
    no heartbeat; on a database this also spares a local resume the heartbeat's grace period),
    and those whose worker never named itself and has been silent past the grace."""
    import optuna
    from optuna.trial import TrialState

    if isinstance(study._storage, optuna.storages.RDBStorage):
        optuna.storages.fail_stale_trials(study)  # other hosts: past the heartbeat's grace, failed and retried
    host = socket.gethostname()
    now = datetime.datetime.now()  # optuna stamps datetime_start in local time
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if "pid" not in t.user_attrs:
            # Its worker died between taking the point and naming itself, maybe before its first
            # heartbeat too (then no grace period ever fails it): a live worker names itself
            # within milliseconds, so one silent past the grace is dead, on any host.
            if t.datetime_start is None or (now - t.datetime_start).total_seconds() < GRACE_S:
                continue
        elif t.user_attrs.get("host") != host or _alive(int(t.user_attrs["pid"])):
            continue
        try:
            if study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                study.enqueue_trial({"point": t.params.get("point", t.system_attrs.get("fixed_params", {}).get("point"))},
                                    skip_if_exists=False)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first, and re-enqueued it


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_on_storage(points: Sequence[SweepPoint], *, storage_url: str, study_name: str,
                   progress: Callable[[int, int], None] | None = None, poll_s: float = 0.5) -> list[PointResult]:
    """Work on the study until no point is left (waiting, or running elsewhere), then read
    every result back from the storage."""
    import optuna
    from optuna.trial import TrialState

    if not study_name or len(study_name) > 128 or not study_name.isprintable():
        raise PlannerInputError(f"--study {study_name!r}: a name of 1 to 128 printable characters")
    storage = open_storage(storage_url)
    try:
        study = _study(storage, study_name, points)
    except PlannerInputError:
        raise
    except Exception as exc:  # a file that is not an optuna journal, a database without optuna's tables, ...
        raise PlannerInputError(f"--storage {storage_url}: not an optuna storage this planner can use "
                                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    by_index = {p.index: p for p in points}

    def objective(trial: optuna.Trial) -> float:
        fixed = study._storage.get_trial(trial._trial_id).system_attrs.get("fixed_params", {})
        if "point" not in fixed:
            raise optuna.TrialPruned()  # no point was waiting (the queue emptied under us), or a retry of nothing
        i = trial.suggest_int("point", 0, max(by_index))
        trial.set_user_attr("pid", os.getpid())  # before the host: a trial with a host always has its pid
        trial.set_user_attr("host", socket.gethostname())
        result = run_point(by_index[i])
        trial.set_user_attr("result", json.dumps(result.to_dict(), allow_nan=False))
        return float(i)

    while True:
        _retry_dead_workers(study)
        states = [t.state for t in study.get_trials(deepcopy=False)]
        if progress:
            progress(sum(1 for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                         if "result" in t.user_attrs), len(points))
        if TrialState.WAITING in states:
            study.optimize(objective, n_trials=1, catch=())
        elif TrialState.RUNNING in states:
            time.sleep(poll_s)  # others are working; their points may yet fail and come back
        else:
            break
    return read_results(study, points)


def read_results(study: Any, points: Sequence[SweepPoint]) -> list[PointResult]:
    """The results of the study's COMPLETE trials, in point order (each point once)."""
    from optuna.trial import TrialState

    found: dict[int, PointResult] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if "result" not in t.user_attrs:
            continue
        d = json.loads(t.user_attrs["result"])
        i = int(d["index"])
        found.setdefault(i, PointResult(i, tuple(d["point"].items()), d["status"], doc=d.get("plan"),
                                        binding=d.get("binding", ""), relief=d.get("relief", "")))
    missing = [p.index for p in points if p.index not in found]
    if missing:
        raise PlannerInputError(f"the storage lacks {len(missing)} point(s) of the sweep (first: {missing[0]}): run again to finish it")
    return [found[p.index] for p in points]
