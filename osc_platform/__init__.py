"""osc_platform: a minimal OSC near-RT RIC platform stand-in for tests and local runs.

An E2 termination that accepts E2 nodes over SCTP/TCP and bridges E2AP to RMR with OSC's
message types (:mod:`osc_platform.e2term`), the Subscription Manager's REST API for xApps
(:mod:`osc_platform.submgr`) and E2 Manager-style node states (:mod:`osc_platform.e2mgr`),
run together by :class:`osc_platform.platform.OscPlatform` (``metahrl osc-platform``).
"""

from osc_platform.counters import PlatformCounters
from osc_platform.platform import OscPlatform, OscPlatformSettings

__all__ = ["OscPlatform", "OscPlatformSettings", "PlatformCounters"]
