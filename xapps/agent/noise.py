"""Exploration noise for deterministic policies: Gaussian and Ornstein–Uhlenbeck.

Each process owns its `torch.Generator`, so its draws are reproducible and its state (including
the generator) round-trips through `state_dict`.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Protocol

import torch
from torch import Tensor

from xapps.agent.checkpoint import CheckpointError, check_keys, check_tensor, get_mapping

__all__ = ["ActionNoise", "GaussianNoise", "NoiseKind", "OrnsteinUhlenbeckNoise", "make_noise"]

NoiseKind = Literal["gaussian", "ou"]


class ActionNoise(Protocol):
    """What the agent needs from a noise process."""

    kind: NoiseKind
    generator: torch.Generator

    def sample(self) -> Tensor: ...

    def reset(self) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, sd: Any, where: str = "noise") -> None: ...


class GaussianNoise:
    """Independent N(0, σ²) per action dimension and step."""

    kind: NoiseKind = "gaussian"

    def __init__(self, shape: tuple[int, ...], sigma: float, generator: torch.Generator) -> None:
        self.shape, self.sigma, self.generator = shape, sigma, generator

    def sample(self) -> Tensor:
        return self.sigma * torch.randn(self.shape, generator=self.generator)

    def reset(self) -> None:
        """Stateless apart from its generator."""

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rng": self.generator.get_state()}

    def load_state_dict(self, sd: Any, where: str = "noise") -> None:
        sd = get_mapping(sd, where)
        check_keys(sd, ("kind", "rng"), where)
        _check_kind(sd, self.kind, where)
        self.generator.set_state(check_tensor(sd["rng"], f"{where}.rng", dtype=torch.uint8))


class OrnsteinUhlenbeckNoise:
    """Temporally correlated noise (Lillicrap et al. 2016), Euler–Maruyama discretised:

        x ← x + θ (μ − x) dt + σ √dt · N(0, 1)

    Mean-reverting to μ at rate θ; stationary variance σ² dt / (1 − (1 − θ dt)²) ≈ σ² / (2θ) for
    small θ dt; lag-1 autocorrelation 1 − θ dt. `reset` (at episode starts) returns x to x0 = μ.
    """

    kind: NoiseKind = "ou"

    def __init__(
        self,
        shape: tuple[int, ...],
        sigma: float,
        generator: torch.Generator,
        *,
        theta: float = 0.15,
        dt: float = 1.0,
        mu: float = 0.0,
    ) -> None:
        if not 0.0 < theta * dt <= 1.0:
            raise ValueError(f"OU noise needs 0 < theta*dt <= 1, got {theta * dt}")
        self.shape, self.sigma, self.generator = shape, sigma, generator
        self.theta, self.dt, self.mu = theta, dt, mu
        self.x = torch.full(shape, mu)

    def sample(self) -> Tensor:
        eps = torch.randn(self.shape, generator=self.generator)
        self.x = self.x + self.theta * (self.mu - self.x) * self.dt
        self.x = self.x + self.sigma * math.sqrt(self.dt) * eps
        return self.x.clone()

    def reset(self) -> None:
        self.x = torch.full(self.shape, self.mu)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "rng": self.generator.get_state(), "x": self.x.clone()}

    def load_state_dict(self, sd: Any, where: str = "noise") -> None:
        sd = get_mapping(sd, where)
        check_keys(sd, ("kind", "rng", "x"), where)
        _check_kind(sd, self.kind, where)
        x = check_tensor(sd["x"], f"{where}.x", self.shape, torch.float32)
        self.generator.set_state(check_tensor(sd["rng"], f"{where}.rng", dtype=torch.uint8))
        self.x = x.clone()


def _check_kind(sd: Any, kind: str, where: str) -> None:
    if sd["kind"] != kind:
        raise CheckpointError(f"{where}.kind: checkpoint {sd['kind']!r} vs agent {kind!r}")


def make_noise(
    kind: NoiseKind,
    shape: tuple[int, ...],
    sigma: float,
    seed: int,
    *,
    theta: float = 0.15,
    dt: float = 1.0,
) -> GaussianNoise | OrnsteinUhlenbeckNoise:
    """A noise process of `kind` with its own generator seeded by `seed`."""
    generator = torch.Generator().manual_seed(seed)
    if kind == "gaussian":
        return GaussianNoise(shape, sigma, generator)
    if kind == "ou":
        return OrnsteinUhlenbeckNoise(shape, sigma, generator, theta=theta, dt=dt)
    raise ValueError(f"unknown noise kind {kind!r} (expected 'gaussian' or 'ou')")
