"""Typed settings of the DU xApp, from CLI overrides, the environment and the OSC descriptor.

Sources, highest priority first:

1. **overrides** (the CLI): a mapping, nested (``{"e2": {"mode": "osc"}}``) or dotted
   (``{"e2.mode": "osc"}``);
2. **environment**: ``METAHRL_XAPP_<FIELD>``, nested with ``__`` (``METAHRL_XAPP_E2__MODE=osc``);
   a section may also be given whole as JSON (``METAHRL_XAPP_E2='{"mode": "osc"}'``); an empty
   variable counts as unset, and ``null`` sets an optional setting to None;
3. **OSC descriptor** ``config-file.json`` at the path in ``CONFIG_FILE`` (as OSC's xApp frameworks
   read it): its ``controls`` object holds these settings under the same names; the RMR data and
   route ports come from ``messaging.ports`` (ports named ``rmrdata`` / ``rmrroute``) and the HTTP
   port from the port named ``http``. The framework sections OSC descriptors carry are mapped:
   ``logger.level`` (mdclog 1 error … 4 debug) → ``log_level``; ``subscription.url`` →
   ``e2.submgr_url``; ``subscription.clientEndpoint`` → ``e2.http_callback_host``;
   ``symptomdata`` is accepted and ignored (no symptom-data collection here);
4. the defaults below (the one place they are written).

Every section forbids unknown fields, so a typo is an error that names the field and where it came
from (`SettingsError`). `XappControls` is the part that may change at run time
(``PUT /ric/v1/config``); `controls_json_schema` is the JSON Schema of a descriptor's ``controls``
(the OSC ``schema.json``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict
from pydantic_settings.sources import PydanticBaseSettingsSource

__all__ = [
    "CONFIG_FILE_ENV",
    "ENV_PREFIX",
    "ControlControls",
    "ControlSettings",
    "E2Settings",
    "HttpSettings",
    "LearningControls",
    "LearningSettings",
    "MetaSettings",
    "SettingDoc",
    "SettingsError",
    "StateControls",
    "StateSettings",
    "XappControls",
    "XappSettings",
    "controls_json_schema",
    "load_settings",
    "read_token_file",
    "settings_reference",
]

ENV_PREFIX = "METAHRL_XAPP_"
CONFIG_FILE_ENV = "CONFIG_FILE"
_NESTED = "__"
_LOG_LEVELS = {1: "error", 2: "warning", 3: "info", 4: "debug"}  # mdclog levels
_FRAMEWORK_SECTIONS = ("logger", "subscription", "symptomdata")


class SettingsError(ValueError):
    """Invalid xApp settings; the message names each bad field and the source it came from."""


# ---- field types shared by the settings and the run-time controls (defaults in one place) ------

LearningMode = Literal["off", "online"]
Port = Annotated[int, Field(ge=0, le=65535)]
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

DEFAULT_LEARNING_MODE: LearningMode = "off"
DEFAULT_EXPLORE = False
DEFAULT_CONTROL_TIMEOUT_S = 0.5
DEFAULT_HIGH_PERIOD_STEPS = 10
DEFAULT_CHECKPOINT_INTERVAL_S = 60.0

_MODE_DOC = "off: act with the current policy only; online: learn from live transitions off the control path"
_EXPLORE_DOC = "add the agents' exploration noise to their actions"
_TIMEOUT_DOC = "seconds to wait for a RIC Control acknowledge before counting a timeout"
_HIGH_DOC = "KPM periods per high-level (slice split) decision"
_INTERVAL_DOC = "seconds between periodic checkpoints of each DU's agent state"

ControlTimeout = Annotated[float, Field(gt=0.0, le=60.0, description=_TIMEOUT_DOC)]
HighPeriodSteps = Annotated[int, Field(ge=1, le=10_000, description=_HIGH_DOC)]
CheckpointInterval = Annotated[float, Field(gt=0.0, le=86_400.0, description=_INTERVAL_DOC)]


def _parse_du(value: Any) -> Any:
    """``"all"``, an int, ``"0,2,5"``, ``"[0, 2]"`` or a list → ``"all"`` or a sorted list of DU indices."""
    if isinstance(value, str) and value.strip().lower() == "all":
        return "all"
    items: Any = value
    if isinstance(value, int):
        items = [value]
    elif isinstance(value, str):
        text = value.strip()
        try:
            items = (
                json.loads(text)
                if text.startswith("[")
                else [p.strip() for p in text.split(",") if p.strip()]
            )
        except json.JSONDecodeError:
            items = None
    if not isinstance(items, list | tuple) or not items:
        raise ValueError(f"expected 'all' or DU indices (a list, or '0,2,5'), got {value!r}")
    out = []
    for item in items:
        text = str(item).strip() if not isinstance(item, bool) else ""
        if not text.isdigit():
            raise ValueError(f"DU indices are integers ≥ 0, got {item!r}")
        out.append(int(text))
    if len(set(out)) != len(out):
        raise ValueError(f"DU indices repeat: {out}")
    return sorted(out)


DuSelection = Annotated[
    list[int] | Literal["all"],
    NoDecode,
    BeforeValidator(_parse_du),
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- sections -----------------------------------------------------------------------------------


class E2Settings(_Section):
    """How the xApp reaches its E2 nodes."""

    mode: Literal["direct", "osc"] = Field(
        default="direct",
        description="direct: listen as the RIC side of E2 for E2 nodes; "
        "osc: through an OSC near-RT RIC over RMR",
    )
    listen_host: str = Field(default="127.0.0.1", min_length=1, description="direct mode: E2 listen address")
    listen_port: Port = Field(
        default=36422,
        description="direct mode: E2 listen port (36422: OSC's E2 termination port, where "
        "`metahrl e2sim` connects by default; 0: any free port)",
    )
    transport: Literal["tcp", "sctp"] = Field(
        default="tcp",
        description="direct mode: SCTP (the E2 standard; needs kernel SCTP) "
        "or TCP with 4-byte length framing",
    )
    rmr_port: Port = Field(default=4560, description="osc mode: RMR data port (descriptor port 'rmrdata')")
    rmr_route_port: Port = Field(
        default=4561, description="osc mode: RMR route port (descriptor port 'rmrroute')"
    )
    submgr_url: str = Field(
        default="http://service-ricplt-submgr-http.ricplt:8088",
        pattern=r"^https?://",
        description="osc mode: Subscription Manager base URL (REST /ric/v1/subscriptions under it)",
    )
    e2mgr_url: str = Field(
        default="http://service-ricplt-e2mgr-http.ricplt:3800",
        pattern=r"^https?://",
        description="osc mode: E2 Manager base URL (node states under /v1/nodeb)",
    )
    http_callback_host: str | None = Field(
        default=None,
        min_length=1,
        description="osc mode: host the Subscription Manager posts notifications to "
        "(ClientEndpoint.Host; None: this pod's service name must be given by the deployment)",
    )


class ControlSettings(_Section):
    """The control loop's timing."""

    kpm_period_ms: int = Field(default=10, ge=1, le=60_000, description="KPM reporting period (ms)")
    high_period_steps: HighPeriodSteps = DEFAULT_HIGH_PERIOD_STEPS
    control_timeout_s: ControlTimeout = DEFAULT_CONTROL_TIMEOUT_S
    ue_slots: int | None = Field(
        default=None, ge=1, le=4096, description="UE slots per slice (U_max); None: the agent's configuration"
    )


class LearningSettings(_Section):
    """Online learning, off the control path."""

    mode: LearningMode = Field(default=DEFAULT_LEARNING_MODE, description=_MODE_DOC)
    updates_per_step: int = Field(
        default=1, ge=0, le=1000, description="gradient steps per stored transition"
    )
    snapshot_every_updates: int = Field(
        default=50, ge=1, description="learner updates between actor snapshots handed to the control loop"
    )
    batch_size: int | None = Field(
        default=None, ge=1, description="minibatch size; None: the agent configuration's (paper: 128)"
    )
    explore: bool = Field(default=DEFAULT_EXPLORE, description=_EXPLORE_DOC)
    sync: bool = Field(
        default=False,
        description="simulated-time experiments only: each decision first waits until the learner "
        "has learned from every earlier transition (reproducible runs; never in a deployment, "
        "where the control path must not wait on learning)",
    )


class StateSettings(_Section):
    """Where agent state is checkpointed."""

    checkpoint_dir: Path | None = Field(
        default=None, description="directory for on-disk checkpoints; None: none"
    )
    checkpoint_interval_s: CheckpointInterval = DEFAULT_CHECKPOINT_INTERVAL_S
    sdl: str = Field(
        default="memory",
        description="shared data layer: 'memory' (in-process), 'redis://HOST:PORT[/DB]', or 'dbaas' "
        "(OSC: DBAAS_SERVICE_HOST / DBAAS_SERVICE_PORT)",
    )
    sdl_namespace: str = Field(default="metahrl-du", description="SDL namespace of this xApp's keys")

    @field_validator("sdl")
    @classmethod
    def _check_sdl(cls, value: str) -> str:
        if value in ("memory", "dbaas") or value.startswith(("redis://", "rediss://", "unix://")):
            return value
        raise ValueError("expected 'memory', 'dbaas' or a redis:// / rediss:// / unix:// URL")

    @field_validator("sdl_namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        if not _NAMESPACE.match(value):
            raise ValueError("1–64 characters from letters, digits and _ . : -")
        return value


class MetaSettings(_Section):
    """The meta-controller this xApp submits task updates to and takes meta-initialisations from."""

    address: str | None = Field(
        default=None,
        description="'HOST:PORT' of the meta-controller's gRPC service; None: no meta-controller",
    )
    token: SecretStr | None = Field(
        default=None,
        description="bearer token for the meta-controller (give it by environment, not in files)",
    )
    tls: bool = Field(default=False, description="use TLS to the meta-controller")
    ca_file: Path | None = Field(
        default=None, description="CA bundle that signs the meta-controller's certificate"
    )
    cert_file: Path | None = Field(default=None, description="client certificate (mutual TLS)")
    key_file: Path | None = Field(default=None, description="client private key (mutual TLS)")
    round_every_s: float = Field(
        default=60.0, gt=0.0, le=86_400.0, description="seconds between task-update submissions"
    )

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _HOST_PORT.match(value)
        if match is None or not 0 < int(match.group(2)) <= 65535:
            raise ValueError("expected 'HOST:PORT' with a port in 1–65535")
        return value

    @model_validator(mode="after")
    def _check_tls(self) -> MetaSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS)")
        if not self.tls and any(f is not None for f in (self.ca_file, self.cert_file, self.key_file)):
            raise ValueError("ca_file/cert_file/key_file are set but tls is false")
        return self


class HttpSettings(_Section):
    """The xApp's HTTP API (health, config, metrics)."""

    host: str = Field(default="127.0.0.1", min_length=1, description="listen address (0.0.0.0 in a pod)")
    port: Port = Field(default=8080, description="listen port (0: any free port)")
    token: SecretStr | None = Field(
        default=None,
        description="bearer token that PUT /ric/v1/config requires (give it by environment or "
        "token_file, never in a committed file); neither set: config changes are refused (403)",
    )
    token_file: Path | None = Field(
        default=None,
        description="file holding that token (e.g. a mounted Kubernetes Secret); read at start-up",
    )

    @model_validator(mode="after")
    def _read_token_file(self) -> HttpSettings:
        if self.token_file is None:
            return self
        if self.token is not None:
            raise ValueError("give token or token_file, not both")
        self.token = read_token_file(self.token_file)
        return self


_MIN_TOKEN_CHARS = 16


def read_token_file(path: Path) -> SecretStr:
    """The token in ``path`` (surrounding whitespace stripped); ``ValueError`` naming the file."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read token file {path}: {exc}") from None
    if len(text) < _MIN_TOKEN_CHARS or any(c.isspace() for c in text):
        raise ValueError(
            f"token file {path}: expected one token of at least {_MIN_TOKEN_CHARS} characters, no spaces"
        )
    return SecretStr(text)


# ---- run-time controls --------------------------------------------------------------------------


class LearningControls(_Section):
    mode: LearningMode = Field(description=_MODE_DOC)
    explore: bool = Field(description=_EXPLORE_DOC)


class ControlControls(_Section):
    control_timeout_s: ControlTimeout
    high_period_steps: HighPeriodSteps


class StateControls(_Section):
    checkpoint_interval_s: CheckpointInterval


class XappControls(_Section):
    """The settings that may change while the xApp runs (``GET``/``PUT /ric/v1/config``).

    Same names and constraints as in `XappSettings`; a PUT gives every field (no partial update).
    """

    learning: LearningControls
    control: ControlControls
    state: StateControls


# ---- the settings -------------------------------------------------------------------------------


class XappSettings(BaseSettings):
    """All settings of one DU xApp process (one or several DUs). Build it with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=_NESTED,
        env_ignore_empty=True,  # an empty variable (common in pod specs) means "not set"
        env_parse_none_str="null",  # METAHRL_XAPP_META__ADDRESS=null clears an optional setting
        extra="forbid",
        case_sensitive=False,
    )

    du: DuSelection = Field(default="all", description="DU indices this process serves, or 'all'")
    name: str = Field(
        default="metahrl-du",
        pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        description="xApp instance name (a DNS label; also the OSC descriptor's name)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="log level (the descriptor's logger.level maps here)"
    )
    scenario: str = Field(
        default="paper",
        min_length=1,
        description="the DU tasks served (cell, slices, SLAs): a bundled scenario name or a "
        "scenario YAML path (`metahrl e2sim` runs the same file)",
    )
    agent: str = Field(
        default="paper",
        min_length=1,
        description="agent sizes and hyper-parameters for a scratch start: a bundled training "
        "config name or a YAML path (a checkpoint brings its own)",
    )
    seed: int = Field(default=0, ge=0, description="seed of scratch agents and exploration noise")
    torch_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="torch intra-op threads of this process: 1 keeps the learner's matrix work "
        "from spinning every core the control loop needs (torch's default is every core of the "
        "node, whatever the pod's CPU limit)",
    )
    init: str = Field(
        default="scratch",
        min_length=1,
        description="initial policy: a checkpoint path (from metahrl train), 'meta' (the "
        "meta-controller's meta-initialisation), or 'scratch'",
    )
    e2: E2Settings = Field(default_factory=E2Settings, description="E2 access")
    control: ControlSettings = Field(default_factory=ControlSettings, description="control loop")
    learning: LearningSettings = Field(default_factory=LearningSettings, description="online learning")
    state: StateSettings = Field(default_factory=StateSettings, description="checkpoints and SDL")
    meta: MetaSettings = Field(default_factory=MetaSettings, description="meta-controller client")
    http: HttpSettings = Field(default_factory=HttpSettings, description="HTTP API")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `load_settings` layers the sources itself (so it can name the source of a bad value);
        # constructing the model directly reads nothing from the process environment.
        return (init_settings,)

    @model_validator(mode="after")
    def _check_init(self) -> XappSettings:
        if self.init == "meta" and self.meta.address is None:
            raise ValueError("init is 'meta' but meta.address is not set")
        if self.init not in ("meta", "scratch") and not Path(self.init).exists():
            raise ValueError(f"init: checkpoint {self.init!r} does not exist")
        return self

    @property
    def init_kind(self) -> Literal["checkpoint", "meta", "scratch"]:
        if self.init in ("meta", "scratch"):
            return "meta" if self.init == "meta" else "scratch"
        return "checkpoint"

    def controls(self) -> XappControls:
        """The run-time controls as they stand in these settings."""
        return XappControls(
            learning=LearningControls(mode=self.learning.mode, explore=self.learning.explore),
            control=ControlControls(
                control_timeout_s=self.control.control_timeout_s,
                high_period_steps=self.control.high_period_steps,
            ),
            state=StateControls(checkpoint_interval_s=self.state.checkpoint_interval_s),
        )

    def with_controls(self, new: XappControls) -> XappSettings:
        """A copy of these settings with `new` applied."""
        return self.model_copy(
            update={
                "learning": self.learning.model_copy(update=new.learning.model_dump()),
                "control": self.control.model_copy(update=new.control.model_dump()),
                "state": self.state.model_copy(update=new.state.model_dump()),
            }
        )


# ---- loading ------------------------------------------------------------------------------------


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of ``os.environ``."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._given = dict(env)
        super().__init__(XappSettings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # As pydantic-settings does for os.environ: empty means unset, "null" means None.
        return {
            key.lower(): (None if value == "null" else value)
            for key, value in self._given.items()
            if value != ""
        }


class _Layer:
    """One source's values and how to name where a value came from."""

    def __init__(self, label: str, data: dict[str, Any], origins: Mapping[str, str] | None = None) -> None:
        self.label = label
        self.data = data
        self.origins = dict(origins or {})  # "section.key" → where a mapped value came from

    def name(self, field: str, env: Mapping[str, str], loc: tuple[str | int, ...]) -> str:
        if self.label == "environment":
            return _env_name(loc, env)
        if field in self.origins:
            return self.origins[field]
        return f"{self.label} {field}" if self.label == "override" else f"{self.label} controls.{field}"

    def has(self, loc: tuple[str | int, ...]) -> bool:
        node: Any = self.data
        for part in loc:
            if not isinstance(node, Mapping) or part not in node:
                return False
            node = node[part]
        return True


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _expand_dotted(overrides: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SettingsError(f"override {key!r}: {part!r} is both a value and a section")
        node[leaf] = dict(value) if isinstance(value, Mapping) else value
    return out


def _env_layer(env: Mapping[str, str]) -> _Layer:
    known = set(XappSettings.model_fields)
    for key in env:
        upper = key.upper()
        if upper.startswith(ENV_PREFIX):
            field = upper[len(ENV_PREFIX) :].split(_NESTED, 1)[0].lower()
            if field not in known:
                raise SettingsError(f"environment {key}: unknown setting {field!r} (known: {sorted(known)})")
    try:
        data = _MappingEnvSource(env)()
    except ValueError as exc:  # pydantic-settings' SettingsError on undecodable JSON
        message = str(exc).replace(f'from source "{_MappingEnvSource.__name__}"', "(not valid JSON)")
        raise SettingsError(f"environment: {message}") from exc
    return _Layer("environment", data)


def _env_name(loc: tuple[str | int, ...], env: Mapping[str, str]) -> str:
    upper = {k.upper() for k in env}
    for n in range(len(loc), 0, -1):
        name = ENV_PREFIX + _NESTED.join(str(p) for p in loc[:n]).upper()
        if name in upper:
            return name
    return ENV_PREFIX + "…"


# ---- the OSC descriptor -------------------------------------------------------------------------


def _read_descriptor(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{CONFIG_FILE_ENV}={path}: cannot read the descriptor: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise SettingsError(f"descriptor {path}: not JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"descriptor {path}: not UTF-8 text (byte {exc.start}): is it the right file?"
        ) from exc
    if not isinstance(doc, dict):
        raise SettingsError(f"descriptor {path}: expected a JSON object")
    return doc


def _put(out: dict[str, Any], section: str, key: str, value: Any, what: str, origins: dict[str, str]) -> None:
    origins[f"{section}.{key}"] = what
    node = out.setdefault(section, {})
    if not isinstance(node, dict):
        raise SettingsError(f"{what}: controls.{section} must be an object")
    if key in node and node[key] != value:
        raise SettingsError(f"{what} = {value!r} conflicts with controls.{section}.{key} = {node[key]!r}")
    node[key] = value


def _framework_controls(controls: dict[str, Any], where: str, origins: dict[str, str]) -> None:
    """Map (in place) the OSC framework sections of `controls` onto our settings."""
    logger = controls.pop("logger", None)
    if isinstance(logger, Mapping) and "level" in logger:
        level = logger["level"]
        if level not in _LOG_LEVELS:
            raise SettingsError(f"{where} controls.logger.level: expected 1–4 (mdclog), got {level!r}")
        if "log_level" in controls and controls["log_level"] != _LOG_LEVELS[level]:
            raise SettingsError(f"{where} controls.logger.level conflicts with controls.log_level")
        controls["log_level"] = _LOG_LEVELS[level]
        origins["log_level"] = f"{where} controls.logger.level"
    subscription = controls.pop("subscription", None)
    if isinstance(subscription, Mapping):
        if "url" in subscription:
            _put(
                controls,
                "e2",
                "submgr_url",
                subscription["url"],
                f"{where} controls.subscription.url",
                origins,
            )
        if "clientEndpoint" in subscription:
            host = subscription["clientEndpoint"]
            _put(
                controls,
                "e2",
                "http_callback_host",
                host,
                f"{where} controls.subscription.clientEndpoint",
                origins,
            )
    controls.pop("symptomdata", None)


def _port_controls(
    doc: Mapping[str, Any], controls: dict[str, Any], where: str, origins: dict[str, str]
) -> None:
    messaging = doc.get("messaging")
    ports = messaging.get("ports", []) if isinstance(messaging, Mapping) else []
    if not isinstance(ports, list):
        raise SettingsError(f"{where} messaging.ports: expected a list")
    targets = {"rmrdata": ("e2", "rmr_port"), "rmrroute": ("e2", "rmr_route_port"), "http": ("http", "port")}
    for entry in ports:
        if isinstance(entry, Mapping) and entry.get("name") in targets:
            section, key = targets[entry["name"]]
            what = f"{where} messaging.ports[{entry['name']}].port"
            _put(controls, section, key, entry.get("port"), what, origins)


def _descriptor_layer(path: Path) -> _Layer:
    where = f"descriptor {path}"
    doc = _read_descriptor(path)
    raw = doc.get("controls", {})
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{where} controls: expected an object")
    controls = json.loads(json.dumps(raw))  # a deep copy we may edit
    origins: dict[str, str] = {}
    _framework_controls(controls, where, origins)
    _port_controls(doc, controls, where, origins)
    return _Layer(where, controls, origins)


# ---- entry point --------------------------------------------------------------------------------


def _format_error(exc: ValidationError, layers: list[_Layer], env: Mapping[str, str]) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(settings)"
        source = "defaults / combined settings"
        for layer in reversed(layers):
            if any(layer.has(loc[:n]) for n in range(len(loc), 0, -1)):
                source = layer.name(field, env, loc)
                break
        lines.append(f"{field}: {err['msg']} (from {source})")
    return "invalid xApp settings:\n  " + "\n  ".join(lines)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    descriptor: Path | None = None,
) -> XappSettings:
    """Settings from `overrides` > `env` (default ``os.environ``) > the descriptor > defaults.

    The descriptor is `descriptor` if given, else the file named by ``CONFIG_FILE`` in `env`.
    Raises `SettingsError` naming every bad field and its source.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    layers: list[_Layer] = []
    path = descriptor if descriptor is not None else environ.get(CONFIG_FILE_ENV)
    if path:
        layers.append(_descriptor_layer(Path(path)))
    layers.append(_env_layer(environ))
    if overrides:
        layers.append(_Layer("override", _expand_dotted(overrides)))
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _deep_merge(merged, layer.data)
    try:
        return XappSettings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_format_error(exc, layers, environ)) from None


@dataclass(frozen=True)
class SettingDoc:
    """One setting for help texts: dotted name, environment variable, default, description."""

    name: str
    env: str
    default: str
    description: str


def _leaf_docs(model: type[BaseModel], prefix: str) -> Iterator[SettingDoc]:
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from _leaf_docs(kind, dotted + ".")
            continue
        default = field.get_default(call_default_factory=True)
        yield SettingDoc(
            name=dotted,
            env=ENV_PREFIX + dotted.replace(".", _NESTED).upper(),
            default="" if default is None else str(default),
            description=field.description or "",
        )


def settings_reference() -> list[SettingDoc]:
    """Every leaf setting of `XappSettings`, in declaration order (for ``--help`` and docs)."""
    return list(_leaf_docs(XappSettings, ""))


def _inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    """`node` with every local ``$ref`` replaced by its definition (our models do not recurse)."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _inline_refs(value, defs) for key, value in node.items() if key != "$ref"}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**_inline_refs(defs[ref.removeprefix("#/$defs/")], defs), **out}
    return out


def controls_json_schema() -> dict[str, Any]:
    """JSON Schema (draft-07, self-contained) of a descriptor's ``controls``: the OSC ``schema.json``.

    The settings' own schema (unknown fields rejected) plus the OSC framework sections that
    descriptors carry (``logger``, ``subscription``, ``symptomdata``). No ``$ref``: the onboarder
    embeds it in its descriptor schema, where references into ``$defs`` would not resolve.
    """
    raw = XappSettings.model_json_schema()
    schema: dict[str, Any] = _inline_refs(
        {k: v for k, v in raw.items() if k != "$defs"}, raw.get("$defs", {})
    )
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = "metahrl DU xApp controls"
    schema["properties"].update(
        {
            "logger": {
                "type": "object",
                "description": "OSC framework logger; level (mdclog 1 error … 4 debug) maps to log_level",
                "properties": {"level": {"type": "integer", "minimum": 1, "maximum": 4}},
            },
            "subscription": {
                "type": "object",
                "description": "OSC framework subscription endpoint; url → e2.submgr_url, "
                "clientEndpoint → e2.http_callback_host",
                "properties": {"url": {"type": "string"}, "clientEndpoint": {"type": "string"}},
            },
            "symptomdata": {"type": "object", "description": "OSC symptom data collection (ignored)"},
        }
    )
    return schema
