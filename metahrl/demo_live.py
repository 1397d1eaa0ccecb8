"""How the demo shows itself: a live terminal dashboard (rich) or plain progress lines.

Both take the same inputs — a message now and then (:meth:`Display.say`) and, after every scrape,
a :class:`View` of the system (:meth:`Display.show`). ``PlainDisplay`` writes a line per message
and a progress line every ``progress_s`` seconds (for CI logs and pipes); ``LiveDisplay`` redraws
one table in place and prints the messages above it.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TextIO

from metahrl.demo_report import Observation, task_weight

if TYPE_CHECKING:
    from rich.console import Group

__all__ = ["Display", "LiveDisplay", "PlainDisplay", "View", "open_display"]


@dataclass(frozen=True)
class View:
    """What a display shows after one scrape."""

    obs: Observation
    new_dus: tuple[int, int]
    phase: str  # the last phase reached, e.g. "2 meta-rounds close …"; "" before phase 1
    roundtrip_ms: dict[int, tuple[float, float]] = field(default_factory=dict)  # DU → (p50, p99)
    meta_round: float | None = None

    def role(self, du: int) -> str:
        return "meta-init" if du == self.new_dus[0] else "scratch" if du == self.new_dus[1] else "base"


class Display(Protocol):
    def say(self, wall_s: float, text: str) -> None: ...
    def show(self, view: View) -> None: ...
    def close(self) -> None: ...


def _f(x: float | None, fmt: str = ".2f") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _percent(values: tuple[float, float, float]) -> tuple[float, float, float]:
    return (100 * values[0], 100 * values[1], 100 * values[2])


def _count(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 10_000 else str(n)


def _slices(values: tuple[float, float, float], fmt: str) -> str:
    return "/".join(_f(v, fmt) for v in values)


class PlainDisplay:
    """One line per message; one progress line every ``progress_s`` seconds."""

    def __init__(self, progress_s: float, out: TextIO | None = None) -> None:
        self.progress_s = progress_s
        self.out = out or sys.stderr
        self._next = 0.0

    def say(self, wall_s: float, text: str) -> None:
        self.out.write(f"[{wall_s:6.1f}s] {text}\n")
        self.out.flush()

    def show(self, view: View) -> None:
        if view.obs.wall_s < self._next:
            return
        self._next = view.obs.wall_s + self.progress_s
        o = view.obs
        parts = [f"sim {_f(o.sim_s, '.1f')} s", f"meta v{_f(o.meta_version, '.0f')}"]
        for du, d in sorted(o.dus.items()):
            tag = "" if view.role(du) == "base" else f"({view.role(du)})"
            ack = int(d.controls.get("acknowledged", 0))
            bad = int(sum(v for k, v in d.controls.items() if k != "acknowledged"))
            parts.append(
                f"du{du}{tag} qos {_slices(d.qos, '.2f')} R {_f(d.reward_high, '+.3f')} ctl {ack}ok/{bad}bad"
            )
        self.say(o.wall_s, " | ".join(parts))

    def close(self) -> None:
        self.out.flush()


class LiveDisplay:
    """A rich table redrawn in place on stderr; messages scroll above it."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.live = Live(console=self.console, refresh_per_second=2, transient=False)
        self.live.start()

    def say(self, wall_s: float, text: str) -> None:
        from rich.text import Text

        # plain Text: a message (a child's log tail, say) may hold brackets rich would parse
        self.console.print(Text.assemble((f"[{wall_s:6.1f}s] ", "dim"), text), highlight=False)

    def show(self, view: View) -> None:
        self.live.update(render(view))

    def close(self) -> None:
        self.live.stop()


_ROLE = {"base": "base", "meta-init": "meta", "scratch": "scr"}
_COLUMNS = (
    "DU", "role", "QoS %\ne/m/u", "Mbit/s\ne/m/u", "delay ms\ne/m/u", "PRB %\ne/m/u", "R\nhigh",
    "ctl\nok/bad", "RTT ms\np50/p99", "meta\nv", "task\nweight",
)  # fmt: skip


def render(view: View) -> Group:
    """The dashboard for one view: a header line and one row per DU (fits 80 columns)."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    o = view.obs
    head = Text.assemble(
        ("metahrl demo", "bold"),
        f"  wall {o.wall_s:.0f} s  sim {_f(o.sim_s, '.1f')} s  ",
        (f"meta-version {_f(o.meta_version, '.0f')}", "bold cyan"),
        f"  round {_f(view.meta_round, '.0f')}\nphase {view.phase or '—'}",
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False, padding=0)
    for col in _COLUMNS:
        left = col in ("DU", "role")
        table.add_column(col, justify="left" if left else "right", no_wrap=True, min_width=2 if left else 4)
    for du, d in sorted(o.dus.items()):
        ack = int(d.controls.get("acknowledged", 0))
        bad = int(sum(v for k, v in d.controls.items() if k != "acknowledged"))
        rtt = view.roundtrip_ms.get(du)
        role = view.role(du)
        table.add_row(
            str(du),
            Text(_ROLE[role], style={"meta-init": "green", "scratch": "yellow"}.get(role, "")),
            _slices(_percent(d.qos), ".0f"),
            _slices(d.throughput_mbps, ".0f"),
            _slices(d.latency_ms, ".0f"),
            _slices(_percent(d.prb_share), ".0f"),
            _f(d.reward_high, "+.2f"),
            f"{_count(ack)}/{_count(bad)}",
            "—" if rtt is None else f"{rtt[0]:g}/{rtt[1]:g}",
            _f(d.meta_version, ".0f"),
            _f(task_weight(o.weights, f"du{du}"), ".3f"),
        )
    return Group(head, table)


def open_display(mode: str, progress_s: float) -> Display:
    """``live`` / ``plain`` / ``auto`` (live when stderr is a terminal)."""
    live = mode == "live" or (mode == "auto" and sys.stderr.isatty())
    return LiveDisplay() if live else PlainDisplay(progress_s)
