"""Typed presets of `metahrl reproduce` (YAML, bundled in ``experiments/meta/presets/``).

A preset fixes everything a reproduction needs: the meta-training scenario (each DU one task), the
new tasks, the network sizes, the budgets of the three phases of Algorithm 1, the seeds, the
methods compared and the scalability study. Every field is documented here; a preset file is a
partial override of these defaults (nested models merged field by field), so a file says only
what differs. Bundled: ``micro`` (tests), ``quick`` (≤ 15 min on 2 CPU cores), ``paper``
(the paper's network sizes and budgets).

Units: an *episode* is ``env.episode_steps`` low-level steps of 10 ms; an *iteration* is one pass
of Algorithm 1's meta-training loop; a *shot* is one adaptation iteration
(:class:`meta_controller.shots.AdaptationConfig`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from e2sim.env import EnvConfig
from e2sim.yamlfile import bundled_names, format_validation_error, read_named_yaml
from meta_controller.shots import AdaptationConfig
from meta_controller.weights import Normalisation, WeightingScheme
from xapps.agent import DDPGConfig

__all__ = [
    "BASELINE_CHOICES",
    "MAML_SCHEMES",
    "METHODS",
    "AdaptConfig",
    "MetaTrainConfig",
    "Method",
    "PresetError",
    "PretrainConfig",
    "ReproducePreset",
    "ScalabilityConfig",
    "bundled_presets",
    "load_preset",
    "preset_from_dict",
    "resolve_scenario_ref",
]

Method = Literal[
    "drl",
    "tl",
    "mtl",
    "maml-uniform",
    "maml-static-var",
    "maml-adaptive",
    "maml-softmax",
    "maml-adaptive-2nd",
]
METHODS: tuple[str, ...] = get_args(Method)
MAML_SCHEMES: dict[str, WeightingScheme] = {
    "maml-uniform": "uniform",
    "maml-static-var": "static-var",
    "maml-adaptive": "softmin",
    "maml-softmax": "softmax",
    "maml-adaptive-2nd": "softmin",
}
"""Meta-learned methods → task-weighting scheme of the meta-update (SPEC §4)."""

BASELINE_CHOICES = ("equal-rr", "equal-pf", "static-rr", "static-pf", "proportional-rr", "proportional-pf")
TASKS_DIR = "tasks"


class PresetError(ValueError):
    """A preset could not be loaded; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PretrainConfig(_Strict):
    """Phase 1 (§IV-D): every training task's HRL agent trained independently, from a shared
    random initialisation θ_0. Gives the TL donors, the MTL partner's experience and the mean TD
    variances of Static-Var."""

    episodes: int = Field(20, ge=1, description="Episodes (all tasks step together).")
    update_every: int = Field(1, ge=1, description="Env steps between update rounds.")
    updates_per_round: int = Field(1, ge=1, description="Gradient steps of every learner per round.")


class MetaTrainConfig(_Strict):
    """Phase 2 (Algorithm 1, lines 2–16): first-order MAML over the training tasks."""

    iterations: int = Field(100, ge=1, description="T: meta-training iterations.")
    episodes: int = Field(
        10, ge=2, description="T_e: episodes each task collects per iteration with θ_M (paper: 10)."
    )
    query_episodes: int = Field(
        1, ge=1, description="Of the T_e episodes, the last ones form the query set B^val (disjoint)."
    )
    inner_steps: int = Field(
        10, ge=1, description="Eq. 11 inner updates of every network per iteration (support minibatches)."
    )
    beta: float = Field(0.05, gt=0, description="β: meta learning rate (plain SGD, eq. 13) of the critics.")
    beta_actor: float | None = Field(
        None,
        gt=0,
        description="β of the actors (None: β). Like DDPG's separate actor/critic learning rates: the "
        "meta-update is then applied in two calls, critics with β, actors with β_actor.",
    )
    task_grad_clip: float | None = Field(
        1.0,
        gt=0,
        description="Each task clips its query gradient to this L2 norm per network before sending "
        "(as the agent clips its own updates); None sends it unclipped.",
    )
    temperature: float = Field(1.0, gt=0, description="T of the softmin/softmax (eq. 16; paper 1).")
    normalise: Normalisation = Field("none", description="Variance normalisation (docs/meta-learning.md).")
    variance: Literal["windowed", "running"] = Field(
        "windowed", description="Which TD-error variance of each learner weights its task."
    )
    second_order_alpha: float = Field(
        1e-3, gt=0, description="α of the plain-SGD inner loop of the second-order ablation."
    )

    @model_validator(mode="after")
    def _check(self) -> MetaTrainConfig:
        if self.query_episodes >= self.episodes:
            raise ValueError(f"query_episodes ({self.query_episodes}) must be < episodes ({self.episodes})")
        return self


class AdaptConfig(_Strict):
    """Phase 3 (Algorithm 1, lines 17–23): adaptation to each new task from each method's init."""

    iterations: int | None = Field(
        None, ge=1, description="T_new: shots of adaptation; None = max(ceil(0.1·T), largest eval shot)."
    )
    shots: AdaptationConfig = Field(default_factory=AdaptationConfig, description="What a shot is.")
    curve_points: int = Field(
        12, ge=2, description="Shots evaluated for the learning curves (always incl. 0, eval_shots, T_new)."
    )
    eval_steps: int = Field(500, ge=10, description="Env steps of each greedy evaluation.")
    spike_factor: float = Field(1.5, gt=1, description="Traffic multiplier of the spike test (+50 %).")
    converge_tolerance: float = Field(
        0.02, gt=0, description="Shots to converge: band (relative) around the final value."
    )


class ScalabilityConfig(_Strict):
    """Table 2: meta-training (adaptive weights) at growing N_DU / N_UE."""

    enabled: bool = Field(True, description="Run the scalability study.")
    sizes: tuple[tuple[int, int], ...] = Field(
        ((7, 30), (15, 100), (20, 150), (30, 200)), description="(N_DU, N_UE per DU); the first is the base."
    )
    iterations: int = Field(60, ge=2, description="Meta-training iterations per size.")
    episodes: int = Field(2, ge=2, description="T_e per iteration.")
    episode_steps: int = Field(100, ge=10, description="Env steps per episode.")
    inner_steps: int = Field(4, ge=1, description="Inner updates per iteration.")
    tolerance: float = Field(0.02, gt=0, description="Convergence band (relative) around the final value.")
    buffer_size: int = Field(
        2000,
        ge=1,
        description="Replay capacity of every learner (30 DUs × 4 learners × 150 UE slots add up).",
    )
    seeds: int | None = Field(None, ge=1, description="Seeds (default: the preset's).")


class ReproducePreset(_Strict):
    """Everything one reproduction runs (see the module docstring)."""

    name: str = Field("custom", description="Preset name (shown in the report).")
    description: str = Field("", description="What the preset is for.")
    seeds: int = Field(3, ge=1, description="Independent seeds of every run.")
    first_seed: int = Field(0, ge=0, description="Seeds are first_seed … first_seed + seeds − 1.")
    train_scenario: str = Field(
        "mixed", description="Meta-training scenario: each DU is one task (bundled name or file)."
    )
    new_tasks: tuple[str, ...] = Field(
        ("paper/newtask_festival", "paper/newtask_smart_factory", "paper/newtask_transit_hub"),
        description="New-task scenarios, never used in meta-training (all DUs run the new task).",
    )
    ue_slots: int = Field(
        90, ge=1, description="U: UE slots per slice of every agent (fixed so θ_M fits every task)."
    )
    env: EnvConfig = Field(
        default_factory=lambda: EnvConfig(low_action="share", episode_steps=1000),
        description="Time scales, episode length, action mapping (ue_slots is set from `ue_slots`).",
    )
    fading: Literal["full", "scheduled"] = Field("scheduled", description="Radio fading mode.")
    high: DDPGConfig = Field(default_factory=DDPGConfig, description="High-level DDPG (paper sizes).")
    low: DDPGConfig = Field(default_factory=DDPGConfig, description="Each low-level DDPG.")
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    meta: MetaTrainConfig = Field(default_factory=MetaTrainConfig)
    adapt: AdaptConfig = Field(default_factory=AdaptConfig)
    scalability: ScalabilityConfig = Field(default_factory=ScalabilityConfig)
    methods: tuple[Method, ...] = Field(
        ("drl", "tl", "mtl", "maml-uniform", "maml-static-var", "maml-adaptive", "maml-softmax"),
        description="Learned methods compared (add maml-adaptive-2nd for second-order MAML).",
    )
    baselines: tuple[str, ...] = Field(
        ("equal-pf", "static-pf", "proportional-pf"), description="Classical schedulers evaluated."
    )

    @model_validator(mode="after")
    def _check(self) -> ReproducePreset:
        bad = [b for b in self.baselines if b not in BASELINE_CHOICES]
        if bad:
            raise ValueError(f"unknown baselines {bad}; choose from {list(BASELINE_CHOICES)}")
        if len(set(self.methods)) != len(self.methods) or not self.methods:
            raise ValueError("methods must be non-empty and distinct")
        if self.adapt.eval_steps < self.env.high_period_steps:
            raise ValueError("adapt.eval_steps must cover one high-level window")
        return self

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    @property
    def adapt_iterations(self) -> int:
        """T_new = 0.1·T (Table 1), raised to the largest reported shot count if smaller."""
        if self.adapt.iterations is not None:
            return self.adapt.iterations
        return max(math.ceil(0.1 * self.meta.iterations), max(self.adapt.shots.eval_shots))

    def curve_shots(self) -> list[int]:
        """Shots at which the adaptation curve is evaluated (roughly log-spaced)."""
        t_new = self.adapt_iterations
        n = min(self.adapt.curve_points, t_new + 1)
        grid = {0, t_new, *(s for s in self.adapt.shots.eval_shots if s <= t_new)}
        grid |= {round((t_new + 1) ** (i / (n - 1))) - 1 for i in range(n)}
        return sorted(grid)


# ---------------------------------------------------------------------------------------------
# loading

_NESTED = ("env", "high", "low", "pretrain", "meta", "adapt", "scalability")


def _merge(defaults: BaseModel, data: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(data)
    for key in _NESTED:
        if isinstance(merged.get(key), Mapping):
            base = getattr(defaults, key).model_dump()
            if key == "adapt" and isinstance(merged[key].get("shots"), Mapping):
                shots = {**base["shots"], **merged[key]["shots"]}
                merged[key] = {**base, **merged[key], "shots": shots}
            else:
                merged[key] = {**base, **merged[key]}
    return merged


def preset_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> ReproducePreset:
    """Validate a (partial) mapping into a preset (nested models merged over the defaults)."""
    if not isinstance(data, Mapping):
        raise PresetError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return ReproducePreset.model_validate(_merge(ReproducePreset(), data))
    except ValidationError as err:
        raise PresetError(format_validation_error(err, source)) from None


def bundled_presets() -> list[str]:
    return bundled_names("experiments.meta", "presets")


def load_preset(name_or_path: str | Path) -> ReproducePreset:
    """A bundled preset by name (``quick``, ``paper``, ``micro``) or a YAML file."""
    data, source = read_named_yaml(name_or_path, "experiments.meta", "presets", "preset", PresetError)
    return preset_from_dict(data, source)


def resolve_scenario_ref(ref: str) -> str:
    """A scenario reference as something `e2sim.scenario.load_scenario` accepts: an existing file,
    a file of ``experiments/meta/tasks/`` (``quick/newtask_festival``), or a bundled scenario name."""
    if Path(ref).is_file():
        return str(Path(ref).resolve())
    bundled = resources.files("experiments.meta") / TASKS_DIR / f"{ref}.yaml"
    if bundled.is_file():
        return str(bundled)
    return ref
