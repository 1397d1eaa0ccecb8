"""Shared fixtures for the E2 codec tests: the interop vectors in ``<repo>/../shared``.

The vectors are read in place (never copied into the repository). Their location is
``$METAHRL_SHARED_DIR/interop/e2`` if that variable is set, else ``shared/interop/e2``
next to the repository; tests needing them are skipped, with the path in the reason,
only when that directory does not exist.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    override = os.environ.get("METAHRL_SHARED_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared"


INTEROP_DIR = shared_dir() / "interop" / "e2"


@dataclass(frozen=True)
class Vector:
    name: str
    protocol: str
    data: bytes
    pycrate_decodes: bool
    summary: str


def load_vectors() -> dict[str, Vector]:
    if not INTEROP_DIR.is_dir():
        return {}
    out = {}
    for path in sorted(INTEROP_DIR.glob("*.json")):
        raw = json.loads(path.read_text())
        out[raw["name"]] = Vector(
            raw["name"],
            raw["protocol"],
            bytes.fromhex(raw["hex"]),
            bool(raw["pycrate_decodes"]),
            raw["decoded_summary"],
        )
    return out


VECTORS = load_vectors()
needs_vectors = pytest.mark.skipif(
    not VECTORS, reason=f"interop vectors not found in {INTEROP_DIR} (set METAHRL_SHARED_DIR)"
)


def vector(name: str) -> bytes:
    """The bytes of interop vector ``name`` (skips the test if the vectors are absent)."""
    if name not in VECTORS:
        pytest.skip(f"interop vector {name} not found in {INTEROP_DIR}")
    return VECTORS[name].data
