"""Checkpoint store: round trips on disk and on a real Redis, the last two kept, corrupt
checkpoints skipped (warning + metric), failed writes counted and never raised."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import redis
import torch
from prometheus_client import CollectorRegistry

from tests.agent.conftest import tiny_config, toy_step
from tests.xapp_service.conftest import REDIS_URL, open_redis_sdl
from xapps.agent import HierarchicalAgent
from xapps.service.metrics import XappMetrics
from xapps.service.state import CheckpointStore, CheckpointTimer, checkpoint_periodically


@pytest.fixture
def reg() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(reg: CollectorRegistry) -> XappMetrics:
    return XappMetrics(reg)


def count(reg: CollectorRegistry, outcome: str, target: str) -> float:
    return reg.get_sample_value("metahrl_du_checkpoints_total", {"outcome": outcome, "target": target}) or 0.0


def disk_store(tmp_path: Path, metrics: XappMetrics) -> CheckpointStore:
    return CheckpointStore(tmp_path, None, "unused", metrics=metrics)


def trained_agent(seed: int, steps: int) -> HierarchicalAgent:
    agent = HierarchicalAgent(tiny_config(), seed=seed)
    for t in range(steps):
        toy_step(agent, t)
    return agent


def params(agent: HierarchicalAgent) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, torch.Tensor):
            out[prefix] = node
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}", value)
        elif isinstance(node, list | tuple):
            for i, value in enumerate(node):
                walk(f"{prefix}.{i}", value)

    walk("agent", agent.state_dict())
    return out


# ---- disk ---------------------------------------------------------------------------------------


def test_disk_round_trip_of_bytes(tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics) -> None:
    store = disk_store(tmp_path, metrics)
    assert store.load_latest(0) is None
    store.save(0, b"state-bytes", {"version": 3})
    loaded = store.load_latest(0)
    assert loaded is not None
    assert (loaded.state, loaded.meta, loaded.seq, loaded.source) == (
        b"state-bytes",
        {"version": 3},
        1,
        "disk",
    )
    assert count(reg, "saved", "disk") == 1 and count(reg, "loaded", "disk") == 1
    assert store.load_latest(1) is None  # other DUs are separate
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary files left behind


def test_disk_round_trip_of_an_agent_state_dict(
    tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    agent = trained_agent(seed=1, steps=20)
    store = disk_store(tmp_path, metrics)
    store.save(4, agent.state_dict(), {"updates": 20})
    loaded = store.load_latest(4)
    assert loaded is not None and isinstance(loaded.state, dict) and loaded.meta == {"updates": 20}
    restored = HierarchicalAgent(tiny_config(), seed=2)
    restored.load_state_dict(loaded.state)
    want, got = params(agent), params(restored)
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)


def test_keeps_the_last_two(tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics) -> None:
    store = disk_store(tmp_path, metrics)
    for i in range(5):
        store.save(0, f"v{i}".encode(), {"i": i})
    files = sorted(p.name for p in (tmp_path / "ckpt" / "0").iterdir())
    assert files == ["pointer.bin", "slot-0.bin", "slot-1.bin"]
    loaded = store.load_latest(0)
    assert loaded is not None and (loaded.state, loaded.seq) == (b"v4", 5)


def test_a_new_store_continues_the_sequence(
    tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    disk_store(tmp_path, metrics).save(0, b"a", {})
    again = disk_store(tmp_path, metrics)  # a restarted xApp
    again.save(0, b"b", {})
    loaded = again.load_latest(0)
    assert loaded is not None and (loaded.state, loaded.seq) == (b"b", 2)


def flip_a_payload_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_newest_falls_back_to_the_previous(
    tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    store = disk_store(tmp_path, metrics)
    store.save(0, b"older", {"n": 1})
    store.save(0, b"newer", {"n": 2})  # seq 2 → slot 0
    flip_a_payload_byte(tmp_path / "ckpt" / "0" / "slot-0.bin")
    with caplog.at_level(logging.WARNING, logger="xapps.service.state"):
        loaded = store.load_latest(0)
    assert loaded is not None and (loaded.state, loaded.meta, loaded.seq) == (b"older", {"n": 1}, 1)
    assert count(reg, "corrupt", "disk") == 1
    assert any("corrupt checkpoint of DU 0" in r.message and "checksum" in r.message for r in caplog.records)


def test_everything_corrupt_loads_nothing(
    tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    store = disk_store(tmp_path, metrics)
    store.save(0, b"a", {})
    store.save(0, b"b", {})
    for slot in ("slot-0.bin", "slot-1.bin"):
        (tmp_path / "ckpt" / "0" / slot).write_bytes(b"garbage")
    (tmp_path / "ckpt" / "0" / "pointer.bin").write_bytes(b"{not json")
    assert store.load_latest(0) is None
    assert count(reg, "corrupt", "disk") == 3  # pointer + two slots


def test_a_corrupt_torch_payload_with_a_matching_checksum_is_skipped(
    tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    # A blob whose checksum is right but which torch cannot read (e.g. written by a broken
    # serialiser) is as unusable as a torn one.
    store = disk_store(tmp_path, metrics)
    store.save(0, {"w": torch.zeros(2)}, {})
    slot = tmp_path / "ckpt" / "0" / "slot-1.bin"
    data = slot.read_bytes()
    import hashlib
    import json
    import struct

    head_len = struct.unpack_from(">I", data, 8)[0]
    header = json.loads(data[12 : 12 + head_len])
    payload = b"not a torch file"
    header.update(sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
    head = json.dumps(header).encode()
    slot.write_bytes(data[:8] + struct.pack(">I", len(head)) + head + payload)
    pointer = tmp_path / "ckpt" / "0" / "pointer.bin"
    p = json.loads(pointer.read_bytes())
    p["slots"]["1"]["sha256"] = header["sha256"]
    pointer.write_bytes(json.dumps(p).encode())
    assert store.load_latest(0) is None and count(reg, "corrupt", "disk") == 1


def test_unwritable_directory_is_counted_and_logged_once(
    tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    store = CheckpointStore(blocker / "sub", None, "unused", metrics=metrics)
    with caplog.at_level(logging.ERROR, logger="xapps.service.state"):
        store.save(0, b"x", {})
        store.save(0, b"y", {})
    assert count(reg, "failed", "disk") == 2
    assert sum("checkpoint of DU 0 to disk failed" in r.message for r in caplog.records) == 1


def test_unserialisable_meta_is_counted_not_raised(
    tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    store = disk_store(tmp_path, metrics)
    store.save(0, b"x", {"when": object()})
    assert count(reg, "failed", "disk") == 1 and store.load_latest(0) is None


def test_save_async_runs_in_a_thread(tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics) -> None:
    store = disk_store(tmp_path, metrics)
    asyncio.run(store.save_async(2, b"async", {"k": "v"}))
    loaded = store.load_latest(2)
    assert loaded is not None and loaded.state == b"async"


# ---- a real Redis -------------------------------------------------------------------------------


def test_redis_round_trip_keeps_two(
    redis_sdl: Any, namespace: str, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    store = CheckpointStore(None, redis_sdl, namespace, metrics=metrics)
    agent = trained_agent(seed=3, steps=12)
    store.save(1, agent.state_dict(), {"updates": 12})
    for i in range(3):
        store.save(1, f"bytes-{i}".encode(), {"i": i})
    loaded = store.load_latest(1)
    assert loaded is not None and (loaded.state, loaded.seq, loaded.source) == (b"bytes-2", 4, "sdl")
    assert count(reg, "saved", "sdl") == 4
    keys = sorted(k.decode() for k in redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{{{namespace}}},*"))
    assert keys == [f"{{{namespace}}},ckpt/1/{name}" for name in ("pointer", "slot-0", "slot-1")]


def test_redis_agent_state_round_trip(
    redis_sdl: Any, namespace: str, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    agent = trained_agent(seed=5, steps=16)
    store = CheckpointStore(None, redis_sdl, namespace, metrics=metrics)
    store.save(0, agent.state_dict(), {"updates": 16})
    loaded = store.load_latest(0)
    assert loaded is not None and isinstance(loaded.state, dict)
    restored = HierarchicalAgent(tiny_config(), seed=9)
    restored.load_state_dict(loaded.state)
    want, got = params(agent), params(restored)
    assert all(torch.equal(want[k], got[k]) for k in want)


def test_redis_corrupt_newest_is_skipped(
    redis_sdl: Any, namespace: str, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    store = CheckpointStore(None, redis_sdl, namespace, metrics=metrics)
    store.save(0, b"first", {})
    store.save(0, b"second", {})  # slot 0
    client = redis.Redis.from_url(REDIS_URL)
    key = f"{{{namespace}}},ckpt/0/slot-0"
    client.set(key, client.get(key)[:-3])  # type: ignore[index]  # truncated
    loaded = store.load_latest(0)
    assert loaded is not None and loaded.state == b"first"
    assert count(reg, "corrupt", "sdl") == 1


def test_disk_and_redis_together_newest_wins(
    tmp_path: Path, redis_sdl: Any, namespace: str, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    store = CheckpointStore(tmp_path, redis_sdl, namespace, metrics=metrics)
    store.save(0, b"one", {})
    store.save(0, b"two", {})
    assert count(reg, "saved", "disk") == 2 and count(reg, "saved", "sdl") == 2
    # the disk copy is lost (a fresh pod): the SDL still has it
    fresh = CheckpointStore(tmp_path / "empty", redis_sdl, namespace, metrics=metrics)
    loaded = fresh.load_latest(0)
    assert loaded is not None and (loaded.state, loaded.source) == (b"two", "sdl")
    fresh.save(0, b"three", {})  # disk seq 1, SDL seq 3: compared by time, not seq
    loaded = fresh.load_latest(0)
    assert loaded is not None and loaded.state == b"three"


def test_redis_down_is_counted_and_disk_still_written(
    tmp_path: Path,
    dead_redis_url: str,
    reg: CollectorRegistry,
    metrics: XappMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = CheckpointStore(tmp_path, open_redis_sdl(dead_redis_url), "ns", metrics=metrics)
    with caplog.at_level(logging.ERROR, logger="xapps.service.state"):
        store.save(0, b"x", {})
        asyncio.run(store.save_async(0, b"y", {}))
    assert count(reg, "failed", "sdl") == 2 and count(reg, "saved", "disk") == 2
    assert sum("to sdl failed" in r.message for r in caplog.records) == 1
    loaded = store.load_latest(0)  # the SDL is unreadable too: skipped, disk answers
    assert loaded is not None and (loaded.state, loaded.source) == (b"y", "disk")


# ---- periodic checkpoints -----------------------------------------------------------------------


def test_checkpoint_timer() -> None:
    timer = CheckpointTimer(10.0, now=100.0)
    assert not timer.due(109.9) and timer.due(110.0) and timer.next_due() == 110.0
    timer.mark(112.0)
    assert not timer.due(121.0) and timer.due(122.0)
    timer.interval_s = 1.0  # a config PUT shortened it
    assert timer.due(113.0)


def test_periodic_checkpoints_until_stopped_then_a_final_one(
    tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    store = disk_store(tmp_path, metrics)
    taken: list[int] = []

    def snapshot() -> tuple[bytes, dict[str, Any]] | None:
        taken.append(len(taken))
        if len(taken) == 2:
            raise RuntimeError("learner busy")  # logged; the loop carries on
        return f"v{len(taken)}".encode(), {"n": len(taken)}

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(checkpoint_periodically(store, 0, snapshot, lambda: 0.005, stop))
        deadline = asyncio.get_running_loop().time() + 10.0
        while count(reg, "saved", "disk") < 3:  # bounded poll, not a timed assertion
            assert asyncio.get_running_loop().time() < deadline, "no periodic checkpoints"
            await asyncio.sleep(0.005)
        stop.set()
        await asyncio.wait_for(task, 10.0)

    asyncio.run(scenario())
    saved = count(reg, "saved", "disk")
    assert saved == len(taken) - 1  # every snapshot but the failing one, including the final one
    loaded = store.load_latest(0)
    assert loaded is not None
    state, meta = loaded  # unpacks like a (state, meta) pair
    assert state == f"v{len(taken)}".encode() and meta == {"n": len(taken)}


def test_periodic_without_final_does_not_save_on_stop(
    tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics
) -> None:
    store = disk_store(tmp_path, metrics)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            checkpoint_periodically(store, 0, lambda: (b"x", {}), lambda: 3600.0, stop, final=False)
        )
        await asyncio.sleep(0)
        stop.set()
        await asyncio.wait_for(task, 10.0)

    asyncio.run(scenario())
    assert count(reg, "saved", "disk") == 0


def test_du_ids_must_be_plain_names(tmp_path: Path, reg: CollectorRegistry, metrics: XappMetrics) -> None:
    store = disk_store(tmp_path, metrics)
    store.save("../escape", b"x", {})  # counted, not raised, nothing written outside
    assert count(reg, "failed", "disk") == 1 and not (tmp_path.parent / "escape").exists()
    with pytest.raises(ValueError, match="DU id"):
        store.load_latest("a/b")
    store.save("du-7", b"named", {})
    loaded = store.load_latest("du-7")
    assert loaded is not None and loaded.state == b"named"
