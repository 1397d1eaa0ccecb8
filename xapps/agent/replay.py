"""Preallocated replay buffer (uniform sampling with replacement, ring overwrite).

Storage is torch tensors allocated once at construction, on the learner's device, so sampling is
one `torch.randint` plus an index per field and yields a ready `Batch`. Buffers for per-UE agents
also keep the UE masks of s and s' (`masked=True`), which the losses use to ignore absent UEs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from xapps.agent.checkpoint import (
    CheckpointError,
    check_keys,
    check_tensor,
    get_int,
    get_mapping,
)

__all__ = ["Batch", "ReplayBuffer"]

ArrayLike = npt.ArrayLike


@dataclass(frozen=True)
class Batch:
    """A minibatch of transitions (s, a, r, s', d), plus UE masks for per-UE agents.

    Shapes: obs/next_obs (B, obs_dim), action (B, act_dim), reward/done (B,) float32,
    mask/next_mask (B, act_dim) bool or None. ``done`` is 1.0 where s' is terminal (no bootstrap).
    """

    obs: Tensor
    action: Tensor
    reward: Tensor
    next_obs: Tensor
    done: Tensor
    mask: Tensor | None = None
    next_mask: Tensor | None = None


_FIELDS = ("obs", "action", "reward", "next_obs", "done")
_MASK_FIELDS = ("mask", "next_mask")


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions; `sample` draws uniformly with replacement."""

    def __init__(
        self,
        capacity: int,
        obs_dim: int,
        act_dim: int,
        *,
        masked: bool = False,
        device: str | torch.device = "cpu",
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity, self.obs_dim, self.act_dim, self.masked = capacity, obs_dim, act_dim, masked
        self.device = torch.device(device)
        dev = self.device
        self.obs = torch.zeros((capacity, obs_dim), dtype=torch.float32, device=dev)
        self.action = torch.zeros((capacity, act_dim), dtype=torch.float32, device=dev)
        self.reward = torch.zeros((capacity,), dtype=torch.float32, device=dev)
        self.next_obs = torch.zeros((capacity, obs_dim), dtype=torch.float32, device=dev)
        self.done = torch.zeros((capacity,), dtype=torch.float32, device=dev)
        self.mask: Tensor | None = None
        self.next_mask: Tensor | None = None
        if masked:
            self.mask = torch.ones((capacity, act_dim), dtype=torch.bool, device=self.device)
            self.next_mask = torch.ones((capacity, act_dim), dtype=torch.bool, device=self.device)
        self.pos = 0  # next row written
        self.size = 0  # rows holding data

    def __len__(self) -> int:
        return self.size

    def _fields(self) -> tuple[str, ...]:
        return _FIELDS + _MASK_FIELDS if self.masked else _FIELDS

    def _storage(self, name: str) -> Tensor:
        tensor = getattr(self, name)
        assert isinstance(tensor, Tensor)
        return tensor

    def add(
        self,
        obs: ArrayLike,
        action: ArrayLike,
        reward: float,
        next_obs: ArrayLike,
        done: bool | float,
        mask: ArrayLike | None = None,
        next_mask: ArrayLike | None = None,
    ) -> None:
        """Append one transition, overwriting the oldest when full."""
        self.add_batch(
            np.asarray(obs)[None],
            np.asarray(action)[None],
            np.asarray([reward]),
            np.asarray(next_obs)[None],
            np.asarray([float(done)]),
            None if mask is None else np.asarray(mask)[None],
            None if next_mask is None else np.asarray(next_mask)[None],
        )

    def add_batch(
        self,
        obs: ArrayLike,
        action: ArrayLike,
        reward: ArrayLike,
        next_obs: ArrayLike,
        done: ArrayLike,
        mask: ArrayLike | None = None,
        next_mask: ArrayLike | None = None,
    ) -> None:
        """Append n transitions (leading axis n) in order; only the last `capacity` are kept."""
        values = {
            "obs": obs, "action": action, "reward": reward, "next_obs": next_obs, "done": done,
        }  # fmt: skip
        if self.masked:
            if mask is None or next_mask is None:
                raise ValueError("a masked replay buffer needs mask and next_mask")
            values |= {"mask": mask, "next_mask": next_mask}
        n = len(np.asarray(reward).reshape(-1))
        rows = (self.pos + np.arange(n)) % self.capacity
        keep = slice(max(0, n - self.capacity), n)  # older rows would be overwritten anyway
        index = torch.from_numpy(rows[keep]).to(self.device)
        for name, value in values.items():
            store = self._storage(name)
            src = torch.as_tensor(np.asarray(value), dtype=store.dtype)
            expected = (n, *store.shape[1:])
            if tuple(src.shape) != expected:
                raise ValueError(f"replay {name}: shape {tuple(src.shape)}, expected {expected}")
            store[index] = src[keep].to(self.device)
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """`batch_size` transitions drawn uniformly with replacement using `generator` (CPU)."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = torch.randint(0, self.size, (batch_size,), generator=generator)
        index = index.to(self.device)
        return Batch(**{name: self._storage(name)[index] for name in self._fields()})

    def state_dict(self) -> dict[str, Any]:
        """Filled rows only (cloned, so a saved view does not drag the whole storage along)."""
        data = {name: self._storage(name)[: self.size].clone().cpu() for name in self._fields()}
        return {"pos": self.pos, "size": self.size, "capacity": self.capacity, "data": data}

    def load_state_dict(self, sd: Any, where: str = "replay") -> None:
        sd = get_mapping(sd, where)
        check_keys(sd, ("pos", "size", "capacity", "data"), where)
        capacity, size, pos = (get_int(sd, k, where) for k in ("capacity", "size", "pos"))
        if capacity != self.capacity:
            raise CheckpointError(f"{where}.capacity: checkpoint {capacity} vs agent {self.capacity}")
        if not 0 <= size <= capacity or not 0 <= pos < capacity:
            raise CheckpointError(f"{where}: size {size} / pos {pos} outside capacity {capacity}")
        data = get_mapping(sd["data"], f"{where}.data")
        check_keys(data, self._fields(), f"{where}.data")
        for name in self._fields():
            store = self._storage(name)
            check_tensor(data[name], f"{where}.data.{name}", (size, *store.shape[1:]), store.dtype)
        for name in self._fields():
            self._storage(name)[:size] = data[name].to(self.device)
        self.size, self.pos = size, pos
