"""Suite-wide test settings.

Hypothesis runs derandomized (the same examples on every run: tests have fixed seeds) and
without its example database (CI starts from a clean clone, and the database's file watcher
is a thread the suite does not need).

The gRPC asyncio runtime is held for the whole session: many tests each run their own event
loop, and a grpc.aio object collected after its loop closed would otherwise make the collecting
test hang in gRPC's runtime shutdown (see meta_controller/grpc_runtime.py).
"""

from __future__ import annotations

from hypothesis import settings

from meta_controller.grpc_runtime import hold_aio_runtime

settings.register_profile("metahrl", derandomize=True, database=None)
settings.load_profile("metahrl")

hold_aio_runtime()
