"""Typed settings of the Gymnasium and PettingZoo views (the keyword arguments of ``gymnasium.make``).

Every view is a thin layer over one :class:`~e2sim.env.HierarchicalSlicingEnv`: the settings
say which scenario it simulates, which DU (and slice) the learner controls, and how the parts
the learner does not control are driven — the other DUs' slice splits (so their interference on
the learner's DU stays real) and the per-UE scheduling inside slices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from e2sim.config import ScenarioConfig
from e2sim.env import EnvConfig
from e2sim.scenario import load_scenario
from e2sim.yamlfile import format_validation_error
from slicing.slices import SLICE_NAMES

__all__ = [
    "LowRule",
    "ScheduleViewConfig",
    "SettingsError",
    "SplitRule",
    "SplitViewConfig",
    "build_scenario",
    "parse_settings",
]

SplitRule = Literal["equal", "static", "proportional", "random"]
"""How slice shares are chosen for DUs the learner does not control (see ``e2sim.policies``):
K/3 each, the task's fixed ``static_split``, ∝ measured demand, or Dirichlet(1, 1, 1) draws."""

LowRule = Literal["pf", "rr", "uniform"]
"""Per-UE scheduling inside each slice: the node's proportional-fair or round-robin scheduler,
or equal per-UE shares sent as RC ratios (the contract's 'share' mapping with all scores 0)."""


class SettingsError(ValueError):
    """Invalid view settings; the message names the field."""


def _default_env() -> EnvConfig:
    return EnvConfig(low_action="share")


class _ViewBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    scenario: str | ScenarioConfig = Field(
        "paper",
        description="Bundled scenario name (e.g. 'paper'), a scenario YAML path, or a ScenarioConfig.",
    )
    du: int = Field(0, ge=0, description="The DU whose decisions the learner makes (0-based).")
    env: EnvConfig = Field(
        default_factory=_default_env,
        description="Time scales, episode length (low-level steps) and action mapping of the core env.",
    )
    fading: Literal["full", "scheduled"] | None = Field(
        "scheduled",
        description="Override the scenario's fading mode (None keeps it); 'scheduled' is exact for "
        "per-TTI fading and several times faster.",
    )

    @field_validator("env", mode="before")
    @classmethod
    def _merge_env(cls, v: Any) -> Any:
        """A partial mapping overrides single fields of the default (low_action 'share')."""
        if isinstance(v, Mapping):
            return {**_default_env().model_dump(), **v}
        return v


_T = TypeVar("_T", bound=_ViewBase)


class SplitViewConfig(_ViewBase):
    """``metahrl/SliceSplit-v0`` (one DU) and the PettingZoo env (all DUs): one step is one
    high-level decision (``env.high_period_steps`` low-level steps, 100 ms by default)."""

    others: SplitRule = Field(
        "equal", description="Slice split of the DUs the learner does not control (interferers)."
    )
    low: LowRule = Field("pf", description="Per-UE scheduling inside slices, on every DU.")

    @model_validator(mode="after")
    def _whole_windows(self) -> SplitViewConfig:
        p, n = self.env.high_period_steps, self.env.episode_steps
        if n % p:
            raise ValueError(
                f"env.episode_steps ({n}) must be a multiple of env.high_period_steps ({p}): "
                "an episode is a whole number of high-level decisions"
            )
        return self


class ScheduleViewConfig(_ViewBase):
    """``metahrl/SliceSchedule-v0``: one slice's per-UE shares on one DU, one low-level step
    (10 ms) per step, reward eq. 9."""

    slice: Literal["embb", "mmtc", "urllc"] = Field("embb", description="The slice the learner schedules.")
    split: SplitRule = Field("proportional", description="Slice split of every DU (the learner's too).")

    @property
    def slice_index(self) -> int:
        return SLICE_NAMES.index(self.slice)


def parse_settings(model: type[_T], kwargs: Mapping[str, Any]) -> _T:
    """Validate ``gymnasium.make`` keyword arguments; errors name the field."""
    try:
        return model.model_validate(dict(kwargs))
    except ValidationError as err:
        raise SettingsError(format_validation_error(err, model.__name__)) from None


def build_scenario(cfg: _ViewBase) -> ScenarioConfig:
    """The scenario of ``cfg`` (loaded by name or path) with the fading override; checks ``du``."""
    sc = cfg.scenario if isinstance(cfg.scenario, ScenarioConfig) else load_scenario(cfg.scenario)
    sc = sc.with_fading(cfg.fading)
    if cfg.du >= sc.n_du:
        raise SettingsError(
            f"{type(cfg).__name__}: field 'du': {cfg.du} is not a DU of {sc.name!r} (0..{sc.n_du - 1})"
        )
    return sc
