"""The demo's child processes: start, supervise, scrape, stop (no child left behind).

A :class:`Child` is one ``metahrl`` subcommand run as its own process, its stdout and stderr in
a log file of the run directory. It starts in its own session (Ctrl-C reaches the demo, which
stops the children in order) and, on Linux, receives SIGTERM if the demo itself dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Child", "ChildDied", "Sample", "free_port", "last_match", "scrape"]

_PR_SET_PDEATHSIG = 1


class ChildDied(RuntimeError):
    """A child exited while the demo needed it; the message carries its last log lines."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now (the OS picks it; a later bind by a child may race, rarely)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Child:
    """One supervised ``python -m metahrl …`` process."""

    name: str
    args: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    stdout_path: Path | None = None

    def start(self) -> None:
        self.stdout_path = self.log_path.with_suffix(".stdout")
        with self.log_path.open("wb") as err, self.stdout_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "metahrl", *self.args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        """Raise :class:`ChildDied` (with the log's tail) if the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise ChildDied(
                f"{self.name} exited with status {self.proc.returncode}; last log lines:\n" + self.tail()
            )

    def tail(self, lines: int = 15) -> str:
        text = self.log_text()
        return "\n".join("    " + line for line in text.splitlines()[-lines:])

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stdout_text(self) -> str:
        if self.stdout_path is None:
            return ""
        try:
            return self.stdout_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; the exit status (None: never started)."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(5.0)
        return proc.returncode


def last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The last match of ``pattern`` in ``text`` (None if none)."""
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - keep the last one
        pass
    return found


@dataclass(frozen=True)
class Sample:
    """One value of a Prometheus sample: metric name, labels, value."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


def scrape(port: int, timeout_s: float = 2.0) -> list[Sample] | None:
    """Every sample of ``http://127.0.0.1:PORT/ric/v1/metrics`` (None: not answering yet)."""
    url = f"http://127.0.0.1:{port}/ric/v1/metrics"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            text = resp.read().decode()
    except (urllib.error.URLError, OSError, TimeoutError):
        return None
    out = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.append(Sample(s.name, tuple(sorted(s.labels.items())), float(s.value)))
    return out
