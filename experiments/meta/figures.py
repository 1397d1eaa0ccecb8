"""The report's figures (PNG, matplotlib Agg), drawn from the numbers of `aggregate.build_results`.

Every curve is a mean over seeds with its 95 % CI as a shaded band; every bar has its CI as an
error bar; CDFs are mean quantile functions with the CI of each quantile as a band.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.meta.aggregate import KPI_LABELS, SLICES

__all__ = ["FIGURES", "draw_all"]

_LABELS = {
    "drl": "DRL (scratch)",
    "tl": "TL",
    "mtl": "MTL",
    "maml-uniform": "MAML-HRL (uniform)",
    "maml-static-var": "MAML-HRL (static-var)",
    "maml-adaptive": "Adaptive MAML-HRL (softmin)",
    "maml-softmax": "MAML-HRL (softmax)",
    "maml-adaptive-2nd": "Adaptive MAML-HRL (2nd order)",
    "maml-adaptive-paper": "Adaptive MAML-HRL (raw, T = 1)",
    "maml-softmax-paper": "MAML-HRL (softmax, raw, T = 1)",
    "pretrained": "pretrained, not meta-learned",
    "static-pf": "oracle split (static-pf)",
    "static-rr": "oracle split (static-rr)",
}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(name: str) -> str:
    return _LABELS.get(name, name)


def _color(names: Sequence[str], name: str) -> str:
    return f"C{list(names).index(name) % 10}"


def _finite(xs: Sequence[Any]) -> list[float]:
    return [float(x) if x is not None and math.isfinite(float(x)) else float("nan") for x in xs]


def _band(ax: Any, x: Sequence[float], ci: Sequence[Mapping[str, Any]], color: str, label: str) -> None:
    mean = _finite([c["mean"] for c in ci])
    ax.plot(x, mean, "o-", ms=3, color=color, label=label)
    lo, hi = _finite([c["lo"] for c in ci]), _finite([c["hi"] for c in ci])
    ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    _plt().close(fig)


def fig4(results: Mapping[str, Any], path: Path) -> None:
    plt, f4 = _plt(), results["fig4"]
    names = list(f4["methods"])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.8))
    for m, by_shot in f4["methods"].items():
        _band(ax, f4["shots"], [by_shot[str(k)] for k in f4["shots"]], _color(names, m), _label(m))
    for i, (b, ci) in enumerate(f4["baselines"].items()):
        ax.axhline(
            ci["mean"], ls="--", lw=1, color=f"C{(len(names) + i) % 10}", label=f"{_label(b)} (classical)"
        )
    ax.set(
        xlabel="adaptation iterations on the new tasks (shots)",
        ylabel="cumulative reward Σ R_h per DU",
        title="(a) new tasks: greedy evaluation after k shots",
    )
    for m, curve in f4["meta_training"].items():
        _band(bx, list(range(1, len(curve) + 1)), curve, _color(names, m), _label(m))
    bx.set(
        xlabel="meta-training iterations",
        ylabel="mean per-DU Σ R_h of θ_M's episodes (exploring)",
        title="(b) meta-training on the training tasks",
    )
    for a in (ax, bx):
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    _save(fig, path)


def fig5(results: Mapping[str, Any], path: Path) -> None:
    plt, f5 = _plt(), results["fig5"]
    names = [k for k, v in f5["values"].items() if v]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.boxplot([[x for x in f5["values"][n] if x is not None] for n in names], showmeans=True)
    ax.set_xticks(range(1, len(names) + 1), [_label(n) for n in names], rotation=25, ha="right", fontsize=8)
    ax.set(
        ylabel="cumulative reward Σ R_h per DU",
        title=f"Cumulative reward after {f5['shot']} shots "
        "(one point per seed × new task; classical schedulers: no adaptation)",
    )
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)


def _cdf_row(
    axes: Sequence[Any], bands: Mapping[str, Any], levels: Sequence[float], xlabels: Sequence[str]
) -> None:
    names = list(bands)
    for sl, ax in enumerate(axes):
        for name, by_slice in bands.items():
            band = by_slice.get(SLICES[sl])
            if band is None:
                continue
            color, ls = _color(names, name), "-" if name.startswith(("maml", "drl", "tl", "mtl")) else ":"
            ax.plot(_finite(band["mean"]), levels, ls, color=color, label=_label(name))
            ax.fill_betweenx(levels, _finite(band["lo"]), _finite(band["hi"]), color=color, alpha=0.12, lw=0)
        ax.set(xlabel=xlabels[sl], ylabel="CDF", title=f"slice {sl + 1}: {SLICES[sl]}")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=6)


def fig6(results: Mapping[str, Any], path: Path) -> None:
    plt, d = _plt(), results["distributions"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    _cdf_row(axes, d["fig6"], d["levels"], KPI_LABELS)
    fig.suptitle(
        "Slice QoS per 100 ms window after adaptation (eq. 5–7; URLLC: lower is better)", fontsize=10
    )
    _save(fig, path)


def fig7(results: Mapping[str, Any], path: Path) -> None:
    plt, d = _plt(), results["distributions"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    _cdf_row(axes, d["fig7"], d["levels"], ["UE throughput per 100 ms window (Mbit/s)"] * 3)
    fig.suptitle("UE throughput per slice after adaptation", fontsize=10)
    _save(fig, path)


def fig8(results: Mapping[str, Any], path: Path) -> None:
    plt, f8 = _plt(), results["fig8"]
    names, shots = list(f8["methods"]), f8["shots"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    width = 0.8 / max(len(names), 1)
    for sl, ax in enumerate(axes):
        for i, m in enumerate(names):
            cis = [f8["methods"][m][SLICES[sl]][str(k)] for k in shots]
            mean = _finite([c["mean"] for c in cis])
            err = [
                [
                    max(a - b, 0) if math.isfinite(a - b) else 0
                    for a, b in zip(mean, _finite([c["lo"] for c in cis]), strict=True)
                ],
                [
                    max(b - a, 0) if math.isfinite(b - a) else 0
                    for a, b in zip(mean, _finite([c["hi"] for c in cis]), strict=True)
                ],
            ]
            xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(shots))]
            ax.bar(xs, mean, width, yerr=err, color=_color(names, m), label=_label(m), capsize=2)
        best = max((ci[SLICES[sl]]["mean"] for ci in f8["baselines"].values()), default=None)
        if best is not None and math.isfinite(best):
            ax.axhline(best, color="k", ls="--", lw=1, label="best classical scheduler")
        ax.set_xticks(range(len(shots)), [f"{k} shots" for k in shots])
        ax.set(ylabel="SLA-normalised slice QoS (0–1)", title=f"slice {sl + 1}: {SLICES[sl]}", ylim=(0, 1.05))
        ax.grid(alpha=0.3, axis="y")
    axes[-1].legend(fontsize=6)
    _save(fig, path)


def fig9(results: Mapping[str, Any], path: Path) -> None:
    plt, d = _plt(), results["distributions"]
    tasks = list(d["fig9"])
    if not tasks:
        return
    fig, axes = plt.subplots(len(tasks), 3, figsize=(15, 3.6 * len(tasks)), squeeze=False)
    for row, task in enumerate(tasks):
        _cdf_row(axes[row], d["fig9"][task], d["levels"], KPI_LABELS)
        axes[row][0].set_title(f"{task} — slice 1: eMBB", fontsize=9)
    _save(fig, path)


FIGURES: dict[str, tuple[str, Callable[[Mapping[str, Any], Path], None]]] = {
    "fig4": ("fig4_cumulative_reward.png", fig4),
    "fig5": ("fig5_five_shot_boxplot.png", fig5),
    "fig6": ("fig6_slice_qos_cdf.png", fig6),
    "fig7": ("fig7_ue_throughput_cdf.png", fig7),
    "fig8": ("fig8_adaptation_vs_shots.png", fig8),
    "fig9": ("fig9_new_tasks_qos_cdf.png", fig9),
}


def draw_all(results: Mapping[str, Any], out_dir: Path) -> dict[str, str]:
    """Draw every figure into `out_dir`; returns figure id → file name."""
    for _, (name, draw) in FIGURES.items():
        draw(results, out_dir / name)
    return {k: v[0] for k, v in FIGURES.items()}
