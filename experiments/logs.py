"""Append-only run logs: each stream is written as CSV and JSONL side by side, and can be cut
back to the byte offsets recorded in a checkpoint so a resumed run's logs continue exactly where
the checkpoint left them (rows written after the checkpoint by a killed run are dropped).

Only deterministic values belong here; wall-clock figures go to a separate stream
(``timing``) that is never compared between runs.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["LogStream", "RunLogs", "read_jsonl"]


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _csv_value(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return repr(v) if isinstance(v, float) else str(v)


class LogStream:
    """One stream (``NAME.csv`` + ``NAME.jsonl``) with a fixed column list."""

    def __init__(self, directory: Path, name: str, columns: Sequence[str]) -> None:
        self.name, self.columns = name, tuple(columns)
        self.csv_path = directory / f"{name}.csv"
        self.jsonl_path = directory / f"{name}.jsonl"

    def create(self) -> None:
        """Start empty files (the CSV with its header)."""
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(self.columns)
        self.csv_path.write_text(buf.getvalue(), encoding="utf-8")
        self.jsonl_path.write_text("", encoding="utf-8")

    def write(self, row: Mapping[str, Any]) -> None:
        missing = [c for c in self.columns if c not in row]
        if missing:
            raise KeyError(f"log {self.name}: row lacks {missing}")
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([_csv_value(row[c]) for c in self.columns])
        with self.csv_path.open("a", encoding="utf-8") as f:
            f.write(buf.getvalue())
        line = json.dumps({c: _json_value(row[c]) for c in self.columns}, allow_nan=False)
        with self.jsonl_path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def offsets(self) -> dict[str, int]:
        return {"csv": self.csv_path.stat().st_size, "jsonl": self.jsonl_path.stat().st_size}

    def truncate(self, offsets: Mapping[str, int]) -> None:
        """Cut both files back to `offsets` (from :meth:`offsets` at checkpoint time)."""
        for key, path in (("csv", self.csv_path), ("jsonl", self.jsonl_path)):
            size = int(offsets[key])
            if not path.is_file() or path.stat().st_size < size:
                have = path.stat().st_size if path.is_file() else "missing"
                raise FileNotFoundError(
                    f"log {path} is shorter than the checkpoint recorded ({have} < {size} bytes)"
                )
            with path.open("r+b") as f:
                f.truncate(size)


class RunLogs:
    """The named streams of one run directory."""

    def __init__(self, directory: Path, streams: Mapping[str, Sequence[str]]) -> None:
        self.directory = directory
        self.streams = {name: LogStream(directory, name, cols) for name, cols in streams.items()}

    def __getitem__(self, name: str) -> LogStream:
        return self.streams[name]

    def create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for s in self.streams.values():
            s.create()

    def offsets(self) -> dict[str, dict[str, int]]:
        return {name: s.offsets() for name, s in self.streams.items()}

    def truncate(self, offsets: Mapping[str, Mapping[str, int]]) -> None:
        for name, s in self.streams.items():
            if name in offsets:
                s.truncate(offsets[name])
            else:
                s.create()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL log."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
