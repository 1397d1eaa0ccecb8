"""TD-error statistics per agent: the σ²_TD that weights tasks in the meta-update (SPEC §4).

Two views of the same stream of TD errors δ = r + γ Q'(s', μ'(s')) − Q(s, a):

- `RunningVariance`: all errors since the start (or the last `reset`), by Welford's algorithm in
  Chan et al.'s batched form — numerically stable in float64 even when |mean| ≫ std.
- `WindowedVariance`: the last W errors (a ring buffer), computed two-pass on demand, which tracks
  a policy that is still changing.

Both are population variances (ddof = 0); with no data they are NaN, which callers must treat as
"unknown" rather than as zero variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from xapps.agent.checkpoint import (
    CheckpointError,
    check_keys,
    check_tensor,
    get_int,
    get_mapping,
)

__all__ = ["RunningVariance", "TDStats", "TDVariance", "WindowedVariance"]


@dataclass(frozen=True)
class TDVariance:
    """TD-error variance of one agent: all errors seen (`running`) and the last W (`windowed`)."""

    running: float
    windowed: float
    count: int  # errors seen by `running`
    window_count: int  # errors currently in the window (≤ W)


class RunningVariance:
    """Welford/Chan running mean and variance in float64."""

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0  # Σ (x − mean)²

    def update(self, values: npt.ArrayLike) -> None:
        """Merge a batch (any shape, flattened) into the running moments."""
        x = np.asarray(values, dtype=np.float64).reshape(-1)
        n = x.size
        if n == 0:
            return
        batch_mean = float(x.mean())
        batch_m2 = float(np.square(x - batch_mean).sum())
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta * delta * self.count * n / total
        self.count = total

    @property
    def variance(self) -> float:
        return self.m2 / self.count if self.count else float("nan")

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, sd: Any, where: str = "running") -> None:
        sd = get_mapping(sd, where)
        check_keys(sd, ("count", "mean", "m2"), where)
        count = get_int(sd, "count", where)
        mean, m2 = sd["mean"], sd["m2"]
        if not isinstance(mean, float) or not isinstance(m2, float) or count < 0 or m2 < 0:
            raise CheckpointError(f"{where}: invalid moments count={count} mean={mean} m2={m2}")
        self.count, self.mean, self.m2 = count, mean, m2


class WindowedVariance:
    """Variance of the last `window` values (ring buffer, two-pass variance when read)."""

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window
        self._buf = np.zeros(window, dtype=np.float64)
        self._pos = 0
        self.count = 0

    def update(self, values: npt.ArrayLike) -> None:
        x = np.asarray(values, dtype=np.float64).reshape(-1)[-self.window :]
        rows = (self._pos + np.arange(x.size)) % self.window
        self._buf[rows] = x
        self._pos = int((self._pos + x.size) % self.window)
        self.count = min(self.count + x.size, self.window)

    def values(self) -> npt.NDArray[np.float64]:
        """The values in the window, oldest first."""
        if self.count < self.window:
            return self._buf[: self.count].copy()
        return np.roll(self._buf, -self._pos)

    @property
    def variance(self) -> float:
        return float(self._buf[: self.count].var()) if self.count else float("nan")

    def state_dict(self) -> dict[str, Any]:
        """Raw ring buffer and write position, so a restored window is bit-identical."""
        buf = torch.from_numpy(self._buf[: self.count].copy())
        return {"window": self.window, "buffer": buf, "pos": self._pos}

    def load_state_dict(self, sd: Any, where: str = "windowed") -> None:
        sd = get_mapping(sd, where)
        check_keys(sd, ("window", "buffer", "pos"), where)
        if get_int(sd, "window", where) != self.window:
            raise CheckpointError(f"{where}.window: checkpoint {sd['window']} vs agent {self.window}")
        buf = check_tensor(sd["buffer"], f"{where}.buffer", dtype=torch.float64)
        pos = get_int(sd, "pos", where)
        count = buf.numel()
        if buf.ndim != 1 or count > self.window or not 0 <= pos < self.window:
            raise CheckpointError(f"{where}: {count} values / pos {pos} do not fit the window")
        if count < self.window and pos != count:
            raise CheckpointError(f"{where}.pos: {pos} but a partly filled window needs {count}")
        self._buf[:] = 0.0
        self._buf[:count] = buf.numpy()
        self._pos, self.count = pos, count


class TDStats:
    """Running and windowed TD-error variance of one agent."""

    def __init__(self, window: int) -> None:
        self.running = RunningVariance()
        self.windowed = WindowedVariance(window)

    def update(self, td_errors: npt.ArrayLike) -> None:
        self.running.update(td_errors)
        self.windowed.update(td_errors)

    def variance(self) -> TDVariance:
        return TDVariance(
            running=self.running.variance,
            windowed=self.windowed.variance,
            count=self.running.count,
            window_count=self.windowed.count,
        )

    def reset(self) -> None:
        self.running = RunningVariance()
        self.windowed = WindowedVariance(self.windowed.window)

    def state_dict(self) -> dict[str, Any]:
        return {"running": self.running.state_dict(), "windowed": self.windowed.state_dict()}

    def load_state_dict(self, sd: Any, where: str = "td_stats") -> None:
        sd = get_mapping(sd, where)
        check_keys(sd, ("running", "windowed"), where)
        running, windowed = RunningVariance(), WindowedVariance(self.windowed.window)
        running.load_state_dict(sd["running"], f"{where}.running")
        windowed.load_state_dict(sd["windowed"], f"{where}.windowed")
        self.running, self.windowed = running, windowed
