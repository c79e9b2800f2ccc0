"""How allocation problems are solved.

One declaration (:class:`AllocationProblem`) is consumed by interchangeable backends:

* :func:`solve_reduced` -- the problem reduced to one dimension (log N; log D on its tightest
  bound), Brent's root search, and a KKT certificate. The production path; it hands a problem
  whose certificate fails, or an infeasible one, to the GP.
* :func:`solve_convex` -- cvxpy geometric programs, built once per problem shape and
  re-solved through parameters (DPP). The general backend, the fallback and the oracle.
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
    "solve_reduced",
    "solve_scalar",
]


def __getattr__(name: str):  # lazy: importing solvers must not import cvxpy
    if name == "solve_convex":
        from solvers.convex import solve_convex

        return solve_convex
    if name == "solve_reduced":
        from solvers.reduced import solve_reduced

        return solve_reduced
    if name == "solve_scalar":
        from solvers.scalar import solve_scalar

        return solve_scalar
    raise AttributeError(name)
