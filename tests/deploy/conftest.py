"""Shared fixtures of the deployment checks: the repository's deploy/ tree, the OSC conformance
data in ../shared/interop/osc (as CI lays it out), and a real Helm engine (helm-python-sdk)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.helm import HelmEngine

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OSC = ROOT.parent / "shared" / "interop" / "osc"


@pytest.fixture(scope="session")
def osc_dir() -> Path:
    if not (OSC / "xapp-descriptor.schema.json").exists():
        pytest.skip(f"OSC conformance data not found at {OSC} (CI has ../shared next to the repo)")
    return OSC


@pytest.fixture(scope="session")
def helm() -> Iterator[HelmEngine]:
    try:
        import helm_python
    except ImportError as exc:  # pragma: no cover - depends on the environment
        pytest.skip(f"helm-python-sdk is not installed (pip install -e '.[deploy]'): {exc}")
    helm_python.disable_logging()
    yield HelmEngine(helm_python)
