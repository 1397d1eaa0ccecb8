"""The E2SM-KPM measurements a DU reports for the slicing contract: names, units, meaning.

TS 28.552 names where one exists, as srsRAN emits them; a documented ``metahrl.``-prefixed name
where the standard has none. Units are those on the wire; :class:`~slicing.window.KpiWindow`
holds everything in the units its field names say.

UE level (one report per UE, subscribed per slice so the slice of each UE is known):

=================================  ==========  ====================================================
name                               unit        meaning over the reporting window
=================================  ==========  ====================================================
``DRB.RlcSduTransmittedVolumeDL``  kbit        volume delivered to the UE (TS 28.552 §5.1.2.1.x)
``DRB.PdcpSduVolumeDL``            Mbit        volume that arrived for the UE (offered traffic)
``DRB.UEThpDl``                    kbit/s      delivered throughput (integer; for people/other xApps)
``metahrl.DRB.RlcSduDelayMaxDl``   0.1 ms      largest delay of a delivered packet (0 if none)
``metahrl.DRB.RlcSduDeadlineDropDl``  packets  packets dropped at their deadline
``metahrl.DRB.RlcBufferVolumeDl``  kbit        bits waiting in the UE's buffer at the window's end
``metahrl.UE.RatePerPrbDl``        kbit/s      achievable rate of one PRB for the UE (scheduler CSI)
``RRU.PrbUsedDl``                  PRBs        mean PRBs per TTI given to the UE (integer)
=================================  ==========  ====================================================

Slice level (node report, one record per ``sliceID`` label):

=================================  ==========  ====================================================
``RRC.ConnMean``                   UEs         UEs the DU serves in the slice at the window's end
``RRU.PrbAvailDl``                 PRBs        the slice's PRB quota (mean per TTI, integer)
``RRU.PrbUsedDl``                  PRBs        PRBs used by the slice (mean per TTI, integer)
``metahrl.RRU.PrbOverQuotaDl``     PRBs        K_over of eq. 9: PRBs requested above the quota,
                                               mean per TTI (0 when per-UE shares are applied)
=================================  ==========  ====================================================
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ARRIVED",
    "BUFFER",
    "CONN_MEAN",
    "DEADLINE_DROPS",
    "DELAY_MAX",
    "DELIVERED",
    "PRB_AVAIL",
    "PRB_OVER",
    "PRB_USED",
    "RATE_PER_PRB",
    "SLICE_MEASUREMENTS",
    "THROUGHPUT",
    "UE_MEASUREMENTS",
    "arrived_kbit",
    "arrived_wire",
    "delay_ms",
    "delay_wire",
]

DELIVERED = "DRB.RlcSduTransmittedVolumeDL"
ARRIVED = "DRB.PdcpSduVolumeDL"
THROUGHPUT = "DRB.UEThpDl"
DELAY_MAX = "metahrl.DRB.RlcSduDelayMaxDl"
DEADLINE_DROPS = "metahrl.DRB.RlcSduDeadlineDropDl"
BUFFER = "metahrl.DRB.RlcBufferVolumeDl"
RATE_PER_PRB = "metahrl.UE.RatePerPrbDl"
PRB_USED = "RRU.PrbUsedDl"
PRB_AVAIL = "RRU.PrbAvailDl"
PRB_OVER = "metahrl.RRU.PrbOverQuotaDl"
CONN_MEAN = "RRC.ConnMean"

UE_MEASUREMENTS = (DELIVERED, ARRIVED, THROUGHPUT, DELAY_MAX, DEADLINE_DROPS, BUFFER, RATE_PER_PRB, PRB_USED)
"""What the xApp subscribes per UE, in this order."""

SLICE_MEASUREMENTS = (CONN_MEAN, PRB_AVAIL, PRB_USED, PRB_OVER)
"""What the xApp subscribes per slice (node level), in this order."""


# Wire units that differ from the window's. An in-process window holds decode(encode(x)), so the
# window an xApp decodes from KPM equals the env's bit for bit (REAL values travel as float64).


def arrived_wire(kbit: Any) -> Any:
    """Arrived volume on the wire (``DRB.PdcpSduVolumeDL``, Mbit) from kbit."""
    return kbit * 1e-3


def arrived_kbit(wire: Any) -> Any:
    """Arrived volume in kbit from the wire's Mbit (inverse of :func:`arrived_wire`)."""
    return wire * 1e3


def delay_wire(ms: Any) -> Any:
    """Worst delay on the wire (``metahrl.DRB.RlcSduDelayMaxDl``, 0.1 ms) from ms."""
    return ms * 10.0


def delay_ms(wire: Any) -> Any:
    """Worst delay in ms from the wire's 0.1 ms (inverse of :func:`delay_wire`)."""
    return wire / 10.0
