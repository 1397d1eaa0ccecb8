"""The `metahrl` command line.

Each subcommand lives next to the code it drives and exposes two functions:
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their
subcommand runs, so `metahrl --help` stays fast and a missing optional dependency of one
subcommand never breaks the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from metahrl import __version__

# name -> (module, one-line help). The module provides add_arguments() and run().
COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("e2sim.cli", "run the radio/traffic simulator with a classical policy and print KPIs"),
    "train": ("experiments.train_cli", "train the HRL agents (one per DU) from scratch; checkpoints, resume"),
    "eval": ("experiments.eval_cli", "evaluate HRL checkpoints and baselines on K seeds (mean ± CI95)"),
    "reproduce": ("experiments.meta.cli", "reproduce the paper's figures, tables and claims; write a report"),
    "e2sim": ("e2sim.e2_cli", "run the simulator as E2 nodes (one per DU) connected to a near-RT RIC"),
    "xapp": ("metahrl.xapp_cli", "the DU HRL xApp: KPM in, RC slice and per-UE PRB control out"),
    "meta-controller": ("meta_controller.cli", "meta-controller xApp: gRPC rounds, meta-inits, SDL state"),
    "osc-platform": ("osc_platform.cli", "OSC platform stand-in: E2 termination over RMR, submgr, e2mgr"),
    "demo": ("metahrl.demo", "the whole system on loopback: e2sim, DU xApps, meta-controller, a joining DU"),
    "chaos": ("metahrl.chaos", "inject faults one at a time into the running system; recovery and loss"),
}

# `metahrl bench NAME`: name -> (module, help). The module provides add_arguments() and run().
BENCHMARKS: dict[str, tuple[str, str]] = {
    "sim": ("benchmarks.sim", "simulator TTIs/s and memory vs a bare fading+SINR kernel"),
    "e2": ("benchmarks.e2", "E2AP/E2SM codec µs per PDU; 30-UE KPM report vs bare pycrate"),
    "e2sim-scale": ("benchmarks.e2sim_scale", "7-30 DUs × 200 UEs as E2 nodes: real time, CPU, encode, RTT"),
    "meta": ("benchmarks.meta", "meta-update math: TD variance, weights, aggregation vs a plain sum"),
    "meta-service": ("benchmarks.meta_service", "meta-controller rounds over gRPC vs in-process"),
    "xapp": ("benchmarks.xapp", "DU xApp decision and control round-trip latency, learning off/on, vs act()"),
    "learner": ("benchmarks.learner", "DDPG learner gradient steps/s (1 high + 3 low) vs a bare update"),
    "soak": ("benchmarks.soak", "the whole system for minutes: RSS slope, losses, round trip, real time"),
    "fuzz-e2": ("benchmarks.fuzz_e2", "E2 fuzzing of every decoder and the live xApp/e2sim link"),
}


def _add_module_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, module: str, help_: str
) -> None:
    mod = importlib.import_module(module)
    p = subparsers.add_parser(
        name,
        help=help_,
        description=(mod.__doc__ or help_).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mod.add_arguments(p)
    p.set_defaults(_run=mod.run)


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metahrl",
        description=(
            "oran-metahrl: network slicing and RB scheduling with adaptive meta-hierarchical RL "
            "for the O-RAN near-RT RIC."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Only import the module of the subcommand actually requested (plus help text for all).
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_) in COMMANDS.items():
        if name == wanted:
            _add_module_parser(sub, name, module, help_)
        else:
            sub.add_parser(name, help=help_, add_help=False)
    bench = sub.add_parser("bench", help="benchmarks (each prints its figures; --json for one object)")
    bench_sub = bench.add_subparsers(dest="bench", metavar="NAME")
    bench_wanted = None
    if wanted == "bench":
        rest = list(argv[argv.index("bench") + 1 :])
        bench_wanted = next((a for a in rest if not a.startswith("-")), None)
    for name, (module, help_) in BENCHMARKS.items():
        if name == bench_wanted:
            _add_module_parser(bench_sub, name, module, help_)
        else:
            bench_sub.add_parser(name, help=help_, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    args = parser.parse_args(args_list)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        return int(run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
