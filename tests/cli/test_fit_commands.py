"""`plan fit`, saved laws, `plan predict`, and plans that carry a fitted law's uncertainty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import planner
from planner.io import measured_data_dir

DATA = measured_data_dir()
EPOCH = str(DATA / "chinchilla_epoch.csv")
GADRE = str(DATA / "gadre2024_models.csv")




@pytest.fixture
def saved_epoch(cli):
    code, out, err = cli("fit", EPOCH, "--where", "loss<3.44", "--bootstrap", "40", "--seed", "3", "--save", "epoch-test", "--json")
    assert code == 0, err
    return json.loads(out)


def test_fit_json_and_save(saved_epoch):
    doc = saved_epoch
    assert doc["n_runs"] == 240 and doc["form"] == "chinchilla"
    assert doc["coefficients"]["alpha"] == pytest.approx(0.3478, abs=0.0154)
    lo, hi = doc["intervals"]["beta"]
    assert lo < doc["coefficients"]["beta"] < hi
    assert Path(doc["saved_to"]).is_file()
    assert doc["bootstrap"] == {"requested": 40, "failed": 0, "seed": 3}


def test_saved_law_is_usable_everywhere(saved_epoch, cli):
    law = planner.get_law("epoch-test")
    assert len(law.draws) == 40 and law.fit_info["data_fingerprint"] == saved_epoch["data_fingerprint"]
    code, out, _ = cli("laws", "list", "--json")
    assert "epoch-test" in {e["name"] for e in json.loads(out)}
    code, out, _ = cli("predict", "--law", "epoch-test", "--params", "7B", "--tokens", "1.4T", "--json")
    pred = json.loads(out)
    assert code == 0 and pred["loss_interval"][0] < pred["loss"] < pred["loss_interval"][1]
    assert pred["loss"] == pytest.approx(law.loss(7e9, 1.4e12))
    code, out, _ = cli("--budget", "1e23", "--law", "epoch-test", "--infer-tokens", "1e12", "--json")
    u = json.loads(out)["result"]["uncertainty"]
    assert code == 0 and u["draws"] == 40 and u["draws_solved"] == 40
    result = json.loads(out)["result"]
    assert u["params_range"][0] < result["params"] < u["params_range"][1]
    assert u["loss_interval"][0] < result["loss"] < u["loss_interval"][1]


def test_saving_over_a_preset_or_twice_is_refused(saved_epoch, cli):
    code, _, err = cli("fit", EPOCH, "--save", "sardana2024")
    assert code == 2 and "preset" in err
    code, _, err = cli("fit", EPOCH, "--save", "epoch-test")
    assert code == 2 and "--overwrite" in err
    code, _, err = cli("fit", EPOCH, "--save", "epoch-test", "--overwrite")
    assert code == 0


def test_downstream_fit_saved_and_used(cli):
    wh = ["--where", "dataset=rpj", "--where", "tokens_per_param_M=20"]
    code, out, err = cli("fit", GADRE, "--form", "downstream", "--loss-col", "loss_c4_val", "--error-col", "err_avg_17subset", *wh, "--save", "rpj-17", "--json")
    assert code == 0, err
    code, out, _ = cli("--budget", "1e22", "--law", "gadre2024-rpj", "--downstream", "rpj-17", "--json")
    err17 = json.loads(out)["result"]["downstream_error"]
    assert code == 0 and set(err17) == {"rpj-17"} and 0 < err17["rpj-17"] < 1
    code, _, err = cli("--budget", "1e22", "--law", "rpj-17")
    assert code == 2 and "--downstream" in err
    code, out, _ = cli("predict", "--law", "gadre2024-rpj", "--downstream", "gadre2024-rpj:46-task", "--params", "1B", "--tokens", "20B", "--json")
    assert code == 0 and "gadre2024-rpj:46-task" in json.loads(out)["downstream_error"]


def test_overtrain_fit_via_cli(cli):
    wh = ["--where", "dataset=rpj", "--where", "tokens_per_param_M=20", "--where", "params<1e9"]
    code, out, err = cli("fit", GADRE, "--form", "overtrain", "--loss-col", "loss_c4_val", "--objective", "lsq", *wh, "--json")
    # Four runs at one ratio cannot separate N and D: a clear refusal, not a bad fit.
    assert code == 2 and "at least 5 runs" in err


def test_fit_report_and_jsonl(tmp_path, cli):
    rows = [dict(n=n, d=n * m, loss=1.8 + 400 * n**-0.34 + 1500 * (n * m) ** -0.36) for n in (1e7, 1e8, 1e9) for m in (10, 40, 160)]
    f = tmp_path / "runs.jsonl"
    f.write_text("\n".join(json.dumps({"N": r["n"], "tokens": r["d"], "final_loss": r["loss"]}) for r in rows))
    code, out, err = cli("fit", str(f))
    assert code == 0, err
    assert "Coefficients" in out and "alpha" in out and "RMS log residual" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", GADRE], "several loss columns"),
        (["fit", "/nonexistent.csv"], "not found"),
        (["fit", EPOCH, "--where", "nope=3"], "no column 'nope'"),
        (["fit", EPOCH, "--where", "loss>99"], "no row meets every --where"),
        (["fit", EPOCH, "--where", "loss~3"], "expected COL=VALUE"),
        (["fit", EPOCH, "--params-col", "xx"], "no column 'xx'"),
        (["fit", EPOCH, "--level", "2"], "level"),
        (["predict", "--params", "-1", "--tokens", "1e9"], "positive"),
        (["predict", "--law", "nope", "--params", "1e9", "--tokens", "1e9"], "unknown law"),
        (["--budget", "1e22", "--downstream", "nope"], "unknown downstream map"),
    ],
)
def test_fit_and_predict_usage_errors(cli, argv, message):
    code, _, err = cli(*argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_malformed_saved_law_is_a_clear_error(cli, tmp_path, monkeypatch):
    from planner.io.store import user_law_dir

    user_law_dir().mkdir(parents=True)
    (user_law_dir() / "broken.toml").write_text("[broken\n")
    code, _, err = cli("--budget", "1e22", "--law", "broken")
    assert code == 2 and "malformed TOML" in err


def test_toml_writer_round_trips(tmp_path):
    import tomllib

    from planner.io.store import to_toml

    data = {"x": {"a": 1.5, "b": "q\"uote", "c": [1.0, 2e-300], "d": True, "sub": {"e": 3}}}
    assert tomllib.loads(to_toml(data)) == data
    with pytest.raises(ValueError):
        to_toml({"x": float("nan")})
