"""Corrupt, truncated and wrong files given to the real CLI entry points (``metahrl.cli.main``):
checkpoints (``metahrl xapp --init``, ``metahrl eval --policy``, ``metahrl meta-controller
--init``), scenario files (``metahrl sim --scenario``) and OSC descriptors (``CONFIG_FILE`` of
``metahrl xapp``). Each must end with a short error on stderr that names the file and the
problem, a non-zero exit status and no traceback.

The checkpoint reader itself is also fuzzed (Hypothesis: truncations, overwritten and zeroed
ranges of a real ``torch.save`` file): it returns a mapping or raises `CheckpointError` naming the
file, never anything else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments.checkpoint import FORMAT
from metahrl.cli import main
from xapps.agent import CheckpointError, load_checkpoint_file, save_checkpoint_file

ONBOARD_DU = Path(__file__).resolve().parents[2] / "deploy" / "onboard" / "du-xapp" / "config-file.json"


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.err + captured.out


def _assert_clear(rc: int, out: str, path: Path, *problem: str) -> None:
    assert rc != 0, out
    assert "Traceback" not in out, out
    assert str(path) in out, out  # names the file
    for words in problem:
        assert words in out, out  # and the problem
    assert len(out.strip().splitlines()) <= 3, out  # a message, not a dump


# ---- checkpoints ----------------------------------------------------------------------------


def _real_checkpoint(path: Path) -> bytes:
    save_checkpoint_file({"format": FORMAT, "w": torch.arange(64, dtype=torch.float32), "n": 3}, path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _real_checkpoint(tmp_path_factory.mktemp("ckpt") / "real.pt")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(0, 4000),
    overwrite=st.tuples(st.integers(0, 4000), st.binary(min_size=1, max_size=16)),
    mode=st.sampled_from(["truncate", "overwrite", "zero"]),
)
def test_a_damaged_checkpoint_file_loads_or_is_a_checkpoint_error_naming_it(
    tmp_path: Path, checkpoint_bytes: bytes, cut: int, overwrite: tuple[int, bytes], mode: str
) -> None:
    data = bytearray(checkpoint_bytes)
    pos, junk = overwrite
    pos %= len(data)
    if mode == "truncate":
        del data[cut % len(data) :]
    elif mode == "overwrite":
        data[pos : pos + len(junk)] = junk
    else:
        data[pos : pos + 64] = bytes(min(64, len(data) - pos))
    path = tmp_path / "damaged.pt"
    path.write_bytes(bytes(data))
    try:
        state = load_checkpoint_file(str(path))
    except CheckpointError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)  # one line naming the file
    else:
        assert isinstance(state, dict)  # a change torch cannot see (e.g. in padding) loads


def _bad_checkpoints(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, words its error must contain)."""
    real = _real_checkpoint(tmp_path / "real.pt")
    files: dict[str, tuple[bytes | Callable[[Path], None], str]] = {
        "empty": (b"", "empty"),
        "truncated": (real[: len(real) // 2], "truncated"),
        "garbage": (b"PK\x03\x04" + bytes(range(256)), "torch.save"),
        "a list": (lambda p: torch.save([1, 2, 3], p), "expected a mapping"),
        "keys missing": (lambda p: torch.save({"format": FORMAT}, p), "missing"),
        "meta missing its agent": (
            lambda p: torch.save(
                {k: {} for k in ("meta", "pool", "trainer", "env", "env_sha256")} | {"format": FORMAT}, p
            ),
            "agent",
        ),
        "wrong format": (
            lambda p: torch.save(
                {k: {} for k in ("meta", "pool", "trainer", "env", "env_sha256")} | {"format": "x/0"}, p
            ),
            "format",
        ),
    }
    out = {}
    for name, (content, words) in files.items():
        path = tmp_path / f"{name.replace(' ', '_')}.pt"
        if callable(content):
            content(path)
        else:
            path.write_bytes(content)
        out[name] = (path, words)
    return out


def test_xapp_init_with_a_bad_checkpoint_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, (path, words) in _bad_checkpoints(tmp_path).items():
        rc, out = _run(capsys, ["xapp", "--init", str(path), "--no-http"])
        assert rc == 2, (name, out)
        _assert_clear(rc, out, path, "init", words)


def test_eval_with_a_bad_checkpoint_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_checkpoints(tmp_path)
    for name in ("empty", "truncated", "garbage", "meta missing its agent"):
        path, _ = bad[name]
        run = tmp_path / f"run-{path.stem}"
        run.mkdir()
        (run / "checkpoint.pt").write_bytes(path.read_bytes())
        rc, out = _run(
            capsys, ["eval", "--policy", str(run), "--seeds", "1", "--steps", "5", "--no-progress"]
        )
        _assert_clear(rc, out, run)


def test_meta_controller_init_with_a_bad_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_checkpoints(tmp_path)
    nan = tmp_path / "nan.pt"
    torch.save({"w": torch.tensor([1.0, float("nan")])}, nan)
    for path, words in [bad["empty"], bad["garbage"], bad["a list"], (nan, "non-finite")]:
        rc, out = _run(capsys, ["meta-controller", "--init", str(path), "--insecure", "--http", "off"])
        _assert_clear(rc, out, path, "init")
        if words in ("non-finite",):
            assert words in out


# ---- scenario files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x00\xff\xfe binary", "not a UTF-8 text file"),
        (b"name: x\nn_du: [\n", "invalid YAML at line 3"),
        (b"- 1\n- 2\n", "expected a mapping"),
        (b"name: x\nn_du: -3\n", "n_du"),
        (b"name: x\nn_du: 2\nnot_a_field: 1\n", "not_a_field"),
        (b"name: x\nn_du: 1e999\n", "n_du"),
    ],
    ids=["binary", "truncated", "a list", "bad value", "unknown field", "infinite"],
)
def test_a_bad_scenario_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, words: str
) -> None:
    path = tmp_path / "site.yaml"
    path.write_bytes(content)
    rc, out = _run(capsys, ["sim", "--scenario", str(path), "--steps", "1"])
    _assert_clear(rc, out, path, words)


def test_a_scenario_path_that_is_a_directory_or_missing_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in (tmp_path / "dir.yaml", tmp_path / "missing.yaml"):
        if path.name == "dir.yaml":
            path.mkdir()
        rc, out = _run(capsys, ["sim", "--scenario", str(path), "--steps", "1"])
        _assert_clear(rc, out, path, "no such scenario file")


# ---- OSC descriptors ------------------------------------------------------------------------


def _descriptors() -> dict[str, tuple[bytes, str]]:
    real = ONBOARD_DU.read_bytes()
    doc = json.loads(real)
    wrong_type = json.loads(real)
    wrong_type["controls"]["control"]["kpm_period_ms"] = "often"
    unknown = json.loads(real)
    unknown["controls"]["e2"]["colour"] = "blue"
    return {
        "truncated": (real[: len(real) // 2], "not JSON"),
        "binary": (b"\xff\xfe\x00{", "not UTF-8"),
        "an array": (b"[1, 2]", "expected a JSON object"),
        "wrong type": (json.dumps(wrong_type).encode(), "kpm_period_ms"),
        "unknown field": (json.dumps(unknown).encode(), "colour"),
        "controls not an object": (json.dumps(doc | {"controls": 7}).encode(), "controls"),
    }


@pytest.mark.parametrize("name", sorted(_descriptors()))
def test_a_bad_descriptor_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    content, words = _descriptors()[name]
    path = tmp_path / "config-file.json"
    path.write_bytes(content)
    monkeypatch.setenv("CONFIG_FILE", str(path))
    rc, out = _run(capsys, ["xapp", "--no-http"])
    assert "Traceback" not in out and rc == 2, out
    assert str(path) in out and words in out, out
