"""Online learning off the control path: a learner thread and versioned actor snapshots.

The control loop acts with its own copy of the DU's agent (:class:`Actor`); transitions go to
a :class:`Learner` that owns the training copy, runs ``observe`` + ``update`` (the agent's one
"act, store, update" implementation, shared with ``metahrl train``) in a thread, and publishes
the actors' weights every ``snapshot_every`` updates. The control loop picks a new snapshot up
between decisions (a dictionary swap), so a gradient step never delays a decision. The queue is
bounded: when the learner falls behind, the oldest transitions are dropped and counted.

Stopping does not finish the queue: the service checkpoints after `Learner.stop`, so the state
it keeps is the state the thread reached, and a stop under load takes one update, not minutes of
backlog. The transitions still queued are counted as dropped. The thread must be gone before the
process exits: a daemon thread inside torch at interpreter shutdown is killed by ``pthread_exit``
and aborts the process (SIGABRT, "FATAL: exception not rethrown").
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from xapps.agent import HierarchicalAgent
from xapps.agent.interface import Action, Observation, Transition

__all__ = ["Actor", "ActorSnapshot", "Learner", "actor_weights", "load_actor_weights"]

_log = logging.getLogger(__name__)

ActorWeights = dict[str, dict[str, torch.Tensor]]


def actor_weights(agent: HierarchicalAgent) -> ActorWeights:
    """A detached copy of every learner's actor weights, keyed as ``agent.agents()``."""
    return {
        name: {k: v.detach().clone() for k, v in ddpg.actor.state_dict().items()}
        for name, ddpg in agent.agents().items()
    }


def load_actor_weights(agent: HierarchicalAgent, weights: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
    for name, ddpg in agent.agents().items():
        ddpg.actor.load_state_dict(weights[name])


@dataclass(frozen=True)
class ActorSnapshot:
    version: int
    weights: ActorWeights
    taken_at: float  # time.monotonic()
    td_variance: dict[str, float]  # windowed TD-error variance per learner ("high", "low.0", …)


class Actor:
    """The control loop's copy of the agent: ``act`` only, with the newest snapshot's weights."""

    def __init__(self, agent: HierarchicalAgent) -> None:
        self.agent = agent
        self.version = 0
        self.taken_at = time.monotonic()
        self.td_variance: dict[str, float] = {}

    def refresh(self, snapshot: ActorSnapshot | None) -> bool:
        """Use ``snapshot`` if it is newer than the weights in use."""
        if snapshot is None or snapshot.version <= self.version:
            return False
        load_actor_weights(self.agent, snapshot.weights)
        self.version, self.taken_at = snapshot.version, snapshot.taken_at
        self.td_variance = snapshot.td_variance
        return True

    def act(self, obs: Observation, explore: bool = True) -> Action:
        with torch.no_grad():
            return self.agent.act(obs, explore)


class Learner:
    """The training copy of one DU's agent, fed by a bounded queue, run by a thread."""

    def __init__(
        self,
        agent: HierarchicalAgent,
        *,
        updates_per_step: int = 1,
        snapshot_every: int = 50,
        queue_size: int = 10_000,
        name: str = "learner",
    ) -> None:
        self.agent = agent
        self.updates_per_step = updates_per_step
        self.snapshot_every = snapshot_every
        self._queue: queue.Queue[Transition | None] = queue.Queue(queue_size)
        self._lock = threading.Lock()
        self._snapshot: ActorSnapshot | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopping = threading.Event()
        self.stored = self.updates = self.dropped = self.errors = 0
        self.dropped_at_stop = 0
        self._since_snapshot = 0
        self._version = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop the thread after the step it is in; what is still queued is dropped and counted
        (`dropped_at_stop`). True when the thread has ended within ``timeout_s``."""
        if not self._thread.is_alive():
            return True
        self._stopping.set()
        self._put(None)
        self._thread.join(timeout_s)
        if self.dropped_at_stop:
            name, n = self._thread.name, self.dropped_at_stop
            _log.info("%s stopped: %d queued transitions not learned from", name, n)
        if self._thread.is_alive():
            _log.error("%s did not stop within %.0f s", self._thread.name, timeout_s)
            return False
        return True

    def submit(self, tr: Transition) -> None:
        """Queue one transition (never blocks; the oldest is dropped when full)."""
        self._put(tr)

    def _put(self, item: Transition | None) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    @property
    def snapshot(self) -> ActorSnapshot | None:
        """The newest published actor snapshot (None before the first). Lock-free: the control
        loop must never wait for a gradient step (the learner holds ``_lock`` while it trains);
        a snapshot is immutable and published by one reference assignment."""
        return self._snapshot

    def publish(self) -> ActorSnapshot:
        """Publish the current actors now (also the initial snapshot)."""
        with self._lock:
            self._version += 1
            td = {name: float(v.windowed) for name, v in self.agent.td_variance().items()}
            self._snapshot = ActorSnapshot(self._version, actor_weights(self.agent), time.monotonic(), td)
            self._since_snapshot = 0
            return self._snapshot

    def state_dict(self) -> dict[str, object]:
        """The training copy's full state (for checkpoints); taken under the learner's lock."""
        with self._lock:
            return copy.deepcopy(self.agent.state_dict())

    def agent_copy(self) -> HierarchicalAgent:
        """A private deep copy of the training agent (replay included), taken under the lock."""
        with self._lock:
            return copy.deepcopy(self.agent)

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued transition has been learned from (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    def _run(self) -> None:
        while True:
            tr = self._queue.get()
            try:
                if tr is None:
                    return
                if self._stopping.is_set():
                    self.dropped += 1
                    self.dropped_at_stop += 1
                    continue
                self._learn(tr)
            except Exception:  # a learner bug must not take the control loop with it
                self.errors += 1
                _log.exception("learner step failed")
            finally:
                self._queue.task_done()

    def _learn(self, tr: Transition) -> None:
        with self._lock:
            self.agent.observe(tr)
            self.stored += 1
            for _ in range(self.updates_per_step):
                if self._stopping.is_set():
                    break
                if self.agent.update():
                    self.updates += 1
                    self._since_snapshot += 1
        if self._since_snapshot >= self.snapshot_every:
            self.publish()
