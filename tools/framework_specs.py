"""Regenerate the framework specs the export tests check against (a developer tool, not run
in CI): every Megatron-LM command-line option with what it accepts, and the fields of the
Megatron-Bridge ``ConfigContainer`` sections the planner writes.

    python tools/framework_specs.py MEGATRON_LM_SRC MEGATRON_BRIDGE_SRC OUT_DIR [--nemo NEMO_SRC]

``MEGATRON_LM_SRC`` is a checkout of NVIDIA/Megatron-LM (the folder holding ``megatron/``),
``MEGATRON_BRIDGE_SRC`` one of NVIDIA-NeMo/Megatron-Bridge (the folder holding ``src/``). It
needs an environment where ``megatron.training.arguments`` imports (PyTorch; Megatron-LM's
main branch wants Python 3.12's ``typing.override``). Megatron-LM's options come from its own
parser (``add_megatron_arguments``), so options generated from its config dataclasses are
included exactly. Megatron-Bridge's config classes import Transformer Engine, which needs a
GPU build, so their fields are read from the source with ``ast`` and the Megatron-Core and
Megatron-Training bases they extend are read with ``dataclasses.fields``. NeMo 2 (``--nemo``, a
checkout of NVIDIA/NeMo): the ``__init__`` parameters of the classes a recipe is built from
(MegatronStrategy, PreTrainingDataModule, WarmupHoldAnnealScheduler, MegatronCommOverlapCallback),
the fields of ``Llama3Config``, Lightning's ``Trainer`` parameters and the precision recipes.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

#: ConfigContainer section -> (Bridge module, class) the planner writes into.
BRIDGE_SECTIONS = {
    "model": ("megatron/bridge/models/gpt_provider.py", "GPTModelProvider"),
    "train": ("megatron/bridge/training/config.py", "TrainingConfig"),
    "optimizer": ("megatron/bridge/training/config.py", "OptimizerConfig"),
    "scheduler": ("megatron/bridge/training/config.py", "SchedulerConfig"),
    "ddp": ("megatron/bridge/training/config.py", "DistributedDataParallelConfig"),
    "dataset": ("megatron/bridge/training/config.py", "GPTDatasetConfig"),
    "tokenizer": ("megatron/bridge/training/tokenizers/config.py", "TokenizerConfig"),
    "comm_overlap": ("megatron/bridge/training/comm_overlap.py", "CommOverlapConfig"),
    "checkpoint": ("megatron/bridge/training/config.py", "CheckpointConfig"),
}


def _git(path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=False).stdout.strip()


def megatron_lm_options(src: Path) -> dict[str, dict]:
    """Every ``--option`` of Megatron-LM's parser: whether it takes a value, and its choices."""
    sys.path.insert(0, str(src))
    sys.argv = ["framework_specs"]
    from megatron.training import arguments

    parser = arguments.add_megatron_arguments(argparse.ArgumentParser(allow_abbrev=False))
    out: dict[str, dict] = {}
    for action in parser._actions:
        takes = action.nargs != 0
        choices = None
        if action.choices is not None:
            choices = sorted({getattr(c, "name", str(c)) for c in action.choices})
        for opt in action.option_strings:
            if opt.startswith("--"):
                out[opt] = {"takes_value": takes, "nargs": action.nargs if isinstance(action.nargs, (int, str)) else None,
                            "choices": choices}
    return dict(sorted(out.items()))


def _class_node(path: Path, name: str) -> tuple[ast.Module, ast.ClassDef]:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return tree, node
    raise LookupError(f"{name} not in {path}")


def _imported_from(tree: ast.Module, alias: str) -> tuple[str, str] | None:
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                if (a.asname or a.name) == alias:
                    return node.module, a.name
    return None


def _own_fields(node: ast.ClassDef) -> list[str]:
    out = []
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            ann = ast.unparse(stmt.annotation)
            if not stmt.target.id.startswith("_") and "ClassVar" not in ann and "InitVar" not in ann:
                out.append(stmt.target.id)
    return out


def bridge_fields(bridge_src: Path, rel: str, name: str) -> set[str]:
    """Fields of a Bridge dataclass and of every base it extends."""
    path = bridge_src / "src" / rel
    tree, node = _class_node(path, name)
    fields = set(_own_fields(node))
    for base in node.bases:
        base_name = ast.unparse(base).split("[")[0]
        origin = _imported_from(tree, base_name)
        if origin is None:  # defined in the same module
            try:
                fields |= bridge_fields(bridge_src, rel, base_name)
            except LookupError:
                pass
            continue
        module, real = origin
        if module.startswith("megatron.bridge"):
            target = module.replace(".", "/") + ".py"
            if not (bridge_src / "src" / target).exists():
                target = module.replace(".", "/") + "/__init__.py"
            try:
                fields |= bridge_fields(bridge_src, target, real)
            except LookupError:
                sub = _imported_from(ast.parse((bridge_src / "src" / target).read_text()), real)
                if sub:
                    fields |= bridge_fields(bridge_src, sub[0].replace(".", "/") + ".py", sub[1])
        else:  # Megatron-Core / Megatron-Training: real dataclasses, importable without a GPU
            cls = getattr(importlib.import_module(module), real)
            if dataclasses.is_dataclass(cls):
                fields |= {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    return fields


#: NeMo 2 recipe attribute -> (NeMo module, class, "init" parameters or dataclass "fields").
NEMO2_SECTIONS = {
    "model.config": ("nemo/collections/llm/gpt/model/llama.py", "Llama3Config", "fields"),
    "trainer.strategy": ("nemo/lightning/pytorch/strategies/megatron_strategy.py", "MegatronStrategy", "init"),
    "data": ("nemo/collections/llm/gpt/data/pre_training.py", "PreTrainingDataModule", "init"),
    "optim.lr_scheduler": ("nemo/lightning/pytorch/optim/lr_scheduler.py", "WarmupHoldAnnealScheduler", "init"),
    "trainer.callbacks.MegatronCommOverlapCallback": ("nemo/lightning/pytorch/callbacks/megatron_comm_overlap.py",
                                                      "MegatronCommOverlapCallback", "init"),
}


def _init_params(path: Path, name: str) -> set[str]:
    _, node = _class_node(path, name)
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
            args = stmt.args
            return {a.arg for a in args.args + args.kwonlyargs if a.arg != "self"}
    raise LookupError(f"{name}.__init__ not in {path}")


def _nemo_fields(nemo_src: Path, rel: str, name: str) -> set[str]:
    """Dataclass fields of a NeMo class and its bases (NeMo by ``ast``, Megatron-Core imported)."""
    path = nemo_src / rel
    tree, node = _class_node(path, name)
    fields = set(_own_fields(node))
    for base in node.bases:
        base_name = ast.unparse(base).split("[")[0]
        origin = _imported_from(tree, base_name)
        if origin is None:
            try:
                fields |= _nemo_fields(nemo_src, rel, base_name)
            except LookupError:
                pass
        elif origin[0].startswith("nemo."):
            fields |= _nemo_fields(nemo_src, origin[0].replace(".", "/") + ".py", origin[1])
        elif origin[0].startswith("megatron."):
            cls = getattr(importlib.import_module(origin[0]), origin[1])
            fields |= {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
    return fields


def nemo2_spec(nemo_src: Path) -> dict:
    import inspect

    from lightning.pytorch import Trainer
    from megatron.core.distributed import DistributedDataParallelConfig
    from megatron.core.optimizer import OptimizerConfig

    sections: dict[str, list[str]] = {}
    for key, (rel, name, kind) in NEMO2_SECTIONS.items():
        names = _init_params(nemo_src / rel, name) if kind == "init" else _nemo_fields(nemo_src, rel, name)
        sections[key] = sorted(names)
    sections["trainer"] = sorted(p for p in inspect.signature(Trainer.__init__).parameters if p != "self")
    sections["trainer.strategy.ddp"] = sorted(f.name for f in dataclasses.fields(DistributedDataParallelConfig))
    sections["optim.config"] = sorted(f.name for f in dataclasses.fields(OptimizerConfig))
    tree = ast.parse((nemo_src / "nemo/collections/llm/recipes/precision/mixed_precision.py").read_text())
    info = ast.parse((nemo_src / "nemo/package_info.py").read_text())
    parts = {t.targets[0].id: t.value.value for t in info.body if isinstance(t, ast.Assign) and isinstance(t.value, ast.Constant)
             and isinstance(t.targets[0], ast.Name)}
    import lightning

    return {"framework": "NeMo", "version": f"{parts.get('MAJOR')}.{parts.get('MINOR')}.{parts.get('PATCH')}{parts.get('PRE_RELEASE', '')}",
            "commit": _git(nemo_src, "rev-parse", "HEAD") or "unknown",
            "source": "NeMo 2 recipe classes' __init__ parameters and Llama3Config's fields (ast; the Megatron-Core bases "
                      f"imported), Lightning {lightning.__version__}'s Trainer, read by tools/framework_specs.py",
            "sections": sections,
            "precision_recipes": sorted(n.name for n in tree.body if isinstance(n, ast.FunctionDef))}


def mixed_precision_recipes(bridge_src: Path) -> list[str]:
    """Names ``mixed_precision = "..."`` accepts: the functions registered with ``@register``."""
    tree = ast.parse((bridge_src / "src/megatron/bridge/training/mixed_precision.py").read_text())
    return sorted(n.name for n in tree.body if isinstance(n, ast.FunctionDef)
                  and any(ast.unparse(d) == "register" for d in n.decorator_list))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("megatron_lm", type=Path)
    ap.add_argument("megatron_bridge", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--nemo", type=Path, help="a checkout of NVIDIA/NeMo (NeMo 2) to read as well")
    a = ap.parse_args()
    mlm_commit = _git(a.megatron_lm, "rev-parse", "HEAD") or "unknown"
    bridge_commit = _git(a.megatron_bridge, "rev-parse", "HEAD") or "unknown"
    options = megatron_lm_options(a.megatron_lm)
    from megatron.core import package_info as core_info

    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "megatron_lm_options.json").write_text(json.dumps({
        "framework": "Megatron-LM", "version": f"megatron-core {core_info.__version__}", "commit": mlm_commit,
        "source": "megatron/training/arguments.py: add_megatron_arguments(), run by tools/framework_specs.py",
        "options": options}, indent=1) + "\n")
    sections = {k: sorted(bridge_fields(a.megatron_bridge, rel, name)) for k, (rel, name) in BRIDGE_SECTIONS.items()}
    info = ast.parse((a.megatron_bridge / "src/megatron/bridge/package_info.py").read_text())
    parts = {t.targets[0].id: t.value.value for t in info.body if isinstance(t, ast.Assign) and isinstance(t.value, ast.Constant)
             and isinstance(t.targets[0], ast.Name)}
    version = f"{parts.get('MAJOR')}.{parts.get('MINOR')}.{parts.get('PATCH')}{parts.get('PRE_RELEASE', '')}"
    (a.out / "megatron_bridge_fields.json").write_text(json.dumps({
        "framework": "Megatron-Bridge", "version": version, "commit": bridge_commit,
        "built_on": f"megatron-core {core_info.__version__} (Megatron-LM {mlm_commit[:7]})",
        "source": "dataclass fields of the ConfigContainer sections (src/megatron/bridge/training/config.py and the "
                  "Megatron-Core classes they extend), read by tools/framework_specs.py",
        "sections": sections, "mixed_precision_recipes": mixed_precision_recipes(a.megatron_bridge)}, indent=1) + "\n")
    print(f"{len(options)} Megatron-LM options; Bridge sections: " + ", ".join(f"{k} {len(v)}" for k, v in sections.items()))
    if a.nemo:
        spec = nemo2_spec(a.nemo)
        (a.out / "nemo2_fields.json").write_text(json.dumps(spec, indent=1) + "\n")
        print(f"NeMo {spec['version']}: " + ", ".join(f"{k} {len(v)}" for k, v in spec["sections"].items()))


if __name__ == "__main__":
    main()
