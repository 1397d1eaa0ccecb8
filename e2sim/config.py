"""Typed, validated configuration of the simulator: radio (Table 1), traffic per slice, tasks, scenarios.

Every default here is the paper's (Table 1 of the paper, restated in SPEC §1–2) or a documented
choice of ours where the paper is silent. Scenario YAML files (``e2sim/scenarios/*.yaml``) are
partial overrides of these models; see :mod:`e2sim.scenario` for loading.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "SLICE_NAMES",
    "DuEvent",
    "Placement",
    "RadioConfig",
    "ScenarioConfig",
    "Slice",
    "SliceTraffic",
    "TaskConfig",
    "default_task",
]


class Slice(IntEnum):
    """Slice index; the paper's order (slice 1 eMBB, slice 2 mMTC, slice 3 URLLC)."""

    EMBB = 0
    MMTC = 1
    URLLC = 2


SLICE_NAMES: tuple[str, str, str] = ("embb", "mmtc", "urllc")

PositiveFloat = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RadioConfig(_Strict):
    """Radio and numerology (paper Table 1 and SPEC §1)."""

    n_rbs: int = Field(100, ge=1, le=1000, description="K: resource blocks per DU (Table 1).")
    rb_bandwidth_hz: PositiveFloat = Field(200e3, description="B: bandwidth of one RB (Table 1).")
    total_bandwidth_hz: PositiveFloat = Field(20e6, description="Channel bandwidth per DU (Table 1).")
    subcarrier_spacing_hz: PositiveFloat = Field(
        15e3, description="Subcarrier spacing (Table 1); informative, rates use B per RB (eq. 1)."
    )
    tti_ms: PositiveFloat = Field(1.0, description="Duration of one TTI (scheduling interval).")
    tx_power_dbm: float = Field(
        56.0, description="P_u: total RU transmit power, split evenly over its RBs (choice)."
    )
    noise_psd_dbm_hz: float = Field(
        -173.0, description="σ²: thermal noise PSD; per-RB noise is σ² + 10·log10(B) (choice)."
    )
    noise_figure_db: float = Field(0.0, ge=0, description="UE noise figure added to σ².")
    pathloss_ref_db: float = Field(
        128.1, description="Path loss at 1 km: PL = ref + 10·η·log10(d/km) (3GPP macro, choice)."
    )
    pathloss_exponent: PositiveFloat = Field(3.76, description="η in eq. 1 (37.6 dB/decade).")
    min_distance_m: PositiveFloat = Field(10.0, description="Distances are clipped below this.")
    inter_site_distance_m: PositiveFloat = Field(500.0, description="Hexagonal layout ISD (choice).")
    fading: Literal["full", "scheduled"] = Field(
        "full",
        description=(
            "'full' draws Rayleigh |h|² for every (RU, UE, RB) each TTI; 'scheduled' draws it only "
            "for links where an RB is actually used — statistically identical when fading is "
            "independent per TTI (coherence_ttis = 1), and much faster."
        ),
    )
    coherence_ttis: int = Field(
        1, ge=1, description="Block fading: |h|² redrawn every this many TTIs (full mode only)."
    )
    handover_hysteresis_db: float = Field(
        3.0, ge=0, description="A UE hands over when another RU is this much stronger."
    )
    mobility_update_ttis: int = Field(
        10, ge=1, description="Positions, path gains and association are updated every N TTIs."
    )
    heading_change_per_s: float = Field(
        0.2, ge=0, description="Rate (1/s) at which a UE re-draws its heading among the 7 offsets."
    )
    rb_mapping: Literal["contiguous", "random"] = Field(
        "contiguous",
        description="How a DU lays its allocation onto RB indices: packed from RB 0, or permuted per TTI.",
    )
    queue_packets: int = Field(256, ge=4, description="Per-UE buffer size in packets (overflow drops).")
    pf_time_constant_ttis: PositiveFloat = Field(
        100.0, description="EWMA window of the proportional-fair scheduler's average throughput."
    )

    @model_validator(mode="after")
    def _check(self) -> RadioConfig:
        if self.n_rbs * self.rb_bandwidth_hz > self.total_bandwidth_hz * (1 + 1e-9):
            raise ValueError(
                f"n_rbs × rb_bandwidth_hz = {self.n_rbs * self.rb_bandwidth_hz:g} Hz exceeds "
                f"total_bandwidth_hz = {self.total_bandwidth_hz:g} Hz"
            )
        if self.fading == "scheduled" and self.coherence_ttis != 1:
            raise ValueError(
                "fading='scheduled' is exact only for fading independent per TTI: "
                "it requires coherence_ttis = 1 (use fading='full' for block fading)"
            )
        return self

    @property
    def tti_s(self) -> float:
        return self.tti_ms * 1e-3

    @property
    def rb_power_dbm(self) -> float:
        return self.tx_power_dbm - 10.0 * math.log10(self.n_rbs)

    @property
    def noise_per_rb_dbm(self) -> float:
        return self.noise_psd_dbm_hz + 10.0 * math.log10(self.rb_bandwidth_hz) + self.noise_figure_db

    @property
    def cell_radius_m(self) -> float:
        """Circumradius of the hexagonal cell."""
        return self.inter_site_distance_m / math.sqrt(3.0)


class Placement(_Strict):
    """Where a slice's UEs start: uniformly in the DU's hexagon, or in a disc around the site."""

    kind: Literal["uniform", "hotspot"] = "uniform"
    radius_m: PositiveFloat = Field(
        100.0, description="Hotspot radius around the DU's site (kind = 'hotspot')."
    )


class SliceTraffic(_Strict):
    """Traffic and SLA of one slice in one task (SPEC §2 table)."""

    n_ues: int = Field(ge=0, le=10_000, description="UEs of this slice per DU.")
    arrival: Literal["cbr", "poisson"] = Field(description="Constant bit rate or Poisson packets.")
    rate_mbps: tuple[PositiveFloat, PositiveFloat] | None = Field(
        None, description="CBR: per-UE rate drawn uniformly in [lo, hi] Mbit/s."
    )
    packets_per_s: PositiveFloat | None = Field(None, description="Poisson: packets/s per UE.")
    packet_bytes: int = Field(ge=1, le=100_000, description="Packet size.")
    deadline_ms: PositiveFloat = Field(description="Packets older than this are dropped (lost).")
    placement: Placement = Field(default_factory=Placement)
    sla_throughput_mbps: PositiveFloat | None = Field(
        None, description="eMBB SLA: mean UE throughput (Mbit/s) that scores QoS = 1."
    )
    sla_rate_kbps: PositiveFloat | None = Field(
        None, description="mMTC λ_i: a device is served when its rate exceeds this (kbit/s)."
    )
    sla_latency_ms: PositiveFloat | None = Field(
        None, description="URLLC SLA: max latency (ms) that scores QoS = 1."
    )
    reward_cm_mbps: float = Field(
        0.0, ge=0, description="c_m (eq. 9–10): lower end of the slice's per-UE service demand."
    )
    reward_cx_mbps: PositiveFloat | None = Field(
        None, description="c_x (eq. 9–10): upper end; defaults to the largest per-UE offered rate."
    )

    @model_validator(mode="after")
    def _check(self) -> SliceTraffic:
        if self.arrival == "cbr":
            if self.rate_mbps is None:
                raise ValueError("arrival 'cbr' needs rate_mbps: [lo, hi]")
            if self.rate_mbps[0] > self.rate_mbps[1]:
                raise ValueError(f"rate_mbps lo > hi: {list(self.rate_mbps)}")
        if self.arrival == "poisson" and self.packets_per_s is None:
            raise ValueError("arrival 'poisson' needs packets_per_s")
        if self.reward_cx_mbps is not None and self.reward_cx_mbps <= self.reward_cm_mbps:
            raise ValueError("reward_cx_mbps must be greater than reward_cm_mbps")
        return self

    @property
    def max_offered_mbps(self) -> float:
        if self.arrival == "cbr":
            assert self.rate_mbps is not None
            return self.rate_mbps[1]
        assert self.packets_per_s is not None
        return self.packets_per_s * self.packet_bytes * 8e-6

    @property
    def cx_mbps(self) -> float:
        return self.reward_cx_mbps if self.reward_cx_mbps is not None else self.max_offered_mbps


class TaskConfig(_Strict):
    """One DU's parameters (a meta-learning task): slice mix, traffic, mobility, geometry."""

    name: str = "paper-default"
    description: str = ""
    embb: SliceTraffic
    mmtc: SliceTraffic
    urllc: SliceTraffic
    speed_mps: tuple[float, float] = Field(
        (10.0, 20.0), description="UE speed, uniform in [lo, hi] m/s (paper: 10–20 m/s)."
    )
    traffic_scale: PositiveFloat = Field(1.0, description="Multiplies every arrival rate.")
    static_split: tuple[float, float, float] = Field(
        (0.7, 0.1, 0.2), description="Slice shares used by the 'static' baseline (choice)."
    )

    @field_validator("speed_mps")
    @classmethod
    def _speed(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] < 0 or v[1] < v[0]:
            raise ValueError(f"need 0 <= lo <= hi, got {list(v)}")
        return v

    @field_validator("static_split")
    @classmethod
    def _split(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(v) < 0 or not math.isclose(sum(v), 1.0, abs_tol=1e-6):
            raise ValueError(f"must be non-negative and sum to 1, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _slas(self) -> TaskConfig:
        if self.embb.sla_throughput_mbps is None:
            raise ValueError("embb needs sla_throughput_mbps")
        if self.mmtc.sla_rate_kbps is None:
            raise ValueError("mmtc needs sla_rate_kbps")
        if self.urllc.sla_latency_ms is None:
            raise ValueError("urllc needs sla_latency_ms")
        if self.urllc.sla_latency_ms >= self.urllc.deadline_ms:
            raise ValueError("urllc sla_latency_ms must be below its deadline_ms")
        return self

    @property
    def slices(self) -> tuple[SliceTraffic, SliceTraffic, SliceTraffic]:
        return (self.embb, self.mmtc, self.urllc)

    @property
    def n_ues(self) -> int:
        return sum(s.n_ues for s in self.slices)


def default_task() -> TaskConfig:
    """The paper-default task (SPEC §2): 30 UEs per DU = 10 eMBB, 12 mMTC, 8 URLLC."""
    return TaskConfig(
        name="paper-default",
        description="Paper default DU: 10 eMBB (CBR 4–8 Mbit/s), 12 mMTC, 8 URLLC.",
        embb=SliceTraffic(
            n_ues=10,
            arrival="cbr",
            rate_mbps=(4.0, 8.0),
            packet_bytes=1500,
            deadline_ms=100.0,
            sla_throughput_mbps=5.0,
        ),
        mmtc=SliceTraffic(
            n_ues=12,
            arrival="poisson",
            packets_per_s=10.0,
            packet_bytes=125,
            deadline_ms=1000.0,
            sla_rate_kbps=8.0,
        ),
        urllc=SliceTraffic(
            n_ues=8,
            arrival="poisson",
            packets_per_s=200.0,
            packet_bytes=64,
            deadline_ms=10.0,
            sla_latency_ms=5.0,
        ),
    )


class DuEvent(_Strict):
    """A scheduled change during a run: a DU switched off/on, or a traffic scale change."""

    at_ms: float = Field(ge=0, description="Simulated time of the event.")
    kind: Literal["du_off", "du_on", "traffic_scale"]
    dus: list[int] | Literal["all"] = Field(description="DU indices affected, or 'all'.")
    factor: PositiveFloat | None = Field(
        None, description="traffic_scale: multiplies the tasks' arrival rates (1.5 = +50 %)."
    )

    @model_validator(mode="after")
    def _check(self) -> DuEvent:
        if self.kind == "traffic_scale" and self.factor is None:
            raise ValueError("traffic_scale events need 'factor'")
        if self.kind != "traffic_scale" and self.factor is not None:
            raise ValueError(f"'factor' only applies to traffic_scale events, not {self.kind}")
        return self


class ScenarioConfig(_Strict):
    """A scenario: N_DU DUs, a task per DU, radio settings and timed events."""

    name: str
    description: str = ""
    n_du: int = Field(7, ge=1, le=200, description="Number of DUs (hexagonal rings, SPEC §1).")
    radio: RadioConfig = Field(default_factory=RadioConfig)
    tasks: dict[str, TaskConfig] = Field(description="Task library of this scenario, by name.")
    assignment: list[str] = Field(description="Task name of each DU (length n_du).")
    events: list[DuEvent] = Field(default_factory=list)
    plmn: str = Field("00101", pattern=r"^\d{5,6}$", description="PLMN (MCC+MNC) for E2.")
    slice_sd: tuple[int, int, int] = Field(
        (1, 2, 3), description="S-NSSAI SD of each slice (SST is 1 eMBB, 3 mMTC, 2 URLLC)."
    )

    @model_validator(mode="after")
    def _check(self) -> ScenarioConfig:
        if len(self.assignment) != self.n_du:
            raise ValueError(f"assignment has {len(self.assignment)} entries but n_du = {self.n_du}")
        unknown = sorted({t for t in self.assignment if t not in self.tasks})
        if unknown:
            raise ValueError(f"assignment names unknown task(s) {unknown}; known: {sorted(self.tasks)}")
        for ev in self.events:
            if ev.dus != "all":
                bad = [d for d in ev.dus if not 0 <= d < self.n_du]
                if bad:
                    raise ValueError(f"event at {ev.at_ms} ms names DU(s) {bad} outside 0..{self.n_du - 1}")
        if sum(self.tasks[t].n_ues for t in self.assignment) == 0:
            raise ValueError("the scenario has no UEs")
        return self

    def task_of(self, du: int) -> TaskConfig:
        return self.tasks[self.assignment[du]]

    def with_fading(self, fading: str | None) -> ScenarioConfig:
        """This scenario with its radio's fading mode replaced (None or the same mode: itself);
        the radio is validated again, so a mode its other settings forbid raises."""
        if fading is None or fading == self.radio.fading:
            return self
        radio = RadioConfig.model_validate({**self.radio.model_dump(), "fading": fading})
        return self.model_copy(update={"radio": radio})
