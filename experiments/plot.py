"""The learning curve PNG of a training run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_learning_curve"]


def plot_learning_curve(
    path: Path,
    train_rows: Sequence[Mapping[str, Any]],
    eval_rows: Sequence[Mapping[str, Any]],
    baselines: Mapping[str, float],
    title: str,
) -> None:
    """Mean R_h per high-level window (0–3; eq. 8) against env steps: the training episodes'
    running value, the greedy evaluations, and each baseline's evaluation as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    try:
        xs = [r["step"] for r in train_rows if _finite(r.get("reward_high"))]
        ys = [r["reward_high"] for r in train_rows if _finite(r.get("reward_high"))]
        if xs:
            ax.plot(xs, ys, color="0.65", lw=1, label="training (exploring)")
        ex = [r["step"] for r in eval_rows if _finite(r.get("reward_high_mean"))]
        ey = [r["reward_high_mean"] for r in eval_rows if _finite(r.get("reward_high_mean"))]
        if ex:
            ax.plot(ex, ey, "o-", color="C0", lw=2, label="HRL greedy evaluation")
        for i, (name, value) in enumerate(sorted(baselines.items())):
            ax.axhline(value, ls="--", lw=1, color=f"C{i + 1}", label=name)
        ax.set_xlabel("env steps (10 ms each)")
        ax.set_ylabel("mean R_h per 100 ms window (Σ slice QoS, 0–3)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
