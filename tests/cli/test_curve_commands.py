"""``plan curve fit | predict | decide`` end to end, on the shipped curves."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from planner.io import measured_data_dir

CURVES = measured_data_dir() / "lr_schedule_curves_mpl.csv"


@pytest.fixture
def two_runs(tmp_path):
    """The 100M constant and cosine runs at 24k steps, as JSON lines (the other accepted format)."""
    path = tmp_path / "runs.jsonl"
    with open(CURVES, newline="") as f, open(path, "w") as out:
        for r in csv.DictReader(f):
            if r["run"] in ("mpl100M_constant_24000", "mpl100M_cosine_24000"):
                out.write(json.dumps({"run": r["run"], "step": int(r["step"]), "lr": float(r["lr"]), "val_loss": float(r["loss"])}) + "\n")
    return path


def test_fit_save_and_predict_a_named_schedule(cli, two_runs, tmp_path):
    code, out, err = cli("curve", "fit", str(two_runs), "--save", "two", "--bootstrap", "4", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["law"]["form"] == "annealing" and len(doc["per_run"]) == 2 and len(doc["held_back"]) == 2
    assert set(doc["intervals"]) == {"L0", "A", "alpha", "C"} and doc["saved_to"].endswith("two.toml")
    code, out, err = cli("curve", "predict", "--law", "two", "--schedule", "wsd:decay=0.1667,shape=linear,final=0.1",
                         "--steps", "24000", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["step"]) == len(doc["loss"]) == 24000 - doc["step"][0] + 1  # every step after warmup
    assert doc["step"][-1] == 24000 and doc["final_loss"] == doc["loss"][-1]
    lo, hi = doc["final_loss_interval"]
    assert lo <= doc["final_loss"] <= hi
    observed = [float(r["loss"]) for r in csv.DictReader(open(CURVES)) if r["run"] == "mpl100M_wsdld_20000_24000"][-1]
    assert abs(doc["final_loss"] / observed - 1) < 0.005  # a schedule the law never saw


def test_predict_from_a_schedule_file_with_the_observed_run_and_a_plot(cli, tmp_path):
    sched = tmp_path / "lr.csv"
    steps = np.arange(0, 16001, 500)
    lr = np.where(steps < 8000, 3e-4, 9e-5)
    lr[steps < 2160] = 3e-4 * steps[steps < 2160] / 2160
    sched.write_text("step,lr\n" + "".join(f"{s},{v}\n" for s, v in zip(steps[1:], lr[1:], strict=True)))
    png = tmp_path / "p.png"
    code, out, err = cli("curve", "predict", "--law", "mpl-100m", "--schedule", str(sched), "--observed", str(CURVES),
                         "--run", "mpl100M_wsdcon_9", "--every", "1000", "--plot", str(png), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["schedule"]["kind"] == "file" and doc["step"][-1] == 16000
    assert doc["observed"]["run"] == "mpl100M_wsdcon_9" and doc["observed"]["mean_abs_rel_error"] < 0.01
    assert png.stat().st_size > 10_000


def test_decide_on_a_run_in_progress(cli, tmp_path):
    png = tmp_path / "d.png"
    code, out, err = cli("curve", "decide", "--law", "mpl-100m", "--runs", str(CURVES), "--run", "mpl100M_constant_72000",
                         "--at", "16000", "--total-steps", "24000", "--compare", "mpl100M_wsd_20000_24000", "--plot", str(png), "--json")
    assert code == 0, err
    doc = json.loads(out)
    best = doc["best"]
    assert doc["step"] == 16000 and best["decay_start"] + best["decay_steps"] == 24000
    assert all(r["final_loss"] >= best["final_loss"] for r in doc["continue_then_decay"])
    assert [r["total_steps"] for r in doc["extend"]] == [30000, 36000, 48000]
    assert png.stat().st_size > 10_000
    code, out, err = cli("curve", "decide", "--law", "mpl-100m", "--runs", str(CURVES), "--run", "mpl100M_constant_72000",
                         "--at", "16000", "--total-steps", "24000")
    assert code == 0 and "Decay now over k steps" in out and "A longer budget" in out


@pytest.mark.parametrize("argv, message", [
    (["curve", "predict", "--law", "mpl-100m", "--schedule", "wsd:decay=2", "--steps", "100"], "share"),
    (["curve", "predict", "--law", "mpl-100m", "--schedule", "cosine"], "--steps is required"),
    (["curve", "predict", "--law", "nope", "--schedule", "cosine", "--steps", "100"], "unknown curve law"),
    (["curve", "predict", "--law", "besiroglu2024", "--schedule", "cosine", "--steps", "100"], "unknown curve law"),
    (["curve", "decide", "--law", "mpl-25m", "--runs", str(CURVES), "--run", "mpl25M_wsdcon_3", "--total-steps", "100"], "beyond the current step"),
    (["curve", "decide", "--law", "mpl-25m", "--runs", str(CURVES), "--run", "nope", "--total-steps", "100"], "no run 'nope'"),
    (["curve", "fit", str(CURVES), "--where", "run=nope"], "no row meets every --where"),
    (["curve", "fit", str(CURVES), "--save", "mpl-25m"], "shipped preset"),
    (["curve", "fit", str(CURVES), "--form", "multi-power", "--bootstrap", "50"], "weighted points is above"),
])
def test_bad_curve_input_is_one_line_and_exit_2(cli, argv, message):
    import re

    code, out, err = cli(*argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plan: error:") and re.search(message, lines[0]), err


def test_curve_laws_are_listed_with_the_others(cli, two_runs):
    assert cli("curve", "fit", str(two_runs), "--save", "mine", "--no-holdout")[0] == 0
    code, out, err = cli("laws", "list", "--json")
    forms = {e["name"]: e["form"] for e in json.loads(out)}
    assert forms["mine"] == "annealing" and forms["mpl-25m"] == "annealing" and forms["besiroglu2024"] == "chinchilla"
    assert "warning" not in err
    code, out, _ = cli("laws", "list")
    assert code == 0 and "mine" in out


def test_every_report_can_be_saved_as_html_and_svg(cli, tmp_path, two_runs):
    """--html / --svg on the fits and the curve commands hold the report that was printed."""
    runs = [
        ("curve", "fit", str(two_runs), "--no-holdout"),
        ("curve", "predict", "--law", "mpl-25m", "--schedule", "cosine", "--steps", "5000"),
        ("curve", "decide", "--law", "mpl-25m", "--runs", str(two_runs), "--total-steps", "30000"),
        ("fit", str(measured_data_dir() / "chinchilla_epoch.csv")),
    ]
    for i, argv in enumerate(runs):
        html, svg = tmp_path / f"r{i}.html", tmp_path / f"r{i}.svg"
        code, out, err = cli(*argv, "--html", str(html), "--svg", str(svg))
        assert code == 0, (argv, err)
        first = next(line for line in out.splitlines() if line.strip("╭─╮ "))
        word = next(w for w in first.replace("│", " ").split() if len(w) > 3)
        assert word in html.read_text() and svg.read_text().startswith("<svg"), argv


def test_task_law_across_sizes_is_drawn(cli, tmp_path):
    png = tmp_path / "t.png"
    code, out, err = cli("fit-samples", str(measured_data_dir() / "math_pythia_per_problem_100samples.csv"), "--group-col", "model",
                         "--sizes", str(measured_data_dir() / "pythia_models.csv"), "--bootstrap", "0", "--plot", str(png))
    assert code == 0, err
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_task_law_figure_holds_the_reported_numbers(cli):
    from planner.report.plots import task_law_figure

    code, out, _ = cli("fit-samples", str(measured_data_dir() / "math_pythia_per_problem_100samples.csv"), "--group-col", "model",
                       "--sizes", str(measured_data_dir() / "pythia_models.csv"), "--bootstrap", "0", "--json")
    report = json.loads(out)
    _, drawn = task_law_figure(report)
    for s in report["sizes"]:
        d = drawn[s["size"]]
        assert d["observed"] == [s["observed"][str(k)] for k in d["k_observed"]]
        assert d["law"] == [s["predicted"][str(k)] for k in d["k_law"]]


def test_a_schedule_far_from_the_laws_peak_rate_warns(cli):
    code, out, err = cli("curve", "predict", "--law", "mpl-25m", "--schedule", "cosine", "--steps", "5000", "--peak-lr", "3e-3", "--json")
    assert code == 0 and "extrapolation" in err and json.loads(out)["warnings"]
    code, out, err = cli("curve", "predict", "--law", "mpl-25m", "--schedule", "cosine", "--steps", "5000", "--json")
    assert code == 0 and not json.loads(out)["warnings"] and "warning" not in err


def test_a_corrupt_saved_curve_law_is_listed_as_unreadable_with_one_warning(cli):
    from planner.io.store import save_law_table

    save_law_table("broken", {"form": "annealing", "L0": 2.0})  # no A, alpha, C, peak_lr
    code, out, err = cli("laws", "list", "--json")
    entries = [e for e in json.loads(out) if e["name"] == "broken"]
    assert code == 0 and len(entries) == 1 and entries[0]["form"] == "unreadable"
    assert [line for line in err.splitlines() if "broken" in line] == [err.strip()] and "does not load" in err
