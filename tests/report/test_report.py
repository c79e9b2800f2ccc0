"""The rich report, rendered to plain text as a terminal would show it."""

from __future__ import annotations

import io

from rich.console import Console

import planner
from planner.report.plan import render_plan


def render(plan, **kw) -> str:
    buf = io.StringIO()
    Console(file=buf, width=120, color_system=None).print(render_plan(plan, **kw))
    return buf.getvalue()


def test_report_lines():
    p = planner.plan(target_loss=2.05, infer_tokens=2e12, law="sardana2024", price_usd_per_gpu_hour=2.0, gpus=256)
    text = render(p)
    assert "Least lifetime compute reaching loss 2.05 on h100-sxm, serving 2T tokens · law sardana2024" in text
    assert f"Plan saves {p.baseline.savings_flops:.2e}".replace("e+", "e") in text
    assert "cost" in text and "Training wall clock on 256 x h100-sxm" in text
    for a in p.assumptions:
        assert a.name in text


def test_report_shows_downstream_error_and_warnings():
    p = planner.plan(budget_flops=1e22, law="gadre2024-c4")
    text = render(p)
    assert "downstream error (17-task)" in text
    assert "warning: extrapolation" in text
    assert "warning:" not in render(p, warnings=False)


def test_plan_renders_itself():
    p = planner.plan(budget_flops=1e21)
    buf = io.StringIO()
    Console(file=buf, width=100, color_system=None).print(p)
    assert "Allocation" in buf.getvalue()
