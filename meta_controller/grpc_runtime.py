"""The gRPC asyncio runtime, held for the life of the process.

grpc.aio reference-counts its process-wide completion queue: when the last aio channel or
server is deallocated it shuts the queue down and joins the queue's poller thread. When that
deallocation happens in a garbage collection after the event loop that served those objects has
closed, the join can wait forever (grpc/grpc#40989, #22365; reproduced here with a server left
unstopped by a finished ``asyncio.run``: the next ``gc.collect()`` never returned). Holding one
reference from the start, gRPC's documented workaround, keeps the queue up until the interpreter
exits. Every process that runs more than one event loop over its life, or may drop a channel
without closing it, calls :func:`hold_aio_runtime` once, from the main thread, before its first
aio object.
"""

from __future__ import annotations

import threading

import grpc

_lock = threading.Lock()
_held = False


def hold_aio_runtime() -> None:
    """Take the process's one lasting reference on grpc.aio's runtime (idempotent)."""
    global _held
    with _lock:
        if not _held:
            grpc.aio.init_grpc_aio()
            _held = True
