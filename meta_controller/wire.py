"""The wire format of task updates and meta-inits (pure; no gRPC here).

A set of named tensors travels as one flat little-endian buffer in the order of a
`ParamLayout`, in float32 or bfloat16, split into chunks of at most `MAX_CHUNK_BYTES`; the whole
buffer and each chunk are identified by their SHA-256. The layout itself is identified by the
SHA-256 of its canonical text (``name:dim,dim;…``), which both ends compute the same way.
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Final, Literal

import numpy as np
import torch
from torch import Tensor

from meta_controller.errors import MetaInputError
from meta_controller.params import ParamLayout, Params

__all__ = [
    "MAX_CHUNK_BYTES",
    "WireDType",
    "all_finite",
    "chunk_count",
    "chunks",
    "decode_chunk_into",
    "element_size",
    "encode",
    "layout_from_spec",
    "layout_hash",
    "layout_spec",
    "row_to_wire",
    "sha256",
    "tensor_bytes",
    "torch_dtype",
]

MAX_CHUNK_BYTES: Final = 4 * 1024 * 1024
"""Largest chunk (gRPC's default receive limit is 4 MiB; our channels allow 8 MiB messages)."""

WireDType = Literal["float32", "bfloat16"]

_TORCH: Final[dict[str, torch.dtype]] = {"float32": torch.float32, "bfloat16": torch.bfloat16}

if sys.byteorder != "little":  # pragma: no cover - every supported platform is little-endian
    raise ImportError("meta_controller.wire assumes a little-endian host")


def torch_dtype(dtype: WireDType) -> torch.dtype:
    return _TORCH[dtype]


def element_size(dtype: WireDType) -> int:
    return 4 if dtype == "float32" else 2


def sha256(data: bytes | memoryview) -> bytes:
    return hashlib.sha256(data).digest()


def layout_spec(layout: ParamLayout) -> list[tuple[str, tuple[int, ...]]]:
    return [(n, tuple(int(d) for d in s)) for n, s in zip(layout.names, layout.shapes, strict=True)]


def layout_hash(layout: ParamLayout) -> str:
    """Hex SHA-256 of ``name:d0,d1;name:d0;…`` in buffer order."""
    text = ";".join(f"{n}:{','.join(str(d) for d in s)}" for n, s in layout_spec(layout))
    return hashlib.sha256(text.encode()).hexdigest()


def layout_from_spec(spec: Sequence[tuple[str, Sequence[int]]]) -> ParamLayout:
    """The layout of tensors named and shaped as in ``spec`` (buffer order)."""
    if not spec:
        raise MetaInputError("empty parameter layout")
    return ParamLayout.of(
        {n: torch.empty(0).new_empty(tuple(int(d) for d in s), device="meta") for n, s in spec}
    )


def encode(params: Params | Tensor, layout: ParamLayout, dtype: WireDType) -> bytes:
    """The flat little-endian buffer of ``params`` (named tensors, or an already flat tensor)."""
    flat = params if isinstance(params, Tensor) else layout.flatten({k: params[k] for k in layout.names})
    if flat.shape != (layout.numel,):
        raise MetaInputError(f"flat tensor of shape {tuple(flat.shape)}, expected ({layout.numel},)")
    out = flat.detach().to(device="cpu", dtype=_TORCH[dtype]).contiguous()
    return out.view(torch.uint8).numpy().tobytes()


def tensor_bytes(tensor: Tensor) -> memoryview:
    """The raw bytes of a contiguous CPU tensor, without a copy."""
    array: Any = tensor.contiguous().view(torch.uint8).numpy()
    return memoryview(array)


def chunk_count(total_bytes: int, chunk_bytes: int) -> int:
    return max(1, -(-total_bytes // chunk_bytes))


def chunks(data: bytes | memoryview, chunk_bytes: int = MAX_CHUNK_BYTES) -> Iterator[memoryview]:
    """``data`` in consecutive slices of ``chunk_bytes`` (the last may be shorter; no copies)."""
    view = memoryview(data)
    for start in range(0, max(len(data), 1), chunk_bytes):
        yield view[start : start + chunk_bytes]


def _view(data: bytes | memoryview, dtype: WireDType) -> Tensor:
    """A read-only tensor over ``data`` (no copy; only ever read)."""
    if not len(data):
        return torch.empty(0, dtype=_TORCH[dtype])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "non-writable buffer": we only read it
        return torch.frombuffer(data, dtype=_TORCH[dtype])


def _words(tensor: Tensor) -> Any:
    """A writable numpy view of a contiguous CPU float32/bfloat16 tensor's raw words (uint32 /
    uint16), for copies that must not go through torch's thread pool (see `decode_chunk_into`)."""
    return tensor.view(torch.uint8).numpy().view(np.uint32 if tensor.dtype == torch.float32 else np.uint16)


def decode_chunk_into(
    row: Tensor, data: bytes | memoryview, index: int, chunk_bytes: int, dtype: WireDType
) -> None:
    """Write chunk ``index`` (wire ``dtype``) into the flat ``row`` at its element offset
    (converting to the row's dtype in the same copy).

    A row of the wire dtype takes a plain byte copy and a float32 row takes bfloat16 as an exact
    bit expansion (numpy, one thread): torch's ``copy_`` runs such copies on its intra-op thread
    pool, which on a busy 2-core host made a 4 MiB copy 10-100x slower than ``memcpy``. Only a
    bfloat16 row fed float32 (rounding) goes through torch."""
    size = element_size(dtype)
    if chunk_bytes % size or len(data) % size:
        raise MetaInputError(f"chunk {index}: {len(data)} bytes is not a whole number of {dtype} values")
    start = index * chunk_bytes // size
    n = len(data) // size
    if start + n > row.numel():
        raise MetaInputError(f"chunk {index} runs past the end of the buffer")
    if not n:
        return
    if row.is_contiguous() and row.dtype == _TORCH[dtype]:
        tensor_bytes(row)[start * size : (start + n) * size] = data
    elif row.is_contiguous() and row.dtype == torch.float32:  # bfloat16 → float32: exact
        out = _words(row)[start : start + n]
        np.left_shift(np.frombuffer(data, dtype="<u2"), 16, out=out, dtype=np.uint32)
    else:
        row[start : start + n].copy_(_view(data, dtype))


def row_to_wire(row: Tensor, dtype: WireDType) -> memoryview:
    """A private copy of a decoded row (float32 or bfloat16, contiguous) in the wire ``dtype``.

    A float32 row is turned into bfloat16 by dropping the low 16 bits: the exact inverse of
    `decode_chunk_into`'s expansion, so a row decoded from bfloat16 gives back its wire bytes
    (any other row does not, and fails the caller's checksum)."""
    if row.dtype == _TORCH[dtype]:
        return memoryview(bytes(tensor_bytes(row)))
    words = _words(row.contiguous())
    if row.dtype == torch.float32:  # → bfloat16
        out = np.right_shift(words, 16).astype(np.uint16)
    else:  # bfloat16 → float32
        out = np.left_shift(words, 16, dtype=np.uint32)
    return memoryview(out).cast("B")


def all_finite(data: bytes | memoryview, dtype: WireDType) -> bool:
    """Whether every value of a wire buffer is finite (numpy, one thread; no temporary tensor)."""
    if dtype == "float32":
        return bool(np.isfinite(np.frombuffer(data, dtype="<f4")).all())
    exponent = np.bitwise_and(np.frombuffer(data, dtype="<u2"), 0x7F80)  # bfloat16: all ones = inf/NaN
    return not bool((exponent == 0x7F80).any())
