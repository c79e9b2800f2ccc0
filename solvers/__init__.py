"""How allocation problems are solved.

One declaration (:class:`AllocationProblem`) is consumed by interchangeable backends:

* :func:`solve_convex` -- cvxpy geometric programs, built once per problem shape and
  re-solved through parameters (DPP). The production path.
* :mod:`solvers.closed_form` -- Hoffmann et al.'s closed form for training-only problems,
  and the Chinchilla-optimal baselines.
* :func:`solve_scalar` -- a scipy 1-D search over log N (the oracle for problems with
  inference demand and no bounds).

Solvers take and return plain values; they never print or touch files.
"""

from solvers.problem import AllocationProblem, AllocationSolution, LawCoefficients

__all__ = [
    "AllocationProblem",
    "AllocationSolution",
    "LawCoefficients",
    "solve_convex",
    "solve_scalar",
]


def __getattr__(name: str):  # lazy: importing solvers must not import cvxpy
    if name == "solve_convex":
        from solvers.convex import solve_convex

        return solve_convex
    if name == "solve_scalar":
        from solvers.scalar import solve_scalar

        return solve_scalar
    raise AttributeError(name)
