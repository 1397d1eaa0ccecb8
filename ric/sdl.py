"""Shared Data Layer (SDL) stores with OSC SDL conventions: an in-memory one and Redis.

Keys live in namespaces and are stored as ``{namespace},key`` (the layout OSC's ``ricsdl`` uses,
so other SDL clients see the same keys). Values are bytes. Both stores implement `SdlStore`:

- ``set`` writes all items in one MULTI/EXEC (all or nothing);
- ``compare_and_set`` is a check-and-set on one key (WATCH-based on Redis) that writes ``extra``
  items in the same MULTI/EXEC, so a blob and the pointer to it move together;
- ``ping`` never raises; every other Redis call raises `SdlUnavailableError` (and only that)
  when Redis cannot be reached or refuses the command.

`open_sdl` picks a store from a URL: ``memory``, ``redis://host:port[/db]`` or ``dbaas`` (host and
port from ``DBAAS_SERVICE_HOST`` / ``DBAAS_SERVICE_PORT``, as OSC platform pods get them).
Constructors do not touch the network; Redis connects on first use.
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Protocol, TypeVar, runtime_checkable

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_SOCKET_TIMEOUT_S",
    "MemorySdl",
    "RedisSdl",
    "SdlError",
    "SdlStore",
    "SdlUnavailableError",
    "open_sdl",
    "sdl_key",
]

DEFAULT_CONNECT_TIMEOUT_S: Final = 1.0
DEFAULT_SOCKET_TIMEOUT_S: Final = 5.0  # a 14 MB blob in one MULTI/EXEC takes ~0.1 s on loopback
_DBAAS_DEFAULT_PORT: Final = 6379
_GLOB_SPECIALS: Final = re.compile(r"([*?\[\]\\])")

T = TypeVar("T")


class SdlError(Exception):
    """Base class of SDL errors."""


class SdlUnavailableError(SdlError):
    """The SDL backend cannot be reached or refused the command (Redis down, timeout, read-only…)."""


@runtime_checkable
class SdlStore(Protocol):
    """A namespaced key → bytes store (OSC SDL conventions)."""

    def get(self, ns: str, keys: Iterable[str]) -> dict[str, bytes]:
        """The values of `keys` that exist (missing keys are absent from the result)."""
        ...

    def set(self, ns: str, items: Mapping[str, bytes]) -> None:
        """Write all `items` atomically."""
        ...

    def delete(self, ns: str, keys: Iterable[str]) -> None:
        """Remove `keys` (missing ones are ignored)."""
        ...

    def compare_and_set(
        self, ns: str, key: str, expected: bytes | None, new: bytes, extra: Mapping[str, bytes] = ...
    ) -> bool:
        """Set `key` to `new` (and write `extra`) iff it holds `expected` (None: absent); atomic."""
        ...

    def keys(self, ns: str, pattern: str = "*") -> list[str]:
        """Keys of `ns` matching the glob `pattern` (without the namespace prefix), sorted."""
        ...

    def ping(self) -> bool:
        """Whether the backend answers; never raises."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def sdl_key(ns: str, key: str) -> str:
    """The stored key of `key` in namespace `ns`: ``{ns},key``."""
    return f"{{{ns}}},{key}"


def _check_ns(ns: str) -> str:
    if not ns or "}" in ns:
        raise ValueError(f"SDL namespace {ns!r}: must be non-empty and contain no '}}'")
    return ns


class MemorySdl:
    """The embedded SDL: a dict behind a lock (thread-safe; lost when the process ends)."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, ns: str, keys: Iterable[str]) -> dict[str, bytes]:
        _check_ns(ns)
        with self._lock:
            return {k: self._data[sdl_key(ns, k)] for k in keys if sdl_key(ns, k) in self._data}

    def set(self, ns: str, items: Mapping[str, bytes]) -> None:
        _check_ns(ns)
        staged = {sdl_key(ns, k): bytes(v) for k, v in items.items()}
        with self._lock:
            self._data.update(staged)

    def delete(self, ns: str, keys: Iterable[str]) -> None:
        _check_ns(ns)
        with self._lock:
            for k in keys:
                self._data.pop(sdl_key(ns, k), None)

    def compare_and_set(
        self, ns: str, key: str, expected: bytes | None, new: bytes, extra: Mapping[str, bytes] = {}
    ) -> bool:
        _check_ns(ns)
        staged = {sdl_key(ns, k): bytes(v) for k, v in extra.items()}
        staged[sdl_key(ns, key)] = bytes(new)
        with self._lock:
            if self._data.get(sdl_key(ns, key)) != expected:
                return False
            self._data.update(staged)
        return True

    def keys(self, ns: str, pattern: str = "*") -> list[str]:
        prefix = sdl_key(_check_ns(ns), "")
        with self._lock:
            names = [k[len(prefix) :] for k in self._data if k.startswith(prefix)]
        return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release (the data stays until the object is dropped)."""


class RedisSdl:
    """The SDL on a Redis server (redis-py), with explicit connect and socket timeouts.

    One failed-connection retry with a short backoff; after that, `SdlUnavailableError`.
    """

    def __init__(
        self,
        url: str,
        *,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        socket_timeout_s: float = DEFAULT_SOCKET_TIMEOUT_S,
    ) -> None:
        self.url = url
        self._client = redis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=socket_timeout_s,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
            retry_on_timeout=False,
        )

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except redis.RedisError as exc:
            raise SdlUnavailableError(f"SDL {what} on {self.url}: {type(exc).__name__}: {exc}") from exc

    def get(self, ns: str, keys: Iterable[str]) -> dict[str, bytes]:
        _check_ns(ns)
        names = list(keys)
        if not names:
            return {}
        values: list[bytes | None] = self._call(
            "get",
            lambda: self._client.mget([sdl_key(ns, k) for k in names]),  # type: ignore[arg-type,return-value]
        )
        return {k: v for k, v in zip(names, values, strict=True) if v is not None}

    def set(self, ns: str, items: Mapping[str, bytes]) -> None:
        _check_ns(ns)
        if not items:
            return

        def run() -> None:
            with self._client.pipeline(transaction=True) as pipe:
                for k, v in items.items():
                    pipe.set(sdl_key(ns, k), v)
                pipe.execute()

        self._call("set", run)

    def delete(self, ns: str, keys: Iterable[str]) -> None:
        _check_ns(ns)
        names = [sdl_key(ns, k) for k in keys]
        if names:
            self._call("delete", lambda: self._client.delete(*names))

    def compare_and_set(
        self, ns: str, key: str, expected: bytes | None, new: bytes, extra: Mapping[str, bytes] = {}
    ) -> bool:
        _check_ns(ns)
        full = sdl_key(ns, key)

        def run() -> bool:
            with self._client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(full)
                    if pipe.get(full) != expected:
                        pipe.unwatch()
                        return False
                    pipe.multi()
                    pipe.set(full, new)
                    for k, v in extra.items():
                        pipe.set(sdl_key(ns, k), v)
                    pipe.execute()
                except redis.WatchError:
                    return False
            return True

        return self._call("compare_and_set", run)

    def keys(self, ns: str, pattern: str = "*") -> list[str]:
        prefix = sdl_key(_check_ns(ns), "")
        match = _GLOB_SPECIALS.sub(r"\\\1", prefix) + pattern
        found: list[bytes] = self._call("keys", lambda: list(self._client.scan_iter(match=match, count=500)))
        return sorted(k.decode()[len(prefix) :] for k in found)

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except (redis.RedisError, OSError):
            return False

    def close(self) -> None:
        self._client.close()


def _dbaas_url(env: Mapping[str, str]) -> str:
    host = env.get("DBAAS_SERVICE_HOST", "").strip()
    if not host:
        raise ValueError("SDL 'dbaas': DBAAS_SERVICE_HOST is not set (and DBAAS_SERVICE_PORT, default 6379)")
    port_text = env.get("DBAAS_SERVICE_PORT", "").strip() or str(_DBAAS_DEFAULT_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"SDL 'dbaas': DBAAS_SERVICE_PORT={port_text!r} is not a port number")
    return f"redis://{host}:{int(port_text)}/0"


def open_sdl(
    url: str,
    *,
    env: Mapping[str, str] | None = None,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    socket_timeout_s: float = DEFAULT_SOCKET_TIMEOUT_S,
) -> SdlStore:
    """A store for `url`: ``memory``, ``redis://host:port[/db]`` (or ``rediss://``) or ``dbaas``.

    `env` defaults to the process environment (read at call time, only for ``dbaas``).
    """
    spec = url.strip()
    if spec == "memory":
        return MemorySdl()
    if spec == "dbaas":
        spec = _dbaas_url(os.environ if env is None else env)
    if spec.startswith(("redis://", "rediss://")):
        return RedisSdl(spec, connect_timeout_s=connect_timeout_s, socket_timeout_s=socket_timeout_s)
    raise ValueError(f"SDL {url!r}: expected 'memory', 'redis://host:port[/db]' or 'dbaas'")
