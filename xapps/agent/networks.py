"""Actor and critic MLPs (paper §VII-A: three hidden layers 256-512-512, tanh).

Weights are initialised from an explicit `torch.Generator`, never the global RNG, so an agent built
with a given seed is the same agent whatever else the process has drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["Activation", "Actor", "Critic", "init_uniform_", "mlp"]

Activation = Literal["tanh", "relu"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: Activation) -> list[nn.Module]:
    """Layers ``Linear, act, …, Linear`` of widths ``in_dim → hidden… → out_dim``."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), _ACTIVATIONS[activation]()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return layers


class Actor(nn.Sequential):
    """Deterministic policy μ(s): observation → action in [-1, 1]^act_dim (tanh output).

    A plain `nn.Sequential`, so parameters are named ``0.weight``, ``2.weight``, … .
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], activation: Activation) -> None:
        super().__init__(*mlp(obs_dim, hidden, act_dim, activation), nn.Tanh())

    def forward(self, input: Tensor) -> Tensor:
        return _layers_forward(self, input)


class Critic(nn.Sequential):
    """Action value Q(s, a): concatenated (observation, action) → scalar, shape (batch,)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int], activation: Activation) -> None:
        super().__init__(*mlp(obs_dim + act_dim, hidden, 1, activation))

    def forward(self, obs: Tensor, action: Tensor) -> Tensor:  # type: ignore[override]
        return _layers_forward(self, torch.cat([obs, action], dim=-1)).squeeze(-1)


def _layers_forward(layers: nn.Sequential, x: Tensor) -> Tensor:
    """``nn.Sequential.forward`` calling each layer's ``forward`` directly: the same operations
    without ``Module.__call__``'s per-layer bookkeeping (hooks, of which these layers have none)
    — a quarter of a batch-1 actor's time on CPU."""
    for layer in layers._modules.values():
        x = layer.forward(x)
    return x


@torch.no_grad()
def init_uniform_(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default `nn.Linear` init, U(±1/√fan_in) for weight and bias, from `generator`."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=generator)
            if layer.bias is not None:
                layer.bias.uniform_(-bound, bound, generator=generator)
