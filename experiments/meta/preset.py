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
from experiments.meta.budget import Level, LevelBudget, never_ready
from meta_controller.shots import AdaptationConfig
from meta_controller.weights import Normalisation, WeightingScheme
from xapps.agent import DDPGConfig

__all__ = [
    "BASELINE_CHOICES",
    "MAML_SCHEMES",
    "METHODS",
    "METHOD_LABELS",
    "PAPER_WEIGHTING",
    "AdaptConfig",
    "MetaTrainConfig",
    "Method",
    "PresetError",
    "PretrainConfig",
    "ReproducePreset",
    "ScalabilityConfig",
    "SweepConfig",
    "bundled_presets",
    "load_preset",
    "preset_from_dict",
    "resolve_scenario_ref",
]

Method = Literal[
    "drl",
    "tl",
    "mtl",
    "pretrained",
    "maml-uniform",
    "maml-static-var",
    "maml-adaptive",
    "maml-softmax",
    "maml-adaptive-paper",
    "maml-softmax-paper",
    "maml-adaptive-2nd",
]
METHODS: tuple[str, ...] = get_args(Method)
MAML_SCHEMES: dict[str, WeightingScheme] = {
    "maml-uniform": "uniform",
    "maml-static-var": "static-var",
    "maml-adaptive": "softmin",
    "maml-softmax": "softmax",
    "maml-adaptive-paper": "softmin",
    "maml-softmax-paper": "softmax",
    "maml-adaptive-2nd": "softmin",
}
"""Meta-learned methods → task-weighting scheme of the meta-update (SPEC §4)."""
PAPER_WEIGHTING: frozenset[str] = frozenset({"maml-adaptive-paper", "maml-softmax-paper"})
"""Methods that weight by the raw TD variances with T = 1 ("paper as written"), whatever the
preset's ``meta.normalise`` and ``meta.temperature``."""
METHOD_LABELS: dict[str, str] = {"pretrained": "pretrained, not meta-learned"}
"""Report labels of methods whose name alone does not say what they are."""

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
    init: Literal["random", "pretrain"] = Field(
        "random",
        description="Where θ_M starts: random = θ_0 (the run's random initialisation); pretrain = "
        "the mean of the phase-1 agents' parameters (paper §IV-D: phase 2 starts from trained "
        "agents). With pretrain, the 'pretrained' method (that mean, adapted without "
        "meta-learning) is the control that separates meta-learning from pretraining.",
    )
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
    eval_steps: int = Field(500, ge=10, description="Env steps of each greedy evaluation episode.")
    eval_warmup_steps: int = Field(
        0,
        ge=0,
        description="Env steps run before each evaluation episode's counted steps (queues fill "
        "from empty at reset; the warm-up keeps that transient out of the measurement).",
    )
    threshold: float = Field(
        0.95,
        gt=0,
        le=1,
        description="Shots to threshold: the first evaluated shot whose reward reaches this "
        "fraction of the task's best fixed split (split sweep, same seed).",
    )
    spike_factor: float = Field(1.5, gt=1, description="Traffic multiplier of the spike test (+50 %).")


class SweepConfig(_Strict):
    """The split sweep: every fixed slice split of a simplex grid, PF inside slices, evaluated
    like the methods on every training task and new task. It gives each new task's headroom, the
    non-oracle static split (best average over the training tasks) and the shot threshold."""

    enabled: bool = Field(True, description="Run the sweep (needed for shots-to-threshold).")
    divisions: int = Field(
        10, ge=3, le=30, description="Grid step 1/divisions; every share ≥ 1/divisions (36 splits at 10)."
    )
    min_headroom: float = Field(
        0.15,
        ge=0,
        description="A new task is flagged unless its best fixed split beats both the equal split "
        "and the training tasks' best average split by this fraction.",
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
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    frozen: tuple[Level, ...] = Field(
        (),
        description="Levels that never learn in any phase: no updates, no meta-gradients (θ_M "
        "keeps θ_0's weights there), no TD statistics (their weight group falls back to uniform).",
    )
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
        if self.env.ue_slots is not None:
            raise ValueError("env.ue_slots is not read: set the preset's top-level ue_slots")
        if self.adapt.eval_warmup_steps % self.env.high_period_steps:
            raise ValueError(
                f"adapt.eval_warmup_steps ({self.adapt.eval_warmup_steps}) must be a multiple of "
                f"env.high_period_steps ({self.env.high_period_steps}): the counted steps start a window"
            )
        if len(set(self.frozen)) != len(self.frozen) or len(self.frozen) > 1:
            raise ValueError(f"frozen: at most one of 'high', 'low' (got {list(self.frozen)})")
        if "pretrained" in self.methods and self.meta.init != "pretrain":
            raise ValueError("methods: 'pretrained' is the control of meta.init: pretrain (set it)")
        stuck = never_ready(self.learning_budgets())
        if stuck:
            lines = "; ".join(b.explain() for b in stuck)
            raise ValueError(
                f"a learner can never become ready: {lines}. Lower high/low batch_size or "
                "learning_starts (adapt.shots.batch_size in phase 3), or give that phase more episodes"
            )
        return self

    def needs_pretrain(self, method: str) -> bool:
        """Whether `method` starts from phase-1 results (donor, partner, variances or θ_M)."""
        if method in ("tl", "mtl", "maml-static-var", "pretrained"):
            return True
        return method in MAML_SCHEMES and self.meta.init == "pretrain"

    def learning_budgets(self) -> list[LevelBudget]:
        """Every (phase, level) a learner must learn in (`experiments.meta.budget`)."""
        out: list[LevelBudget] = []
        uses_p1 = any(self.needs_pretrain(m) for m in self.methods)
        uses_meta = any(m in MAML_SCHEMES for m in self.methods)
        for level in ("high", "low"):
            if level not in self.frozen:
                out += self._level_budgets(level, uses_p1, uses_meta)
        return out

    def _level_budgets(self, level: Level, uses_p1: bool, uses_meta: bool) -> list[LevelBudget]:
        cfg = self.high if level == "high" else self.low
        period = self.env.high_period_steps

        def per_episode(steps: int) -> int:
            return steps // period if level == "high" else steps

        ep, thr, cap = (
            per_episode(self.env.episode_steps),
            max(cfg.batch_size, cfg.learning_starts),
            cfg.buffer_size,
        )
        m, s = self.meta, self.scalability
        out = []
        if uses_p1:
            out.append(
                LevelBudget("phase 1 (pretrain)", level, "episode", self.pretrain.episodes, ep, thr, cap)
            )
        if uses_meta:
            support = (m.episodes - m.query_episodes) * ep
            out.append(
                LevelBudget("phase 2 (support set)", level, "iteration", m.iterations, support, thr, cap)
            )
            out.append(
                LevelBudget(
                    "phase 2 (query set, fresh each iteration)",
                    level,
                    "iteration",
                    1,
                    m.query_episodes * ep,
                    1,
                    cap,
                )
            )
        adapt_thr = max(self.adapt.shots.batch_size, cfg.learning_starts)
        per_shot = self.adapt.shots.episodes_per_shot * ep
        out.append(
            LevelBudget(
                "phase 3 (adaptation)", level, "shot", self.adapt_iterations, per_shot, adapt_thr, cap
            )
        )
        if s.enabled:
            scale = (s.episodes - 1) * per_episode(s.episode_steps)
            out.append(
                LevelBudget(
                    "scalability", level, "iteration", s.iterations, scale, thr, min(cap, s.buffer_size)
                )
            )
        return out

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

_NESTED = ("env", "high", "low", "pretrain", "meta", "adapt", "scalability", "sweep")


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
