"""Statistics of the report and the claims table's verdict logic, on synthetic numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.meta.aggregate import Loaded
from experiments.meta.claims import evaluate_claims, verdict
from experiments.meta.preset import load_preset
from experiments.meta.stats import MeanCI, mean_ci, paired_relative, settling_point


def test_mean_ci_matches_hand_computation() -> None:
    # values 1, 2, 3, 4: mean 2.5, s = sqrt(5/3) = 1.2910, t_{0.975,3} = 3.182
    ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    half = 3.182 * math.sqrt(5 / 3) / 2
    assert ci.mean == pytest.approx(2.5)
    assert (ci.lo, ci.hi) == pytest.approx((2.5 - half, 2.5 + half))
    assert ci.n == 4


def test_mean_ci_edge_cases() -> None:
    assert mean_ci([]).n == 0 and math.isnan(mean_ci([]).mean)
    one = mean_ci([3.0])
    assert one.mean == 3.0 and math.isnan(one.lo)
    assert mean_ci([1.0, float("nan"), 3.0]).n == 2  # NaN entries are dropped


def test_paired_relative_is_per_seed() -> None:
    # seed-wise +10 % and +30 %: mean +20 %
    ci = paired_relative([110.0, 130.0], [100.0, 100.0])
    assert ci.mean == pytest.approx(20.0)
    with pytest.raises(ValueError):
        paired_relative([1.0], [1.0, 2.0])


def test_settling_point() -> None:
    rising = [0.0, 0.5, 0.8, 0.95, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    idx, ok = settling_point(rising, tolerance=0.02)
    assert ok and idx == 4  # first index from which it stays within 2 % of 1.0
    flat = [1.0] * 10
    assert settling_point(flat, 0.02) == (0, True)
    still_moving = list(np.linspace(0.0, 1.0, 10))
    assert settling_point(still_moving, 0.02) == (9, False)


@pytest.mark.parametrize(
    ("kind", "paper", "ci", "expected"),
    [
        # effect: significant, same direction, paper value inside the CI
        ("effect", 4.0, MeanCI(5.0, 3.0, 7.0, 5), "reproduced"),
        # effect: significant, same direction, within a factor 2 though outside the CI
        ("effect", 4.0, MeanCI(7.0, 6.0, 8.0, 5), "reproduced"),
        # effect: significant, same direction, much smaller than claimed
        ("effect", 73.0, MeanCI(5.0, 2.0, 8.0, 5), "differs"),
        # effect: significant the other way
        ("effect", 4.0, MeanCI(-5.0, -7.0, -3.0, 5), "not reproduced"),
        # effect: CI contains 0 and the paper value
        ("effect", 4.0, MeanCI(1.0, -3.0, 5.0, 3), "inconclusive"),
        # effect: CI contains 0 but not the paper value
        ("effect", 73.0, MeanCI(1.0, -3.0, 5.0, 3), "not reproduced"),
        ("below", 5.0, MeanCI(2.0, 1.0, 3.0, 3), "reproduced"),
        ("below", 5.0, MeanCI(8.0, 6.0, 10.0, 3), "not reproduced"),
        ("below", 5.0, MeanCI(4.0, 2.0, 6.0, 3), "inconclusive"),
        ("within", 0.02, MeanCI(0.0, -0.01, 0.01, 3), "reproduced"),
        ("within", 0.02, MeanCI(-0.1, -0.12, -0.08, 3), "not reproduced"),
        ("within", 0.02, MeanCI(0.0, -0.05, 0.05, 3), "inconclusive"),
        ("level", 0.84, MeanCI(0.85, 0.80, 0.90, 3), "reproduced"),
        ("level", 0.84, MeanCI(0.60, 0.55, 0.65, 3), "differs"),
        ("effect", 4.0, MeanCI(5.0, float("nan"), float("nan"), 1), "inconclusive"),
        ("effect", 4.0, None, "not measured"),
        # zero-width CI: every seed gave the same difference (e.g. two saturated arms): no verdict
        ("effect", 4.0, MeanCI(0.0, 0.0, 0.0, 3), "not measurable"),
        # a deterministic level below a bound is still a measurement
        ("below", 5.0, MeanCI(3.0, 3.0, 3.0, 3), "reproduced"),
    ],
)
def test_verdict_rules(kind: str, paper: float, ci: MeanCI | None, expected: str) -> None:
    assert verdict(kind, paper, ci) == expected  # type: ignore[arg-type]


def _fake_method(rewards: dict[int, float], final: str) -> dict[int, dict[str, object]]:
    def task(r: float) -> dict[str, object]:
        ev = {"cumulative_reward": r, "latency_mean_ms": 10.0, "jain": 0.9, "normalised_reward": r / 300}
        return {"task": "t", "evals": {final: ev}, "spike": {"cumulative_reward": 0.97 * r}}

    return {s: {"tasks": [task(r)]} for s, r in rewards.items()}


def test_claims_are_computed_from_results() -> None:
    preset = load_preset("micro")
    final = str(preset.adapt_iterations)
    loaded = Loaded()
    loaded.methods["maml-uniform"] = _fake_method({0: 100.0, 1: 100.0, 2: 100.0}, final)
    loaded.methods["maml-adaptive"] = _fake_method({0: 103.0, 1: 104.0, 2: 105.0}, final)  # +3…+5 %
    loaded.methods["drl"] = _fake_method({0: 80.0, 1: 81.0, 2: 79.0}, final)  # +29…+33 %
    claims = {c.claim: c for c in evaluate_claims(loaded, preset, {"table3": [], "table2": []})}
    vs_uniform = claims["adaptive vs uniform MAML-HRL, cumulative reward"]
    assert vs_uniform.measured is not None and vs_uniform.measured.mean == pytest.approx(4.0)
    assert vs_uniform.verdict == "reproduced"
    assert (
        claims["adaptive vs DRL, cumulative reward"].verdict == "differs"
    )  # ~ +30 %: significant, < half of +73 %
    assert claims["adaptive vs TL, cumulative reward"].verdict == "not measured"
    spike = claims["degradation under a 50 % traffic spike (Adaptive)"]
    assert spike.measured is not None and spike.measured.mean == pytest.approx(3.0)
    assert spike.verdict == "reproduced"


def test_saturated_comparisons_get_no_verdict() -> None:
    """Both arms at the reward's ceiling (normalised 1.0 on every seed) with a spread that would
    otherwise look significant: the comparison is 'not measurable', the unsaturated one is not."""
    preset = load_preset("micro")
    final = str(preset.adapt_iterations)
    loaded = Loaded()
    loaded.methods["maml-adaptive"] = _fake_method({0: 300.0, 1: 301.0, 2: 302.0}, final)
    loaded.methods["maml-uniform"] = _fake_method({0: 300.0, 1: 300.0, 2: 300.0}, final)
    loaded.methods["drl"] = _fake_method({0: 200.0, 1: 201.0, 2: 199.0}, final)
    claims = {c.claim: c for c in evaluate_claims(loaded, preset, {"table3": [], "table2": []})}
    assert claims["adaptive vs uniform MAML-HRL, cumulative reward"].verdict == "not measurable"
    assert claims["adaptive vs DRL, cumulative reward"].verdict != "not measurable"
    assert verdict("effect", 4.0, MeanCI(5.0, 3.0, 7.0, 3), saturated=True) == "not measurable"
