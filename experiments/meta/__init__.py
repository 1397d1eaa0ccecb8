"""Offline reproduction of the paper's meta-learning experiments (`metahrl reproduce`).

Algorithm 1 in one process, with the deployed agent (`xapps.agent`) and the meta-update of the
meta-controller (`meta_controller.maml.meta_update`): phase 1 (independent HRL training per task),
phase 2 (first-order MAML over the training tasks with TD-variance task weights), phase 3
(adaptation to new tasks), the baselines, and the report. Entry point:
:func:`experiments.meta.pipeline.reproduce`; definitions in ``docs/reproduce.md``.
"""

from experiments.meta.pipeline import ReproduceOptions, reproduce
from experiments.meta.preset import ReproducePreset, load_preset

__all__ = ["ReproduceOptions", "ReproducePreset", "load_preset", "reproduce"]
