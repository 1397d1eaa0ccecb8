"""The two kinds of E2 errors.

* :class:`PeerError` — the peer sent something we cannot accept (undecodable bytes, an
  unknown procedure, an unsupported service-model version...). The link layer answers it on
  the wire (Error Indication, subscription/control failure) using the suggested ``cause``.
* :class:`LocalError` — we were asked to send something the protocol does not allow (a
  value out of range, a missing mandatory field). It is a bug on our side and is never put
  on the wire.

Every decoder in :mod:`ric` either returns a typed value or raises :class:`E2DecodeError`
(a :class:`PeerError`); every encoder either returns bytes or raises
:class:`E2EncodeError` (a :class:`LocalError`).
"""

from __future__ import annotations

from enum import Enum

from ric.cause import Cause, CauseProtocol, CauseRicRequest

__all__ = [
    "E2DecodeError",
    "E2EncodeError",
    "E2ProtocolError",
    "E2UnknownProcedureError",
    "E2smDecodeError",
    "E2smVersionError",
    "LocalError",
    "MessageKind",
    "PeerError",
]


class MessageKind(Enum):
    """The E2AP-PDU CHOICE alternative a message travels in."""

    INITIATING = "initiatingMessage"
    SUCCESSFUL = "successfulOutcome"
    UNSUCCESSFUL = "unsuccessfulOutcome"


class E2ProtocolError(Exception):
    """Base class of all E2 protocol errors raised by :mod:`ric`."""


class PeerError(E2ProtocolError):
    """The peer broke the protocol (what it sent cannot be accepted)."""


class LocalError(E2ProtocolError):
    """We broke the protocol (what we were asked to send is not valid)."""


class E2DecodeError(PeerError):
    """Bytes from the peer could not be decoded into a typed value.

    ``cause`` is the Cause to report back (Error Indication, or the failure message of the
    procedure). The optional attributes carry whatever identifies the offending message, so
    the link layer can fill an Error Indication's criticality diagnostics.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: Cause = CauseProtocol.TRANSFER_SYNTAX_ERROR,
        procedure_code: int | None = None,
        kind: MessageKind | None = None,
        transaction_id: int | None = None,
        request_id: tuple[int, int] | None = None,
        ran_function_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.cause: Cause = cause
        self.procedure_code = procedure_code
        self.kind = kind
        self.transaction_id = transaction_id
        self.request_id = request_id
        self.ran_function_id = ran_function_id


class E2UnknownProcedureError(E2DecodeError):
    """A well-formed E2AP-PDU whose procedure this codec does not handle.

    ``standard`` is True for an O-RAN E2AP procedure that :mod:`ric.e2ap` does not type
    (e.g. E2 Connection Update, RIC Service Update) and False for a procedure code that is
    not in E2AP at all (e.g. the pre-standard OSC code 201). ``criticality`` is the
    procedure criticality the peer sent (``"reject"``, ``"ignore"`` or ``"notify"``).
    """

    def __init__(
        self,
        message: str,
        *,
        procedure_code: int,
        kind: MessageKind,
        criticality: str,
        standard: bool,
        transaction_id: int | None = None,
        request_id: tuple[int, int] | None = None,
        ran_function_id: int | None = None,
    ) -> None:
        super().__init__(
            message,
            cause=CauseProtocol.ABSTRACT_SYNTAX_ERROR_REJECT,
            procedure_code=procedure_code,
            kind=kind,
            transaction_id=transaction_id,
            request_id=request_id,
            ran_function_id=ran_function_id,
        )
        self.criticality = criticality
        self.standard = standard


class E2smDecodeError(E2DecodeError):
    """An E2 service-model payload (KPM, RC) could not be decoded."""

    def __init__(self, message: str, *, cause: Cause = CauseRicRequest.UNSPECIFIED) -> None:
        super().__init__(message, cause=cause)


class E2smVersionError(E2smDecodeError):
    """An E2SM payload encoded with another version of the service model.

    Example: an E2SM-KPM v02.01 action definition (OSC KPIMON-go) sent to a v03.00 node.
    ``version`` names the version the bytes do decode with.
    """

    def __init__(self, message: str, *, version: str, cause: Cause) -> None:
        super().__init__(message, cause=cause)
        self.version = version


class E2EncodeError(LocalError, ValueError):
    """A typed value could not be encoded (out of range, missing, unsupported)."""
