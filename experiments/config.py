"""Typed training configuration for `metahrl train` (YAML-loadable, every field documented).

A config file is a partial override of :class:`TrainConfig`'s defaults; nested models
(``env``, ``high``, ``low``) are merged field by field, so a file only says what differs::

    steps: 6000
    env: {episode_steps: 1000, low_action: share}
    high: {hidden_sizes: [256, 512, 512], gamma: 0.9}
    low: {hidden_sizes: [64, 64]}

Bundled files live in ``experiments/configs/`` (``paper``, ``tiny``) and can be named without
a path (``--config paper``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from e2sim.config import ScenarioConfig
from e2sim.env import EnvConfig
from e2sim.yamlfile import bundled_names, format_validation_error, read_named_yaml
from xapps.agent import DDPGConfig

__all__ = [
    "ConfigError",
    "TrainConfig",
    "bundled_configs",
    "load_train_config",
    "prepare_scenario",
]


class ConfigError(ValueError):
    """A training config could not be loaded; the message names the file and the field."""


def _default_env() -> EnvConfig:
    return EnvConfig(low_action="share")


class TrainConfig(BaseModel):
    """How `metahrl train` trains one HRL agent per DU (AgentPool) from scratch on a scenario.

    Counts are in low-level env steps (10 ms each at the default time scales) unless noted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(20_000, ge=1, description="Total env steps to train (all DUs step together).")
    env: EnvConfig = Field(
        default_factory=_default_env,
        description="Environment time scales and action mapping. Default low_action = 'share': "
        "per-UE scores are softmax-normalised within the slice into RB shares that the MAC applies "
        "every TTI to the UEs with data (never over the slice budget, K_over = 0, and no RB idles "
        "on an empty queue while another UE of the slice has data). 'simplex' holds fixed RB "
        "counts for the whole low-level step; 'request' lets UEs ask for more than the budget.",
    )
    fading: Literal["full", "scheduled"] | None = Field(
        "scheduled",
        description="Override the scenario's fading mode (None keeps it). 'scheduled' is exact for "
        "per-TTI fading and ~3.5× faster.",
    )
    high: DDPGConfig = Field(default_factory=DDPGConfig, description="High-level (slice split) DDPG.")
    low: DDPGConfig = Field(default_factory=DDPGConfig, description="Each low-level (per-UE) DDPG.")
    low_reward_qos_weight: float = Field(
        0.0,
        ge=0,
        description="w: each slice agent's reward is eq. 9's r_l + w·(QoS_l − 1), QoS_l the slice's "
        "SLA-normalised QoS over its 10 ms step (its term of eq. 8). 0 = eq. 9 alone (the paper). "
        "Eq. 9 scores the minimum UE throughput only: for URLLC and mMTC (small Poisson packets) that "
        "is set by the arrivals, not the scheduler, and it is blind to latency.",
    )
    share_high_experience: bool = Field(
        False,
        description="Each DU's high-level learner also stores the other DUs' high-level transitions "
        "(D× the data; the agents stay separate). A budget measure for scenarios whose DUs all run "
        "the same task, like 'paper'; off = the paper's independent agents.",
    )
    learning_starts: int = Field(
        1000, ge=0, description="Env steps of pure exploration before the first gradient step."
    )
    update_every: int = Field(1, ge=1, description="Env steps between low-level update rounds.")
    updates_per_step: int = Field(
        1, ge=0, description="Gradient steps per low-level learner at each update round."
    )
    high_update_every: int = Field(1, ge=1, description="Env steps between high-level update rounds.")
    high_updates_per_step: int = Field(
        1, ge=0, description="Gradient steps of each high-level learner at each of its rounds."
    )
    eval_every: int = Field(2000, ge=1, description="Env steps between greedy evaluations.")
    eval_steps: int = Field(500, ge=1, description="Env steps of each evaluation (fresh env).")
    eval_seed: int = Field(
        1_000_003, ge=0, description="Env seed of every periodic evaluation (fixed, unlike training)."
    )
    baseline_refs: tuple[str, ...] = Field(
        ("equal-rr", "static-pf", "random"),
        description="Baselines evaluated once like the agent, drawn as reference lines on the curve.",
    )
    checkpoint_every: int = Field(2000, ge=1, description="Env steps between checkpoints.")
    log_every: int = Field(100, ge=1, description="Env steps per row of the training log.")
    threads: int = Field(1, ge=1, description="torch intra-op threads (CPU).")
    device: Literal["cpu", "cuda"] = Field("cpu", description="Where the learners run.")

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.eval_steps < self.env.high_period_steps:
            raise ValueError(
                f"eval_steps ({self.eval_steps}) must cover one high-level window "
                f"({self.env.high_period_steps} steps)"
            )
        return self

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with its checkpoint: everything but the step target and
        the bookkeeping cadences that do not change what is learned."""
        skip = {"steps", "threads", "checkpoint_every"}
        return {k: v for k, v in self.model_dump(mode="json").items() if k not in skip}

    def apply_fading(self, scenario: ScenarioConfig) -> ScenarioConfig:
        return prepare_scenario(scenario, self.fading)


def prepare_scenario(scenario: ScenarioConfig, fading: str | None) -> ScenarioConfig:
    """The scenario with its radio fading mode overridden (None: unchanged)."""
    return scenario.with_fading(fading)


def bundled_configs() -> list[str]:
    """Names of the config files shipped in ``experiments/configs/``."""
    return bundled_names("experiments", "configs")


def config_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> TrainConfig:
    """Validate a (partial) mapping into a :class:`TrainConfig` (nested models merged)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    merged = dict(data)
    defaults = TrainConfig()
    for key in ("env", "high", "low"):  # nested models: a file overrides single fields
        if isinstance(merged.get(key), Mapping):
            merged[key] = {**getattr(defaults, key).model_dump(), **merged[key]}
    try:
        return TrainConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def load_train_config(name_or_path: str | Path | None) -> TrainConfig:
    """Defaults (None), a bundled config by name, or a YAML file."""
    if name_or_path is None:
        return TrainConfig()
    data, source = read_named_yaml(name_or_path, "experiments", "configs", "config", ConfigError)
    return config_from_dict(data, source)
