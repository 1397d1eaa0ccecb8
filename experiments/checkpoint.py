"""Training checkpoints: one file holding *everything* a run needs to continue bit-exactly.

``checkpoint.pt`` (a `torch.save` file, readable with ``weights_only=True``) contains:

- ``meta``: format, scenario (as data), the config fingerprint, seed and agent config — a resumed
  run must match it field for field, or loading fails naming the fields that differ;
- ``pool``: the `AgentPool` state dict — networks, target networks, optimizers, replay buffers,
  noise processes, private RNGs, TD statistics, held/pending high-level windows;
- ``trainer``: counters, partial log-interval sums and the byte offsets of every log file;
- ``env``: the environment (simulator arrays and its numpy Generators, the open high-level
  window) and the current observation, **pickled** into a uint8 tensor with its SHA-256.
  Pickle is used because the simulator is plain numpy arrays and Generators; like any pickle,
  only load checkpoints you wrote yourself.

Writes are atomic: the file is written to ``checkpoint.pt.tmp``, flushed to disk and renamed over
the previous one, so a kill mid-write leaves the last good checkpoint intact.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from xapps.agent import CheckpointError, load_checkpoint_file
from xapps.agent.checkpoint import check_config, check_keys, get_mapping

__all__ = [
    "CHECKPOINT_NAME",
    "FORMAT",
    "CheckpointError",
    "check_meta",
    "decode_env",
    "encode_env",
    "load_training_checkpoint",
    "resolve_checkpoint",
    "save_training_checkpoint",
]

FORMAT = "metahrl.experiments.train/1"
CHECKPOINT_NAME = "checkpoint.pt"
_KEYS = ("format", "meta", "pool", "trainer", "env", "env_sha256")


def encode_env(state: Any) -> tuple[torch.Tensor, str]:
    """Pickle `state` into a uint8 tensor; returns it with the bytes' SHA-256."""
    raw = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8), hashlib.sha256(raw).hexdigest()


def decode_env(tensor: Any, sha256: Any, where: str = "checkpoint.env") -> Any:
    """Inverse of :func:`encode_env`; a digest mismatch or unpicklable bytes → `CheckpointError`."""
    if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.uint8 or tensor.dim() != 1:
        raise CheckpointError(f"{where}: expected a 1-D uint8 tensor")
    raw = tensor.numpy().tobytes()
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise CheckpointError(f"{where}: SHA-256 mismatch (the environment state is corrupt)")
    try:
        return pickle.loads(raw)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: cannot unpickle the environment state: {exc}") from exc


def save_training_checkpoint(path: Path, state: Mapping[str, Any]) -> None:
    """Write `state` atomically (tmp file, fsync, rename over `path`, fsync the directory)."""
    check_keys(state, _KEYS, "checkpoint")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        torch.save(dict(state), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(path.parent, os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def resolve_checkpoint(path: Path) -> Path:
    """A run directory (→ its ``checkpoint.pt``) or a checkpoint file."""
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    return path


def load_training_checkpoint(path: Path) -> dict[str, Any]:
    """Read and shape-check a checkpoint written by :func:`save_training_checkpoint`."""
    state = load_checkpoint_file(str(resolve_checkpoint(path)))
    check_keys(state, _KEYS, "checkpoint")
    if state["format"] != FORMAT:
        raise CheckpointError(f"checkpoint.format: expected {FORMAT!r}, got {state['format']!r}")
    get_mapping(state["meta"], "checkpoint.meta")
    get_mapping(state["trainer"], "checkpoint.trainer")
    return state


def check_meta(saved: Any, current: Mapping[str, Any]) -> None:
    """The checkpoint's run identity (scenario, config, seed, agent) must equal this run's."""
    try:
        check_config(saved, current, "run")
    except CheckpointError as exc:
        raise CheckpointError(
            f"checkpoint belongs to a different run (scenario/config/seed differ): {exc}"
        ) from None
