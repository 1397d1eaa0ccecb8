"""RMR messaging for the OSC platform path: a thin, typed asyncio adapter over ricxappframe's
``rmr`` bindings (ctypes over the real ``librmr_si.so``).

::

    endpoint = RmrEndpoint(RmrConfig(port=4560, route_table=Path("routes.rt")), on_message)
    await endpoint.open()                       # rmr_init + bounded wait for rmr_ready
    endpoint.send(RmrType.RIC_CONTROL_REQ, pdu, meid="gnbd_001_001_000001_0")   # route table
    endpoint.send_to("127.0.0.1:4560", RmrType.RIC_INDICATION, pdu, sub_id=7)   # wormhole
    endpoint.reply(received, RmrType.RIC_CONTROL_ACK, pdu)                      # return to sender
    endpoint.close()

* **Library:** :func:`load_rmr` finds ``librmr_si.so`` explicitly — ``$METAHRL_RMR_LIB`` (the
  file or its directory), else ``<venv>/rmr/lib`` or ``<repo>/.venv/rmr/lib`` (where
  ``scripts/bootstrap.sh`` builds it with ``../shared/tools/build-rmr.sh``), else the dynamic
  linker's search path
  (``LD_LIBRARY_PATH`` at process start, as in OSC images) — so no ``LD_LIBRARY_PATH`` has to
  be exported before Python starts. :class:`RmrUnavailableError` says what was tried.
* **Routing:** a static route table (``RMR_SEED_RT``, with ``RMR_RTG_SVC=-1`` so RMR does not
  wait for a routing manager). RMR reads both from the process environment, in a thread it
  starts at ``rmr_init``, before it reports ready; endpoints of one process that open at the
  same time must therefore use the same table (:class:`RmrEndpoint` refuses another one).
* **Receiving** needs no thread of ours: RMR signals its receive ring on an eventfd
  (``rmr_get_rcvfd``) that the event loop watches; each wakeup drains the ring with zero-timeout
  receives. Messages reach the callback as :class:`RmrMessage` (payload copied out); the buffer
  is kept only while a reply may still be sent (:meth:`RmrEndpoint.reply` / ``release``).
* **Cost per message** matters: every indication, control and answer passes through one event
  loop, so buffers are filled and read with direct librmr calls and ``memcpy``
  (:class:`_Native`), not ricxappframe's per-message helpers, which cost ~0.2 ms per received
  indication — enough to saturate the xApp's loop at a 10 ms KPM period with a control per UE
  (RMR's receive ring then queues for hundreds of milliseconds). Connections run with
  ``TCP_NODELAY`` (:attr:`RmrConfig.low_latency`), as asyncio's do on the direct E2 path.
* **Message types** are OSC's (``RIC_message_types.h``): :class:`RmrType`.
* E2AP payloads on RMR are whole E2AP-PDUs; :func:`encode_e2ap_payload` /
  :func:`decode_e2ap_payload` are the codec the E2 links use (fast path for indication /
  control / acknowledge, pycrate for the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import enum
import importlib
import itertools
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from ric._e2ap_fast import decode as _decode_fast
from ric._e2ap_fast import encode as _encode_fast
from ric.e2ap import E2apMessage

__all__ = [
    "RMR_LIB_ENV",
    "RmrConfig",
    "RmrEndpoint",
    "RmrError",
    "RmrMessage",
    "RmrSendError",
    "RmrType",
    "RmrUnavailableError",
    "decode_e2ap_payload",
    "encode_e2ap_payload",
    "find_rmr_library",
    "free_port",
    "load_rmr",
    "write_route_table",
]

_log = logging.getLogger(__name__)

RMR_LIB_ENV = "METAHRL_RMR_LIB"
"""Environment variable naming ``librmr_si.so`` (the file or its directory)."""

_LIB_NAME = "librmr_si.so"
_REPO_LIB_DIR = Path(__file__).resolve().parents[1] / ".venv" / "rmr" / "lib"


class RmrType(enum.IntEnum):
    """RMR message types of OSC's ``RIC_message_types.h`` used on the E2 path."""

    RIC_HEALTH_CHECK_REQ = 100
    RIC_HEALTH_CHECK_RESP = 101
    RIC_SUB_REQ = 12010
    RIC_SUB_RESP = 12011
    RIC_SUB_FAILURE = 12012
    RIC_SUB_DEL_REQ = 12020
    RIC_SUB_DEL_RESP = 12021
    RIC_SUB_DEL_FAILURE = 12022
    RIC_CONTROL_REQ = 12040
    RIC_CONTROL_ACK = 12041
    RIC_CONTROL_FAILURE = 12042
    RIC_INDICATION = 12050


class RmrError(Exception):
    """An RMR operation failed on our side (init, ready, bad use)."""


class RmrUnavailableError(RmrError):
    """``librmr_si.so`` (or ricxappframe) could not be loaded."""


class RmrSendError(RmrError):
    """RMR did not accept a message for sending (``state`` is RMR's status name)."""

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


# ---------------------------------------------------------------------------------------
# Library
# ---------------------------------------------------------------------------------------


_DRAIN_BATCH = 64


def find_rmr_library() -> Path | None:
    """The ``librmr_si.so`` to load: ``$METAHRL_RMR_LIB`` (file or directory), else the running
    virtual environment's ``rmr/lib``, else the repository's ``.venv/rmr/lib``; ``None``: leave
    it to the dynamic linker's search path."""
    configured = os.environ.get(RMR_LIB_ENV, "").strip()
    if configured:
        path = Path(configured)
        return path / _LIB_NAME if path.is_dir() else path
    for directory in (Path(sys.prefix) / "rmr" / "lib", _REPO_LIB_DIR):
        if (directory / _LIB_NAME).exists():
            return directory / _LIB_NAME
    return None


@contextlib.contextmanager
def _cdll_resolving(path: Path) -> Iterator[None]:
    """While importing ricxappframe's ``rmrclib`` (which calls ``ctypes.CDLL("librmr_si.so")``),
    resolve that bare name to ``path``: the dynamic linker only honours ``LD_LIBRARY_PATH`` as
    it was when the process started."""
    real = ctypes.CDLL

    def resolving(name: str | None, *args: Any, **kwargs: Any) -> ctypes.CDLL:
        return real(str(path) if name == _LIB_NAME else name, *args, **kwargs)

    ctypes.CDLL = resolving  # type: ignore[misc, assignment]
    try:
        yield
    finally:
        ctypes.CDLL = real  # type: ignore[misc]


@cache
def load_rmr() -> ModuleType:
    """ricxappframe's ``rmr`` module bound to the real librmr (loaded once per process)."""
    path = find_rmr_library()
    try:
        if path is None:
            return importlib.import_module("ricxappframe.rmr.rmr")
        if not path.exists():
            raise RmrUnavailableError(f"{RMR_LIB_ENV} or .venv/rmr/lib: {path} does not exist")
        ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
        with _cdll_resolving(path):
            return importlib.import_module("ricxappframe.rmr.rmr")
    except (OSError, ImportError) as exc:
        where = path or f"the linker's search path (set {RMR_LIB_ENV} or run scripts/bootstrap.sh)"
        raise RmrUnavailableError(f"cannot load RMR ({_LIB_NAME} from {where}): {exc}") from exc


@dataclass(frozen=True)
class _Native:
    """librmr calls made straight through ctypes, bound once per process, and RMR's sizes.

    On the per-message path ricxappframe's helpers cost far more than RMR itself: its
    ``get_payload`` copies the payload byte by byte through a Python list (~0.18 ms for a
    2.4 kB KPM indication), its meid / source / transaction accessors re-parse RMR's constants
    JSON on every call (its cache never fills: ~10 µs each) and ``gen_transaction_id`` makes a
    uuid1 (~20 µs). Here a received message costs ~3 µs instead of ~0.2 ms, a sent one ~15 µs
    instead of ~45 µs. Each function is its own ``_FuncPtr`` (``CDLL[name]``), so setting its
    types leaves ricxappframe's bindings alone.
    """

    get_rcvfd: Any
    get_meid: Any
    get_src: Any
    bytes2meid: Any
    set_low_latency: Any
    max_meid: int
    max_src: int
    max_xid: int


@cache
def _native() -> _Native:
    rmr = load_rmr()
    lib = rmr.rmr_c_lib
    mbuf_p = ctypes.POINTER(rmr.rmr_mbuf_t)

    def bind(name: str, restype: Any, *argtypes: Any) -> Any:
        fn = lib[name]
        fn.restype, fn.argtypes = restype, list(argtypes)
        return fn

    constants = rmr.get_constants()
    return _Native(
        get_rcvfd=bind("rmr_get_rcvfd", ctypes.c_int, ctypes.c_void_p),
        get_meid=bind("rmr_get_meid", ctypes.c_void_p, mbuf_p, ctypes.c_char_p),
        get_src=bind("rmr_get_src", ctypes.c_void_p, mbuf_p, ctypes.c_char_p),
        bytes2meid=bind("rmr_bytes2meid", ctypes.c_int, mbuf_p, ctypes.c_char_p, ctypes.c_int),
        set_low_latency=bind("rmr_set_low_latency", None, ctypes.c_void_p),
        max_meid=int(constants.get("RMR_MAX_MEID", 32)),
        max_src=int(constants.get("RMR_MAX_SRC", 64)),
        max_xid=int(constants.get("RMR_MAX_XID", 32)),
    )


# ---------------------------------------------------------------------------------------
# E2AP payloads
# ---------------------------------------------------------------------------------------


def encode_e2ap_payload(message: E2apMessage) -> bytes:
    """An E2AP message as the E2AP-PDU bytes an RMR payload carries."""
    return _encode_fast(message)


def decode_e2ap_payload(data: bytes) -> E2apMessage:
    """The E2AP message of an RMR payload (raises :class:`ric.errors.E2DecodeError`)."""
    return _decode_fast(data)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (RMR cannot bind port 0 and report the port)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------
# Route tables
# ---------------------------------------------------------------------------------------


def write_route_table(path: Path, routes: dict[int, str]) -> Path:
    """Write a static RMR route table: message type → ``host:port`` (``sub_id`` -1, i.e. any)."""
    lines = ["newrt|start", *(f"mse|{int(t)}|-1|{ep}" for t, ep in sorted(routes.items())), "newrt|end"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------
# Endpoint
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RmrConfig:
    """Settings of one :class:`RmrEndpoint`.

    Attributes:
        port: RMR data port to listen on (an xApp's is 4560; e2term's 38000).
        route_table: static route table file (``RMR_SEED_RT``); ``None``: the environment's.
        max_message_bytes: receive buffer size given to ``rmr_init``.
        ready_timeout_s: how long :meth:`RmrEndpoint.open` waits for ``rmr_ready``.
        send_retries: extra attempts when RMR answers ``RMR_ERR_RETRY``.
        retry_loops: RMR's own retry loops per send on a full socket (``rmr_set_stimeout``;
            RMR's default of 1000 could hold the event loop for about a second).
        low_latency: ``TCP_NODELAY`` on this context's connections (``rmr_set_low_latency``),
            as asyncio sets it on the direct E2 path. RMR's default leaves Nagle's algorithm
            on: a message written while an earlier one is unacknowledged (a burst of controls,
            answers relayed one by one) waits for that ACK, which stretched the tail of the
            control round trip on a loaded host.
    """

    port: int = 4560
    route_table: Path | None = None
    max_message_bytes: int = 65536
    ready_timeout_s: float = 10.0
    send_retries: int = 3
    retry_loops: int = 10
    low_latency: bool = True


@dataclass(slots=True)
class RmrMessage:
    """A received RMR message (payload copied out of RMR's buffer)."""

    mtype: int
    payload: bytes
    sub_id: int
    meid: str
    source: str
    transaction: bytes
    _mbuf: Any = field(default=None, repr=False)
    _held: bool = field(default=False, repr=False)


_opening: list[Path | None] = []  # route tables of endpoints inside open() (RMR reads the env then)


def _claim_route_table(path: Path | None) -> None:
    """Point ``RMR_SEED_RT`` at ``path`` for the context about to be created. RMR's route
    thread reads the variable once, before ``rmr_ready`` turns true; while another endpoint of
    this process is still opening, only the same table can be used."""
    os.environ.setdefault("RMR_RTG_SVC", "-1")
    if path is None:
        return
    resolved = path.resolve()
    busy = {p for p in _opening if p is not None}
    if busy and busy != {resolved}:
        raise RmrError(f"another RMR endpoint is starting with {busy.pop()}; open one table at a time")
    os.environ["RMR_SEED_RT"] = str(resolved)


class RmrEndpoint:
    """One RMR context on the running event loop; received messages go to ``on_message``."""

    def __init__(self, config: RmrConfig, on_message: Callable[[RmrMessage], None]) -> None:
        self.config = config
        self._on_message = on_message
        self._rmr: ModuleType | None = None
        self._ctx: Any = None
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wormholes: dict[str, int] = {}
        self._meid_buf: ctypes.Array[ctypes.c_char] | None = None  # of the message being received
        self._src_buf: ctypes.Array[ctypes.c_char] | None = None
        self._xid_prefix = b""
        self._xids = itertools.count(1)
        self.received = 0
        self.send_failures = 0

    @property
    def is_open(self) -> bool:
        return self._ctx is not None

    async def open(self) -> None:
        """``rmr_init`` on the configured port and wait (bounded) until RMR is ready to route."""
        rmr = load_rmr()
        table = None if self.config.route_table is None else self.config.route_table.resolve()
        _claim_route_table(table)
        _opening.append(table)
        try:
            await self._init_and_wait(rmr)
        finally:
            _opening.remove(table)
        native = _native()
        self._meid_buf = ctypes.create_string_buffer(native.max_meid + 1)  # RMR copies 32 bytes, no NUL
        self._src_buf = ctypes.create_string_buffer(native.max_src)
        self._xid_prefix = f"{os.getpid():x}.{self.config.port}.".encode()
        self._loop = asyncio.get_running_loop()
        self._fd = int(native.get_rcvfd(self._ctx))
        self._loop.add_reader(self._fd, self._drain)
        _log.info("RMR ready on port %d", self.config.port)

    async def _init_and_wait(self, rmr: ModuleType) -> None:
        ctx = rmr.rmr_init(str(self.config.port).encode(), self.config.max_message_bytes, rmr.RMRFL_NONE)
        if not ctx:
            raise RmrError(f"rmr_init failed on port {self.config.port} (in use?)")
        self._rmr, self._ctx = rmr, ctx
        rmr.rmr_set_stimeout(ctx, self.config.retry_loops)
        if self.config.low_latency:  # before the first connection: RMR applies it as each one opens
            _native().set_low_latency(ctx)
        try:
            async with asyncio.timeout(self.config.ready_timeout_s):
                while not rmr.rmr_ready(ctx):
                    await asyncio.sleep(0.01)
        except TimeoutError:
            self.close()
            raise RmrError(
                f"RMR on port {self.config.port} not ready after {self.config.ready_timeout_s} s "
                f"(route table {os.environ.get('RMR_SEED_RT')!r} unreadable or empty?)"
            ) from None

    def close(self) -> None:
        """Stop receiving and close the RMR context (idempotent)."""
        if self._loop is not None and self._fd is not None:
            self._loop.remove_reader(self._fd)
        self._fd = None
        if self._rmr is not None and self._ctx is not None:
            for whid in self._wormholes.values():
                self._rmr.rmr_wh_close(self._ctx, whid)
            self._rmr.rmr_close(self._ctx)
        self._wormholes.clear()
        self._ctx = None

    # ------------------------------------------------------------------ sending
    def send(self, mtype: int, payload: bytes, *, meid: str | None = None, sub_id: int = -1) -> None:
        """Send by the route table (message type, ``sub_id``); raise :class:`RmrSendError`."""
        rmr, ctx = self._require()
        mbuf = self._alloc(mtype, payload, self._meid_bytes(meid), sub_id)
        self._finish(self._with_retries(lambda m: rmr.rmr_send_msg(ctx, m), mbuf), mtype, "route table")

    def send_to(
        self, endpoint: str, mtype: int, payload: bytes, *, meid: str | None = None, sub_id: int = -1
    ) -> None:
        """Send straight to ``host:port`` over a wormhole (opened once per endpoint; reopened
        once when a send on it fails, e.g. after the peer restarted)."""
        meid_bytes = self._meid_bytes(meid)
        try:
            self._wormhole_send(endpoint, mtype, payload, meid_bytes, sub_id)
        except RmrSendError:
            self._close_wormhole(endpoint)
            self.send_failures -= 1  # counted once, below, if the second try fails too
            self._wormhole_send(endpoint, mtype, payload, meid_bytes, sub_id)

    def _wormhole_send(self, endpoint: str, mtype: int, payload: bytes, meid: bytes, sub_id: int) -> None:
        rmr, ctx = self._require()
        whid = self._wormholes.get(endpoint)
        if whid is None:
            whid = int(rmr.rmr_wh_open(ctx, endpoint.encode()))
            if whid < 0:
                self.send_failures += 1
                raise RmrSendError(f"cannot open an RMR wormhole to {endpoint}", "RMR_ERR_NOWHOPEN")
            self._wormholes[endpoint] = whid
        mbuf = self._alloc(mtype, payload, meid, sub_id)
        self._finish(self._with_retries(lambda m: rmr.rmr_wh_send_msg(ctx, whid, m), mbuf), mtype, endpoint)

    def _close_wormhole(self, endpoint: str) -> None:
        whid = self._wormholes.pop(endpoint, None)
        if whid is not None and self._rmr is not None and self._ctx is not None:
            self._rmr.rmr_wh_close(self._ctx, whid)

    def reply(self, message: RmrMessage, mtype: int, payload: bytes) -> None:
        """Return-to-sender on the connection ``message`` came in on; releases its buffer."""
        rmr, ctx = self._require()
        mbuf, message._mbuf = message._mbuf, None
        if mbuf is None:
            raise RmrError("reply(): the message's buffer was already released or replied to")
        mbuf = rmr.rmr_rts_msg(ctx, mbuf, payload=payload, mtype=mtype)
        self._finish(mbuf, mtype, f"return to {message.source}")

    def hold(self, message: RmrMessage) -> None:
        """Keep ``message``'s buffer after the callback returns, for a later :meth:`reply`
        (or :meth:`release`)."""
        message._held = True

    def release(self, message: RmrMessage) -> None:
        """Free the buffer of a message that will not be replied to (idempotent)."""
        if message._mbuf is not None and self._rmr is not None:
            self._rmr.rmr_free_msg(message._mbuf)
        message._mbuf = None

    def _require(self) -> tuple[ModuleType, Any]:
        if self._rmr is None or self._ctx is None:
            raise RmrError("the RMR endpoint is not open")
        return self._rmr, self._ctx

    def _meid_bytes(self, meid: str | None) -> bytes:
        """``meid`` as RMR stores it (NUL-terminated in 32 bytes): longer is refused, not cut."""
        data = meid.encode() if meid else b""
        if len(data) >= _native().max_meid:
            self.send_failures += 1
            raise RmrSendError(
                f"meid {meid!r} is longer than RMR's {_native().max_meid - 1} bytes", "RMR_ERR_OVERFLOW"
            )
        return data

    def _alloc(self, mtype: int, payload: bytes, meid: bytes, sub_id: int) -> Any:
        """A send buffer: payload, type, ``sub_id``, meid and a transaction ID unique to this
        endpoint (a counter; ricxappframe's uuid1 costs more than the send itself)."""
        rmr, ctx = self._require()
        native = _native()
        mbuf = rmr.rmr_alloc_msg(ctx, max(len(payload), 1), payload=payload)
        contents = mbuf.contents
        contents.mtype = int(mtype)
        contents.sub_id = sub_id
        xid = (self._xid_prefix + b"%x" % next(self._xids))[: native.max_xid]
        ctypes.memmove(contents.xaction, xid.ljust(native.max_xid, b"\0"), native.max_xid)
        if meid:
            native.bytes2meid(mbuf, meid, len(meid))
        return mbuf

    def _with_retries(self, send: Callable[[Any], Any], mbuf: Any) -> Any:
        rmr = self._rmr
        assert rmr is not None
        mbuf = send(mbuf)
        for _ in range(self.config.send_retries):
            if mbuf.contents.state != rmr.RMR_ERR_RETRY:
                break
            mbuf = send(mbuf)
        return mbuf

    def _finish(self, mbuf: Any, mtype: int, where: str) -> None:
        rmr = self._rmr
        assert rmr is not None
        state = int(mbuf.contents.state)
        rmr.rmr_free_msg(mbuf)
        if state != rmr.RMR_OK:
            self.send_failures += 1
            status = rmr.state_to_status(state)
            raise RmrSendError(f"RMR send of type {mtype} via {where} failed: {status}", status)

    # ------------------------------------------------------------------ receiving
    def _drain(self) -> None:
        """Read what is waiting, at most ``_DRAIN_BATCH`` messages per wake-up so a flood of
        indications cannot starve the rest of the event loop (the fd stays readable, so the
        loop calls back at once after the other ready callbacks)."""
        rmr, ctx = self._rmr, self._ctx
        if rmr is None or ctx is None:
            return
        for _ in range(_DRAIN_BATCH):
            mbuf = rmr.rmr_torcv_msg(ctx, None, 0)
            if not mbuf:
                return
            if mbuf.contents.state != rmr.RMR_OK:
                rmr.rmr_free_msg(mbuf)
                return
            self.received += 1
            message = self._message(mbuf)
            try:
                self._on_message(message)
            except Exception:  # a handler bug must not stop reception
                _log.exception("RMR handler failed on a message of type %d", message.mtype)
            if not message._held:
                self.release(message)

    def _message(self, mbuf: Any) -> RmrMessage:
        """A received buffer's fields, copied out with one librmr call or ``memcpy`` each."""
        native, meid, src = _native(), self._meid_buf, self._src_buf
        assert meid is not None and src is not None
        contents = mbuf.contents
        native.get_meid(mbuf, meid)
        native.get_src(mbuf, src)
        return RmrMessage(
            mtype=int(contents.mtype),
            payload=ctypes.string_at(contents.payload, contents.len),
            sub_id=int(contents.sub_id),
            meid=meid.value.decode(errors="replace"),
            source=src.value.decode(errors="replace"),
            transaction=ctypes.string_at(contents.xaction, native.max_xid).partition(b"\0")[0],
            _mbuf=mbuf,
        )
