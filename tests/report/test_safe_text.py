"""Text from user files reaches the terminal as literal text, and JSON stays valid JSON."""

from __future__ import annotations

import json
import math

from planner.cli.options import echo_json

HOSTILE = '''[weird]
name = "Evil [/x] GPU [bold]"
vendor = "NVIDIA"
bf16_tflops = 900
hbm_gb = 80
hbm_tb_per_s = 3
intra_node_gb_per_s = 400
inter_node_gbit_per_s = 400
devices_per_node = 8
source = "made up [/x] \\u001b[31m red"
default_mfu = 0.4
'''


def test_markup_and_escape_codes_in_a_hardware_file_are_printed_literally(cli, tmp_path):
    f = tmp_path / "hw.toml"
    f.write_text(HOSTILE)
    for argv in (("hardware", "show", "weird"), ("hardware", "list"), ("--budget", "1e21", "--gpu", "weird", "--no-layout")):
        code, out, err = cli(*argv, "--hardware-file", str(f))
        assert code == 0, err
        assert "\x1b" not in out
    code, out, _ = cli("hardware", "show", "weird", "--hardware-file", str(f))
    assert "Evil [/x] GPU [bold]" in out


def test_json_documents_never_carry_nan_or_infinity(capsys):
    echo_json({"a": math.nan, "b": [math.inf, 1.0], "c": "x"})
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"a": None, "b": [None, 1.0], "c": "x"}
