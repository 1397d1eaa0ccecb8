"""ric.sdl: the memory and Redis stores behave the same (against a real redis-server), the OSC key
layout, atomic CAS with extra items, errors when Redis is down, and URL selection."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from ric.sdl import MemorySdl, RedisSdl, SdlStore, SdlUnavailableError, open_sdl, sdl_key
from tests.meta_service.redis_proc import RedisServer, free_port


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[SdlStore]:
    if request.param == "memory":
        sdl: SdlStore = MemorySdl()
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        sdl = open_sdl(server.url)
    yield sdl
    sdl.close()


def test_get_set_delete_keys(store: SdlStore) -> None:
    store.set("ns", {"a": b"1", "b": b"2", "c*": b"3"})
    store.set("other", {"a": b"x"})
    assert store.get("ns", ["a", "b", "missing"]) == {"a": b"1", "b": b"2"}
    assert store.get("ns", []) == {}
    assert store.keys("ns") == ["a", "b", "c*"]
    assert store.keys("ns", "c*") == ["c*"]
    store.delete("ns", ["a", "missing"])
    assert store.get("ns", ["a", "b"]) == {"b": b"2"}
    assert store.get("other", ["a"]) == {"a": b"x"}
    assert store.ping()


def test_compare_and_set(store: SdlStore) -> None:
    assert store.compare_and_set("ns", "ptr", None, b"v1", {"blob-1": b"one"})
    assert store.get("ns", ["ptr", "blob-1"]) == {"ptr": b"v1", "blob-1": b"one"}
    # wrong expectation: nothing written, extra included
    assert not store.compare_and_set("ns", "ptr", None, b"v2", {"blob-2": b"two"})
    assert not store.compare_and_set("ns", "ptr", b"v0", b"v2", {"blob-2": b"two"})
    assert store.get("ns", ["ptr", "blob-2"]) == {"ptr": b"v1"}
    assert store.compare_and_set("ns", "ptr", b"v1", b"v2", {"blob-2": b"two"})
    assert store.get("ns", ["ptr", "blob-2"]) == {"ptr": b"v2", "blob-2": b"two"}


def test_concurrent_cas_has_one_winner_per_value(store: SdlStore) -> None:
    store.set("ns", {"ctr": b"0"})
    wins: list[int] = []

    def worker() -> None:
        for _ in range(50):
            while True:
                cur = store.get("ns", ["ctr"])["ctr"]
                if store.compare_and_set("ns", "ctr", cur, str(int(cur) + 1).encode()):
                    wins.append(1)
                    break

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert store.get("ns", ["ctr"])["ctr"] == b"200" and len(wins) == 200


def test_osc_key_layout(redis_server: RedisServer) -> None:
    store = open_sdl(redis_server.url)
    store.set("meta", {"current": b"7"})
    raw = redis.Redis.from_url(redis_server.url)
    assert raw.get("{meta},current") == b"7" and sdl_key("meta", "current") == "{meta},current"
    raw.set("{meta},foreign", b"f")
    assert store.keys("meta") == ["current", "foreign"]
    raw.close()
    store.close()


def test_glob_chars_in_namespace_are_literal(redis_server: RedisServer) -> None:
    store = open_sdl(redis_server.url)
    store.set("a*", {"k": b"1"})
    store.set("ab", {"k": b"2"})
    assert store.keys("a*") == ["k"] and store.get("a*", ["k"]) == {"k": b"1"}
    store.close()


def test_bad_namespace_refused() -> None:
    with pytest.raises(ValueError, match="namespace"):
        MemorySdl().set("", {"k": b"v"})
    with pytest.raises(ValueError, match="namespace"):
        MemorySdl().get("a}b", ["k"])


def test_redis_down_raises_one_error_class_and_ping_is_false() -> None:
    store = open_sdl(f"redis://127.0.0.1:{free_port()}/0", connect_timeout_s=0.5)
    assert not store.ping()
    for call in (
        lambda: store.get("ns", ["a"]),
        lambda: store.set("ns", {"a": b"1"}),
        lambda: store.delete("ns", ["a"]),
        lambda: store.compare_and_set("ns", "a", None, b"1"),
        lambda: store.keys("ns"),
    ):
        with pytest.raises(SdlUnavailableError, match=r"127\.0\.0\.1"):
            call()
    store.close()


def test_reconnects_after_redis_restart(redis_aof_server: RedisServer) -> None:
    store = open_sdl(redis_aof_server.url)
    store.set("ns", {"a": b"1"})
    redis_aof_server.kill()
    assert not store.ping()
    with pytest.raises(SdlUnavailableError):
        store.get("ns", ["a"])
    redis_aof_server.start()
    assert store.ping() and store.get("ns", ["a"]) == {"a": b"1"}
    store.close()


def test_open_sdl_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_sdl("memory"), MemorySdl)
    r = open_sdl("redis://127.0.0.1:1234/2")
    assert isinstance(r, RedisSdl) and r.url == "redis://127.0.0.1:1234/2"
    d = open_sdl("dbaas", env={"DBAAS_SERVICE_HOST": "dbaas-tcp", "DBAAS_SERVICE_PORT": "6380"})
    assert isinstance(d, RedisSdl) and d.url == "redis://dbaas-tcp:6380/0"
    assert isinstance(d2 := open_sdl("dbaas", env={"DBAAS_SERVICE_HOST": "h"}), RedisSdl)
    assert d2.url == "redis://h:6379/0"
    monkeypatch.setenv("DBAAS_SERVICE_HOST", "from-env")
    monkeypatch.delenv("DBAAS_SERVICE_PORT", raising=False)
    assert open_sdl("dbaas").url == "redis://from-env:6379/0"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="DBAAS_SERVICE_HOST"):
        open_sdl("dbaas", env={})
    with pytest.raises(ValueError, match="DBAAS_SERVICE_PORT"):
        open_sdl("dbaas", env={"DBAAS_SERVICE_HOST": "h", "DBAAS_SERVICE_PORT": "x"})
    with pytest.raises(ValueError, match="expected 'memory'"):
        open_sdl("mysql://x")
