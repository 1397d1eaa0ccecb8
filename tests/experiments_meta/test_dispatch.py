"""Dispatch: local worker processes (spawn) run runs in dependency order; Ray fails clearly when
it is not installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from experiments.meta.dispatch import ProcessDispatcher, make_dispatcher, run_all
from experiments.meta.preset import load_preset
from experiments.meta.runs import RunContext, RunSpec, dependencies, plan_runs, result_path


def test_plan_puts_dependencies_in_the_plan() -> None:
    preset = load_preset("micro")
    runs = plan_runs(preset)
    assert len(runs) == len(set(runs))
    for spec in runs:
        for dep in dependencies(spec, preset):
            assert dep in runs
    assert dependencies(RunSpec("method", "tl", 0), preset) == [RunSpec("pretrain", "-", 0)]
    assert dependencies(RunSpec("method", "drl", 0), preset) == []
    assert dependencies(RunSpec("method", "maml-adaptive", 0), preset) == []
    pretrained = preset.model_copy(update={"meta": preset.meta.model_copy(update={"init": "pretrain"})})
    assert dependencies(RunSpec("method", "maml-adaptive", 0), pretrained) == [RunSpec("pretrain", "-", 0)]


def test_worker_processes_run_in_dependency_order(tmp_path: Path) -> None:
    preset = load_preset("micro")
    runs = [RunSpec("pretrain", "-", 0), RunSpec("method", "tl", 0), RunSpec("baseline", "equal-pf", 0)]
    ctx = RunContext(preset, str(tmp_path))
    seen: list[tuple[int, int]] = []
    dispatcher = ProcessDispatcher(2)
    try:
        report = run_all(runs, ctx, dispatcher, progress=lambda done, total: seen.append((done, total)))
    finally:
        dispatcher.close()
    assert not report.failed, report.failed
    assert sorted(report.finished) == sorted(r.key for r in runs)
    assert report.finished.index("method/tl/seed0") > report.finished.index("pretrain/-/seed0")
    assert all(result_path(tmp_path, r).is_file() for r in runs)
    assert seen[-1] == (3, 3)


def test_failed_dependency_skips_its_dependents(tmp_path: Path) -> None:
    preset = load_preset("micro").model_copy(update={"train_scenario": "no/such/scenario"})
    runs = [RunSpec("pretrain", "-", 0), RunSpec("method", "tl", 0)]
    report = run_all(runs, RunContext(preset, str(tmp_path)), make_dispatcher(1))
    assert "pretrain/-/seed0" in report.failed
    assert report.failed["method/tl/seed0"].startswith("skipped")


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="Ray is installed here")
def test_ray_missing_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="pip install"):
        make_dispatcher(1, ray_address="auto")
