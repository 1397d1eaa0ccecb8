"""The DU xApp's learner thread: stopping under a backlog.

A stopping xApp checkpoints after `Learner.stop`, so the queue is not worth finishing: the thread
stops after the step it is in and the rest is counted as dropped. Before this, ``stop`` finished
the queue with a 10-s join; under load the join timed out, the process exited with the daemon
thread inside torch, and the xApp died with SIGABRT instead of exiting 0 (seen in the soak).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np

from tests.agent.conftest import EPISODE, tiny_config, toy_obs
from xapps.agent import HierarchicalAgent, Transition
from xapps.du.learner import Learner

BACKLOG = 500  # far more than the 20-update steps the learner gets through before `stop`


def _transitions(n: int) -> list[Transition]:
    actor = HierarchicalAgent(tiny_config(), seed=1)
    out = []
    for t in range(n):
        obs, next_obs = toy_obs(t), toy_obs(t + 1)
        action = actor.act(obs, explore=True)
        truncated = t % EPISODE == EPISODE - 1
        closes = bool(next_obs.high_due) or truncated
        out.append(
            Transition(
                obs=obs,
                action=action,
                reward_low=np.zeros(len(action.slice_shares), np.float32),
                next_obs=next_obs,
                reward_high=0.0 if closes else None,
                truncated=truncated,
            )
        )
    return out


def test_stop_leaves_the_backlog_and_accounts_for_every_transition() -> None:
    learner = Learner(HierarchicalAgent(tiny_config(), seed=0), updates_per_step=20, queue_size=BACKLOG)
    for tr in _transitions(BACKLOG):
        learner.submit(tr)
    learner.start()
    deadline = time.monotonic() + 60.0
    while learner.updates == 0 and time.monotonic() < deadline:  # it is learning, with a backlog
        time.sleep(0.01)
    assert learner.updates > 0
    assert learner.stop(timeout_s=30.0)  # ended: the thread is gone before the process may exit
    assert learner.dropped_at_stop > 0
    assert learner.stored < BACKLOG  # finishing the queue would have learned from all of them
    assert learner.stored + learner.dropped == BACKLOG  # learned from, or counted as dropped
    assert learner.stop() is True  # idempotent


_BUSY_EXIT = textwrap.dedent(
    """
    import time
    import torch
    from tests.agent.conftest import tiny_config
    from tests.xapp_du.test_learner import BACKLOG, _transitions
    from xapps.agent import HierarchicalAgent
    from xapps.du.learner import Learner

    torch.set_num_threads(1)
    learner = Learner(HierarchicalAgent(tiny_config(), seed=0), updates_per_step=50, queue_size=BACKLOG)
    for tr in _transitions(BACKLOG):
        learner.submit(tr)
    learner.start()
    while learner.updates == 0:
        time.sleep(0.01)
    assert learner.stop(timeout_s=30.0)
    print("stopped", learner.stored, learner.dropped_at_stop)
    """
)


def test_a_process_stopping_a_busy_learner_exits_cleanly() -> None:
    cmd = [sys.executable, "-c", _BUSY_EXIT]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("stopped"), done.stdout
