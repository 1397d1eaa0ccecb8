"""`metahrl meta-controller`: the meta-controller xApp.

DU xApps register with it over gRPC (package metahrl.v1), upload their task updates (the
first-order query gradient of eq. 11's adapted parameters, chunked and checksummed) and watch
the meta-initialisations it publishes. A round closes at a quorum (--min-updates, or
--quorum-fraction of the registered DUs) or --round-timeout after its first update; the new θ_M
is the Softmin-weighted meta-update of the experiments (meta_controller.algorithm.meta_step).
Versions, the open round, accepted updates and the weight history live in the SDL (Redis with
OSC's key layout; `--sdl dbaas` reads DBAAS_SERVICE_HOST/PORT), so a restarted controller
resumes where it stopped. HTTP: /ric/v1/health/alive, /ric/v1/health/ready, /ric/v1/metrics.

TLS is on unless --insecure is given; --tls-client-ca turns on mutual TLS; --tokens makes every
call carry its DU's bearer token (unknown DU → UNAUTHENTICATED, wrong token → PERMISSION_DENIED).

Example (TLS, tokens, Redis, 7 DUs):

    metahrl meta-controller --init theta0.pt --sdl redis://127.0.0.1:6379 \\
        --tls-cert server.pem --tls-key server.key --tokens tokens.json --min-updates 7

`--init` is a torch.save file of the initial θ_M as named tensors (a DU agent's get_params());
it is used only when the SDL holds no meta-version yet. Exit status: 0 after SIGINT/SIGTERM,
1 when it cannot start (the error names the setting), 2 for invalid settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from meta_controller.algorithm import MetaConfig
from meta_controller.config import ControllerSettings
from meta_controller.grpc_runtime import hold_aio_runtime
from meta_controller.rounds import RoundConfig
from ric.sdl import SdlUnavailableError

__all__ = ["add_arguments", "run", "settings_of"]

_MODELS: dict[str, type[BaseModel]] = {"": ControllerSettings, "meta": MetaConfig, "rounds": RoundConfig}


@dataclass(frozen=True)
class _Flag:
    flag: str
    path: str  # "field" or "section.field" in ControllerSettings
    kind: Any = str
    store_true: bool = False

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def field(self) -> tuple[type[BaseModel], str]:
        section, _, name = self.path.rpartition(".")
        return _MODELS[section], name


_FLAGS = (
    _Flag("--listen", "listen"),
    _Flag("--http", "http"),
    _Flag("--init", "init", Path),
    _Flag("--sdl", "sdl"),
    _Flag("--namespace", "namespace"),
    _Flag("--keep-versions", "keep_versions", int),
    _Flag("--sdl-check", "sdl_check_s", float),
    _Flag("--push-concurrency", "push_concurrency", int),
    _Flag("--insecure", "insecure", store_true=True),
    _Flag("--tls-cert", "tls_cert", Path),
    _Flag("--tls-key", "tls_key", Path),
    _Flag("--tls-client-ca", "tls_client_ca", Path),
    _Flag("--tokens", "tokens", Path),
    _Flag("--scheme", "meta.scheme"),
    _Flag("--beta", "meta.beta", float),
    _Flag("--beta-actor", "meta.beta_actor", float),
    _Flag("--temperature", "meta.temperature", float),
    _Flag("--normalise", "meta.normalise"),
    _Flag("--task-grad-clip", "meta.task_grad_clip", float),
    _Flag("--min-updates", "rounds.min_updates", int),
    _Flag("--quorum-fraction", "rounds.quorum_fraction", float),
    _Flag("--round-timeout", "rounds.round_timeout_s", float),
    _Flag("--stack-dtype", "rounds.stack_dtype"),
    _Flag("--port-file", "port_file", Path),
)


def _help(flag: _Flag) -> dict[str, Any]:
    """argparse keywords from the pydantic field: its description, default and choices."""
    model, name = flag.field()
    info = model.model_fields[name]
    kw: dict[str, Any] = {"dest": flag.dest, "default": None}
    if flag.store_true:
        return kw | {"action": "store_true", "default": False, "help": info.description}
    choices = tuple(str(c) for c in get_args(info.annotation) if isinstance(c, str))
    if choices:
        kw["choices"] = choices
    if info.is_required():
        return kw | {"type": flag.kind, "required": True, "help": info.description}
    default = info.get_default(call_default_factory=True)
    return kw | {"type": flag.kind, "help": f"{info.description} (default: {default})"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    for flag in _FLAGS:
        p.add_argument(flag.flag, **_help(flag))
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))


def settings_of(args: argparse.Namespace) -> ControllerSettings:
    """The flags given (others keep the model's defaults) as validated settings."""
    data: dict[str, Any] = {"meta": {}, "rounds": {}}
    for flag in _FLAGS:
        value = getattr(args, flag.dest)
        if value is None or (flag.store_true and not value):
            continue
        section, _, name = flag.path.rpartition(".")
        (data[section] if section else data)[name] = value
    return ControllerSettings.model_validate(data)


def _flag_of(loc: tuple[int | str, ...]) -> str:
    path = ".".join(str(x) for x in loc)
    return next((f" ({f.flag})" for f in _FLAGS if f.path == path), "")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_of(args)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"]) or "settings"
            print(f"meta-controller: {where}{_flag_of(err['loc'])}: {err['msg']}", file=sys.stderr)
        return 2
    from meta_controller.app import run_forever

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run_forever(settings, stop)

    hold_aio_runtime()
    try:
        asyncio.run(main())
    except (ValueError, OSError, SdlUnavailableError) as exc:  # SettingsFileError is a ValueError
        print(f"meta-controller: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
