"""Errors the planner raises. The command line maps them to exit codes.

* :class:`PlannerInputError` -- the caller asked for something malformed or unknown
  (exit 2, a usage error).
* :class:`InfeasiblePlanError` -- the request is well formed but no plan satisfies it;
  it names the binding constraint and what would relieve it (exit 1).
* :class:`SolverError` -- a numerical solver failed on a problem that should be solvable
  (exit 1; a bug to report).
"""

from __future__ import annotations

__all__ = ["InfeasiblePlanError", "InternalError", "PlannerError", "PlannerInputError", "SolverError"]


class PlannerError(Exception):
    """Base class of every error the planner raises on purpose."""


class PlannerInputError(PlannerError, ValueError):
    """Bad input: unknown name, non-positive or non-finite number, conflicting options."""


class InfeasiblePlanError(PlannerError):
    """No allocation satisfies the constraints.

    Attributes:
        binding: which constraint makes the problem infeasible (human words).
        relief: what change would make it feasible.
    """

    def __init__(self, binding: str, relief: str) -> None:
        self.binding = binding
        self.relief = relief
        super().__init__(f"infeasible: {binding}; {relief}")


class SolverError(PlannerError):
    """A solver returned a status other than optimal for a feasible problem."""


class InternalError(PlannerError):
    """A bug in the planner (an invariant it checks failed). Exit code 3, not 1: it says
    nothing about whether the request is feasible."""
