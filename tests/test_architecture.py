"""The house: layering between the domain subpackages, no import circles, small files,
explicit exports, and the 0.1 public names still importable."""

from __future__ import annotations

import ast
import importlib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Lowest first. A module may import from its own layer's package and from lower layers;
#: hardware and laws share a rank and do not import each other.
LAYERS = {
    "io": 1, "hardware": 2, "laws": 2, "systems": 3, "serving": 4, "planning": 5, "whatif": 6, "report": 7, "cli": 8,
}
BASE = {"errors", "defaults", "units", "validate", "_lazy", "_compat", "_codec", "_frozen"}  # below every layer

#: Upward imports allowed, with the reason.
EXEMPT = {
    ("planner.planning.records", "planner.report.plan"): "Plan.__rich__ hands rich the report, lazily: rich's protocol "
                                                         "needs the method on the object",
}

#: Files allowed above 400 lines, with the reason (none today).
LONG_FILES: dict[str, str] = {}


def _modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import in the file, TYPE_CHECKING blocks excluded."""
    tree = ast.parse(path.read_text())
    found: list[tuple[str, bool]] = []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name, top) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + ([base] if base else []))
                found.append((base, top))
                found.extend((f"{base}.{a.name}", top) for a in child.names)  # `from pkg import module`
            visit(child, top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(tree, True)
    return found


MODULES = {**_modules("planner"), **_modules("solvers")}


def _layer(module: str) -> tuple[str, int] | None:
    parts = module.split(".")
    if parts[0] != "planner" or len(parts) == 1:
        return None
    head = parts[1]
    if head in BASE:
        return head, 0
    return (head, LAYERS[head]) if head in LAYERS else None


def _edges() -> list[tuple[str, str, bool]]:
    edges = []
    for name, path in MODULES.items():
        for target, top in _imports(name, path):
            if target in MODULES:
                edges.append((name, target, top))
    return edges


def test_every_subpackage_is_a_known_layer():
    heads = {p.name for p in (ROOT / "planner").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert heads == set(LAYERS)


def test_layering():
    bad = []
    for src, dst, _ in _edges():
        a, b = _layer(src), _layer(dst)
        if a is None or b is None or (src, dst) in EXEMPT:
            continue
        (pa, ra), (pb, rb) = a, b
        if pa != pb and (rb > ra or (rb == ra and ra != 0)):
            bad.append(f"{src} -> {dst}")
    assert not bad, "imports against the layering io < hardware, laws < systems < serving < planning < report < cli:\n" + "\n".join(bad)


def test_solvers_know_nothing_of_planner_files_or_the_terminal():
    for name, path in _modules("solvers").items():
        for target, _ in _imports(name, path):
            root = target.split(".")[0]
            assert root not in ("planner", "rich", "click", "pathlib", "os", "io", "sys"), f"{name} imports {target}"


def test_no_import_circles():
    graph: dict[str, set[str]] = {}
    for src, dst, _ in _edges():
        if (src, dst) in EXEMPT or src == dst or src.startswith(dst + "."):
            continue  # a module importing its own package's __init__ is not a circle of modules
        graph.setdefault(src, set()).add(dst)
    seen: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if seen.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in seen:
                dfs(nxt)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            dfs(node)


def test_no_file_over_400_lines_without_a_reason():
    for name, path in MODULES.items():
        lines = len(path.read_text().splitlines())
        rel = str(path.relative_to(ROOT))
        assert lines <= 400 or rel in LONG_FILES, f"{rel} has {lines} lines"


@pytest.mark.parametrize("package", ["planner", *[f"planner.{p}" for p in LAYERS], "solvers"])
def test_packages_export_an_explicit_all_that_resolves(package):
    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__).read_text())
    literal = [n for n in tree.body if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets)]
    assert literal and isinstance(literal[0].value, ast.List), f"{package}: __all__ must be a literal list"
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_plan_help_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys; from planner.cli import main; main(['--help']); "
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'cvxpy', 'scipy', 'optuna', 'rich')]; "
            "sys.exit(1 if heavy else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True).returncode == 0


@pytest.mark.parametrize("old, name", [
    ("planner.fitting", "LossLawFit"), ("planner.qat", "qat_fraction"), ("planner.shape", "shape_for_params"),
    ("planner.layout", "search_layouts"), ("planner.perf", "load_calibration"), ("planner.recipe", "training_recipe"),
    ("planner.sampling", "ScaledBetaFit"), ("planner.tasks", "get_task"), ("planner.calibration", "load_cases"),
    ("planner.lawstore", "save_law_table"), ("planner.rundata", "read_runs"),
])
def test_old_module_paths_still_import_for_one_release(old, name):
    import sys

    from planner._compat import MOVED

    sys.modules.pop(old, None)  # import afresh, so the alias (and its warning) runs now
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {MOVED[old]}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED[old])  # the same module, not a copy
    assert getattr(module, name) is not None


def test_public_names_import():
    import planner

    for name in ("plan", "Plan", "Allocation", "Baseline", "Assumption", "PlannerError", "PlannerInputError",
                 "InfeasiblePlanError", "SolverError", "InternalError", "get_law", "load_registry", "ChinchillaLaw"):
        assert getattr(planner, name) is not None
    for module, names in (
        ("planner.fitting", ("LossLawFit", "bootstrap")),  # a 0.1 path, aliased
        ("planner.planning", ("GENERIC_DEFAULT_MFU", "SCHEMA_VERSION")),
        ("planner.serving", ("ServingSpec", "serving_cost")),  # planner.serving was a module in 0.1
        ("planner.laws", ("get_downstream", "presets")),
        ("planner.hardware", ("Accelerator",)),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            mod = importlib.import_module(module)
        for name in names:
            assert getattr(mod, name) is not None, f"{module}.{name}"
    assert (ROOT / "planner" / "py.typed").is_file()
