"""Identifier conventions shared by the E2 node (``e2sim``) and the RIC side (xApps).

* **E2 node names** — :func:`e2_node_name`: ``gnbd_<MCC>_<MNC as 3 digits>_<gNB ID as 6 hex
  digits>_0``, the form OSC's E2 manager and srsRAN use for a DU (``gnbd_001_001_00019b_0``).
* **UE IDs** — a simulator UE with global index ``i`` (0-based, over the whole network) is
  ``GnbDuUeId(cu_ue_f1ap_id = i + 1)`` on every DU, before and after handovers; a UE is
  reported by the DU serving it at the end of the report window.
* **Slice-level control marker** — :data:`SLICE_LEVEL_UE` = ``GnbDuUeId(0)``: an E2SM-RC
  style 2 / action 6 control whose header carries this UE ID sets slice PRB quotas for the
  whole DU; any other UE ID sets that UE's PRB quota.
"""

from __future__ import annotations

from ric.e2ap_ies import GlobalGnbId
from ric.e2sm_common import GnbDuUeId, UeId

__all__ = ["SLICE_LEVEL_UE", "e2_node_name", "ue_id", "ue_index"]

SLICE_LEVEL_UE = GnbDuUeId(0)
"""RC control header UE ID meaning "the whole DU" (slice-level PRB quotas)."""


def e2_node_name(node_id: GlobalGnbId) -> str:
    """The E2 node name of a DU, e.g. ``gnbd_001_001_00019b_0``."""
    plmn = node_id.plmn
    return f"gnbd_{plmn.mcc}_{plmn.mnc.zfill(3)}_{node_id.gnb_id:06x}_0"


def ue_id(index: int) -> GnbDuUeId:
    """The E2 UE ID of the simulator's UE ``index`` (0-based)."""
    return GnbDuUeId(index + 1)


def ue_index(ue: UeId) -> int | None:
    """The simulator UE index of an E2 UE ID; ``None`` for the slice-level marker or a UE ID
    of another kind."""
    if isinstance(ue, GnbDuUeId) and ue.cu_ue_f1ap_id > 0:
        return ue.cu_ue_f1ap_id - 1
    return None
