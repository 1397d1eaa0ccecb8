"""The meta-controller's durable state in the SDL (`ric.sdl`; Redis or memory).

Keys (namespace ``ns``, stored as ``{ns},key``):

- ``current``: JSON pointer ``{"version", "round", "key", "sha256"}`` — moved by check-and-set in
  the same MULTI/EXEC as the new version blob and the round's weights;
- ``version/<v>``: the meta-parameters of version v (header + float32 little-endian buffer);
  the last ``keep`` versions are kept;
- ``weights/<r>``: the weights (group → DU → w) and TD variances of round r;
- ``du/<du>``: a registered DU's task descriptor;
- ``update/<r>/<du>``: an accepted update of the open round (header + wire buffer), written
  before the controller acknowledges it, removed once the round is closed.

Every blob carries its SHA-256; loading verifies it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

import torch
from torch import Tensor

from meta_controller.rounds import TdStat, Upload
from meta_controller.wire import WireDType, row_to_wire, tensor_bytes, torch_dtype
from ric.sdl import SdlStore

__all__ = ["MetaStore", "StoreCorruptError", "StoredVersion", "record_payload", "wire_bytes"]

_LEN: Final = struct.Struct(">I")


class StoreCorruptError(RuntimeError):
    """A stored blob fails its checksum or cannot be parsed."""


def _pack(header: Mapping[str, Any], payload: bytes | memoryview, digest: bytes | None = None) -> bytes:
    """Length-prefixed JSON header + payload, in one copy. ``digest``: the payload's SHA-256 when
    the caller already has it (else it is computed here)."""
    sha = (digest if digest is not None else hashlib.sha256(payload).digest()).hex()
    text = json.dumps(dict(header) | {"sha256": sha}, sort_keys=True).encode()
    return b"".join((_LEN.pack(len(text)), text, payload))


def record_payload(blob: bytes) -> memoryview:
    """The payload part of a packed blob (no copy, no check)."""
    (n,) = _LEN.unpack_from(blob)
    return memoryview(blob)[_LEN.size + n :]


def _unpack(blob: bytes, what: str) -> tuple[dict[str, Any], memoryview]:
    try:
        (n,) = _LEN.unpack_from(blob)
        header = json.loads(blob[_LEN.size : _LEN.size + n])
    except (struct.error, ValueError) as exc:
        raise StoreCorruptError(f"{what}: unreadable header ({exc})") from exc
    payload = memoryview(blob)[_LEN.size + n :]
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise StoreCorruptError(f"{what}: checksum mismatch")
    return header, payload


@dataclass(frozen=True)
class StoredVersion:
    version: int
    round: int
    flat: Tensor  # float32
    weights: dict[str, dict[str, float]]


class MetaStore:
    """Synchronous persistence over an `SdlStore` (call it from a worker thread in asyncio)."""

    def __init__(self, sdl: SdlStore, namespace: str = "metahrl-meta", keep: int = 3) -> None:
        if keep < 1:
            raise ValueError(f"keep: must be ≥ 1, got {keep}")
        self.sdl, self.ns, self.keep = sdl, namespace, keep
        self._pointer: bytes | None = None

    # ---- versions ------------------------------------------------------------------------
    def load_current(self, layout_sha256: str) -> StoredVersion | None:
        """The current version (None when the store is empty); checksums verified."""
        got = self.sdl.get(self.ns, ["current"])
        if "current" not in got:
            self._pointer = None
            return None
        self._pointer = got["current"]
        pointer = json.loads(got["current"])
        blob = self.sdl.get(self.ns, [pointer["key"]]).get(pointer["key"])
        if blob is None:
            raise StoreCorruptError(f"{pointer['key']} is missing (pointer {pointer})")
        header, payload = _unpack(blob, pointer["key"])
        if header["layout_sha256"] != layout_sha256:
            raise StoreCorruptError("the stored meta-parameters have another layout")
        flat = torch.frombuffer(bytearray(payload), dtype=torch.float32)
        weights_blob = self.sdl.get(self.ns, [f"weights/{pointer['round'] - 1}"])
        weights = json.loads(next(iter(weights_blob.values())))["weights"] if weights_blob else {}
        return StoredVersion(int(pointer["version"]), int(pointer["round"]), flat, weights)

    def save_version(
        self,
        version: int,
        round_: int,
        flat: Tensor,
        layout_sha256: str,
        closed_round: int | None,
        weights: Mapping[str, Any] | None,
        *,
        flat_sha256: bytes | None = None,
    ) -> None:
        """Write version ``version`` (opening ``round_``) and move ``current`` to it atomically.
        ``flat_sha256``: the SHA-256 of ``flat``'s float32 bytes, when the caller has it."""
        payload = tensor_bytes(flat.detach().to(torch.float32))
        key = f"version/{version}"
        header = {"version": version, "round": round_, "layout_sha256": layout_sha256}
        blob = _pack(header, payload, flat_sha256)
        pointer = json.dumps(
            {"version": version, "round": round_, "key": key, "sha256": hashlib.sha256(blob).hexdigest()}
        ).encode()
        extra = {key: blob}
        if closed_round is not None and weights is not None:
            extra[f"weights/{closed_round}"] = json.dumps(dict(weights)).encode()
        if not self.sdl.compare_and_set(self.ns, "current", self._pointer, pointer, extra):
            raise RuntimeError("the meta-version pointer changed under us (another controller?)")
        self._pointer = pointer
        self.sdl.delete(
            self.ns, [f"version/{v}" for v in range(max(0, version - self.keep - 4), version - self.keep + 1)]
        )
        if closed_round is not None:
            self.sdl.delete(self.ns, self.sdl.keys(self.ns, f"update/{closed_round}/*"))

    def versions(self) -> list[int]:
        return sorted(int(k.split("/")[1]) for k in self.sdl.keys(self.ns, "version/*"))

    def weight_history(self) -> dict[int, Any]:
        keys = self.sdl.keys(self.ns, "weights/*")
        return {int(k.split("/")[1]): json.loads(v) for k, v in self.sdl.get(self.ns, keys).items()}

    # ---- DUs and accepted updates ---------------------------------------------------------
    def save_du(self, du: str, task_json: str) -> None:
        self.sdl.set(self.ns, {f"du/{du}": task_json.encode()})

    def load_dus(self) -> dict[str, str]:
        keys = self.sdl.keys(self.ns, "du/*")
        got = self.sdl.get(self.ns, keys)
        return {k.split("/", 1)[1]: got[k].decode() for k in keys if k in got}

    def save_update(self, upload: Upload, wire: bytes | memoryview) -> None:
        self.put_update(upload, self.pack_update(upload, wire))

    @staticmethod
    def pack_update(upload: Upload, wire: bytes | memoryview, *, trust_digest: bool = False) -> bytes:
        """The stored record of an accepted update (a copy: ``wire`` may change afterwards).

        ``trust_digest``: label the payload with ``upload.digest`` instead of hashing it; the
        caller then checks the record's own payload (`record_payload`) against that digest
        before storing it, which is one hash of one private copy instead of two."""
        header = asdict(upload) | {"td": {g: asdict(s) for g, s in upload.td.items()}}
        header.pop("received")
        header.pop("revision")
        header["digest"] = upload.digest.hex()
        return _pack(header, wire, upload.digest if trust_digest else None)

    def put_update(self, upload: Upload, record: bytes) -> None:
        self.sdl.set(self.ns, {f"update/{upload.round}/{upload.du}": record})

    def load_updates(self, round_: int) -> list[tuple[Upload, bytes]]:
        keys = self.sdl.keys(self.ns, f"update/{round_}/*")
        out: list[tuple[Upload, bytes]] = []
        for key, blob in sorted(self.sdl.get(self.ns, keys).items()):
            h, payload = _unpack(blob, key)
            td = {g: TdStat(float(s["variance"]), int(s["count"])) for g, s in h["td"].items()}
            upload = Upload(
                h["upload_id"], h["du"], int(h["round"]), int(h["base_version"]), h["dtype"],
                int(h["total_bytes"]), int(h["chunk_bytes"]), bytes.fromhex(h["digest"]), td,
                int(h["samples"]), int(h["n_chunks"]),
            )  # fmt: skip
            out.append((upload, bytes(payload)))
        return out


def wire_bytes(row: Tensor, dtype: WireDType) -> memoryview:
    """The wire buffer of a decoded row (no copy when the row already has the wire dtype, else
    a private converted copy, `row_to_wire`)."""
    return tensor_bytes(row) if row.dtype == torch_dtype(dtype) else row_to_wire(row, dtype)
