"""`metahrl reproduce` end to end on the micro preset: report, figures, results.json, resume,
--new-tasks, the manifest guard, and the CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from experiments.meta import sb3_scratch
from experiments.meta.figures import FIGURES
from experiments.meta.metatrain import MetaLearner
from experiments.meta.pipeline import ReproduceOptions, reproduce
from experiments.meta.preset import PresetError, ReproducePreset, load_preset
from experiments.meta.runs import RunContext, RunSpec, execute_run, load_result, plan_runs, result_path
from metahrl.cli import main

RESULT_KEYS = {
    "meta",
    "fig4",
    "fig5",
    "distributions",
    "fig8",
    "table2",
    "table3",
    "extended",
    "separation",
    "claims",
    "task_weights",
    "scratch",
    "sweep",
    "threshold_shots",
    "init_check",
    "weight_entropy",
}


@pytest.fixture(scope="module")
def micro() -> ReproducePreset:
    return load_preset("micro")


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory: pytest.TempPathFactory, micro: ReproducePreset) -> Path:
    out = tmp_path_factory.mktemp("micro")
    _, report = reproduce(micro, ReproduceOptions(out, jobs=1, estimate=False))
    assert not report.failed, report.failed
    return out


def test_micro_writes_report_figures_and_results(micro_run: Path, micro: ReproducePreset) -> None:
    report = (micro_run / "report.md").read_text(encoding="utf-8")
    for heading in ("Claims of the paper", "Fig. 4", "Fig. 9", "Table 2", "Table 3", "traffic spike"):
        assert heading in report
    assert "After pretraining: trained HRL vs fixed splits" in report
    for name, _ in FIGURES.values():
        assert (micro_run / name).stat().st_size > 1000
    results = json.loads((micro_run / "results.json").read_text(encoding="utf-8"))  # strict JSON (no NaN)
    assert set(results) >= RESULT_KEYS
    assert set(results["fig4"]["methods"]) == set(micro.methods)
    trained = results["trained_vs_equal"]  # one row per training task, every seed paired
    assert len(trained) == 2 and all(r["trained"]["n"] == micro.seeds for r in trained.values())
    assert set(results["fig4"]["baselines"]) == set(micro.baselines)
    assert results["fig4"]["shots"] == micro.curve_shots()
    n_seeds = results["fig4"]["methods"]["drl"]["0"]["n"]
    assert n_seeds == micro.seeds
    assert {r["method"] for r in results["table3"]} == {m for m in micro.methods if m.startswith("maml")}
    assert [r["size"] for r in results["table2"]] == ["2x4", "3x6"]
    verdicts = {c["verdict"] for c in results["claims"]}
    assert verdicts <= {
        "reproduced",
        "differs",
        "not reproduced",
        "inconclusive",
        "not measured",
        "not measurable",
    }
    # the micro preset saturates the reward (R_h = 3 in every window): no reward comparison can
    # show anything, so none may get a verdict (issue 14)
    by_name = {c["claim"]: c for c in results["claims"]}
    assert by_name["adaptive vs DRL, cumulative reward"]["verdict"] == "not measurable"
    assert by_name["adaptive vs DRL, cumulative reward"]["saturated"]
    # the sweep ran on the new task and the θ_M check on the training tasks, for every MAML method
    assert set(results["sweep"]["tasks"]) == {"newtask-tiny"}
    assert set(results["init_check"]) == {m for m in micro.methods if m.startswith("maml")}
    assert "phase 3 (adaptation), high level: first update from shot 4 of 5" in report
    # comparisons paired per task as well as pooled, against the non-oracle static split too
    sep = results["separation"]
    assert set(sep["per_task"]) == {"newtask-tiny"} and "static-train" in sep["reference"]
    assert "oracle split (static-pf" in report
    assert "newtask-tiny" in results["distributions"]["fig9"]


def test_rerun_skips_finished_runs(micro_run: Path, micro: ReproducePreset) -> None:
    paths = [result_path(micro_run, r) for r in plan_runs(micro)]
    before = {p: p.stat().st_mtime_ns for p in paths}
    _, report = reproduce(micro, ReproduceOptions(micro_run, jobs=1, estimate=False))
    assert report.finished == [] and len(report.skipped) == len(paths)
    assert {p: p.stat().st_mtime_ns for p in paths} == before


def test_interrupted_run_resumes_only_what_is_missing(micro_run: Path, micro: ReproducePreset) -> None:
    victim = result_path(micro_run, plan_runs(micro)[-1])
    victim.unlink()  # as if killed before this run finished
    _, report = reproduce(micro, ReproduceOptions(micro_run, jobs=1, estimate=False))
    assert report.finished == [plan_runs(micro)[-1].key]
    assert victim.is_file()


def test_out_dir_of_another_preset_is_refused(micro_run: Path, micro: ReproducePreset) -> None:
    other = micro.model_copy(update={"seeds": 3})
    with pytest.raises(PresetError, match="different preset"):
        reproduce(other, ReproduceOptions(micro_run, jobs=1, estimate=False))


USER_TASK = """
name: my-site
description: A user's own new task.
n_du: 1
radio: {fading: scheduled}
tasks:
  mine:
    embb: {n_ues: 3, rate_mbps: [15.0, 20.0]}
    mmtc: {n_ues: 1}
    urllc: {n_ues: 1}
assignment: [mine]
"""


def test_new_tasks_from_a_user_file_via_cli(tmp_path: Path) -> None:
    task = tmp_path / "my_site.yaml"
    task.write_text(USER_TASK, encoding="utf-8")
    preset = tmp_path / "tiny.yaml"
    base = load_preset("micro").model_dump(mode="json")
    base |= {
        "methods": ["drl", "maml-adaptive"],
        "baselines": ["equal-pf"],
        "scalability": {"enabled": False},
    }
    preset.write_text(json.dumps(base), encoding="utf-8")  # JSON is YAML
    out = tmp_path / "out"
    args = [
        "reproduce",
        "--preset",
        str(preset),
        "--out",
        str(out),
        "--jobs",
        "1",
        "--no-estimate",
        "--no-progress",
        "--new-tasks",
        str(task),
    ]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    names = [t[0] for t in results["meta"]["new_tasks"]]
    assert names == ["newtask-tiny", "my-site"]
    assert "my-site" in (out / "report.md").read_text(encoding="utf-8")
    run = json.loads(result_path(out, plan_runs(load_preset(preset))[2]).read_text(encoding="utf-8"))
    assert [t["task"] for t in run["tasks"]] == ["newtask-tiny", "my-site"]


def test_cli_rejects_unknown_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--preset", "no-such-preset", "--no-progress"]) == 2
    assert "unknown preset" in capsys.readouterr().err


def test_maml_run_resumes_from_its_meta_initialisation(
    micro_run: Path, micro: ReproducePreset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MAML-HRL run killed during adaptation restarts from the saved θ_M: no meta-training."""
    spec = RunSpec("method", "maml-adaptive", micro.first_seed)
    path = result_path(micro_run, spec)
    before = json.loads(path.read_text(encoding="utf-8"))
    assert path.with_suffix(".theta.pt").is_file()
    path.unlink()

    def no_meta_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("meta-training ran again although θ_M was saved")

    monkeypatch.setattr(MetaLearner, "run", no_meta_training)
    execute_run(spec, RunContext(micro, str(micro_run)))
    after = json.loads(path.read_text(encoding="utf-8"))
    assert after["meta"] == before["meta"]
    assert after["tasks"] == before["tasks"]  # same θ_M, same seeds: the same adaptation


def _finite_cis(row: dict[str, Any]) -> list[float]:
    cis = [row[k] for k in ("gradient_steps", "cumulative_reward", "normalised_reward", "latency_ms", "jain")]
    cis += [*row["qos"].values(), *row["vs"].values()]
    return [float(ci[part]) for ci in cis for part in ("mean", "lo", "hi")]


@pytest.mark.skipif(not sb3_scratch.sb3_available(), reason="the sb3 extra is not installed")
def test_report_has_an_sb3_td3_from_scratch_row(micro_run: Path, micro: ReproducePreset) -> None:
    """SB3 TD3 trained from scratch on every new task for DRL's env steps, evaluated on every seed."""
    results = json.loads((micro_run / "results.json").read_text(encoding="utf-8"))
    scratch = results["scratch"]
    rows = {r["policy"]: r for r in scratch["rows"]}
    assert list(rows) == ["drl", "sb3-td3"] and scratch["note"] is None
    steps = micro.adapt_iterations * micro.adapt.shots.episodes_per_shot * micro.env.episode_steps
    assert scratch["env_steps"] == steps == rows["sb3-td3"]["env_steps"]
    td3 = rows["sb3-td3"]
    assert td3["cumulative_reward"]["n"] == micro.seeds
    assert all(math.isfinite(x) for x in _finite_cis(td3)), td3
    assert set(td3["vs"]) == {"drl", "maml-adaptive"}
    run = load_result(micro_run, RunSpec("learner", "sb3-td3", micro.first_seed))
    assert [t["task"] for t in run["tasks"]] == ["newtask-tiny"]
    assert run["tasks"][0]["env_steps"] == steps
    report = (micro_run / "report.md").read_text(encoding="utf-8")
    assert "| SB3 TD3 from scratch | 50 |" in report and sb3_scratch.UNAVAILABLE not in report


def test_sb3_row_is_absent_with_a_note_when_sb3_is_unavailable(
    micro_run: Path, micro: ReproducePreset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(micro_run, out)
    monkeypatch.setattr(sb3_scratch, "sb3_available", lambda: False)
    assert all(r.kind != "learner" for r in plan_runs(micro))
    results, report = reproduce(micro, ReproduceOptions(out, jobs=1, estimate=False))
    assert report.finished == [] and not report.failed  # nothing new to run, nothing failed
    assert [r["policy"] for r in results["scratch"]["rows"]] == ["drl"]
    assert results["scratch"]["note"] == sb3_scratch.UNAVAILABLE
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "| SB3 TD3 from scratch |" not in text
    assert [line for line in text.splitlines() if "SB3 TD3 from scratch" in line] == [sb3_scratch.UNAVAILABLE]
