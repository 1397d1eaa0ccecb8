"""The simulator for your own agent: Gymnasium and PettingZoo views of the slicing environment.

Importing this package registers (cheaply: entry-point strings, nothing simulated)::

    metahrl/SliceSplit-v0      one DU's inter-slice split (high level), Box(3) → R_h (eq. 8)
    metahrl/SliceSchedule-v0   one slice's per-UE shares on one DU (low level), Box(U) → r_l (eq. 9)

and :func:`parallel_env` builds the PettingZoo ``ParallelEnv`` with one agent per DU::

    import gymnasium as gym, metahrl_gym
    env = gym.make("metahrl/SliceSplit-v0", scenario="paper", du=0, others="equal", low="pf")
    # or, without importing first: gym.make("metahrl_gym:metahrl/SliceSplit-v0", ...)

Keyword arguments are the fields of :class:`~metahrl_gym.settings.SplitViewConfig` /
:class:`~metahrl_gym.settings.ScheduleViewConfig` (errors name the field). Every view is a thin
layer over :class:`e2sim.env.HierarchicalSlicingEnv` (no second simulator loop).
"""

from __future__ import annotations

from typing import Any

from gymnasium.envs.registration import register, registry

__all__ = ["ENV_IDS", "parallel_env"]

ENV_IDS = {
    "metahrl/SliceSplit-v0": "metahrl_gym.slice_split:SliceSplitEnv",
    "metahrl/SliceSchedule-v0": "metahrl_gym.slice_schedule:SliceScheduleEnv",
}

for _id, _entry in ENV_IDS.items():
    if _id not in registry:
        register(id=_id, entry_point=_entry, disable_env_checker=False)


def parallel_env(render_mode: str | None = None, **settings: Any) -> Any:
    """The PettingZoo ``ParallelEnv`` of all DUs (:class:`~metahrl_gym.parallel.SliceSplitParallelEnv`)."""
    from metahrl_gym.parallel import SliceSplitParallelEnv

    return SliceSplitParallelEnv(render_mode=render_mode, **settings)
