from __future__ import annotations

import re

import pytest

from planner.errors import PlannerInputError
from planner.hardware.registry import load_registry


@pytest.fixture
def reg():
    return load_registry(user_config=False)


def test_every_accelerator_in_the_reference_table_is_shipped(reg, hardware_reference_table, repo_root):
    text = hardware_reference_table
    live = repo_root.parent / "shared" / "reference" / "hardware.md"
    if live.is_file():  # where the team's reference sits beside the repo, the shipped copy must match it
        rows = [line for line in text.splitlines() if line.startswith("|")]
        assert all(row in live.read_text() for row in rows), "tests/data/hardware_reference_table.md is stale"
    table_ids = re.findall(r"^\| ([a-z0-9-]+)(?: \(| \|)", text, flags=re.M)
    table_ids = [t for t in table_ids if t not in ("id",)]
    assert len(table_ids) >= 13
    for hw_id in table_ids:
        acc = reg.get(hw_id)
        assert acc.source and acc.date, hw_id


@pytest.mark.parametrize(
    "name, hw_id, bf16_tflops, hbm_gb",
    [
        ("h100", "h100-sxm", 989.4, 80),
        ("H100", "h100-sxm", 989.4, 80),
        ("a100", "a100-sxm-80gb", 312, 80),
        ("mi250x", "mi250x", 191.5, 64),
        ("B200", "b200", 2250, 180),
        ("tpu-v5p", "tpu-v5p", 459, 95),
    ],
)
def test_lookup_and_si_units(reg, name, hw_id, bf16_tflops, hbm_gb):
    acc = reg.get(name)
    assert acc.id == hw_id
    assert acc.bf16_flops_per_s == pytest.approx(bf16_tflops * 1e12)
    assert acc.hbm_bytes == pytest.approx(hbm_gb * 1e9)


def test_links_are_per_direction(reg):
    # NVLink4 "900 GB/s" is bidirectional: 450 per direction (systems.md conventions).
    assert reg.get("h100").intra_node_link_bytes_per_s == pytest.approx(450e9)
    # 400 Gb/s ConnectX-7 = 50 GB/s.
    assert reg.get("h100").inter_node_link_bytes_per_s == pytest.approx(50e9)


def test_mi250x_is_modelled_per_gcd(reg):
    acc = reg.get("mi250x")
    assert acc.devices_per_package == 2
    assert acc.hbm_bytes_per_s == pytest.approx(1.6384e12)
    assert acc.intra_package_link_bytes_per_s == pytest.approx(200e9)
    assert acc.tdp_w == pytest.approx(250)  # 500 W per package, split


def test_arithmetic_intensity_matches_reference(reg):
    # hardware.md: H100 SXM ~295, H100 PCIe ~378, MI250X ~117, B200 ~281 FLOP/byte.
    for name, expected in [("h100-sxm", 295), ("h100-pcie", 378), ("mi250x", 117), ("b200", 281)]:
        assert reg.get(name).arithmetic_intensity_flop_per_byte == pytest.approx(expected, rel=0.01)


def test_unknown_name_suggests_nearest(reg):
    with pytest.raises(PlannerInputError, match="did you mean.*h100"):
        reg.get("h1000")


def test_missing_precision_is_a_clear_error(reg):
    with pytest.raises(PlannerInputError, match="no dense fp8"):
        reg.get("a100").peak_flops_per_s("fp8")


def test_user_file_overrides_and_adds(tmp_path, reg):
    f = tmp_path / "hw.toml"
    f.write_text(
        """
[h100-sxm]
default_mfu = 0.5
[my-chip]
name = "My chip"
bf16_tflops = 100
hbm_gb = 10
hbm_tb_per_s = 1
intra_node_gb_per_s = 50
inter_node_gbit_per_s = 100
devices_per_node = 4
source = "our bench, 2026"
aliases = ["mine"]
"""
    )
    new = reg.with_file(f)
    assert new.get("h100").default_mfu == 0.5
    assert new.get("h100").bf16_flops_per_s == reg.get("h100").bf16_flops_per_s
    assert new.get("MINE").bf16_flops_per_s == pytest.approx(1e14)
    assert reg.get("h100").default_mfu == 0.38  # the original is untouched


def test_user_config_file_is_read(tmp_path, monkeypatch):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "hardware.toml").write_text("[h100-sxm]\ntdp_w = 650\n")
    monkeypatch.setenv("COMPUTE_PLANNER_CONFIG_DIR", str(cfg))
    assert load_registry().get("h100").tdp_w == 650


@pytest.mark.parametrize(
    "body, message",
    [
        ("[x\n", "malformed TOML"),
        ("[h100-sxm]\nbf16_tflops = -1\n", "positive"),
        ("[h100-sxm]\nbf16_tflop = 1\n", "unknown key 'bf16_tflop'.*bf16_tflops"),
        ("[new]\nname = 'n'\n", "is new and lacks"),
        ("[h100-sxm]\ndevices_per_node = 0\n", "positive integer"),
        ("[h100-sxm]\ndefault_mfu = 2\n", r"\(0, 1\]"),
        ("h100 = 3\n", "must be a table"),
    ],
)
def test_bad_user_files_fail_clearly(tmp_path, reg, body, message):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    with pytest.raises(PlannerInputError, match=message):
        reg.with_file(f)


def test_memory_checks_use_the_drivers_capacity_where_it_was_measured(reg, tmp_path):
    # Datasheets print binary capacities in decimal units: NVML reports 81,559 MiB on an
    # "80 GB" H100 (the source is in hardware.toml). The datasheet figure stays as printed.
    h100 = reg.get("h100")
    assert h100.hbm_bytes == pytest.approx(80e9)
    assert h100.memory_capacity_bytes == 81559 * 2**20 and h100.hbm_reported_source
    assert reg.get("b200").memory_capacity_bytes == reg.get("b200").hbm_bytes  # no reading: the datasheet
    # A user who gives a new capacity gets it, not the old reading of another part.
    f = tmp_path / "hw.toml"
    f.write_text("[h100-sxm]\nhbm_gb = 96\n")
    assert reg.with_file(f).get("h100").memory_capacity_bytes == pytest.approx(96e9)
    f.write_text("[h100-sxm]\nhbm_mib_reported = 815590\n")  # a typo, ten times the datasheet
    with pytest.raises(PlannerInputError, match="not within 10 % of 'hbm_gb'"):
        reg.with_file(f)
