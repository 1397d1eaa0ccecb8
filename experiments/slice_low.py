"""What schedules inside slices while a high-level baseline learner splits them (``--low``).

``pf`` / ``rr`` / ``uniform`` are the fixed rules of the Gymnasium views
(:class:`~metahrl_gym.core.RuleLow`). ``ckpt:PATH`` — a ``metahrl train`` run directory or its
``checkpoint.pt`` — runs that checkpoint's slice agents (the low level of our HRL agent,
trained) on every DU: greedy (μ(s), no noise) and frozen, through the same greedy act as
``metahrl eval`` (:class:`~experiments.policy.GreedyLow` over :class:`~xapps.agent.GreedyPool`).
Only the checkpoint's high level is left out: the learner splits.

The checkpoint must fit the run: one agent per DU of the scenario, the env's low-level
observation size (UE slots), and the ``low_action`` mapping and ``low_period_ttis`` the agents
were trained with. A baseline run records the checkpoint's path and SHA-256 (``baseline.json``);
evaluating the run later with a changed checkpoint file is refused.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

from e2sim.config import ScenarioConfig
from e2sim.env import EnvConfig, HierarchicalSlicingEnv
from experiments.checkpoint import CheckpointError, resolve_checkpoint
from experiments.evaluate import load_pool
from experiments.policy import GreedyLow
from metahrl_gym.core import LowDriver, RuleLow
from metahrl_gym.settings import LowRule
from xapps.agent import AgentPool

__all__ = [
    "CKPT_PREFIX",
    "LOW_HELP",
    "LOW_RULES",
    "LowError",
    "LowSpec",
    "SliceLow",
    "argparse_low",
    "parse_low",
]

CKPT_PREFIX = "ckpt:"
LOW_RULES: tuple[str, ...] = get_args(LowRule)
LOW_HELP = (
    "per-UE scheduling inside slices: pf (default, the node's scheduler), rr, uniform, or "
    "ckpt:PATH (the slice agents of a `metahrl train` run directory or checkpoint file, greedy)"
)
# What must match between the env the slice agents trained in and the run's env.
_ENV_FIELDS = ("low_action", "low_period_ttis")


class LowError(ValueError):
    """A ``--low`` value that is malformed or does not fit the run; the message starts with it."""


@dataclass(frozen=True)
class LowSpec:
    """A parsed ``--low``: a fixed rule, or a checkpoint file (resolved, absolute)."""

    rule: LowRule | None = None
    checkpoint: Path | None = None

    def __str__(self) -> str:
        return f"{CKPT_PREFIX}{self.checkpoint}" if self.checkpoint is not None else str(self.rule)


def parse_low(text: str) -> LowSpec:
    """``pf`` | ``rr`` | ``uniform`` | ``ckpt:PATH`` (the checkpoint file must exist)."""
    if text in LOW_RULES:
        return LowSpec(rule=cast(LowRule, text))
    if not text.startswith(CKPT_PREFIX):
        raise LowError(f"{text!r}: expected one of {', '.join(LOW_RULES)} or ckpt:PATH")
    raw = text.removeprefix(CKPT_PREFIX)
    if not raw:
        raise LowError(f"{text!r}: ckpt: needs a run directory or checkpoint file")
    try:
        return LowSpec(checkpoint=resolve_checkpoint(Path(raw)).resolve())
    except CheckpointError as exc:
        raise LowError(f"{text}: {exc}") from None


def argparse_low(text: str) -> LowSpec:
    """:func:`parse_low` as an argparse ``type`` (argparse then names the flag)."""
    try:
        return parse_low(text)
    except LowError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SliceLow:
    """A :class:`LowSpec` ready to drive envs of ``scenario`` with ``env_cfg``: the checkpoint is
    loaded once and checked against them (:class:`LowError` naming the value otherwise).
    ``sha256``: the digest the checkpoint file must have (a recorded run's)."""

    def __init__(
        self, spec: LowSpec, scenario: ScenarioConfig, env_cfg: EnvConfig, *, sha256: str | None = None
    ) -> None:
        self.spec = spec
        self.pool: AgentPool | None = None
        self.checkpoint_meta: dict[str, Any] = {}
        if spec.checkpoint is not None:
            self._load(spec.checkpoint, scenario, env_cfg, sha256)

    @classmethod
    def from_meta(cls, meta: dict[str, Any], scenario: ScenarioConfig, env_cfg: EnvConfig) -> SliceLow:
        """The low level a baseline run recorded (``baseline.json``)."""
        spec = parse_low(str(meta["low"]))
        sha = meta.get("low_checkpoint", {}).get("sha256") if spec.checkpoint is not None else None
        return cls(spec, scenario, env_cfg, sha256=sha)

    def _load(self, path: Path, scenario: ScenarioConfig, env_cfg: EnvConfig, sha256: str | None) -> None:
        digest = _sha256(path)
        if sha256 is not None and digest != sha256:
            raise LowError(f"{self.spec}: the checkpoint changed since the run trained (SHA-256 differs)")
        try:
            pool, meta = load_pool(path)
        except CheckpointError as exc:
            raise LowError(f"{self.spec}: {exc}") from None
        env = HierarchicalSlicingEnv(scenario, env_cfg)
        agent = pool[0].config
        if len(pool) != env.n_du or agent.obs_low_dim != env.obs_low_dim:
            raise LowError(
                f"{self.spec}: slice agents for {len(pool)} DUs / low obs {agent.obs_low_dim}, but "
                f"scenario {scenario.name!r} has {env.n_du} DUs / low obs {env.obs_low_dim}"
            )
        trained = EnvConfig.model_validate(meta["config"]["env"])
        differ = [f for f in _ENV_FIELDS if getattr(trained, f) != getattr(env_cfg, f)]
        if differ:
            got = ", ".join(f"{f} {getattr(trained, f)!r} (run: {getattr(env_cfg, f)!r})" for f in differ)
            raise LowError(f"{self.spec}: the slice agents were trained with {got}")
        self.pool = pool
        self.checkpoint_meta = {"path": str(path), "sha256": digest, "seed": meta.get("seed")}

    def driver(self, env: HierarchicalSlicingEnv) -> LowDriver:
        """A fresh driver for `env` (the checkpoint's agents are shared, never changed)."""
        if self.pool is not None:
            return GreedyLow(self.pool)
        assert self.spec.rule is not None
        return RuleLow(self.spec.rule, env)

    def view_settings(self) -> dict[str, Any]:
        """Keyword arguments of a split view (``low``, and ``low_driver`` for a checkpoint)."""
        if self.pool is None:
            return {"low": self.spec.rule}
        return {"low": "pf", "low_driver": GreedyLow(self.pool)}  # "pf" is unused: the driver acts

    def meta(self) -> dict[str, Any]:
        """What ``baseline.json`` records: ``low`` and, for a checkpoint, ``low_checkpoint``."""
        out: dict[str, Any] = {"low": str(self.spec)}
        if self.checkpoint_meta:
            out["low_checkpoint"] = dict(self.checkpoint_meta)
        return out
