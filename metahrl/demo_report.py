"""What the demo records and writes: scraped observations, the summary, report.md, the PNG."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from metahrl.demo_procs import Sample

__all__ = ["DuObs", "Observation", "PhaseMark", "Record", "summarise", "write_outputs"]

SLICES = ("embb", "mmtc", "urllc")
OUTCOMES = ("acknowledged", "failed", "timeout", "disconnected")


@dataclass(frozen=True)
class DuObs:
    """One DU's scraped state at one moment."""

    qos: tuple[float, float, float]
    reward_high: float | None
    controls: dict[str, float]
    meta_version: float | None
    throughput_mbps: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    latency_ms: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    prb_share: tuple[float, float, float] = (math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class Observation:
    """Everything scraped at one moment (``wall_s`` since the demo started)."""

    wall_s: float
    sim_s: float | None
    meta_version: float | None
    dus: dict[int, DuObs]
    weights: dict[str, float] = field(default_factory=dict)  # "du<i>/<group>" → Softmin weight


@dataclass(frozen=True)
class PhaseMark:
    phase: int
    title: str
    wall_s: float
    sim_s: float | None


@dataclass
class Record:
    """The whole run: observations, phase marks and the facts gathered from the children."""

    observations: list[Observation] = field(default_factory=list)
    phases: list[PhaseMark] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def du_obs(samples: list[Sample], du: int) -> DuObs | None:
    """DU ``du``'s values among one xApp's samples (None: the DU has not reported yet)."""
    key = str(du)
    mine = [s for s in samples if s.label("du") == key]

    def per_slice(metric: str, scale: float = 1.0) -> tuple[float, float, float]:
        found = {s.label("slice"): s.value * scale for s in mine if s.name == metric}
        return (found.get("embb", math.nan), found.get("mmtc", math.nan), found.get("urllc", math.nan))

    if not any(s.name == "metahrl_du_slice_qos_ratio" for s in mine):
        return None
    reward = [s.value for s in mine if s.name == "metahrl_du_reward" and s.label("level") == "high"]
    controls = {str(s.label("outcome")): s.value for s in mine if s.name == "metahrl_du_controls_total"}
    version = [s.value for s in mine if s.name == "metahrl_du_meta_version"]
    return DuObs(
        qos=per_slice("metahrl_du_slice_qos_ratio"),
        reward_high=reward[0] if reward else None,
        controls=controls,
        meta_version=version[0] if version else None,
        throughput_mbps=per_slice("metahrl_du_slice_throughput_bytes_per_second", 8e-6),
        latency_ms=per_slice("metahrl_du_slice_latency_seconds", 1e3),
        prb_share=per_slice("metahrl_du_slice_prb_share_ratio"),
    )


def meta_weights(samples: list[Sample] | None) -> dict[str, float]:
    """The meta-controller's last task weights, ``"du<i>/<group>"`` → w."""
    return {
        f"{s.label('du')}/{s.label('group')}": s.value
        for s in samples or []
        if s.name == "metahrl_meta_task_weight"
    }


def roundtrip_percentiles(
    samples: list[Sample], qs: tuple[float, ...] = (0.5, 0.9, 0.99)
) -> dict[str, dict[str, float]]:
    """Per DU, upper bounds of E2 control round-trip percentiles (seconds) from the histogram."""
    out: dict[str, dict[str, float]] = {}
    buckets = [s for s in samples if s.name == "metahrl_du_control_roundtrip_seconds_bucket"]
    for du in sorted({str(s.label("du")) for s in buckets}):
        mine = sorted((float(str(s.label("le"))), s.value) for s in buckets if s.label("du") == du)
        total = mine[-1][1] if mine else 0.0
        if total > 0:
            out[du] = {f"p{round(q * 100)}": next(le for le, c in mine if c >= q * total) for q in qs}
    return out


def meta_version(samples: list[Sample] | None) -> float | None:
    if samples is None:
        return None
    found = [s.value for s in samples if s.name == "metahrl_meta_version"]
    return found[0] if found else None


def _mean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else None


def _phase_windows(rec: Record, end_s: float) -> list[tuple[PhaseMark, float]]:
    marks = sorted(rec.phases, key=lambda m: m.wall_s)
    return [(m, marks[i + 1].wall_s if i + 1 < len(marks) else end_s) for i, m in enumerate(marks)]


def phase_kpis(rec: Record, end_s: float) -> list[dict[str, Any]]:
    """Per phase and DU: mean slice QoS and mean sampled high-level reward."""
    rows = []
    for mark, until in _phase_windows(rec, end_s):
        obs = [o for o in rec.observations if mark.wall_s <= o.wall_s < until]
        dus = sorted({d for o in obs for d in o.dus})
        for du in dus:
            seen = [o.dus[du] for o in obs if du in o.dus]
            row: dict[str, Any] = {"phase": mark.phase, "du": du, "samples": len(seen)}
            for i, name in enumerate(SLICES):
                row[f"qos_{name}"] = _mean([d.qos[i] for d in seen])
            row["reward_high"] = _mean([d.reward_high for d in seen if d.reward_high is not None])
            rows.append(row)
    return rows


def curve(rec: Record, du: int, since_s: float) -> list[tuple[float, float]]:
    """(seconds since ``since_s``, sampled high-level reward) of DU ``du``."""
    return [
        (o.wall_s - since_s, r)
        for o in rec.observations
        if du in o.dus and (r := o.dus[du].reward_high) is not None and o.wall_s >= since_s
    ]


def sim_curve(rec: Record, du: int, since: PhaseMark) -> list[tuple[float, float]]:
    """(simulated seconds since the mark, sampled high-level reward) of DU ``du``."""
    t0 = since.sim_s or 0.0
    return [
        (o.sim_s - t0, r)
        for o in rec.observations
        if du in o.dus
        and (r := o.dus[du].reward_high) is not None
        and o.wall_s >= since.wall_s
        and o.sim_s is not None
    ]


def _halves(points: list[tuple[float, float]]) -> dict[str, float | None]:
    vals = [v for _, v in points]
    half = len(vals) // 2
    return {"mean": _mean(vals), "first_half": _mean(vals[:half]), "second_half": _mean(vals[half:])}


def summarise(rec: Record, end_s: float, new_dus: tuple[int, int]) -> dict[str, Any]:
    """The numbers results.json and --json carry."""
    meta_du, scratch_du = new_dus
    join = next((m for m in rec.phases if m.phase == 3), None)
    since = join.wall_s if join else end_s
    last = rec.observations[-1] if rec.observations else None
    controls = {str(d): o.controls for d, o in last.dus.items()} if last else {}
    versions = [(o.wall_s, float(o.meta_version)) for o in rec.observations if o.meta_version is not None]
    return {
        "phases": [asdict(m) for m in rec.phases],
        "controls_by_du": controls,
        "meta_version_final": versions[-1][1] if versions else None,
        "meta_versions": _changes(versions),
        "phase_kpis": phase_kpis(rec, end_s),
        "weights_final": last.weights if last else {},
        "weights_by_version": weights_by_version(rec),
        "new_dus": {
            "meta_init": {"du": meta_du, **_halves(curve(rec, meta_du, since))},
            "scratch": {"du": scratch_du, **_halves(curve(rec, scratch_du, since))},
        },
        **rec.facts,
    }


def task_weight(weights: dict[str, float], du: str) -> float | None:
    """The mean Softmin weight over parameter groups of the meta-controller's task ``du`` (its DU
    id, e.g. ``du3``; None: not weighted yet)."""
    return _mean([w for key, w in weights.items() if key.split("/")[0] == du])


def _tasks(weights: dict[str, float]) -> list[str]:
    return sorted({key.split("/")[0] for key in weights})


def weights_by_version(rec: Record) -> list[dict[str, Any]]:
    """At each new meta-version: the wall time and each task's mean Softmin weight over groups."""
    out: list[dict[str, Any]] = []
    for o in rec.observations:
        if o.meta_version is None or not o.weights or (out and out[-1]["version"] == o.meta_version):
            continue
        weights = {du: task_weight(o.weights, du) for du in _tasks(o.weights)}
        out.append({"wall_s": o.wall_s, "version": int(o.meta_version), "du": weights})
    return out


def _changes(versions: list[tuple[float, float]]) -> list[dict[str, float]]:
    out: list[dict[str, float]] = []
    for wall, v in versions:
        if not out or out[-1]["version"] != v:
            out.append({"wall_s": wall, "version": v})
    return out


def _plot(rec: Record, summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    join = next((m for m in rec.phases if m.phase == 3), PhaseMark(3, "", 0.0, 0.0))
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(8, 7.5), sharex=False)
    for key, style in (("meta_init", "-"), ("scratch", "--")):
        du = summary["new_dus"][key]["du"]
        pts = sim_curve(rec, du, join)
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, _smooth(list(ys)), style, label=f"DU {du} ({key.replace('_', '-')})")
    ax.set_xlabel("simulated seconds since the join")
    ax.set_ylabel("high-level reward (sampled, smoothed)")
    ax.legend()
    ax.set_title("New DUs: adaptation after joining")
    vs = [(o.wall_s, o.meta_version) for o in rec.observations if o.meta_version is not None]
    if vs:
        ax2.step([w for w, _ in vs], [v for _, v in vs], where="post", color="black", label="meta-version")
    ax2.set_xlabel("wall seconds since the demo started")
    ax2.set_ylabel("meta-version")
    ax3 = ax2.twinx()
    for du in sorted({du for o in rec.observations for du in _tasks(o.weights)}):
        pts = [(o.wall_s, w) for o in rec.observations if (w := task_weight(o.weights, du)) is not None]
        ax3.plot([t for t, _ in pts], [w for _, w in pts], alpha=0.8, label=f"{du} weight")
    ax3.set_ylabel("Softmin task weight (mean over groups)")
    handles = [h for a in (ax2, ax3) for h in a.get_legend_handles_labels()[0]]
    if handles:
        ax2.legend(handles=handles, fontsize="small", loc="upper left")
    ax2.set_title("Meta-versions and each DU's task weight over time")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _smooth(ys: list[float], k: int = 5) -> list[float]:
    return [sum(ys[max(0, i - k + 1) : i + 1]) / len(ys[max(0, i - k + 1) : i + 1]) for i in range(len(ys))]


def _fmt(x: Any) -> str:
    return "—" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def _markdown(summary: dict[str, Any]) -> str:
    lines = [
        "# metahrl demo report",
        "",
        "## Timeline",
        "",
        "| phase | what | wall s | sim s |",
        "|---|---|---|---|",
    ]
    for m in summary["phases"]:
        lines.append(f"| {m['phase']} | {m['title']} | {m['wall_s']:.1f} | {_fmt(m['sim_s'])} |")
    lines += ["", "## Per-phase KPIs (means of scraped samples)", ""]
    lines += [
        "| phase | DU | samples | QoS eMBB | QoS mMTC | QoS URLLC | reward (high) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summary["phase_kpis"]:
        cells = [
            r["phase"],
            r["du"],
            r["samples"],
            r["qos_embb"],
            r["qos_mmtc"],
            r["qos_urllc"],
            r["reward_high"],
        ]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    lines += ["", "## The two new DUs", "", "![adaptation](adaptation.png)", ""]
    lines += ["| | DU | mean reward | first half | second half |", "|---|---|---|---|---|"]
    for key in ("meta_init", "scratch"):
        n = summary["new_dus"][key]
        lines.append(
            f"| {key} | {n['du']} | {_fmt(n['mean'])} | {_fmt(n['first_half'])} | {_fmt(n['second_half'])} |"
        )
    lines += ["", "## E2 control round trip (upper bounds of the histogram's buckets, ms)", ""]
    lines += ["| DU | p50 | p90 | p99 |", "|---|---|---|---|"]
    for du, p in summary.get("roundtrip_s", {}).items():
        lines.append(f"| {du} | " + " | ".join(f"{p[k] * 1e3:g}" for k in ("p50", "p90", "p99")) + " |")
    lines += ["", "## Softmin task weights at the end", "", "| DU/group | weight |", "|---|---|"]
    for key, w in sorted(summary.get("weights_final", {}).items()):
        lines.append(f"| {key} | {w:.3f} |")
    lines += ["", "## Meta-versions", "", "| wall s | version |", "|---|---|"]
    for v in summary["meta_versions"]:
        lines.append(f"| {v['wall_s']:.1f} | {int(v['version'])} |")
    by_version = summary.get("weights_by_version", [])
    dus = sorted({d for v in by_version for d in v["du"]})
    lines += ["", "## Softmin weights over time (each DU's mean over its parameter groups)", ""]
    lines += ["| wall s | version | " + " | ".join(dus) + " |"]
    lines += ["|---|---|" + "---|" * len(dus)]
    for v in by_version:
        cells = [_fmt(v["du"].get(d)) for d in dus]
        lines.append(f"| {v['wall_s']:.1f} | {v['version']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Controls at the end",
        "",
        "```json",
        json.dumps(summary["controls_by_du"], indent=1),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_outputs(rec: Record, summary: dict[str, Any], out: Path) -> None:
    """report.md, adaptation.png, results.json (with every observation)."""
    out.mkdir(parents=True, exist_ok=True)
    _plot(rec, summary, out / "adaptation.png")
    (out / "report.md").write_text(_markdown(summary))
    full = {**summary, "observations": [asdict(o) for o in rec.observations]}
    (out / "results.json").write_text(json.dumps(full, indent=1, default=str))
