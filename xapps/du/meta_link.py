"""The DU xApp's seam to the meta-controller: meta-inits in, task updates out.

`open_meta_link` turns the xApp's `MetaSettings` into a `MetaLink`: `NoMeta` when no address is
configured (status ``off``), else a `GrpcMetaLink` over `meta_controller.client.MetaClient`
(TLS unless ``tls`` is false, the DU's bearer token, jittered reconnects, deadlines).

`GrpcMetaLink.contribute` is the DU side of a round (Algorithm 1, lines 10–12): on a *private*
copy of the DU's learner agent it loads the latest meta-init θ_M, runs the inner loop (eq. 11,
``inner_steps`` DDPG updates on the agent's own replay), computes the clipped first-order query
gradient and the TD-error variances (`meta_controller.algorithm.task_update`, the experiments'
code) and uploads them against the meta-version they were computed from. The compute and the
encoding run in worker threads; the event loop only moves bytes. One contribution per
meta-version: a second call before the round closes is skipped. Nothing here raises for an
unreachable or refusing controller: the outcome is counted and logged once, `status` turns
``degraded`` until a call succeeds again, and the DU keeps controlling.

Metrics (on the registry passed in, prefix ``metahrl_du_meta_``):
``contributions_total{du, outcome}`` with outcome accepted | refused | unreachable |
no_meta_init | already_sent | failed, and ``version{du}`` (the latest meta-version held).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from meta_controller.algorithm import MetaConfig, task_update
from meta_controller.client import ClientTls, MetaClient, MetaInit, PreparedUpdate, task_json
from meta_controller.params import ParamLayout
from meta_controller.wire import WireDType
from xapps.agent.hierarchical import HierarchicalAgent
from xapps.service.settings import MetaSettings

__all__ = [
    "OUTCOMES",
    "GrpcMetaLink",
    "MetaLink",
    "MetaLinkMetrics",
    "MetaLinkOptions",
    "MetaStatus",
    "NoMeta",
    "open_meta_link",
]

log = logging.getLogger(__name__)

MetaStatus = Literal["off", "ready", "degraded"]
Outcome = Literal["accepted", "refused", "unreachable", "no_meta_init", "already_sent", "failed"]
OUTCOMES: Final[tuple[Outcome, ...]] = (
    "accepted", "refused", "unreachable", "no_meta_init", "already_sent", "failed",
)  # fmt: skip


class MetaLink(Protocol):
    """What the DU xApp needs of the meta-controller."""

    @property
    def status(self) -> MetaStatus: ...  # off = no controller configured
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def initial(self, timeout_s: float) -> dict[str, Tensor] | None: ...
    def latest_version(self) -> int | None: ...
    async def contribute(self, agent: HierarchicalAgent) -> bool: ...


class NoMeta:
    """No meta-controller configured: status ``off``, no meta-init, nothing contributed."""

    @property
    def status(self) -> MetaStatus:
        return "off"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def initial(self, timeout_s: float) -> dict[str, Tensor] | None:
        return None

    def latest_version(self) -> int | None:
        return None

    async def contribute(self, agent: HierarchicalAgent) -> bool:
        return False


class MetaLinkOptions(BaseModel):
    """How a DU computes and sends its task update (defaults: the experiments')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inner_steps: int = Field(10, ge=1, description="eq. 11 DDPG updates from θ_M before the query gradient")
    wire_dtype: WireDType = Field("float32", description="dtype of the uploaded update (bfloat16 halves it)")
    meta: MetaConfig = Field(default_factory=MetaConfig, description="task_grad_clip, variance kind")
    deadline_s: float = Field(30.0, gt=0, description="deadline of every unary call to the controller")
    backoff_s: tuple[float, float] = Field((0.5, 30.0), description="reconnect backoff (first, cap)")
    retries: int = Field(3, ge=0, description="retries of a transient failure within one call")


class MetaLinkMetrics:
    """The link's metrics on an injected registry (one instance per registry; ``du`` is a label)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.contributions = Counter(
            "metahrl_du_meta_contributions", "Task-update contributions by outcome", ["du", "outcome"],
            registry=registry,
        )  # fmt: skip
        self.version = Gauge("metahrl_du_meta_version", "Latest meta-version held", ["du"], registry=registry)

    def add_du(self, du: str) -> None:
        for outcome in OUTCOMES:
            self.contributions.labels(du, outcome)


class GrpcMetaLink:
    """A `MetaLink` over gRPC (`MetaClient`); its constructor touches no network."""

    def __init__(self, client: MetaClient, options: MetaLinkOptions, metrics: MetaLinkMetrics) -> None:
        self.client, self.options, self.metrics = client, options, metrics
        metrics.add_du(client.du_id)
        self._sent_on: int | None = None  # meta-version of the last accepted contribution
        self._busy = asyncio.Lock()

    @property
    def status(self) -> MetaStatus:
        return "ready" if self.client.registered and not self.client.degraded else "degraded"

    async def start(self) -> None:
        """Register and watch meta-inits in the background (reconnecting forever); returns at once."""
        self.client.start()

    async def close(self) -> None:
        await self.client.close()

    def latest_version(self) -> int | None:
        latest = self.client.latest
        return None if latest is None else latest.version

    async def initial(self, timeout_s: float) -> dict[str, Tensor] | None:
        """The current meta-init (named like the agent's parameters), waiting up to ``timeout_s``."""
        init = await self.client.wait_version(0, timeout_s)
        if init is None:
            return None
        self.metrics.version.labels(self.client.du_id).set(init.version)
        return {k: v.clone() for k, v in init.params.items()}

    async def contribute(self, agent: HierarchicalAgent) -> bool:
        """One task update from ``agent`` (a private copy: it is left at θ'_g) for the latest
        meta-init; True when the controller accepted it. Never raises for controller trouble."""
        async with self._busy:
            base = self.client.latest
            if base is None:
                return self._done("no_meta_init", "no meta-init received yet")
            if base.version == self._sent_on:
                return self._done("already_sent", f"already contributed to meta-version {base.version}")
            self.metrics.version.labels(self.client.du_id).set(base.version)
            try:
                prepared = await asyncio.to_thread(self._compute, agent, base)
            except Exception:  # the DU keeps controlling whatever the agent copy did
                log.exception("task update of DU %s failed", self.client.du_id)
                self.metrics.contributions.labels(self.client.du_id, "failed").inc()
                return False
            if await self.client.send(prepared, base=base):
                self._sent_on = base.version
                return self._done("accepted", None)
            outcome: Outcome = "unreachable" if self.client.degraded else "refused"
            return self._done(outcome, self.client.last_error)

    def _compute(self, agent: HierarchicalAgent, base: MetaInit) -> PreparedUpdate:
        samples = sum(len(a.replay) for a in agent.agents().values())
        update = task_update(
            agent,
            base.params,
            inner_steps=self.options.inner_steps,
            config=self.options.meta,
            samples=samples,
        )
        return self.client.prepare(update, dtype=self.options.wire_dtype)

    def _done(self, outcome: Outcome, why: str | None) -> bool:
        self.metrics.contributions.labels(self.client.du_id, outcome).inc()
        if why is not None:  # refusals and unreachability were already logged by the client
            level = logging.INFO if outcome in ("no_meta_init", "already_sent") else logging.DEBUG
            log.log(level, "DU %s: contribution %s: %s", self.client.du_id, outcome, why)
        return outcome == "accepted"


def _read(path: Path | None, field: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"meta.{field}: cannot read {path}: {exc.strerror or exc}") from exc


def _tls(settings: MetaSettings) -> ClientTls | None:
    if not settings.tls:
        return None
    return ClientTls(
        root_ca=_read(settings.ca_file, "ca_file"),
        key=_read(settings.key_file, "key_file"),
        cert=_read(settings.cert_file, "cert_file"),
    )


def open_meta_link(
    settings: MetaSettings,
    du: str,
    descriptor: Mapping[str, Any],
    *,
    layout: ParamLayout | Mapping[str, Tensor],
    metrics: MetaLinkMetrics | None = None,
    options: MetaLinkOptions | None = None,
) -> MetaLink:
    """`NoMeta` without an address; else a `GrpcMetaLink` for DU ``du`` whose agent has the
    parameters ``layout`` (a `ParamLayout` or the agent's `get_params()`), announcing
    ``descriptor`` (its task) at registration; ``metrics`` default to a private registry. Reads the
    TLS files now (errors name the setting); no network until `start`."""
    if settings.address is None:
        return NoMeta()
    params_layout = layout if isinstance(layout, ParamLayout) else ParamLayout.of(dict(layout))
    opts = options or MetaLinkOptions()
    token = settings.token.get_secret_value() if settings.token is not None else None
    client = MetaClient(
        settings.address, du, params_layout, token=token, tls=_tls(settings), insecure=not settings.tls,
        deadline_s=opts.deadline_s, backoff_s=opts.backoff_s, retries=opts.retries,
        task_json=task_json(descriptor),
    )  # fmt: skip
    return GrpcMetaLink(client, opts, metrics or MetaLinkMetrics(CollectorRegistry()))
