"""The data-loss cases of issue 14, through the real command line: nothing a user saved is
lost by a failing write, a race, a bad name or a corrupt neighbour."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = str(ROOT / "planner" / "data" / "measured" / "chinchilla_epoch.csv")


def _plan(*argv: str, config: Path, preexec=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COMPUTE_PLANNER_CONFIG_DIR": str(config)}
    return subprocess.run([sys.executable, "-m", "planner.cli", *argv], capture_output=True, text=True, env=env, cwd=ROOT,
                          preexec_fn=preexec)


def test_two_racing_saves_of_one_name_one_wins_and_the_other_is_refused(tmp_path):
    env = {**os.environ, "COMPUTE_PLANNER_CONFIG_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-m", "planner.cli", "fit", RUNS, "--save", "race"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2], results
    assert any("exists" in err and "--overwrite" in err for code, err in results if code == 2)
    saved = tmp_path / "laws" / "race.toml"
    assert "race" in tomllib.loads(saved.read_text()) and [p.name for p in saved.parent.iterdir()] == ["race.toml"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_FSIZE and SIGXFSZ (Linux)")
def test_a_save_cut_short_by_the_file_size_limit_leaves_the_old_law_loadable(tmp_path):
    import resource
    import signal

    assert _plan("fit", RUNS, "--save", "keep", config=tmp_path).returncode == 0
    saved = tmp_path / "laws" / "keep.toml"
    before = saved.read_bytes()

    def small_files() -> None:  # in the child: writes beyond 512 bytes fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))

    done = _plan("fit", RUNS, "--form", "overtrain", "--save", "keep", "--overwrite", config=tmp_path, preexec=small_files)
    assert done.returncode == 2 and "nothing was changed" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert saved.read_bytes() == before and sorted(p.name for p in saved.parent.iterdir()) == ["keep.toml"]
    assert _plan("predict", "--law", "keep", "--params", "7B", "--tokens", "1T", config=tmp_path).returncode == 0


@pytest.mark.parametrize("name", ["A B", "a b", "a/b", "caf\u00e9", "x" * 65, "..", ""])
def test_names_that_could_collide_or_escape_are_refused_before_the_fit(cli, name, tmp_path):
    code, _, err = cli("fit", RUNS, "--bootstrap", "1000", "--save", name)  # refused at once, not after 1,000 refits
    assert code == 2 and "name" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "config" / "laws").exists()


def test_a_corrupt_saved_law_is_skipped_with_one_warning_and_the_others_still_load(cli, tmp_path):
    assert cli("fit", RUNS, "--save", "good")[0] == 0
    laws = tmp_path / "config" / "laws"
    (laws / "bad.toml").write_bytes(b"\xff\xfe[bad]\n")
    (laws / "worse.toml").write_text("[worse\n")
    code, out, err = cli("laws", "list")
    assert code == 0 and "good" in out
    assert [ln for ln in err.splitlines() if "skipped" in ln] == [
        f"plan: warning: skipped the saved law 'bad' ({laws / 'bad.toml'}): it does not load",
        f"plan: warning: skipped the saved law 'worse' ({laws / 'worse.toml'}): it does not load"]
    assert cli("predict", "--law", "good", "--params", "7B", "--tokens", "1T")[0] == 0
    code, _, err = cli("predict", "--law", "bad", "--params", "7B", "--tokens", "1T")
    assert code == 2 and "bad.toml is not UTF-8" in err
