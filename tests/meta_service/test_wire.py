"""The copy-free paths of the meta-controller's data: `rawpb` against protobuf's own bytes (split
of what protobuf serialized, join parsed back by protobuf, byte for byte where the field order
allows, malformed input raises DecodeError); the wire conversions against torch's, bit for bit;
and a commit whose row a chunk rewrote after it was checked is not accepted."""

from __future__ import annotations

import math

import pytest
import torch
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from meta_controller.algorithm import MetaConfig
from meta_controller.proto_gen import metahrl_pb2 as pb
from meta_controller.rawpb import Raw, deserializer, join, serializer, split
from meta_controller.rounds import Refused, RoundConfig, Rounds, TdStat
from meta_controller.service import CHUNK_DATA_FIELD, META_INIT_DATA_FIELD, Published
from meta_controller.store import record_payload, wire_bytes
from meta_controller.wire import all_finite, decode_chunk_into, encode, row_to_wire, sha256
from tests.meta_service.helpers import layout, make_update, theta0


def test_split_lifts_the_field_out_of_protobufs_bytes() -> None:
    data = bytes(range(256)) * 40
    msg = pb.UploadChunkRequest(upload_id="du-1/3/ab", index=7, data=data, sha256=sha256(data))
    rest, view = split(msg.SerializeToString(), CHUNK_DATA_FIELD)
    assert bytes(view) == data
    parsed = pb.UploadChunkRequest.FromString(rest)
    assert (parsed.upload_id, parsed.index, parsed.sha256, parsed.data) == (msg.upload_id, 7, msg.sha256, b"")
    raw = deserializer(pb.UploadChunkRequest, CHUNK_DATA_FIELD)(msg.SerializeToString())
    assert raw.message == parsed and bytes(raw.data) == data


def test_join_is_protobufs_message() -> None:
    data = b"\x00\x01\xff" * 1000
    head = pb.UploadChunkRequest(upload_id="x/0/00", index=2, sha256=b"s" * 32)
    sent = serializer(CHUNK_DATA_FIELD)(Raw(head, memoryview(data)))
    want = pb.UploadChunkRequest(upload_id="x/0/00", index=2, data=data, sha256=b"s" * 32)
    assert pb.UploadChunkRequest.FromString(sent) == want
    # data is MetaInitChunk's highest field: the very bytes protobuf writes
    chunk = pb.MetaInitChunk(version=4, round=3, index=1, n_chunks=2)
    full = pb.MetaInitChunk(version=4, round=3, index=1, n_chunks=2, data=data)
    assert join(chunk, META_INIT_DATA_FIELD, data) == full.SerializeToString()
    assert join(chunk, META_INIT_DATA_FIELD, b"") == chunk.SerializeToString()  # proto3: not written


def test_published_messages_parse_to_the_meta_init() -> None:
    flat = layout().flatten(theta0())
    data = encode(flat, layout(), "float32")
    pub = Published.of(2, 1, {"high": {"a": 1.0}}, memoryview(data), 1000)
    parts = [pb.MetaInitChunk.FromString(m) for m in pub.messages]
    assert b"".join(p.data for p in parts) == data and pub.digest == sha256(data)
    assert [p.index for p in parts] == list(range(len(parts))) and parts[0].sha256 == sha256(data)
    assert parts[0].weights[0].du_id == "a" and parts[-1].n_chunks == len(parts)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_split_of_any_bytes_parses_or_raises_decode_error(blob: bytes) -> None:
    try:
        rest, view = split(blob, CHUNK_DATA_FIELD)
    except DecodeError:
        return
    assert len(rest) + len(view) <= len(blob)


def test_split_refuses_truncated_fields() -> None:
    good = pb.UploadChunkRequest(upload_id="a", data=b"x" * 300).SerializeToString()
    assert good[:3] == b"\x0a\x01a"  # field 1, then field 3 (data) from byte 3 to the end
    for cut in range(4, len(good)):  # every cut inside the data field
        try:
            split(good[:cut], CHUNK_DATA_FIELD)
        except DecodeError:
            continue
        pytest.fail(f"a message cut at {cut} of {len(good)} bytes was accepted")


CASES = [(torch.float32, "float32"), (torch.float32, "bfloat16"), (torch.bfloat16, "bfloat16"),
         (torch.bfloat16, "float32")]  # fmt: skip


@pytest.mark.parametrize(("row_dtype", "wire"), CASES)
def test_decode_and_back_match_torch(row_dtype: torch.dtype, wire: str) -> None:
    values = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    values[[3, 500]] = torch.tensor([float("inf"), -0.0])
    data = values.to(torch.bfloat16 if wire == "bfloat16" else torch.float32)
    blob = data.view(torch.uint8).numpy().tobytes()
    row = torch.zeros(1000, dtype=row_dtype)
    chunk = 400 * (2 if wire == "bfloat16" else 4)
    for i in range(3):
        decode_chunk_into(row, blob[i * chunk : (i + 1) * chunk], i, chunk, wire)  # type: ignore[arg-type]
    assert torch.equal(row.view(torch.uint8), data.to(row_dtype).view(torch.uint8))
    if row_dtype == torch.float32 or wire == "bfloat16":  # these round-trip exactly
        assert bytes(row_to_wire(row, wire)) == blob  # type: ignore[arg-type]
        assert bytes(wire_bytes(row, wire)) == blob  # type: ignore[arg-type]


def test_all_finite() -> None:
    for dtype, torch_dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        ok = torch.tensor([0.0, -1.5, 3e38, -0.0]).to(torch_dtype)
        assert all_finite(ok.view(torch.uint8).numpy().tobytes(), dtype)  # type: ignore[arg-type]
        for bad in (math.inf, -math.inf, math.nan):
            x = ok.clone()
            x[2] = bad
            assert not all_finite(x.view(torch.uint8).numpy().tobytes(), dtype)  # type: ignore[arg-type]


def _uploaded(rounds: Rounds, du: str, seed: int) -> tuple[str, bytes]:
    update = make_update(seed)
    data = encode(update.grads, layout(), "float32")
    td = {g: TdStat(v) for g, v in update.td_variance.items()}
    upload = rounds.begin(du, 0, 0, "float32", len(data), 1024, sha256(data), td, 1)
    for i in range(upload.n_chunks):
        part = data[i * 1024 : (i + 1) * 1024]
        rounds.chunk(upload.upload_id, i, part, sha256(part))
    return upload.upload_id, data


def test_a_row_rewritten_during_its_commit_is_not_accepted() -> None:
    rounds = Rounds(theta0(), MetaConfig(), RoundConfig(min_updates=1, max_chunk_bytes=1024))
    spec = [(n, list(s)) for n, s in zip(rounds.layout.names, rounds.layout.shapes, strict=True)]
    rounds.register("a", "{}", rounds.layout_sha256, spec)
    upload_id, data = _uploaded(rounds, "a", 0)
    update = rounds.complete(upload_id)
    rounds.check(update, row_to_wire(update.row, "float32"))
    other = encode(make_update(1).grads, layout(), "float32")[:1024]
    rounds.chunk(upload_id, 0, other, sha256(other))  # a different chunk 0 after the check
    with pytest.raises(Refused) as err:
        rounds.accept(update, 0.0)
    assert err.value.reason == "duplicate" and not rounds.reporting
    # what the service stores is a checked private copy: a record of the rewritten row fails
    from meta_controller.store import MetaStore

    record = MetaStore.pack_update(update.upload, wire_bytes(update.row, "float32"), trust_digest=True)
    with pytest.raises(Refused, match="sha256"):
        rounds.check(rounds.complete(upload_id), record_payload(record))
    assert bytes(record_payload(MetaStore.pack_update(update.upload, data))) == data
