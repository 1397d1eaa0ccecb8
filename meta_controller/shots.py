"""What one adaptation *shot* is (paper Algorithm 1, lines 17–23; Fig. 8; Table 3).

The paper reports adaptation after 0, 5 and 30 "shots" and "shots to converge" without defining a
shot. Our definition (justified in ``docs/meta-learning.md``): **one shot is one iteration of
Algorithm 1's adaptation loop** on the new task —

1. collect ``episodes_per_shot`` episode(s) on the new DU with the current parameters θ_new
   (exploration on, as in training), appending the transitions to the new task's support buffer
   B^tr_new (line 20–21);
2. then make ``updates_per_shot`` inner-loop update(s) (eq. 11) of *every* network at both levels
   — high-level actor and critic, each low-level actor and critic — each on a minibatch of
   ``batch_size`` transitions sampled from everything the new task has collected so far (line 22).

"k shots" is the state after k such iterations, starting from the initialisation under test
(θ_M for the meta-learned methods, random for DRL, …); "0 shots" is that initialisation, unchanged.
Performance after k shots is measured on separate evaluation episodes (exploration off) whose
transitions are not used for updates.
"""

from __future__ import annotations

from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["AdaptationConfig"]


class AdaptationConfig(BaseModel):
    """The adaptation protocol on a new task (what a shot is and where it is evaluated)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    episodes_per_shot: int = Field(
        default=1,
        ge=1,
        description="Episodes collected on the new task per shot (Algorithm 1, line 20: one).",
    )
    updates_per_shot: int = Field(
        default=1,
        ge=1,
        description="Inner-loop updates of every network per shot (eq. 11: one gradient step).",
    )
    batch_size: int = Field(
        default=128, ge=1, description="Minibatch per update (§VII-A: 128), from all shots so far."
    )
    eval_shots: tuple[int, ...] = Field(
        default=(0, 5, 30), description="Shot counts at which performance is reported (Fig. 8)."
    )
    eval_episodes: int = Field(
        default=1,
        ge=1,
        description="Evaluation episodes per reported point (exploration off, not trained on).",
    )

    @field_validator("eval_shots")
    @classmethod
    def _increasing(cls, shots: tuple[int, ...]) -> tuple[int, ...]:
        if not shots or shots[0] < 0 or any(b <= a for a, b in pairwise(shots)):
            raise ValueError(f"eval_shots must be non-empty, >= 0 and increasing, got {shots}")
        return shots
