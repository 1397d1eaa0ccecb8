"""Typed settings of the meta-controller xApp (CLI flags map onto these fields) and the loaders of
the files they name (initial θ_M, tokens); every error names the field it comes from."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Final

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch import Tensor

from meta_controller.algorithm import MetaConfig
from meta_controller.rounds import RoundConfig

__all__ = [
    "ControllerSettings",
    "SettingsFileError",
    "load_init",
    "load_tokens",
    "read_setting_file",
    "split_host_port",
]

_HOST_PORT: Final = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):(\d{1,5})$")


class SettingsFileError(ValueError):
    """A file named by a setting is missing or malformed (the message names the setting)."""


def split_host_port(value: str, *, allow_zero: bool = True) -> tuple[str, int]:
    """``"host:port"`` / ``"[v6]:port"`` → (host, port); ValueError on anything else."""
    match = _HOST_PORT.match(value.strip())
    low = 0 if allow_zero else 1
    if match is None or not low <= int(match.group(2)) <= 65535:
        raise ValueError(f"expected 'HOST:PORT' with a port in {low}–65535, got {value!r}")
    return match.group(1).strip("[]"), int(match.group(2))


class ControllerSettings(BaseModel):
    """The meta-controller xApp's settings (defaults in one place; the CLI's help reads them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = Field("127.0.0.1:50051", description="gRPC HOST:PORT (port 0: any free port)")
    http: str | None = Field(
        "127.0.0.1:8080", description="health/metrics HTTP HOST:PORT (None/'off': no HTTP server)"
    )
    init: Path = Field(
        description="torch.save file of the initial θ_M (named tensors); used only when the SDL is empty"
    )
    sdl: str = Field("memory", description="state store: memory | redis://HOST:PORT[/DB] | dbaas")
    namespace: str = Field("metahrl-meta", min_length=1, description="SDL namespace of the state")
    keep_versions: int = Field(3, ge=1, description="meta-versions kept in the SDL")
    sdl_check_s: float = Field(
        2.0, gt=0, le=60, description="seconds between SDL health checks (readiness, gRPC health)"
    )
    push_concurrency: int = Field(
        4, ge=1, le=1024, description="meta-init streams sending at once (bounds their buffer memory)"
    )
    insecure: bool = Field(False, description="serve gRPC without TLS (explicit opt-in)")
    tls_cert: Path | None = Field(None, description="PEM server certificate (chain)")
    tls_key: Path | None = Field(None, description="PEM server private key")
    tls_client_ca: Path | None = Field(
        None, description="PEM CA that DU client certificates must chain to (mutual TLS)"
    )
    tokens: Path | None = Field(
        None, description="JSON file {du_id: token}; every call must carry its DU's bearer token"
    )
    meta: MetaConfig = Field(default_factory=MetaConfig)
    rounds: RoundConfig = Field(default_factory=RoundConfig)
    port_file: Path | None = Field(None, description="write the bound ports as JSON here once serving")

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        split_host_port(value)
        return value

    @field_validator("http")
    @classmethod
    def _check_http(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() == "off":
            return None
        split_host_port(value)
        return value

    @model_validator(mode="after")
    def _check_tls(self) -> ControllerSettings:
        if self.insecure and (self.tls_cert or self.tls_key or self.tls_client_ca):
            raise ValueError("insecure: set together with TLS files; choose one")
        if not self.insecure and not (self.tls_cert and self.tls_key):
            raise ValueError("tls_cert and tls_key are required unless insecure is set explicitly")
        return self


def read_setting_file(path: Path, field: str) -> bytes:
    """The bytes of a file named by setting ``field`` (`SettingsFileError` naming it otherwise)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsFileError(f"{field}: cannot read {path}: {exc.strerror or exc}") from exc


def load_init(path: Path) -> dict[str, Tensor]:
    """The initial θ_M: a ``torch.save`` dict of named, finite tensors (cast to float32)."""
    read_setting_file(path, "init")  # a clear error for a missing file
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a file that is not a checkpoint
        why = (
            str(exc).strip().splitlines()[0]
            if str(exc).strip()
            else f"{type(exc).__name__}, empty or truncated?"
        )
        raise SettingsFileError(f"init: {path} is not a torch.save file: {why}") from exc
    if not isinstance(data, dict) or not data:
        raise SettingsFileError(f"init: {path}: expected a non-empty dict of named tensors")
    out: dict[str, Tensor] = {}
    for name, value in data.items():
        if not isinstance(value, Tensor) or not value.is_floating_point():
            raise SettingsFileError(f"init: {path}: {name!r} is not a floating-point tensor")
        if not bool(torch.isfinite(value).all()):
            raise SettingsFileError(f"init: {path}: {name!r} has non-finite values")
        out[str(name)] = value.float()
    return out


def load_tokens(path: Path) -> dict[str, str]:
    """``{du_id: token}`` from a JSON object of non-empty strings."""
    try:
        data = json.loads(read_setting_file(path, "tokens"))
    except json.JSONDecodeError as exc:
        raise SettingsFileError(f"tokens: {path} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise SettingsFileError(f"tokens: {path}: expected a non-empty JSON object {{du_id: token}}")
    for du, token in data.items():
        if not du or not isinstance(token, str) or not token:
            raise SettingsFileError(f"tokens: {path}: DU {du!r} needs a non-empty string token")
    return {str(k): str(v) for k, v in data.items()}
