"""Fixtures: a real Redis SDL store (redis://127.0.0.1:6379, which .ci/run guarantees) under a
unique namespace per test, and a URL on which nothing listens."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379"


class _RedisSdl:
    """Minimal stand-in for `ric.sdl`'s Redis store (same interface and OSC key layout
    ``{namespace},key``), used only while `ric.sdl` is not in the tree."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)

    @staticmethod
    def _key(ns: str, key: str) -> str:
        return f"{{{ns}}},{key}"

    def get(self, ns: str, keys: Iterable[str]) -> dict[str, bytes]:
        keys = list(keys)
        values = cast(list[bytes | None], self._client.mget([self._key(ns, k) for k in keys]) if keys else [])
        return {k: v for k, v in zip(keys, values, strict=True) if v is not None}

    def set(self, ns: str, items: Mapping[str, bytes]) -> None:
        with self._client.pipeline(transaction=True) as pipe:
            for key, value in items.items():
                pipe.set(self._key(ns, key), value)
            pipe.execute()

    def compare_and_set(
        self, ns: str, key: str, expected: bytes | None, new: bytes, extra: Mapping[str, bytes] = {}
    ) -> bool:
        full = self._key(ns, key)
        with self._client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(full)
                if pipe.get(full) != expected:
                    pipe.unwatch()
                    return False
                pipe.multi()
                pipe.set(full, new)
                for k, v in extra.items():
                    pipe.set(self._key(ns, k), v)
                pipe.execute()
            except redis.WatchError:
                return False
        return True

    def ping(self) -> bool:
        return bool(self._client.ping())

    def close(self) -> None:
        self._client.close()


def open_redis_sdl(url: str) -> Any:
    try:
        from ric.sdl import open_sdl  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _RedisSdl(url)
    return open_sdl(url)


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1.0).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_sdl() -> Iterator[Any]:
    if not _redis_up():
        pytest.skip(f"no Redis at {REDIS_URL} (.ci/run starts one)")
    store = open_redis_sdl(REDIS_URL)
    yield store
    close = getattr(store, "close", None)
    if close is not None:
        close()


@pytest.fixture
def namespace() -> Iterator[str]:
    ns = f"test-{uuid.uuid4().hex}"
    yield ns
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1.0)
    try:
        keys = list(client.scan_iter(match=f"{{{ns}}},*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass
    finally:
        client.close()


@pytest.fixture
def dead_redis_url() -> str:
    """A redis:// URL on a loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}"
