"""Checkpoint validation: corrupt or mismatched state dicts fail with an error naming the entry.

Every ``load_state_dict`` in this package checks what it is given before touching the agent, so a
failed load leaves nothing half-restored at the level that detected the problem, and the message
says *where* (``agents.low.1.networks.critic.net.0.weight``) and *what* (shapes, keys, config
fields) did not match.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "CheckpointError",
    "check_config",
    "check_format",
    "check_keys",
    "check_tensor",
    "get_int",
    "get_mapping",
    "load_checkpoint_file",
    "load_module_state",
    "load_optimizer_state",
    "save_checkpoint_file",
]


class CheckpointError(ValueError):
    """A state dict is corrupt or does not match the object it is loaded into."""


def get_mapping(obj: Any, where: str) -> Mapping[str, Any]:
    """`obj` as a mapping, or a `CheckpointError` naming `where`."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{where}: expected a mapping, got {type(obj).__name__}")
    return obj


def get_int(sd: Mapping[str, Any], key: str, where: str) -> int:
    value = sd.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckpointError(f"{where}.{key}: expected an int, got {type(value).__name__}")
    return value


def check_keys(sd: Mapping[str, Any], expected: Iterable[str], where: str) -> None:
    """The keys of `sd` must be exactly `expected`."""
    want, have = set(expected), set(sd)
    missing, unexpected = sorted(want - have), sorted(have - want)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if unexpected:
            parts.append(f"unexpected {unexpected}")
        raise CheckpointError(f"{where}: " + "; ".join(parts))


def check_format(sd: Mapping[str, Any], fmt: str, where: str) -> None:
    found = sd.get("format")
    if found != fmt:
        raise CheckpointError(f"{where}.format: expected {fmt!r}, got {found!r}")


def _config_diff(saved: Any, current: Any, path: str) -> list[str]:
    if isinstance(saved, Mapping) and isinstance(current, Mapping):
        out: list[str] = []
        for key in sorted(set(saved) | set(current), key=str):
            if key not in saved or key not in current:
                out.append(f"{path}.{key}: present in only one of checkpoint/agent")
            else:
                out.extend(_config_diff(saved[key], current[key], f"{path}.{key}"))
        return out
    if saved != current:
        return [f"{path}: checkpoint {saved!r} vs agent {current!r}"]
    return []


def check_config(saved: Any, current: Mapping[str, Any], where: str) -> None:
    """The checkpoint's config (JSON form) must equal the agent's; differing fields are named."""
    diff = _config_diff(get_mapping(saved, where), current, where)
    if diff:
        raise CheckpointError("config mismatch: " + "; ".join(diff))


def check_tensor(
    obj: Any,
    where: str,
    shape: tuple[int, ...] | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    if not isinstance(obj, Tensor):
        raise CheckpointError(f"{where}: expected a tensor, got {type(obj).__name__}")
    if shape is not None and tuple(obj.shape) != shape:
        raise CheckpointError(f"{where}: shape {tuple(obj.shape)} in checkpoint vs {shape} in agent")
    if dtype is not None and obj.dtype != dtype:
        raise CheckpointError(f"{where}: dtype {obj.dtype} in checkpoint vs {dtype} in agent")
    return obj


def load_module_state(module: nn.Module, sd: Any, where: str) -> None:
    """Check keys and shapes of `sd` against `module`, then load it (strict)."""
    sd = get_mapping(sd, where)
    own = module.state_dict()
    check_keys(sd, own, where)
    for name, tensor in own.items():
        check_tensor(sd[name], f"{where}.{name}", tuple(tensor.shape), tensor.dtype)
    module.load_state_dict(sd)


def load_optimizer_state(optimizer: torch.optim.Optimizer, sd: Any, where: str) -> None:
    sd = get_mapping(sd, where)
    check_keys(sd, ("state", "param_groups"), where)
    try:
        optimizer.load_state_dict(dict(sd))
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{where}: {exc}") from exc


PathLike = str | os.PathLike[str] | io.BytesIO


def save_checkpoint_file(state: Mapping[str, Any], path: PathLike) -> None:
    """Write a state dict with `torch.save` (readable back with ``weights_only=True``)."""
    torch.save(dict(state), path)


def load_checkpoint_file(path: PathLike) -> dict[str, Any]:
    """Read a state dict written by `save_checkpoint_file`; unreadable -> `CheckpointError`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises anything on damaged input (IndexError, KeyError, ...)
        raise CheckpointError(f"cannot read checkpoint {path!r}: {_why(exc, path)}") from exc
    return dict(get_mapping(state, f"checkpoint {path!r}"))


def _why(exc: BaseException, path: PathLike) -> str:
    """What went wrong, in one line (torch's messages run over several; some are empty)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if not isinstance(path, io.BytesIO):
        with contextlib.suppress(OSError):
            size = os.path.getsize(path)
            if size == 0:
                return "the file is empty"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if "zip archive" in text or "central directory" in text:
        return f"not a torch.save file, or a truncated or corrupted one ({text.rstrip('.')})"
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (truncated or corrupted file?)"
