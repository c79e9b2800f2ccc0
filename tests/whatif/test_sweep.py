"""plan sweep and plan compare (issue 16): points are the plans of the same flags, deltas are
right, pictures hold the numbers they draw, reports export."""

from __future__ import annotations

import json
import math

import pytest

from planner.errors import PlannerInputError
from planner.whatif.sweep import expand_axis, grid, regime_changes


def test_ranges_are_log_spaced_and_lists_are_lists():
    assert expand_axis("--budget", "1e21:1e25:5") == ["1e+21", "1e+22", "1e+23", "1e+24", "1e+25"]
    assert expand_axis("--gpu", "h100,mi250x") == ["h100", "mi250x"]
    assert expand_axis("--budget", "7B") == ["7B"]
    for bad in ("1e21:1e25", "0:1e25:3", "1e21:1e25:x", "a,,b"):
        with pytest.raises(PlannerInputError):
            expand_axis("--budget", bad)
    assert grid([("--a", ["1", "2"]), ("--b", ["x", "y", "z"])])[1] == (("--a", "1"), ("--b", "y"))


def test_regime_changes_follow_the_first_axis_within_each_series():
    rows = [{"--a": a, "--b": b, "bits": bits} for a, b, bits in [(1, 0, 16), (1, 9, 4), (2, 0, 16), (2, 9, 8)]]
    changes = regime_changes(rows, ["--a", "--b"])
    assert changes[:3] == [[], [], []] and changes[3] == ["weight bits 4 -> 8"]


def test_each_sweep_point_is_the_plan_of_the_same_flags(cli):
    code, out, err = cli("sweep", "--budget", "1e21,1e22", "--infer-tokens", "0,1e11", "--no-layout", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["points"]) == 4
    for p in doc["points"]:
        flags = [x for kv in p["point"].items() for x in kv]
        code, one, _ = cli(*flags, "--no-layout", "--json")
        assert code == 0 and p["plan"] == json.loads(one)


def test_an_infeasible_point_is_reported_not_fatal(cli):
    code, out, _ = cli("sweep", "--budget", "1e15,1e21", "--no-layout", "--json")
    doc = json.loads(out)
    assert code == 0 and [p["status"] for p in doc["points"]] == ["infeasible", "optimal"]
    assert "support" in doc["points"][0]["binding"]


def test_sweep_refuses_what_it_cannot_vary(cli):
    for argv, message in ((["sweep", "--budget", "1e21"], "nothing to sweep"), (["sweep", "--budget", "1e21,1e22", "--bogus", "1"], "no such plan flag"),
                          (["sweep", "--budget", "1e21,1e22", "--export", "megatron"], "is not a flag a sweep")):
        code, _, err = cli(*argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def _scenario(path, budget, infer):
    path.write_text(f'title = "{path.stem}"\nbudget = {budget}\ninfer_tokens = {infer}\n')
    return str(path)


def test_compare_deltas_are_right_on_two_scenario_files(cli, tmp_path):
    a, b = _scenario(tmp_path / "train.toml", 1e22, 0), _scenario(tmp_path / "serve.toml", 1e22, 1e12)
    code, out, err = cli("compare", a, b, "--no-layout", "--json")
    assert code == 0, err
    doc = json.loads(out)
    plans = [json.loads(cli("--scenario", s, "--no-layout", "--json")[1])["result"] for s in (a, b)]
    rows = {e["key"]: e for e in doc["comparison"]}
    assert rows["params"]["values"] == [plans[0]["params"], plans[1]["params"]]
    assert rows["params"]["deltas"][1] == pytest.approx(plans[1]["params"] / plans[0]["params"] - 1)
    assert rows["loss"]["deltas"][1] == pytest.approx(plans[1]["loss"] - plans[0]["loss"])
    assert doc["scenarios"] == ["train", "serve"]
    assert any(s.startswith("serve: model size") for s in doc["differences"])


def test_compare_takes_quoted_flag_sets_and_common_flags(cli):
    code, out, _ = cli("compare", "--budget 1e22", "--budget 1e22 --gpu mi250x", "--no-layout", "--json")
    doc = json.loads(out)
    assert code == 0 and [p["plan"]["resolved"]["gpu"] for p in doc["plans"]] == ["h100-sxm", "mi250x"]


def test_sweep_plot_holds_the_plotted_numbers(cli, tmp_path):
    from planner.report.plots import sweep_figure

    out_png, out_svg = tmp_path / "s.png", tmp_path / "s.svg"
    code, out, err = cli("sweep", "--budget", "1e21:1e23:3", "--infer-tokens", "0,1e12", "--no-layout", "--json", "--plot", str(out_png))
    assert code == 0, err
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    points = json.loads(out)["points"]
    from planner.whatif.sweep import PointResult, row_of

    rows = [row_of(PointResult(p["index"], tuple(p["point"].items()), p["status"], doc=p["plan"])) for p in points]
    fig, drawn = sweep_figure(rows, ["--budget", "--infer-tokens"], law="besiroglu2024", source="test")
    n_line = next(line for line in fig.axes[1].get_lines() if line.get_label() == "N* parameters (infer-tokens 1e12)")
    assert list(n_line.get_ydata()) == [r["params"] for r in rows if r["--infer-tokens"] == "1e12"]
    assert list(n_line.get_xdata()) == [1e21, 1e22, 1e23]
    assert drawn["loss"]["infer-tokens 0"]["baseline"] == [r["baseline_loss"] for r in rows if r["--infer-tokens"] == "0"]
    code, _, _ = cli("sweep", "--budget", "1e21,1e22", "--no-layout", "--plot", str(out_svg))
    assert code == 0 and b"<svg" in out_svg.read_bytes()[:400]
    first = out_svg.read_bytes()
    assert cli("sweep", "--budget", "1e21,1e22", "--no-layout", "--plot", str(out_svg))[0] == 0
    assert out_svg.read_bytes() == first  # deterministic: no date, fixed element ids


def test_compare_plot_and_report_exports(cli, tmp_path):
    from planner.report.plots import compare_figure

    html, svg, png = tmp_path / "c.html", tmp_path / "c.svg", tmp_path / "c.png"
    code, out, err = cli("compare", "--budget 1e22", "--budget 1e23", "--no-layout", "--html", str(html), "--svg", str(svg),
                         "--plot", str(png))
    assert code == 0, err
    assert "plan compare" in html.read_text() and "<svg" in svg.read_text() and "What" in html.read_text()
    assert png.read_bytes()[:4] == b"\x89PNG"
    rows = [{"status": "optimal", "params": 1e9, "train_tokens": 2e10, "loss": 2.5, "gpu_hours": 1e3},
            {"status": "optimal", "params": 4e9, "train_tokens": 8e10, "loss": 2.3, "gpu_hours": 1e4}]
    fig, drawn = compare_figure(["a", "b"], rows, law="x")
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == [1e9, 4e9] == drawn["params"]["values"]
    assert math.isclose(fig.axes[2].patches[1].get_height(), 2.3)


def test_sweep_csv_has_one_row_per_point(cli, tmp_path):
    import csv

    path = tmp_path / "s.csv"
    assert cli("sweep", "--budget", "1e21:1e22:3", "--no-layout", "--csv", str(path))[0] == 0
    rows = list(csv.DictReader(path.open()))
    assert [r["--budget"] for r in rows] == ["1e+21", "3.16228e+21", "1e+22"] and all(float(r["params"]) > 0 for r in rows)


def test_a_plain_plan_draws_its_iso_flop_curve_and_exports_its_report(cli, tmp_path):
    from planner.report.plots import plan_figure

    png, html, svg = tmp_path / "p.png", tmp_path / "p.html", tmp_path / "p.svg"
    code, _, err = cli("--budget", "1e22", "--infer-tokens", "1e11", "--no-layout", "--plot", str(png), "--html", str(html),
                       "--svg", str(svg))
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG" and "Lowest loss" in html.read_text() and "<svg" in svg.read_text()
    doc = json.loads(cli("--budget", "1e22", "--infer-tokens", "1e11", "--no-layout", "--json")[1])
    fig, drawn = plan_figure(doc)
    marker = fig.axes[0].get_lines()[1]
    assert list(marker.get_xdata()) == [doc["result"]["params"]]
    law, c = doc["law"], doc["result"]["train_flops"]
    n = drawn["curve"]["params"][60]
    assert drawn["curve"]["loss"][60] == pytest.approx(law["E"] + law["A"] / n ** law["alpha"] + law["B"] / (c / 6 / n) ** law["beta"])
    assert [b.get_height() for b in fig.axes[1].patches] == [doc["result"]["train_flops"], doc["result"]["inference_flops"]]
    code, _, err = cli("--budget", "1e22", "--no-layout", "--plot", str(tmp_path / "p.toml"))
    assert code == 2 and "--plot" in err


def test_fit_and_fit_samples_plots_hold_their_data(cli, tmp_path):
    from planner.laws.lawfit import fit_runs
    from planner.report.plots import fit_figure, samples_figure
    from planner.serving.sample_fit import fit_sample_file

    runs = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "planner" / "data" / "measured" / "chinchilla_epoch.csv")
    code, _, err = cli("fit", runs, "--bootstrap", "10", "--plot", str(tmp_path / "f.png"))
    assert code == 0 and (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG", err
    outcome = fit_runs(runs, n_bootstrap=10)
    fig, drawn = fit_figure(outcome)
    assert len(drawn["runs"]["params"]) == outcome.n_runs and all(lo <= hi for lo, hi in zip(drawn["band"]["lo"], drawn["band"]["hi"]))
    assert sorted(fig.axes[0].collections[0].get_offsets()[:, 0].tolist() + fig.axes[0].collections[1].get_offsets()[:, 0].tolist()) \
        == sorted(r["params"] for r in outcome.residuals)
    samples = tmp_path / "s.csv"
    samples.write_text("model,n,c\n" + "".join(f"m,20,{c}\n" for c in (0, 1, 3, 5, 8, 12, 2, 0, 19, 4)))
    code, _, err = cli("fit-samples", str(samples), "--group-col", "model", "--plot", str(tmp_path / "s.png"))
    assert code == 0, err
    entries = fit_sample_file(str(samples), group_col="model")
    fig, drawn = samples_figure(entries)
    dots = fig.axes[0].get_lines()[0]
    assert list(dots.get_ydata()) == drawn["m"]["observed"] == [entries[0]["pass_at_k_unbiased"][str(k)] for k in drawn["m"]["k_observed"]]


def test_progress_bars_are_quiet_off_a_terminal_and_under_json(monkeypatch):
    import sys

    from planner.cli.options import progress_bar

    with progress_bar("plans") as progress:
        assert progress is None  # the test's stdout is not a terminal
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress_bar("plans", quiet=True) as progress:
        assert progress is None
    with progress_bar("plans") as progress:
        assert progress is not None  # a terminal: a bar that counts
        progress(1, 2)
        progress(2, 2)
