"""Fixtures for the meta-controller tests: a private real redis-server per test that needs one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.meta_service.redis_proc import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", aof=False)
    server.directory.mkdir()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_aof_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis-aof", aof=True, fsync="always")
    server.directory.mkdir()
    server.start()
    yield server
    server.stop()
