"""Spread independent runs over local cores or a Ray cluster, in dependency order, with progress.

One small interface, :class:`Dispatcher` (``submit(spec, ctx) -> Future``, ``close()``), and three
implementations: in-process (``jobs=1``: simplest to debug, what the tests use), a
`ProcessPoolExecutor` with the *spawn* start method and one torch thread per worker (default),
and Ray (``--ray ADDRESS``; an optional extra, imported only when asked for). :func:`run_all`
submits every run whose dependencies have finished, waits for any to complete, and repeats;
a failing run is reported and its dependents are skipped, the others go on.

With Ray every node runs :func:`experiments.meta.runs.execute_run`, which writes its result under
``--out``: that directory must be on storage every node sees (e.g. NFS), and every node needs this
project importable (the driver ships the repository as Ray's ``working_dir``).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from experiments.meta.runs import RunContext, RunSpec, dependencies, execute_run, result_path

__all__ = [
    "DispatchReport",
    "Dispatcher",
    "ProcessDispatcher",
    "RayDispatcher",
    "SerialDispatcher",
    "make_dispatcher",
    "run_all",
]


class Dispatcher(Protocol):
    capacity: int  # runs in flight at once

    def submit(self, spec: RunSpec, ctx: RunContext) -> Future[str]: ...

    def close(self) -> None: ...


class SerialDispatcher:
    """Runs each submitted run at once, in this process."""

    capacity = 1

    def submit(self, spec: RunSpec, ctx: RunContext) -> Future[str]:
        fut: Future[str] = Future()
        try:
            fut.set_result(execute_run(spec, ctx))
        except Exception as exc:  # reported by run_all, like a worker's failure
            fut.set_exception(exc)
        return fut

    def close(self) -> None:
        pass


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


class ProcessDispatcher:
    """Local worker processes (spawn start method, one torch thread each)."""

    def __init__(self, jobs: int) -> None:
        self.capacity = jobs
        self.pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
        )

    def submit(self, spec: RunSpec, ctx: RunContext) -> Future[str]:
        return self.pool.submit(execute_run, spec, ctx)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayDispatcher:
    """Runs on a Ray cluster (one CPU per run, or one GPU with ``device='cuda'``)."""

    def __init__(self, address: str, device: str = "cpu") -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError(
                "--ray needs Ray, which is an optional extra and not installed: pip install 'ray[default]' "
                "(or run without --ray to use local worker processes)"
            ) from None
        repo = Path(__file__).resolve().parents[2]
        ray.init(
            address=address, runtime_env={"working_dir": str(repo), "excludes": [".venv", ".git", "*.pt"]}
        )
        self._ray = ray
        self.capacity = 10_000  # Ray queues and places the runs itself
        on = ray.remote(num_gpus=1) if device == "cuda" else ray.remote(num_cpus=1)
        self._remote = on(execute_run)

    def submit(self, spec: RunSpec, ctx: RunContext) -> Future[str]:
        fut: Future[str] = self._remote.remote(spec, ctx).future()
        return fut

    def close(self) -> None:
        self._ray.shutdown()


def make_dispatcher(jobs: int, ray_address: str | None = None, device: str = "cpu") -> Dispatcher:
    if ray_address:
        return RayDispatcher(ray_address, device)
    if jobs <= 1:
        return SerialDispatcher()
    return ProcessDispatcher(jobs)


@dataclass
class DispatchReport:
    finished: list[str] = field(default_factory=list)  # ran now
    skipped: list[str] = field(default_factory=list)  # already had a result
    failed: dict[str, str] = field(default_factory=dict)  # key → error (incl. skipped dependents)


def _ready(spec: RunSpec, done: set[RunSpec], ctx: RunContext) -> bool:
    return all(d in done for d in dependencies(spec, ctx.preset))


def run_all(
    runs: Sequence[RunSpec],
    ctx: RunContext,
    dispatcher: Dispatcher,
    progress: Callable[[int, int], Any] | None = None,
    on_start: Callable[[RunSpec], None] | None = None,
) -> DispatchReport:
    """Run everything not yet finished, dependencies first. `progress(done, total)` after each."""
    report = DispatchReport()
    done = {r for r in runs if result_path(ctx.out_dir, r).is_file()}
    report.skipped = [r.key for r in runs if r in done]
    todo = [r for r in runs if r not in done]
    flying: dict[Future[str], RunSpec] = {}
    failed: set[RunSpec] = set()
    if progress is not None:
        progress(len(done), len(runs))
    while todo or flying:
        for spec in [r for r in todo if _ready(r, done, ctx)][: max(dispatcher.capacity - len(flying), 0)]:
            todo.remove(spec)
            if on_start is not None:
                on_start(spec)
            flying[dispatcher.submit(spec, ctx)] = spec
        for spec in [r for r in todo if any(d in failed for d in dependencies(r, ctx.preset))]:
            todo.remove(spec)
            failed.add(spec)
            report.failed[spec.key] = "skipped: a run it depends on failed"
        if not flying:
            for spec in todo:  # nothing running and nothing ready: dependencies not planned
                report.failed[spec.key] = "skipped: its dependencies are not part of this plan"
            break
        finished, _ = wait(list(flying), return_when=FIRST_COMPLETED)
        for fut in finished:
            spec = flying.pop(fut)
            exc = fut.exception()
            if exc is None:
                done.add(spec)
                report.finished.append(spec.key)
            else:
                failed.add(spec)
                report.failed[spec.key] = f"{type(exc).__name__}: {exc}"
            if progress is not None:
                progress(len(done) + len(failed), len(runs))
    return report
