"""Searching discrete spaces: exhaustive (ground truth) and Bayesian (optuna TPE).

One search serves every discrete choice the planner makes -- parallel layouts, and the
serving bit width x samples per query. Candidates are named integer arrays, one entry per
candidate; ``score`` is lower-is-better (step time, or a plan's objective); non-finite
scores count as infeasible. Both take plain callables and arrays, nothing about GPUs or files:

* :func:`exhaustive` -- evaluate every candidate in vectorised chunks; a cheap feasibility
  pass (memory) prunes candidates before the full evaluation.
* :func:`bayesian` -- optuna's TPE sampler (seeded) over the same candidates, warm-started
  by enqueuing heuristic layouts; returns the best feasible candidate it evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SearchResult", "bayesian", "exhaustive"]

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class SearchResult:
    order: np.ndarray  # candidate indices, best first (feasible only)
    scores: np.ndarray  # aligned with ``order``, best first
    evaluated: int  # full evaluations made
    space_size: int
    method: str


def _take(cands: Arrays, idx: np.ndarray) -> Arrays:
    return {k: v[idx] for k, v in cands.items()}


def exhaustive(
    candidates: Arrays,
    feasible: Callable[[Arrays], np.ndarray],
    score: Callable[[Arrays], np.ndarray],
    *,
    chunk: int = 200_000,
) -> SearchResult:
    """Evaluate all candidates; infeasible ones are pruned before timing."""
    size = len(next(iter(candidates.values())))
    keep_idx, chunks = [], []
    evaluated = 0
    for start in range(0, size, chunk):
        idx = np.arange(start, min(size, start + chunk))
        ok = feasible(_take(candidates, idx))
        idx = idx[ok]
        if idx.size:
            chunks.append(score(_take(candidates, idx)))
            keep_idx.append(idx)
            evaluated += idx.size
    if not keep_idx:
        return SearchResult(np.array([], dtype=int), np.array([]), evaluated, size, "exhaustive")
    idx = np.concatenate(keep_idx)
    t = np.concatenate(chunks)
    finite = np.isfinite(t)
    idx, t = idx[finite], t[finite]
    order = np.lexsort((idx, t))  # ties broken by enumeration order: deterministic
    return SearchResult(idx[order], t[order], evaluated, size, "exhaustive")


def bayesian(
    candidates: Arrays,
    feasible: Callable[[Arrays], np.ndarray],
    score: Callable[[Arrays], np.ndarray],
    *,
    n_trials: int,
    seed: int = 0,
    warm_starts: Sequence[int] = (),
    storage: Any = None,
    study_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """TPE (seeded) over the fields' values, each proposal repaired to a candidate.

    Most combinations of independent field values break a divisibility rule, so every
    proposal is mapped to the nearest valid candidate (squared distance between value
    ranks scaled to [0, 1], ties to the lower index) and that candidate is evaluated; infeasible
    candidates score as infinitely bad. ``warm_starts`` (candidate indices) are tried first.

    With an optuna ``storage`` (an object the caller opened) and ``study_name`` the search is
    resumable and shareable: a study of that name continues where it stopped (its evaluated
    candidates count, and only the remaining trials of ``n_trials`` run).
    """
    import optuna

    names = [k for k, v in candidates.items() if np.unique(v).size > 1]
    size = len(next(iter(candidates.values())))
    # Each field as the rank of its value, scaled to [0, 1], so all fields weigh the same.
    values = {k: np.unique(candidates[k]) for k in names}
    coords = (
        np.stack([np.searchsorted(values[k], candidates[k]) / (len(values[k]) - 1) for k in names], axis=1)
        if names else np.zeros((size, 0))
    )
    seen: dict[int, float] = {}

    def scored(i: int) -> float:
        if i not in seen:
            one = _take(candidates, np.array([i]))
            seen[i] = float(score(one)[0]) if feasible(one)[0] else float("inf")
        return seen[i]

    if not names:
        scored(0)
    else:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, n_trials), multivariate=True)
        study = optuna.create_study(direction="minimize", sampler=sampler, storage=storage, study_name=study_name,
                                    load_if_exists=storage is not None)
        done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
        for t in done:  # a resumed study: what it evaluated counts
            if "candidate" in t.user_attrs and t.value is not None:
                seen.setdefault(int(t.user_attrs["candidate"]), float(t.value))
        if not done:
            for i in warm_starts:
                study.enqueue_trial({k: candidates[k][i].item() for k in names})

        def objective(trial: optuna.Trial) -> float:
            pick = [trial.suggest_categorical(k, values[k].tolist()) for k in names]
            x = np.array([np.searchsorted(values[k], v) / (len(values[k]) - 1) for k, v in zip(names, pick, strict=True)])
            i = int(np.argmin(((coords - x) ** 2).sum(axis=1)))
            trial.set_user_attr("candidate", i)
            return scored(i)

        callbacks = [lambda st, _t: progress(len(st.trials), n_trials)] if progress else None  # (done, total)
        study.optimize(objective, n_trials=max(0, n_trials - len(done)), callbacks=callbacks)
    good = sorted((t, i) for i, t in seen.items() if np.isfinite(t))
    return SearchResult(
        np.array([i for _, i in good], dtype=int), np.array([t for t, _ in good]), len(seen), size, "bayesian"
    )
