"""D per-DU agents behind one (D, …)-array interface, for the offline trainer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from xapps.agent.checkpoint import CheckpointError, check_format, check_keys, get_mapping
from xapps.agent.ddpg import UpdateMetrics
from xapps.agent.hierarchical import HierarchicalAgent, HierarchicalConfig
from xapps.agent.interface import Action, ObservationLike, Transition, observation_of_du

__all__ = ["AgentPool", "GreedyPool"]

_FORMAT = "metahrl.agent.pool/1"


class GreedyPool:
    """``act(obs) -> Action`` with μ(s) of every DU's learners (no exploration noise), holding
    the high action itself: evaluating a pool through it leaves the agents' state untouched, so a
    training run can be evaluated mid-way and continue exactly as if it had not been."""

    def __init__(self, pool: AgentPool) -> None:
        self.pool = pool
        self._held: list[npt.NDArray[np.float32] | None] = [None] * len(pool)

    def act(self, obs: ObservationLike) -> Action:
        n = len(self.pool)
        if np.shape(obs.high)[0] != n:
            raise ValueError(f"observation has {np.shape(obs.high)[0]} DUs, the policy has {n}")
        actions = []
        with torch.no_grad():
            for d, agent in enumerate(self.pool):
                one = observation_of_du(obs, d)
                if self._held[d] is None:  # evaluation may start mid-window: the high level acts
                    self._held[d] = agent.high.act(one.high, False)
                action, self._held[d] = agent.act_with(one, False, self._held[d])
                actions.append(action)
        return Action.stack(actions)


class AgentPool:
    """One `HierarchicalAgent` per DU; `act`/`observe` take batched arrays (DU axis first)."""

    def __init__(self, agents: Sequence[HierarchicalAgent]) -> None:
        if not agents:
            raise ValueError("an AgentPool needs at least one agent")
        self.agents = list(agents)

    @classmethod
    def create(
        cls,
        config: HierarchicalConfig,
        n_dus: int,
        *,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> AgentPool:
        """`n_dus` independently initialised agents (seeds spawned from `seed`)."""
        seeds = np.random.SeedSequence(seed).spawn(n_dus)
        return cls([HierarchicalAgent(config, seed=s, device=device) for s in seeds])

    def __len__(self) -> int:
        return len(self.agents)

    def __getitem__(self, d: int) -> HierarchicalAgent:
        return self.agents[d]

    def __iter__(self) -> Iterator[HierarchicalAgent]:
        return iter(self.agents)

    def act(self, obs: ObservationLike, explore: bool = True) -> Action:
        """(D, …) observation → (D, …) action."""
        if np.shape(obs.high)[0] != len(self.agents):
            raise ValueError(f"observation has {np.shape(obs.high)[0]} DUs, pool has {len(self)}")
        return Action.stack([a.act(observation_of_du(obs, d), explore) for d, a in enumerate(self.agents)])

    def observe(self, tr: Transition) -> None:
        for d, agent in enumerate(self.agents):
            agent.observe(tr.of_du(d))

    def update(self) -> list[dict[str, UpdateMetrics]]:
        """One `HierarchicalAgent.update` per DU, in DU order."""
        return [agent.update() for agent in self.agents]

    def greedy(self) -> GreedyPool:
        """A side-effect-free greedy policy over these agents (see `GreedyPool`)."""
        return GreedyPool(self)

    def reset_episode(self) -> None:
        for agent in self.agents:
            agent.reset_episode()

    def state_dict(self) -> dict[str, Any]:
        return {"format": _FORMAT, "agents": [agent.state_dict() for agent in self.agents]}

    def load_state_dict(self, sd: Any, where: str = "pool") -> None:
        """All-or-nothing: every DU's state is checked on a staged copy before any is replaced."""
        sd = get_mapping(sd, where)
        check_keys(sd, ("format", "agents"), where)
        check_format(sd, _FORMAT, where)
        items = sd["agents"]
        if not isinstance(items, list) or len(items) != len(self.agents):
            got = len(items) if isinstance(items, list) else type(items).__name__
            raise CheckpointError(f"{where}.agents: {got} agents in checkpoint vs {len(self)}")
        staged = [HierarchicalAgent(a.config, device=a.device) for a in self.agents]
        for d, (agent, item) in enumerate(zip(staged, items, strict=True)):
            agent.load_state_dict(item, f"{where}.agents[{d}]")
        self.agents = staged
