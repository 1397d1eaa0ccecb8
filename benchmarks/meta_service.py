"""Meta-controller rounds over gRPC on loopback vs the in-process aggregation of the same tensors.

The controller is the real `metahrl meta-controller` in its own process (insecure loopback,
state in a private `redis-server` by default, `--sdl memory` to keep it in the process); N DU
clients (`MetaClient`, one asyncio loop in this process) upload concurrently, each a task
update of the paper's network sizes (1 high + 3 low DDPG agents, actor and critic MLPs
256-512-512: ~3.47 M float32 parameters, 14 MB per DU, as in `metahrl bench meta`), encoded
before the clock starts. Per round, as the median over ``--rounds``:

  round_ms_N              first BeginUpdate → every DU holds the new meta-version
  commit_to_all_ms_N      the last acknowledged commit → every DU holds the new meta-version
  inprocess_ms_N          `meta_step` (the function the controller applies) on the same N updates
                          in this process: the aggregation with no transport, no durability
                          (run after each round, so that machine load hits both alike). Most of
                          it is stacking the N named updates into a fresh buffer (page faults):
                          meta_step itself took ~7 ms of the 35-160 ms measured at 7 DUs on a
                          2-vCPU machine, so this denominator is noisy
  round_ratio_to_inprocess_N   round_ms_N / inprocess_ms_N
  controller_peak_rss_mb_N     peak resident memory (VmHWM) of that controller process
  controller_start_rss_mb_N    …and the same once it serves, before any DU connects (Python,
                               torch, gRPC, FastAPI: the same for any N)
  controller_round_rss_mb_N    peak − start: what the rounds themselves add
  round_updates_mb_N           one round's float32 updates (N × 4 bytes × parameters)
  controller_[round_]rss_ratio_to_updates_N   those two memories / round_updates_mb_N

and, at the smallest N, the payload bytes the controller received per update in float32 and in
bfloat16 (one more round on the same controller, after its memory was read; both read from its
own ``metahrl_meta_received_bytes_total``). Issue 10's targets: round ≤
3× in-process at 7 DUs; controller memory at 30 DUs ≤ 2× one round's updates; bfloat16 halves
the bytes. The clients share this process and its cores with the controller: at 30 DUs their
decoding of 30 meta-inits is part of ``round_ms_30``. `--quick`: tiny networks, one round, the
in-memory SDL (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import torch

from benchmarks.meta import du_shapes
from meta_controller.algorithm import GROUPS, MetaConfig, TaskUpdate, meta_step, variances_with_fallback
from meta_controller.client import MetaClient, PreparedUpdate
from meta_controller.grpc_runtime import hold_aio_runtime
from meta_controller.params import GradientStack, ParamLayout
from meta_controller.wire import WireDType

__all__ = ["add_arguments", "run"]

ROOT: Final = Path(__file__).resolve().parents[1]
TINY_SHAPES: Final = {
    "high.actor.0.weight": (16, 12),
    "high.critic.0.weight": (16, 15),
    "low.0.actor.0.weight": (30, 16),
    "low.0.critic.0.weight": (16, 46),
    "low.1.actor.0.weight": (30, 16),
    "low.1.critic.0.weight": (16, 46),
    "low.2.actor.0.weight": (30, 16),
    "low.2.critic.0.weight": (16, 46),
}
TARGET_RATIO_7: Final = 3.0
TARGET_RSS_RATIO_30: Final = 2.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object (unit-suffixed keys)")
    p.add_argument("--quick", action="store_true", help="tiny networks, 1 round, in-memory SDL (smoke test)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per DU count (median; default 3)")
    p.add_argument("--n-du", type=int, nargs="+", default=[7, 30], help="DU counts (default 7 30)")
    p.add_argument("--sdl", choices=("redis", "memory"), default="redis",
                   help="controller state: a private redis-server (default) or in its process")  # fmt: skip


def _log(msg: str) -> None:
    print(f"[bench meta-service] {msg}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_file(path: Path, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{what} did not start (exit status {proc.poll()})")
        time.sleep(0.05)  # bounded poll for the process's readiness file


@contextmanager
def _redis(tmp: Path) -> Iterator[str]:
    """A private redis-server (no persistence) on a free loopback port; yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server not found on PATH; use --sdl memory")
    port, pidfile = _free_port(), tmp / "redis.pid"
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp), "--save", "",
            "--appendonly", "no", "--pidfile", str(pidfile)]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_file(pidfile, proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class _Controller:
    proc: subprocess.Popen[bytes]
    grpc_port: int
    http_port: int

    def peak_rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            line = next(x for x in f if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    def sample(self, name: str) -> float:
        url = f"http://127.0.0.1:{self.http_port}/ric/v1/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            text = resp.read().decode()
        return next(float(x.split()[-1]) for x in text.splitlines() if x.startswith(name + " "))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@contextmanager
def _controller(tmp: Path, init: Path, n_du: int, sdl: str, tag: str) -> Iterator[_Controller]:
    port_file = tmp / f"ports-{tag}.json"
    args = [
        sys.executable, "-m", "metahrl", "meta-controller", "--init", str(init), "--insecure",
        "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--port-file", str(port_file),
        "--sdl", sdl, "--namespace", f"bench-{tag}", "--min-updates", str(n_du),
        "--round-timeout", "3600", "--log-level", "WARNING",
    ]  # fmt: skip
    proc = subprocess.Popen(args, cwd=ROOT)
    _wait_file(port_file, proc, "meta-controller")
    ports = json.loads(port_file.read_text())
    ctl = _Controller(proc, int(ports["grpc"]), int(ports["http"]))
    try:
        yield ctl
    finally:
        ctl.stop()


def _updates(shapes: dict[str, tuple[int, ...]], n_du: int, seed: int) -> list[TaskUpdate]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_du):
        grads = {k: torch.randn(s, generator=gen) * 1e-3 for k, s in shapes.items()}
        var = {g: float(v) for g, v in zip(GROUPS, torch.rand(len(GROUPS), generator=gen) + 0.1, strict=True)}
        counts = dict.fromkeys(GROUPS, 1000)
        out.append(TaskUpdate(grads=grads, td_variance=var, td_count=counts, samples=1000))
    return out


def inprocess_once_ms(theta: dict[str, torch.Tensor], updates: list[TaskUpdate]) -> float:
    """ms of the controller's aggregation (`meta_step`) of ``updates``, with no transport."""
    start = time.perf_counter()
    stack = GradientStack.from_grads([u.grads for u in updates])
    variances = variances_with_fallback({g: [u.td_variance[g] for u in updates] for g in GROUPS})
    meta_step(theta, stack, variances, MetaConfig())
    return 1e3 * (time.perf_counter() - start)


async def _one_round(clients: list[MetaClient], prepared: list[PreparedUpdate]) -> tuple[float, float]:
    """(round ms, last commit → all DUs hold the new version, ms)."""
    version = clients[0].version
    assert version is not None and all(c.version == version for c in clients)

    async def send(c: MetaClient, p: PreparedUpdate) -> float:
        if not await c.send(p):
            raise RuntimeError(f"upload of {c.du_id} failed: {c.last_error}")
        return time.perf_counter()

    start = time.perf_counter()
    commits = await asyncio.gather(*(send(c, p) for c, p in zip(clients, prepared, strict=True)))
    inits = await asyncio.gather(*(c.wait_version(version + 1, 600.0) for c in clients))
    done = time.perf_counter()
    if any(i is None for i in inits):
        raise RuntimeError("a DU did not receive the new meta-version within 600 s")
    return 1e3 * (done - start), 1e3 * (done - max(commits))


async def _session(
    port: int,
    layout: ParamLayout,
    updates: list[TaskUpdate],
    rounds: int,
    dtype: WireDType,
    between: Callable[[], float] | None = None,
) -> tuple[list[float], list[float], list[float]]:
    """(round ms, commit→all ms, ``between()`` ms) of each round; ``between`` (the in-process
    reference) runs after every round, so that a busy machine slows both alike."""
    target = f"127.0.0.1:{port}"
    clients = [
        MetaClient(target, f"du-{i}", layout, insecure=True, deadline_s=120.0, retries=2, seed=i)
        for i in range(len(updates))
    ]
    try:
        for c in clients:  # in order: registration order is the stack order
            if not await c.register():
                raise RuntimeError(f"{c.du_id} could not register: {c.last_error}")
            c.start()
        if any(i is None for i in await asyncio.gather(*(c.wait_version(0, 120.0) for c in clients))):
            raise RuntimeError("no initial meta-init")
        prepared = [c.prepare(u, dtype=dtype) for c, u in zip(clients, updates, strict=True)]
        round_ms, commit_ms, local_ms = [], [], []
        for r in range(rounds):
            total, tail = await _one_round(clients, prepared)
            _log(f"{len(clients)} DUs {dtype} round {r + 1}/{rounds}: {total:.0f} ms (commit→all {tail:.0f})")
            round_ms.append(total)
            commit_ms.append(tail)
            if between is not None:
                local_ms.append(between())
        return round_ms, commit_ms, local_ms
    finally:
        for c in clients:
            await c.close()


def _measure_n(
    tmp: Path, init: Path, theta: dict[str, torch.Tensor], n: int, rounds: int, sdl: str, bf16: bool
) -> dict[str, float]:
    """``rounds`` float32 rounds of ``n`` DUs on a fresh controller (then, with ``bf16``, one
    bfloat16 round on the same controller, after the memory figures were read)."""
    layout = ParamLayout.of(theta)
    updates = _updates({k: tuple(v.shape) for k, v in theta.items()}, n, seed=n)
    out: dict[str, float] = {}
    with _controller(tmp, init, n, sdl, f"{n}") as ctl:
        start_rss = ctl.peak_rss_mb()
        inprocess_once_ms(theta, updates)  # warm-up
        round_ms, commit_ms, local_ms = asyncio.run(
            _session(
                ctl.grpc_port, layout, updates, rounds, "float32", lambda: inprocess_once_ms(theta, updates)
            )
        )
        peak = ctl.peak_rss_mb()
        received = ctl.sample("metahrl_meta_received_bytes_total")
        if bf16:
            bf_ms, _, _ = asyncio.run(_session(ctl.grpc_port, layout, updates, 1, "bfloat16"))
            out[f"round_ms_bfloat16_{n}"] = bf_ms[0]
            out["wire_bytes_per_update_bfloat16"] = (
                ctl.sample("metahrl_meta_received_bytes_total") - received
            ) / n
    local = statistics.median(local_ms)
    updates_mb = n * layout.numel * 4 / 2**20
    return out | {
        f"round_ms_{n}": statistics.median(round_ms),
        f"commit_to_all_ms_{n}": statistics.median(commit_ms),
        f"inprocess_ms_{n}": local,
        f"round_ratio_to_inprocess_{n}": statistics.median(round_ms) / local,
        f"controller_peak_rss_mb_{n}": peak,
        f"controller_start_rss_mb_{n}": start_rss,
        f"round_updates_mb_{n}": updates_mb,
        f"controller_rss_ratio_to_updates_{n}": peak / updates_mb,
        f"controller_round_rss_mb_{n}": peak - start_rss,
        f"controller_round_rss_ratio_to_updates_{n}": (peak - start_rss) / updates_mb,
        f"wire_bytes_per_update_float32_{n}": received / (n * rounds),
    }


def measure(args: argparse.Namespace, tmp: Path, sdl: str) -> dict[str, float]:
    shapes = TINY_SHAPES if args.quick else du_shapes()
    gen = torch.Generator().manual_seed(0)
    theta = {k: torch.randn(s, generator=gen) * 0.05 for k, s in shapes.items()}
    init = tmp / "init.pt"
    torch.save(theta, init)
    numel = sum(math.prod(s) for s in shapes.values())
    result: dict[str, float] = {
        "params_per_du": float(numel),
        "rounds": float(args.rounds),
        "cpus": float(os.cpu_count() or 0),
        "load_1m_at_start": os.getloadavg()[0],  # a busy machine inflates every figure here
    }
    smallest = min(args.n_du)
    for n in args.n_du:
        _log(f"{n} DUs, {numel / 1e6:.2f} M parameters each, SDL {args.sdl}")
        result |= _measure_n(tmp, init, theta, n, args.rounds, sdl, bf16=n == smallest)
    f32 = result[f"wire_bytes_per_update_float32_{smallest}"]
    result["wire_bytes_per_update_float32"] = f32
    result["wire_bytes_ratio_bfloat16_to_float32"] = result["wire_bytes_per_update_bfloat16"] / f32
    result["load_1m_at_end"] = os.getloadavg()[0]
    return result


def _report(result: dict[str, float], n_dus: list[int], sdl: str) -> None:
    print(f"meta-controller rounds over loopback gRPC, {result['params_per_du'] / 1e6:.2f} M parameters "
          f"per DU, SDL {sdl}, median of {result['rounds']:.0f} rounds")  # fmt: skip
    print(f"{'DUs':>4} {'round ms':>9} {'commit→all':>11} {'in-process':>11} {'ratio':>7} "
          f"{'peak RSS MB':>12} {'updates MB':>11} {'RSS/upd':>8}")  # fmt: skip
    for n in n_dus:
        r = {k.removesuffix(f"_{n}"): v for k, v in result.items() if k.endswith(f"_{n}")}
        print(f"{n:>4} {r['round_ms']:>9.0f} {r['commit_to_all_ms']:>11.0f} {r['inprocess_ms']:>11.1f} "
              f"{r['round_ratio_to_inprocess']:>7.1f} {r['controller_peak_rss_mb']:>12.0f} "
              f"{r['round_updates_mb']:>11.0f} {r['controller_rss_ratio_to_updates']:>8.2f} "
              f"(RSS at start {r['controller_start_rss_mb']:.0f} MB)")  # fmt: skip
    print(f"bytes per update: float32 {result['wire_bytes_per_update_float32']:.0f}, bfloat16 "
          f"{result['wire_bytes_per_update_bfloat16']:.0f} "
          f"(ratio {result['wire_bytes_ratio_bfloat16_to_float32']:.3f})")  # fmt: skip
    print(f"load average (1 min) {result['load_1m_at_start']:.1f} at start, {result['load_1m_at_end']:.1f} "
          f"at the end, on {result['cpus']:.0f} CPUs")  # fmt: skip
    print(f"targets: round ≤ {TARGET_RATIO_7:g}× in-process at 7 DUs; controller peak RSS ≤ "
          f"{TARGET_RSS_RATIO_30:g}× one round's updates at 30 DUs; bfloat16 ratio 0.5")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.rounds < 1 or any(n < 1 for n in args.n_du):
        print("--rounds and --n-du must be >= 1", file=sys.stderr)
        return 2
    if args.quick:
        args.rounds, args.sdl = 1, "memory"
    hold_aio_runtime()  # one event loop per measured session
    with tempfile.TemporaryDirectory(prefix="bench-meta-service-") as name:
        tmp = Path(name)
        if args.sdl == "redis":
            with _redis(tmp) as url:
                result = measure(args, tmp, url)
        else:
            result = measure(args, tmp, "memory")
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        _report(result, args.n_du, args.sdl)
    return 0
