"""Error translation at the codec boundary (package-internal).

Third-party codecs (pycrate, asn1tools) raise many exception types on bad input, and the
typed constructors raise ``ValueError`` on out-of-range values. Inside these context
managers every ``Exception`` becomes the one error class of the direction: untrusted input
-> :class:`E2smDecodeError` (a :class:`PeerError`), our own values -> :class:`E2EncodeError`
(a :class:`LocalError`). Catching ``Exception`` broadly is deliberate and confined here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ric.cause import Cause, CauseRicRequest
from ric.errors import E2DecodeError, E2EncodeError, E2smDecodeError

__all__ = ["local_errors", "peer_errors"]


@contextmanager
def peer_errors(what: str, cause: Cause = CauseRicRequest.UNSPECIFIED) -> Iterator[None]:
    """Turn any failure while decoding ``what`` into :class:`E2smDecodeError`."""
    try:
        yield
    except E2DecodeError:
        raise
    except Exception as exc:
        raise E2smDecodeError(f"cannot decode {what}: {_describe(exc)}", cause=cause) from exc


@contextmanager
def local_errors(what: str) -> Iterator[None]:
    """Turn any failure while encoding ``what`` into :class:`E2EncodeError`."""
    try:
        yield
    except E2EncodeError:
        raise
    except Exception as exc:
        raise E2EncodeError(f"cannot encode {what}: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
