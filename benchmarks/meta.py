"""Cost of the meta-controller's math at paper network sizes (1 thread by default).

Every DU (task) holds 4 agents — 1 high-level + 3 low-level (one per slice) — each with an actor
and a critic MLP of hidden sizes 256-512-512 (tanh): high obs 12 → act 3, low obs 155 → act 30
(the environment's feature layout at U_max = 30 UE slots, as in ``metahrl bench learner``),
critics take obs + act → 1: about 3.5 M float32 parameters (14 MB) per DU. Measured, as the
median over repetitions (all cases interleaved so that noise hits them alike):

  td_variance   variance of a window of TD errors per agent (default 10k per agent, 4 per DU)
  weights       softmin task weights for the 4 agent groups
  aggregate     weighted sum of all DUs' gradients, named mappings (``weighted_aggregate``)
  aggregate_stacked  the same from a ``GradientStack`` (one gemv)
  aggregate_bf16     the same from a bfloat16 ``GradientStack`` (half the bytes; float32 result)
  meta_step     the first-order meta-update θ_M ← θ_M − β Σ w_g g_g (``meta_update``, per-agent
                weights, finite check), from mappings and from a stack
  sum           a plain, unweighted in-place sum of N flat buffers holding the same bytes
  read          a bare read of those bytes (one ``sum()`` per buffer): the memory roofline

``aggregate_ratio_to_sum`` is the worst (largest) aggregate/sum ratio over the DU counts.
Targets (issue 4, 1 core): aggregate ≤ 10 ms for 7 DUs and ≤ 25 ms for 30 DUs. At 30 DUs the
float32 gradients alone are ~420 MB; a bare read of them on one core takes 14–28 ms on this
project's machines depending on their memory bandwidth at the time, so the 30-DU target is met
by the stack paths only (idle machine, 2026-11-24: float32 stack 17.8 ms, named mappings
27.0 ms, bfloat16 stack 31.8 ms — bfloat16 halves the bytes but its conversion costs more than
it saves when the read is fast; on a slower-memory day it was the only path under 25 ms).
``--alternatives`` also times the designs rejected for the mapping path, and ``--second-order``
first- vs second-order MAML (time and peak memory, each in a fresh process); both feed
``docs/meta-learning.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from itertools import pairwise

import torch

from meta_controller.maml import (
    MetaUpdateConfig,
    first_order_meta_gradient,
    meta_update,
    second_order_meta_gradient,
    weighted_aggregate,
)
from meta_controller.params import GradientStack
from meta_controller.weights import task_weights, td_error_variance

HIDDEN = (256, 512, 512)
HIGH_OBS, HIGH_ACT = 12, 3
LOW_OBS, LOW_ACT = 155, 30
N_SLICES = 3
GROUPS = ("high", *(f"low.{s}" for s in range(N_SLICES)))
TARGETS_MS = {7: 10.0, 30: 25.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=15, help="repetitions per case")
    parser.add_argument("--n-du", type=int, nargs="+", default=[7, 30], help="DU counts (default 7 30)")
    parser.add_argument("--window", type=int, default=10_000, help="TD errors per agent")
    parser.add_argument(
        "--alternatives",
        action="store_true",
        help="also time the rejected designs of the mapping aggregation",
    )
    parser.add_argument(
        "--second-order",
        action="store_true",
        help="also measure first- vs second-order MAML (time, peak memory)",
    )


def mlp_shapes(prefix: str, n_in: int, n_out: int) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of an ``nn.Sequential`` MLP n_in-256-512-512-n_out (tanh between)."""
    dims = (n_in, *HIDDEN, n_out)
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(len(dims) - 1):
        shapes[f"{prefix}.{2 * i}.weight"] = (dims[i + 1], dims[i])
        shapes[f"{prefix}.{2 * i}.bias"] = (dims[i + 1],)
    return shapes


def du_shapes() -> dict[str, tuple[int, ...]]:
    """All actor/critic parameters of one DU's HRL agent (1 high + 3 low agents)."""
    shapes = mlp_shapes("high.actor", HIGH_OBS, HIGH_ACT)
    shapes |= mlp_shapes("high.critic", HIGH_OBS + HIGH_ACT, 1)
    for s in range(N_SLICES):
        shapes |= mlp_shapes(f"low.{s}.actor", LOW_OBS, LOW_ACT)
        shapes |= mlp_shapes(f"low.{s}.critic", LOW_OBS + LOW_ACT, 1)
    return shapes


def _random_params(shapes: dict[str, tuple[int, ...]], gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {k: torch.randn(s, generator=gen) for k, s in shapes.items()}


def _median_ms(cases: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each case in ms; cases interleaved within every repetition."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()  # warm-up
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(ts) for name, ts in times.items()}


def _plain_sum(flats: list[torch.Tensor], out: torch.Tensor) -> torch.Tensor:
    out.copy_(flats[0])
    for f in flats[1:]:
        out.add_(f)
    return out


# Alternatives to the mapping path of ``weighted_aggregate``, kept to back the choice made there.
Named = list[dict[str, torch.Tensor]]


def _alt_per_key(grads: Named, w: list[float]) -> dict[str, torch.Tensor]:
    """One Python-level ``add_`` per key and task."""
    out = {}
    for k in grads[0]:
        acc = grads[0][k] * w[0]
        for g in range(1, len(grads)):
            acc.add_(grads[g][k], alpha=w[g])
        out[k] = acc
    return out


def _alt_foreach(grads: Named, w: list[float]) -> dict[str, torch.Tensor]:
    """One ``_foreach_add_`` over all keys per task (no blocking)."""
    keys = list(grads[0])
    acc = torch._foreach_mul([grads[0][k] for k in keys], w[0])
    for g in range(1, len(grads)):
        torch._foreach_add_(acc, [grads[g][k] for k in keys], alpha=w[g])
    return dict(zip(keys, acc, strict=True))


def _alt_stack_per_key(grads: Named, w: list[float]) -> dict[str, torch.Tensor]:
    """``torch.stack`` the tasks per key, then contract with the weights."""
    wt = torch.tensor(w)
    return {k: torch.tensordot(wt, torch.stack([g[k] for g in grads]), dims=1) for k in grads[0]}


def _alt_concat_first(grads: Named, w: list[float]) -> torch.Tensor:
    """Flatten each task into one buffer (``torch.cat``), then a chain of ``add_``."""
    flats = [torch.cat([t.reshape(-1) for t in g.values()]) for g in grads]
    acc = flats[0] * w[0]
    for g in range(1, len(flats)):
        acc.add_(flats[g], alpha=w[g])
    return acc


def alternatives(n_du: int, repeats: int) -> dict[str, float]:
    """Timings of the rejected mapping-path designs and of ``torch.stack(...).sum(0)``."""
    gen = torch.Generator().manual_seed(n_du)
    grads = [_random_params(du_shapes(), gen) for _ in range(n_du)]
    w = [1.0 / n_du] * n_du
    flats = [torch.cat([t.reshape(-1) for t in g.values()]) for g in grads]
    cases: dict[str, Callable[[], object]] = {
        "alt_blocked_foreach": lambda: weighted_aggregate(grads, w),
        "alt_foreach": lambda: _alt_foreach(grads, w),
        "alt_per_key": lambda: _alt_per_key(grads, w),
        "alt_stack_per_key": lambda: _alt_stack_per_key(grads, w),
        "alt_concat_first": lambda: _alt_concat_first(grads, w),
        "alt_stack_sum": lambda: torch.stack(flats).sum(0),
    }
    return {f"{k}_ms_{n_du}": round(v, 3) for k, v in _median_ms(cases, repeats).items()}


def measure(n_du: int, window: int, repeats: int) -> dict[str, float]:
    """All timings for ``n_du`` DUs; keys suffixed with ``_{n_du}``."""
    gen = torch.Generator().manual_seed(n_du)
    shapes = du_shapes()
    theta = _random_params(shapes, gen)
    grads = [_random_params(shapes, gen) for _ in range(n_du)]
    stack = GradientStack.from_grads(grads)
    stack_bf16 = GradientStack(stack.layout, n_du, dtype=torch.bfloat16)
    stack_bf16.data.copy_(stack.data)
    flats = [stack.row(g) for g in range(n_du)]
    out = torch.empty_like(flats[0])
    td = torch.randn(n_du, len(GROUPS), window, generator=gen).numpy()
    variances = td_error_variance(td)  # (n_du, 4)
    by_group = {grp: variances[:, i] for i, grp in enumerate(GROUPS)}
    w = task_weights(variances[:, 0])
    cfg = MetaUpdateConfig()
    cases: dict[str, Callable[[], object]] = {
        "td_variance": lambda: td_error_variance(td),
        "weights": lambda: [task_weights(v) for v in by_group.values()],
        "aggregate": lambda: weighted_aggregate(grads, w),
        "aggregate_stacked": lambda: weighted_aggregate(stack, w),
        "aggregate_bf16": lambda: weighted_aggregate(stack_bf16, w),
        "meta_step": lambda: meta_update(theta, grads, by_group, cfg),
        "meta_step_stacked": lambda: meta_update(theta, stack, by_group, cfg),
        "meta_step_bf16": lambda: meta_update(theta, stack_bf16, by_group, cfg),
        "sum": lambda: _plain_sum(flats, out),
        "read": lambda: [f.sum() for f in flats],
    }
    ms = _median_ms(cases, repeats)
    result = {f"{k}_ms_{n_du}": round(v, 3) for k, v in ms.items()}
    result[f"aggregate_ratio_to_sum_{n_du}"] = round(ms["aggregate"] / ms["sum"], 3)
    result[f"aggregate_stacked_ratio_to_sum_{n_du}"] = round(ms["aggregate_stacked"] / ms["sum"], 3)
    result[f"aggregate_bf16_ratio_to_sum_{n_du}"] = round(ms["aggregate_bf16"] / ms["sum"], 3)
    result[f"aggregate_ratio_to_read_{n_du}"] = round(ms["aggregate"] / ms["read"], 3)
    result[f"aggregate_stacked_ratio_to_read_{n_du}"] = round(ms["aggregate_stacked"] / ms["read"], 3)
    result[f"bytes_{n_du}"] = float(stack.data.numel() * stack.data.element_size())
    return result


# ---------------------------------------------------------------------------------------------
# first- vs second-order MAML (each configuration in a fresh process, for its peak memory)

SECOND_ORDER_MODELS = {
    # name: (layer sizes, activation, batch size)
    "sine-mlp": ((1, 40, 40, 1), "relu", 10),
    "low-actor": ((LOW_OBS, *HIDDEN, LOW_ACT), "tanh", 128),
}


def _functional_mlp(
    sizes: tuple[int, ...], act: str
) -> Callable[[dict[str, torch.Tensor], tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    nonlin = torch.tanh if act == "tanh" else torch.relu

    def loss(params: dict[str, torch.Tensor], batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        h, target = batch
        for i in range(len(sizes) - 1):
            h = h @ params[f"{2 * i}.weight"].T + params[f"{2 * i}.bias"]
            if i < len(sizes) - 2:
                h = nonlin(h)
        return ((h - target) ** 2).mean()

    return loss


def _status_kib(field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of this process, in KiB.

    VmHWM belongs to the process image, unlike ``ru_maxrss``, which Linux carries over from the
    parent across fork + exec (the parent of these workers holds GBs of gradients).
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _second_order_worker(model: str, mode: str, steps: int, repeats: int) -> dict[str, float]:
    torch.set_num_threads(1)
    sizes, act, batch = SECOND_ORDER_MODELS[model]
    gen = torch.Generator().manual_seed(0)
    params = {
        **{
            f"{2 * i}.weight": torch.randn(o, n, generator=gen) / math.sqrt(n)
            for i, (n, o) in enumerate(pairwise(sizes))
        },
        **{f"{2 * i}.bias": torch.zeros(o) for i, o in enumerate(sizes[1:])},
    }

    def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(batch, sizes[0], generator=gen), torch.randn(batch, sizes[-1], generator=gen)

    support = [make_batch() for _ in range(steps)]
    query = make_batch()
    loss = _functional_mlp(sizes, act)
    fn = first_order_meta_gradient if mode == "first" else second_order_meta_gradient
    # Warm up on a tiny problem first: torch.func's first call allocates ~80 MB of its own
    # (lazy imports, caches), which would otherwise swamp the peak of small models.
    tiny = {"0.weight": torch.zeros(1, 1), "0.bias": torch.zeros(1)}
    tiny_batch = (torch.zeros(1, 1), torch.zeros(1, 1))
    fn(tiny, _functional_mlp((1, 1), act), [tiny_batch], tiny_batch, 1e-2, 1)
    base = _status_kib("VmRSS")
    if _status_kib("VmHWM") > base + 1024:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak-RSS mark to the current RSS
    fn(params, loss, support, query, 1e-2, steps)
    peak_kib = _status_kib("VmHWM") - base
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(params, loss, support, query, 1e-2, steps)
        times.append(time.perf_counter() - start)
    n_params = sum(p.numel() for p in params.values())
    return {
        "ms": 1e3 * statistics.median(times),
        "peak_mb": max(peak_kib, 0) / 1024,
        "params": float(n_params),
    }


def second_order_cost(repeats: int) -> dict[str, float]:
    """First- vs second-order meta-gradient: time and peak extra memory per configuration."""
    result: dict[str, float] = {}
    for model in SECOND_ORDER_MODELS:
        for steps in (1, 5):
            for mode in ("first", "second"):
                proc = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.meta",
                        "--so-worker",
                        model,
                        mode,
                        str(steps),
                        str(repeats),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                got = json.loads(proc.stdout)
                key = f"{mode}_order_{model}_steps{steps}"
                result[f"{key}_ms"] = round(got["ms"], 3)
                result[f"{key}_peak_mb"] = round(got["peak_mb"], 1)
            result[f"params_{model}"] = got["params"]
    return result


def _report(result: dict[str, float], n_dus: list[int]) -> None:
    print(
        f"meta-learning math, {int(result['threads'])} thread(s), "
        f"{int(result['params_per_du'])} parameters per DU (median ms)"
    )
    for n in n_dus:
        print(f"  {n} DUs ({result[f'bytes_{n}'] / 1e6:.0f} MB of gradients):")
        for case in (
            "td_variance",
            "weights",
            "aggregate",
            "aggregate_stacked",
            "aggregate_bf16",
            "meta_step",
            "meta_step_stacked",
            "meta_step_bf16",
            "sum",
            "read",
        ):
            print(f"    {case:<18} {result[f'{case}_ms_{n}']:9.3f} ms")
        print(
            f"    aggregate / sum    {result[f'aggregate_ratio_to_sum_{n}']:9.3f}  "
            f"(stacked {result[f'aggregate_stacked_ratio_to_sum_{n}']:.3f}, "
            f"bf16 {result[f'aggregate_bf16_ratio_to_sum_{n}']:.3f})"
        )
        if n in TARGETS_MS:
            for case in ("aggregate", "aggregate_stacked", "aggregate_bf16"):
                ok = result[f"{case}_ms_{n}"] <= TARGETS_MS[n]
                print(f"    target {case} <= {TARGETS_MS[n]:g} ms: {'met' if ok else 'MISSED'}")
    alt = {k: v for k, v in result.items() if k.startswith("alt_")}
    if alt:
        print("  alternatives to the mapping path (ms):")
        for k, v in alt.items():
            print(f"    {k:<40} {v:10.3f}")
    so = {k: v for k, v in result.items() if k.startswith(("first_order", "second_order"))}
    if so:
        print("  first- vs second-order meta-gradient (1 thread, fresh process each):")
        for k, v in so.items():
            print(f"    {k:<40} {v:10.3f}")


def run(args: argparse.Namespace) -> int:
    if args.threads < 1 or args.repeats < 1 or args.window < 2:
        print("--threads and --repeats must be >= 1, --window >= 2", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    result: dict[str, float] = {
        "threads": float(args.threads),
        "repeats": float(args.repeats),
        "params_per_du": float(sum(math.prod(s) for s in du_shapes().values())),
    }
    for n in args.n_du:
        result |= measure(n, args.window, args.repeats)
    ratios = [result[f"aggregate_ratio_to_sum_{n}"] for n in args.n_du]
    result["aggregate_ratio_to_sum"] = max(ratios)
    if args.alternatives:
        for n in args.n_du:
            result |= alternatives(n, args.repeats)
    if args.second_order:
        result |= second_order_cost(max(3, args.repeats // 3))
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        _report(result, args.n_du)
    return 0


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--so-worker"]:
        model, mode, steps, repeats = argv[1], argv[2], int(argv[3]), int(argv[4])
        print(json.dumps(_second_order_worker(model, mode, steps, repeats)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.meta", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
