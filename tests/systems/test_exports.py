"""Launch-ready exports, checked offline against the framework versions they name.

``tests/data/frameworks/megatron_lm_options.json`` is Megatron-LM's own parser
(``add_megatron_arguments`` at commit d98e8a6, megatron-core 0.20.0) dumped by
``tools/framework_specs.py``: every option, whether it takes a value, and its choices. The
test rebuilds an ``argparse`` parser from it and parses each export strictly, so an unknown
option, a bad choice or a missing value fails. ``megatron_bridge_fields.json`` holds the
dataclass fields of Megatron-Bridge 0.7.0's ``ConfigContainer`` sections and its
mixed-precision recipe names.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

import planner
from planner.hardware.registry import load_registry
from planner.laws.recipe import training_recipe
from planner.systems.exports import FRAMEWORKS, LaunchSpec, export
from planner.systems.layout import Layout, search_layouts
from planner.systems.memory import memory_per_gpu
from planner.systems.shape import ModelShape, shape_for_params

SPECS = Path(__file__).resolve().parents[1] / "data" / "frameworks"
MLM = json.loads((SPECS / "megatron_lm_options.json").read_text())
BRIDGE = json.loads((SPECS / "megatron_bridge_fields.json").read_text())
NEMO2 = json.loads((SPECS / "nemo2_fields.json").read_text())
H100 = load_registry(user_config=False).get("h100-sxm")
LLAMA_405B = ModelShape(layers=126, hidden=16384, heads=128, kv_heads=8, ffn=53248, vocab=128256, seq=8192, mlp="swiglu")


def megatron_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(allow_abbrev=False, exit_on_error=False, add_help=False)
    for opt, spec in MLM["options"].items():
        if not spec["takes_value"]:
            parser.add_argument(opt, action="store_true")
        else:
            nargs = spec["nargs"] if spec["nargs"] in ("+", "*", "?") or isinstance(spec["nargs"], int) else None
            parser.add_argument(opt, nargs=nargs, choices=spec["choices"])
    return parser


PARSER = megatron_parser()


def parse_megatron(args: tuple[str, ...]) -> argparse.Namespace:
    ns, unknown = PARSER.parse_known_args(list(args))
    assert not unknown, f"options Megatron-LM does not have: {unknown}"
    return ns


def assert_fields_exist(fields: dict, sections: dict, framework: str, named: str, names: list[str]) -> None:
    """Every field of every section exists in the framework's spec; ``named`` is the one section
    whose value is a name (a precision recipe) that must be one of ``names``."""
    for section, values in fields.items():
        if section == named:
            assert values in names
            continue
        unknown = set(values) - set(sections[section])
        assert not unknown, f"{section}: {framework} has no {unknown}"


def _cases() -> dict[str, LaunchSpec]:
    def spec(shape: ModelShape, layout: Layout, batch: int, tokens: float, precision: str = "bf16") -> LaunchSpec:
        recipe = training_recipe(shape.params, tokens, seq_len=shape.seq, batch_sequences=batch)
        return LaunchSpec(shape=shape, layout=layout, global_batch=batch, n_gpus=layout.t * layout.p * layout.d * layout.c,
                          precision=precision, recipe=recipe)

    llama8 = shape_for_params(8e9, seq=8192)
    llama70 = shape_for_params(70e9, seq=8192)
    s8 = search_layouts(llama8, H100, 8, 128)
    s70 = search_layouts(llama70, H100, 512, 1024)
    return {
        "8B on 8 H100 (searched)": spec(llama8, s8.best.layout, s8.global_batch, 15e12),
        "70B on 512 H100 (searched)": spec(llama70, s70.best.layout, s70.global_batch, 15e12),
        "405B on 16,384 H100, PP16 uneven": spec(LLAMA_405B, Layout(t=8, p=16, d=128, c=1, v=1, b=1, recompute="none", sp=True, zero=1), 2048, 15.6e12),
        "405B, PP16 interleaved": spec(LLAMA_405B, Layout(t=8, p=16, d=128, c=1, v=4, b=1, recompute="full", sp=True, zero=1), 2048, 15.6e12),
        "8B ZeRO-2 (Megatron-FSDP)": spec(llama8, Layout(t=1, p=1, d=64, c=1, v=1, b=2, recompute="selective", sp=False, zero=2), 512, 1e12),
        "70B ZeRO-3 with TP (Megatron-FSDP)": spec(llama70, Layout(t=2, p=1, d=256, c=2, v=1, b=1, recompute="full", sp=True, zero=3), 1024, 2e12),
        "70B FP8 on 64": spec(llama70, Layout(t=4, p=8, d=2, c=1, v=5, b=1, recompute="none", sp=True, zero=1), 128, 1e12, "fp8"),
        "405B NVFP4": spec(LLAMA_405B, Layout(t=4, p=16, d=4, c=1, v=8, b=1, recompute="none", sp=True, zero=1), 1536, 1e12, "fp4"),
    }


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_every_megatron_lm_argument_exists_and_carries_the_plan(name):
    spec = CASES[name]
    cfg = export("megatron", spec)
    ns = parse_megatron(cfg.args)
    s, lay, r = spec.shape, spec.layout, spec.recipe
    assert (int(ns.num_layers), int(ns.hidden_size), int(ns.num_attention_heads), int(ns.ffn_hidden_size)) == (s.layers, s.hidden, s.heads, s.ffn)
    assert int(ns.num_query_groups) == s.kv_heads and ns.group_query_attention and int(ns.kv_channels) == s.d_head
    assert int(ns.seq_length) == s.seq and ns.swiglu and ns.normalization == "RMSNorm" and ns.position_embedding_type == "rope"
    assert ns.disable_bias_linear and ns.untie_embeddings_and_output_weights
    assert (int(ns.tensor_model_parallel_size), int(ns.pipeline_model_parallel_size), int(ns.context_parallel_size)) == (lay.t, lay.p, lay.c)
    assert int(ns.micro_batch_size) == lay.b and int(ns.global_batch_size) == spec.global_batch
    assert int(ns.global_batch_size) % (lay.b * lay.d) == 0  # Megatron derives DP from the world size
    if s.layers % lay.p and lay.v > 1:
        stages = ns.pipeline_model_parallel_layout.split("|")
        assert len(stages) == lay.p * lay.v and sum(x.count("t") for x in stages) == s.layers
    elif s.layers % lay.p:
        first, last = int(ns.decoder_first_pipeline_num_layers), int(ns.decoder_last_pipeline_num_layers)
        assert first + last + (lay.p - 2) * ((s.layers - first - last) // (lay.p - 2)) == s.layers
    elif lay.v > 1:
        assert int(ns.num_layers_per_virtual_pipeline_stage) * lay.p * lay.v == s.layers
    assert ns.sequence_parallel == bool(lay.sp)
    assert ns.use_distributed_optimizer == (lay.zero >= 1)
    assert ns.use_megatron_fsdp == (lay.zero >= 2)
    if lay.zero >= 2:
        assert ns.data_parallel_sharding_strategy == {2: "optim_grads", 3: "optim_grads_params"}[lay.zero]
        assert ns.ckpt_format == "fsdp_dtensor" and not ns.tp_comm_overlap  # Megatron asserts both
    assert ns.recompute_granularity == (None if lay.recompute == "none" else lay.recompute)
    assert ns.bf16 and (ns.fp8_format is not None) == (spec.precision == "fp8") and (ns.fp4_format is not None) == (spec.precision == "fp4")
    assert float(ns.lr) == pytest.approx(r.learning_rate, rel=1e-3) and float(ns.min_lr) == pytest.approx(r.min_learning_rate, rel=1e-3)
    assert ns.lr_decay_style == "WSD" and int(ns.lr_warmup_iters) == r.warmup_steps and int(ns.lr_wsd_decay_iters) == r.decay_steps
    assert int(ns.train_iters) == int(ns.lr_decay_iters) == r.steps
    if ns.tp_comm_overlap:
        assert ns.sequence_parallel  # Megatron asserts it
    assert set(cfg.fill_in) <= set(cfg.args) and all("<FILL IN" in cfg.args[cfg.args.index(k) + 1] for k in cfg.fill_in)


@pytest.mark.parametrize("name", list(CASES))
def test_every_megatron_bridge_field_exists_and_carries_the_plan(name):
    spec = CASES[name]
    cfg = export("megatron-bridge", spec)
    assert_fields_exist(cfg.fields, BRIDGE["sections"], f"Megatron-Bridge {BRIDGE['version']}", "mixed_precision",
                        BRIDGE["mixed_precision_recipes"])
    m, t, sch, lay, s, r = cfg.fields["model"], cfg.fields["train"], cfg.fields["scheduler"], spec.layout, spec.shape, spec.recipe
    assert (m["num_layers"], m["hidden_size"], m["num_attention_heads"], m["num_query_groups"], m["ffn_hidden_size"]) == (s.layers, s.hidden, s.heads, s.kv_heads, s.ffn)
    assert (m["tensor_model_parallel_size"], m["pipeline_model_parallel_size"], m["context_parallel_size"]) == (lay.t, lay.p, lay.c)
    vp = m["virtual_pipeline_model_parallel_size"]
    if lay.v > 1 and s.layers % lay.p == 0:
        assert vp == lay.v
    elif lay.v > 1:  # uneven and interleaved: the explicit layout carries the chunks
        assert vp is None and m["pipeline_model_parallel_layout"].count("|") == lay.p * lay.v - 1
    else:
        assert vp is None
    assert (t["global_batch_size"], t["micro_batch_size"], t["train_iters"]) == (spec.global_batch, lay.b, r.steps)
    assert sch["lr_decay_style"] == "WSD" and sch["lr_warmup_iters"] == r.warmup_steps and sch["lr_decay_iters"] == r.steps
    assert cfg.fields["optimizer"]["lr"] == pytest.approx(r.learning_rate, rel=1e-3)
    assert cfg.fields["ddp"]["use_megatron_fsdp"] == (lay.zero >= 2)
    assert cfg.fields["mixed_precision"] == {"bf16": "bf16_mixed", "fp8": "bf16_with_fp8_current_scaling_mixed", "fp4": "bf16_with_nvfp4_mixed"}[spec.precision]


@pytest.mark.parametrize("name", list(CASES))
def test_every_nemo2_setting_exists_and_carries_the_plan(name):
    spec = CASES[name]
    if spec.precision == "fp4":
        with pytest.raises(planner.PlannerInputError, match="no NVFP4"):
            export("nemo2", spec)
        return
    cfg = export("nemo2", spec)
    assert_fields_exist(cfg.fields, NEMO2["sections"], f"NeMo {NEMO2['version']}", "trainer.plugins", NEMO2["precision_recipes"])
    f, lay, s, r = cfg.fields, spec.layout, spec.shape, spec.recipe
    st = f["trainer.strategy"]
    assert (st["tensor_model_parallel_size"], st["pipeline_model_parallel_size"], st["context_parallel_size"]) == (lay.t, lay.p, lay.c)
    assert f["trainer"]["num_nodes"] * f["trainer"]["devices"] == spec.n_gpus and f["trainer"]["max_steps"] == r.steps
    assert (f["data"]["global_batch_size"], f["data"]["micro_batch_size"], f["data"]["seq_length"]) == (spec.global_batch, lay.b, s.seq)
    assert (f["model.config"]["num_layers"], f["model.config"]["hidden_size"], f["model.config"]["num_query_groups"]) == (s.layers, s.hidden, s.kv_heads)
    sched = f["optim.lr_scheduler"]
    assert sched["decay_schedule"] == "one_minus_square_root"
    assert round(sched["warmup_ratio"] * r.steps) == r.warmup_steps and round((1 - sched["warmup_ratio"] - sched["hold_ratio"]) * r.steps) == r.decay_steps
    assert (st["fsdp"] == "megatron") == (lay.zero >= 2)
    assert "recipe.optim.lr_scheduler = run.Config(WarmupHoldAnnealScheduler" in cfg.to_text()


def test_the_cli_offers_every_format_and_alias():
    from planner.cli.options import EXPORT_CHOICES
    from planner.systems.exports import ALIASES, FORMATS, resolve_format

    assert set(EXPORT_CHOICES) == set(FORMATS) | set(ALIASES) and all(resolve_format(c) in FORMATS for c in EXPORT_CHOICES)


def test_exports_name_the_framework_version_they_were_checked_against():
    assert MLM["commit"].startswith("d98e8a6") and "0.20.0" in MLM["version"]
    assert BRIDGE["version"] == "0.7.0" and BRIDGE["commit"].startswith("067f987")
    assert NEMO2["version"] == "2.6.0rc0" and NEMO2["commit"].startswith("8cfedd7") and "8cfedd7" in FRAMEWORKS["nemo2"][1]
    assert "d98e8a6" in FRAMEWORKS["megatron"][1] and "0.7.0" in FRAMEWORKS["megatron-bridge"][1]
    text = export("megatron", CASES["8B on 8 H100 (searched)"]).to_text()
    assert text.startswith("# Megatron-LM main at commit d98e8a6")


def test_plan_export_is_data_and_the_cli_writes_it(cli, tmp_path):
    p = planner.plan(budget_flops=1e22, gpu="h100")
    cfg = p.export("megatron-bridge")
    lay = p.layout.best.layout
    assert cfg.fields["model"]["tensor_model_parallel_size"] == lay.t and cfg.fields["train"]["train_iters"] == p.recipe.steps
    assert json.loads(json.dumps(cfg.to_dict()))["fields"]["train"]["global_batch_size"] == p.layout.global_batch
    args = p.export("megatron").args
    assert parse_megatron(args).train_iters == str(p.recipe.steps)
    out = tmp_path / "launch.yaml"
    code, stdout, _ = cli("--budget", "1e22", "--gpu", "h100", "--export", "megatron-bridge", "-o", str(out))
    assert code == 0 and str(out) in stdout and out.read_text().startswith("# Megatron-Bridge 0.7.0")
    code, stdout, _ = cli("--budget", "1e22", "--gpu", "h100", "--export", "megatron", "--json")
    assert code == 0 and json.loads(stdout)["export"]["args"] == list(args)
    code, _, err = cli("--budget", "1e22", "-o", str(out))
    assert code == 2 and "--export" in err


def test_layout_export_carries_the_recipe_when_tokens_are_given(cli):
    code, out, _ = cli("layout", "--params", "8B", "--gpus", "8", "--global-batch", "128", "--tokens", "1e12", "--export", "megatron")
    assert code == 0
    ns = parse_megatron(tuple(tok.strip("'") for line in out.splitlines() if not line.startswith("#")
                              for tok in line.rstrip(" \\").strip().split(" ", 1)))
    assert ns.lr_decay_style == "WSD" and int(ns.train_iters) == -(-int(1e12) // (128 * 2048))
    code, out, _ = cli("layout", "--params", "8B", "--gpus", "8", "--global-batch", "128", "--export", "megatron")
    assert code == 0 and "--train-iters" not in out and "schedule and steps are Megatron's defaults" in out


# ---- memory per GPU against Megatron-LM's own estimator --------------------------------------
def megatron_theoretical_bytes(shape: ModelShape, lay: Layout, global_batch: int) -> float:
    """Megatron-LM's ``megatron/training/theoretical_memory_usage.py`` (commit d98e8a6) for a
    dense GPT with sequence parallelism and no recompute: weights and optimizer of the most
    loaded shard (18 bytes per parameter, 6 + 12/d with the distributed optimizer) plus the
    first stage's activations (Korthikanti et al. Table 2 with 18 + 4 f/h, the embedding's
    input and output, the interleaving penalty, the output layer when p = 1), over t. Written
    out here from that file, independently of planner.systems.memory."""
    h, f, l, s, b, t, p, V = shape.hidden, shape.ffn, shape.layers, shape.seq, lay.b, lay.t, lay.p, shape.vocab
    attn = 2 * h * h * (1 + shape.kv_heads / shape.heads) * (shape.heads * shape.d_head / h)
    mlp = 2 * h * f * (1.5 if shape.mlp == "swiglu" else 1)
    layer = attn + mlp
    norms = 2 * h + h / l  # two RMSNorms a layer (no bias) and the final one, shared out
    embedding = h * V
    shard = (layer * l / p + embedding) / t + norms * l / p
    if p == 1 and not shape.tied_embeddings:
        shard += embedding / t
    per_param = 6 + 12 / lay.d if lay.zero >= 1 else 18
    weights = shard * per_param
    act = s * b * h * (18 + 4 * f / h) * l + 8 * s * b * p + s * b * h * p
    m = global_batch / (b * lay.d)
    if lay.v > 1:
        act *= 1 + (p - 1) / (p * lay.v)
    elif p > 1:
        act *= min(1, m / p)
    if p == 1:
        act += s * b * h * 4 * (1 + V / h)
    return weights + act / t


@pytest.mark.parametrize(("shape", "lay", "batch"), [
    (shape_for_params(8e9, seq=8192), Layout(t=1, p=1, d=8, c=1, v=1, b=1, recompute="none", sp=False, zero=1), 128),
    (shape_for_params(70e9, seq=8192), Layout(t=1, p=8, d=64, c=1, v=1, b=1, recompute="none", sp=False, zero=1), 1024),
    (shape_for_params(70e9, seq=8192), Layout(t=4, p=8, d=2, c=1, v=5, b=1, recompute="none", sp=True, zero=1), 128),
    (LLAMA_405B.with_(layers=128), Layout(t=8, p=16, d=64, c=1, v=1, b=1, recompute="none", sp=True, zero=1), 2048),
    (shape_for_params(33.5e9, seq=4096), Layout(t=2, p=4, d=16, c=1, v=1, b=2, recompute="none", sp=True, zero=0), 512),
])
def test_memory_per_gpu_matches_megatrons_theoretical_memory_usage(shape, lay, batch):
    arr = {k: [getattr(lay, k)] for k in ("t", "p", "d", "c", "v", "b", "zero")}
    arr.update(recompute=[0], sp=[int(lay.sp)])
    ours = float(memory_per_gpu(shape, H100, batch, arr)["memory_per_gpu_bytes"][0])
    theirs = megatron_theoretical_bytes(shape, lay, batch)
    print(f"\n{shape.params / 1e9:.1f}B {lay}: planner {ours / 2**30:.1f} GiB, Megatron {theirs / 2**30:.1f} GiB")
    assert ours == pytest.approx(theirs, rel=0.05)
