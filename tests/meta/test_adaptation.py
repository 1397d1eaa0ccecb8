"""Few-shot sine regression: adapting from a meta-initialisation beats adapting from scratch.

The classic MAML demonstration (Finn et al. 2017), using this package's own functions end to end:
tasks y = A·sin(x − φ), A ~ U[0.1, 5], φ ~ U[0, π], x ~ U[−5, 5]; a 1-40-40-1 ReLU MLP; K = 10
support and 10 query points per task. Meta-training: 1,000 first-order MAML iterations
(:func:`first_order_meta_gradient`, one inner step, α = 0.03) over 5 tasks each, applied with
:func:`meta_update` (uniform weights, β = 0.01). Evaluation on 30 new tasks: 5 inner steps on the
K support points from the meta-init vs from a fresh random init (scratch), MSE on 100 grid points.

Margins. Predicting 0 has MSE E[A²]/2 ≈ 4.25 on this family; scratch after 5 steps stays there.
Measured with meta-training seeds 0/1/2 (same evaluation tasks): meta 1.99/1.73/1.85 vs scratch
4.51 (ratio 0.38–0.44), meta better on 23–24 of 30 tasks, and meta after 5 steps vs meta before
adapting 1.99/1.73/1.85 vs 3.43/3.37/3.27 (ratio 0.51–0.58). The thresholds below (ratio < 0.6,
≥ 20 of 30 wins, adaptation gain ratio < 0.75) leave 36 % / 3 tasks / 29 % of slack, yet a broken
meta-gradient (wrong sign, no adaptation, a mean-predictor init) fails them. The last check is
what makes this *meta*-learning: the init is not merely a better average predictor, it is one
that a few gradient steps improve by ~2×.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from meta_controller.maml import MetaUpdateConfig, first_order_meta_gradient, inner_adapt, meta_update
from meta_controller.weights import WeightingConfig

K = 10
ALPHA = 0.03
Batch = tuple[Tensor, Tensor]


def init_mlp(gen: torch.Generator, hidden: int = 40) -> dict[str, Tensor]:
    params: dict[str, Tensor] = {}
    for j, (n_in, n_out) in enumerate([(1, hidden), (hidden, hidden), (hidden, 1)]):
        bound = 1 / math.sqrt(n_in)
        params[f"{j}.weight"] = (torch.rand(n_out, n_in, generator=gen) * 2 - 1) * bound
        params[f"{j}.bias"] = (torch.rand(n_out, generator=gen) * 2 - 1) * bound
    return params


def mse(params: dict[str, Tensor], batch: Batch) -> Tensor:
    x, y = batch
    h = torch.relu(x @ params["0.weight"].T + params["0.bias"])
    h = torch.relu(h @ params["1.weight"].T + params["1.bias"])
    return ((h @ params["2.weight"].T + params["2.bias"] - y) ** 2).mean()


def new_task(gen: torch.Generator) -> tuple[float, float]:
    return 0.1 + 4.9 * float(torch.rand((), generator=gen)), math.pi * float(torch.rand((), generator=gen))


def sample(gen: torch.Generator, task: tuple[float, float], k: int = K) -> Batch:
    amplitude, phase = task
    x = torch.rand(k, 1, generator=gen) * 10 - 5
    return x, amplitude * torch.sin(x - phase)


def meta_train(seed: int, iterations: int = 1000, tasks_per_iteration: int = 5) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    theta = init_mlp(gen)
    cfg = MetaUpdateConfig(beta=0.01, weighting=WeightingConfig(scheme="uniform"))
    for _ in range(iterations):
        grads = []
        for _ in range(tasks_per_iteration):
            task = new_task(gen)
            support, query = sample(gen, task), sample(gen, task)
            grads.append(first_order_meta_gradient(theta, mse, [support], query, ALPHA, 1))
        theta = meta_update(theta, grads, None, cfg).params
    return theta


def test_meta_init_adapts_better_than_scratch() -> None:
    theta = meta_train(seed=0)
    gen = torch.Generator().manual_seed(123)
    grid = torch.linspace(-5, 5, 100).unsqueeze(1)
    meta, scratch, before = [], [], []
    for i in range(30):
        amplitude, phase = task = new_task(gen)
        support = sample(gen, task)
        test_batch = (grid, amplitude * torch.sin(grid - phase))
        from_scratch = init_mlp(torch.Generator().manual_seed(1000 + i))
        meta.append(float(mse(inner_adapt(theta, mse, [support], ALPHA, 5), test_batch)))
        scratch.append(float(mse(inner_adapt(from_scratch, mse, [support], ALPHA, 5), test_batch)))
        before.append(float(mse(theta, test_batch)))
    mean_meta, mean_scratch, mean_before = (sum(v) / len(v) for v in (meta, scratch, before))
    wins = sum(m < s for m, s in zip(meta, scratch, strict=True))
    summary = f"meta {mean_meta:.3f}, scratch {mean_scratch:.3f}, unadapted {mean_before:.3f}"
    assert mean_meta < 0.6 * mean_scratch, summary
    assert wins >= 20, f"meta better on only {wins}/30 tasks; {summary}"
    assert mean_meta < 0.75 * mean_before, summary
