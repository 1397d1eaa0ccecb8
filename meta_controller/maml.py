"""First-order (and, for the ablation, second-order) MAML over named tensors (paper eq. 11–13, 17).

Notation follows the paper: θ_M the meta-parameters, θ_g the parameters of task g (a DU's HRL
agent), α the inner (task) learning rate, β the meta learning rate, w_g the task weights of
:mod:`meta_controller.weights`.

- Inner update (eq. 11): θ_g ← θ_M, then θ_g ← θ_g − α ∇L(θ_g, B_g^tr) for each support batch
  (:func:`inner_adapt`).
- Meta update (eq. 12–13): θ_M ← θ_M − β Σ_g w_g ∇L_g(θ'_g, B_g^val). First-order MAML takes the
  gradient of each task's query loss at its *adapted* parameters θ'_g and treats it as the
  gradient with respect to θ_M (:func:`first_order_meta_gradient`, :func:`meta_update`) — the
  practical form when every task runs on its own DU and only sends its query gradient. Full
  MAML differentiates through the inner loop (:func:`second_order_meta_gradient`); its cost is
  measured in ``docs/meta-learning.md``.

Everything here is pure: inputs are never mutated, results are fresh tensors. Losses are
functional, ``loss_fn(params, batch) -> scalar``, so any network can be used through
``torch.func.functional_call``; nothing depends on an agent class.

Performance of the weighted sum (1 thread, paper network sizes, 3.43 M parameters per DU):
reading the N task gradients is the whole cost, so the two paths are judged against a bare read
of the same bytes. Named mappings are summed block by block (blocks of whole tensors of about
``BLOCK_BYTES``, the output block staying in L2 while every task's block streams past it, one
``torch._foreach_add_`` per task and block) — measured at 1.0–1.5× a plain in-place sum of N
flat buffers and 1.6–2.3× a bare read. A :class:`~meta_controller.params.GradientStack` turns the
sum into one BLAS matrix–vector product over the ``(N, numel)`` buffer, which runs at the
bare-read speed (7 DUs ≈ 7 ms, 30 DUs ≈ 27–32 ms on our 2-vCPU CI machine). A per-key loop and an
unblocked foreach were within noise of the blocked form; ``torch.stack`` per key and
concatenating each task first were 1.5–4× slower (``docs/meta-learning.md``,
``metahrl bench meta --alternatives``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from meta_controller.errors import MetaInputError
from meta_controller.params import GradientStack, ParamLayout, Params
from meta_controller.weights import (
    FloatArray,
    VarianceInput,
    WeightingConfig,
    task_weights,
    uniform_weights,
)

__all__ = [
    "BLOCK_BYTES",
    "LossFn",
    "MetaUpdateConfig",
    "MetaUpdateResult",
    "TaskGradients",
    "TaskVariances",
    "first_order_meta_gradient",
    "inner_adapt",
    "meta_update",
    "second_order_meta_gradient",
    "weighted_aggregate",
]

BatchT = TypeVar("BatchT")
LossFn: TypeAlias = Callable[[dict[str, Tensor], BatchT], Tensor]
"""A functional loss: ``loss_fn(params, batch)`` returns a scalar tensor."""

TaskGradients: TypeAlias = Sequence[Params] | GradientStack
"""Per-task gradients: one named mapping per task, or a filled :class:`GradientStack`."""

TaskVariances: TypeAlias = VarianceInput | Mapping[str, VarianceInput] | None
"""σ²_TD per task, either one vector for all parameters or one vector per parameter group.

A mapping ``{prefix: variances}`` weights the parameters whose names equal ``prefix`` or start
with ``prefix + "."`` by the weights of those variances, e.g. ``{"high": [...], "low.0": [...],
"low.1": [...], "low.2": [...]}`` weights each agent's actor and critic by that agent's own TD
variance. The prefix ``""`` matches every name. Every parameter must match exactly one group.
``None`` is allowed only with the ``uniform`` scheme.
"""

BLOCK_BYTES = 1 << 20
"""Target size of the blocks the mapping path sums at a time (fits the 2 MiB L2 of our CPUs)."""


class MetaUpdateConfig(BaseModel):
    """Settings of the meta-update (eq. 13). Usable from CLI flags and YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    beta: float = Field(
        default=1e-3,
        gt=0,
        allow_inf_nan=False,
        description="β: meta learning rate, θ_M ← θ_M − β Σ w_g ∇L_g (choice; the paper has none).",
    )
    weighting: WeightingConfig = Field(default=WeightingConfig(), description="How tasks are weighted (w_g).")
    check_finite: bool = Field(
        default=True,
        description=(
            "Reject an update whose result is NaN/inf, naming the offending task(s), instead of "
            "pushing a poisoned θ_M to every DU (one extra pass over θ_M)."
        ),
    )


@dataclass(frozen=True)
class MetaUpdateResult:
    """What :func:`meta_update` returns.

    Attributes:
        params: the new θ_M, named views into one fresh contiguous buffer (:attr:`flat`).
        flat: that buffer, in the layout of the meta-parameters (ready to serialise).
        weights: w_g per parameter group (``""`` when one vector weights everything).
    """

    params: dict[str, Tensor]
    flat: Tensor
    weights: dict[str, tuple[float, ...]]


# ---------------------------------------------------------------------------------------------
# weighted aggregation


def _as_weight_list(weights: Sequence[float] | FloatArray | Tensor, n_tasks: int) -> list[float]:
    if isinstance(weights, Tensor):
        values = [float(w) for w in weights.detach().cpu().reshape(-1).tolist()]
    else:
        values = [float(w) for w in np.asarray(weights, dtype=np.float64).reshape(-1)]
    if len(values) != n_tasks:
        raise MetaInputError(f"got {len(values)} weights for {n_tasks} tasks")
    if not all(math.isfinite(w) for w in values):
        raise MetaInputError(f"weights must be finite, got {values}")
    return values


def _blocks(layout: ParamLayout, names: Sequence[str], block_bytes: int) -> list[list[str]]:
    """Consecutive runs of ``names`` of about ``block_bytes`` each (a big tensor is its own)."""
    index = {n: i for i, n in enumerate(layout.names)}
    blocks: list[list[str]] = []
    size = 0
    for name in names:
        nbytes = layout.shapes[index[name]].numel() * 4
        if not blocks or size + nbytes > block_bytes:
            blocks.append([])
            size = 0
        blocks[-1].append(name)
        size += nbytes
    return blocks


def _sum_mapping_into(
    out: dict[str, Tensor],
    base: Params | None,
    grads: Sequence[Params],
    names: Sequence[str],
    coeffs: Sequence[float],
    layout: ParamLayout,
) -> None:
    """out[k] = base[k] + Σ_g coeffs[g]·grads[g][k] for k in names (base 0 if None), by blocks."""
    for block in _blocks(layout, names, BLOCK_BYTES):
        acc = [out[k] for k in block]
        if base is None:
            torch._foreach_zero_(acc)
        else:
            torch._foreach_copy_(acc, [base[k] for k in block])
        for task, c in zip(grads, coeffs, strict=True):
            if c != 0.0:
                torch._foreach_add_(acc, [task[k] for k in block], alpha=c)


def _sum_stack_into(
    out: Tensor,
    base: Params | None,
    stack: GradientStack,
    names: Sequence[str],
    coeffs: Sequence[float],
) -> None:
    """out[cols] = base[cols] + stack[:, cols]ᵀ·coeffs on the columns of ``names`` (gemv)."""
    if base is not None:
        views = stack.layout.unflatten(out)
        torch._foreach_copy_([views[k] for k in names], [base[k] for k in names])
    w = torch.tensor(coeffs, dtype=stack.data.dtype, device=stack.data.device)
    mixed = stack.data.dtype != out.dtype  # a bfloat16 stack summed into float32 parameters
    for start, end in stack.layout.slices(names):
        cols = stack.data[:, start:end].T
        if mixed:
            # vector × row-major block: the fast bfloat16 kernel (mv on the transposed, sliced
            # view is several times slower for bfloat16).
            part = w @ stack.data[:, start:end]  # bfloat16; copy_/add_ convert in the same pass
            if base is None:
                out[start:end].copy_(part)
            else:
                out[start:end].add_(part)
        elif base is None:
            torch.mv(cols, w, out=out[start:end])
        else:
            out[start:end].addmv_(cols, w)


def _weighted_sum_into(
    out_flat: Tensor,
    layout: ParamLayout,
    base: Params | None,
    grads: TaskGradients,
    names: Sequence[str],
    coeffs: Sequence[float],
) -> None:
    """``out_flat`` (in ``layout``) = base + Σ_g coeffs[g]·grads[g] on the entries ``names``."""
    with torch.no_grad():
        if isinstance(grads, GradientStack):
            _sum_stack_into(out_flat, base, grads, names, coeffs)
        else:
            _sum_mapping_into(layout.unflatten(out_flat), base, grads, names, coeffs, layout)


def _check_grads(grads: TaskGradients, layout: ParamLayout, dtype: torch.dtype) -> int:
    """Check every task's gradient against ``layout`` and ``dtype``; return the number of tasks."""
    if isinstance(grads, GradientStack):
        if grads.layout != layout:
            raise MetaInputError(
                "the gradient stack's layout differs from the parameters' (names, order or shapes)"
            )
        if grads.data.dtype not in (dtype, torch.bfloat16):
            raise MetaInputError(f"the gradient stack is {grads.data.dtype}, expected {dtype} or bfloat16")
        return grads.n_tasks
    if not grads:
        raise MetaInputError("no task gradients given")
    for g, task in enumerate(grads):
        layout.check(task, what=f"task {g} gradient", dtype=dtype)
    return len(grads)


def _reference(grads: TaskGradients) -> Tensor:
    if isinstance(grads, GradientStack):
        return grads.data
    if not grads or not grads[0]:
        raise MetaInputError("no task gradients given")
    return next(iter(grads[0].values()))


def weighted_aggregate(
    grads: TaskGradients, weights: Sequence[float] | FloatArray | Tensor
) -> dict[str, Tensor]:
    """Σ_g w_g · grads[g], per name: the weighted meta-gradient of eq. 13.

    ``grads`` is one named mapping per task (all with the same keys and shapes) or a
    :class:`GradientStack`. ``weights`` has one finite entry per task (they need not sum to 1).
    Returns named views into one fresh contiguous buffer; the inputs are not modified.
    """
    ref = _reference(grads)
    layout = grads.layout if isinstance(grads, GradientStack) else ParamLayout.of(grads[0])
    coeffs = _as_weight_list(weights, _check_grads(grads, layout, ref.dtype))
    dtype = torch.float32 if ref.dtype == torch.bfloat16 else ref.dtype  # accumulate bf16 into fp32
    out = torch.empty(layout.numel, dtype=dtype, device=ref.device)
    _weighted_sum_into(out, layout, None, grads, layout.names, coeffs)
    return layout.unflatten(out)


# ---------------------------------------------------------------------------------------------
# the meta-update (eq. 13)


def _matches(name: str, prefix: str) -> bool:
    return prefix == "" or name == prefix or name.startswith(prefix + ".")


def _group_weights(
    names: Sequence[str], variances: TaskVariances, n_tasks: int, weighting: WeightingConfig
) -> dict[str, tuple[list[str], FloatArray]]:
    """prefix -> (parameter names of that group, task weights of that group)."""
    if variances is None:
        if weighting.scheme != "uniform":
            raise MetaInputError(f"TD variances are required by the {weighting.scheme!r} scheme")
        return {"": (list(names), uniform_weights(n_tasks))}
    by_group: Mapping[str, VarianceInput] = variances if isinstance(variances, Mapping) else {"": variances}
    members: dict[str, list[str]] = {p: [] for p in by_group}
    for name in names:
        hits = [p for p in by_group if _matches(name, p)]
        if len(hits) != 1:
            raise MetaInputError(f"parameter {name!r} matches groups {hits}; each must match exactly one")
        members[hits[0]].append(name)
    groups: dict[str, tuple[list[str], FloatArray]] = {}
    for prefix, group_variances in by_group.items():
        if not members[prefix]:
            raise MetaInputError(f"variance group {prefix!r} matches no parameter")
        w = task_weights(group_variances, weighting)
        if w.size != n_tasks:
            raise MetaInputError(f"group {prefix!r}: {w.size} TD variances for {n_tasks} tasks")
        groups[prefix] = (members[prefix], w)
    return groups


def _raise_non_finite(meta_params: Params, grads: TaskGradients, layout: ParamLayout) -> None:
    bad_params = [k for k in layout.names if not bool(torch.isfinite(meta_params[k]).all())]
    tasks = grads.data if isinstance(grads, GradientStack) else grads
    bad_tasks = [
        g for g, task in enumerate(tasks) if not all(bool(torch.isfinite(t).all()) for t in _values(task))
    ]
    raise MetaInputError(
        "meta-update result is not finite: "
        f"non-finite meta-parameters {bad_params[:5]}, non-finite gradients from task(s) "
        f"{bad_tasks}" + ("" if bad_params or bad_tasks else " (overflow: lower β)")
    )


def _values(task: Params | Tensor) -> list[Tensor]:
    return [task] if isinstance(task, Tensor) else list(task.values())


def meta_update(
    meta_params: Params,
    task_grads: TaskGradients,
    task_td_variances: TaskVariances,
    config: MetaUpdateConfig | None = None,
) -> MetaUpdateResult:
    """One first-order meta-update (eq. 13): θ_M ← θ_M − β Σ_g w_g ∇L_g(θ'_g, B_g^val).

    ``task_grads[g]`` is task g's query-set gradient at its adapted parameters θ'_g (first-order
    MAML; :func:`first_order_meta_gradient` computes one). ``task_td_variances`` gives σ²_TD per
    task, for all parameters or per group (see :data:`TaskVariances`); the weights follow
    ``config.weighting``. Pure: the inputs are not modified; the new θ_M lives in one fresh
    contiguous buffer. Raises :class:`MetaInputError` on mismatched keys/shapes, bad variances,
    or (with ``check_finite``) a non-finite result.
    """
    cfg = config if config is not None else MetaUpdateConfig()
    layout = ParamLayout.of(meta_params)
    ref = meta_params[layout.names[0]]
    n_tasks = _check_grads(task_grads, layout, ref.dtype)
    groups = _group_weights(layout.names, task_td_variances, n_tasks, cfg.weighting)
    out = torch.empty(layout.numel, dtype=ref.dtype, device=ref.device)
    for names, w in groups.values():
        coeffs = [-cfg.beta * float(x) for x in w]
        _weighted_sum_into(out, layout, meta_params, task_grads, names, coeffs)
    # A NaN/inf anywhere makes the sum non-finite; one summing pass is ~10x cheaper than
    # torch.isfinite on CPU. A finite result whose sum overflows is told apart by the slow path.
    if cfg.check_finite and not math.isfinite(float(out.sum())) and not bool(out.isfinite().all()):
        _raise_non_finite(meta_params, task_grads, layout)
    return MetaUpdateResult(
        params=layout.unflatten(out),
        flat=out,
        weights={p: tuple(float(x) for x in w) for p, (_, w) in groups.items()},
    )


# ---------------------------------------------------------------------------------------------
# inner loop (eq. 11) and meta-gradients


def _detached(params: Params) -> dict[str, Tensor]:
    return {k: v.detach() for k, v in params.items()}


def _check_inner(support_batches: Sequence[object], alpha: float, steps: int | None) -> int:
    n_steps = len(support_batches) if steps is None else int(steps)
    if n_steps < 0:
        raise MetaInputError(f"steps must be >= 0, got {steps}")
    if n_steps > 0 and len(support_batches) == 0:
        raise MetaInputError("no support batches for the inner loop")
    if not math.isfinite(alpha) or alpha < 0:
        raise MetaInputError(f"alpha must be finite and >= 0, got {alpha}")
    return n_steps


def _sgd_steps(
    params: dict[str, Tensor],
    loss_fn: LossFn[BatchT],
    support_batches: Sequence[BatchT],
    alpha: float,
    steps: int,
) -> dict[str, Tensor]:
    """``steps`` plain gradient steps (eq. 11); step i uses support batch i mod len(support)."""
    grad_fn = torch.func.grad(loss_fn)
    current = params
    for i in range(steps):
        grads = grad_fn(current, support_batches[i % len(support_batches)])
        current = {k: v - alpha * grads[k] for k, v in current.items()}
    return current


def inner_adapt(
    params: Params,
    loss_fn: LossFn[BatchT],
    support_batches: Sequence[BatchT],
    alpha: float,
    steps: int | None = None,
) -> dict[str, Tensor]:
    """Eq. 11: θ_g ← θ_M, then ``steps`` steps θ_g ← θ_g − α ∇L(θ_g, B_g^tr).

    Step i uses ``support_batches[i % len(support_batches)]``; ``steps`` defaults to one step per
    support batch. Functional (``torch.func.grad`` of ``loss_fn(params, batch) -> scalar``):
    returns new, detached tensors and leaves ``params`` untouched.
    """
    n_steps = _check_inner(support_batches, alpha, steps)
    return _sgd_steps(_detached(params), loss_fn, support_batches, alpha, n_steps)


def first_order_meta_gradient(
    meta_params: Params,
    loss_fn: LossFn[BatchT],
    support_batches: Sequence[BatchT],
    query_batch: BatchT,
    alpha: float,
    steps: int | None = None,
) -> dict[str, Tensor]:
    """First-order MAML: ∇_θ L(θ', B^val) at θ' = :func:`inner_adapt` (θ_M, B^tr).

    The Jacobian dθ'/dθ_M is taken as the identity, so this is what a task sends to the
    meta-controller. Cost: the inner steps plus one gradient; memory of one gradient.
    """
    adapted = inner_adapt(meta_params, loss_fn, support_batches, alpha, steps)
    return dict(torch.func.grad(loss_fn)(adapted, query_batch))


def second_order_meta_gradient(
    meta_params: Params,
    loss_fn: LossFn[BatchT],
    support_batches: Sequence[BatchT],
    query_batch: BatchT,
    alpha: float,
    steps: int | None = None,
) -> dict[str, Tensor]:
    """Full MAML: d/dθ_M L(θ'(θ_M), B^val), differentiating through the inner loop.

    ``torch.func.grad`` of the whole adapt-then-evaluate computation, i.e.
    Π_i (I − α ∇²L(θ_i, B_i)) ∇L(θ', B^val) for plain gradient inner steps. For the ablation
    only: it needs every task's support data in one process and keeps the inner loop's graph
    alive. Measured on a paper-size low-level actor (442k parameters, batch 128, 1 thread):
    1 inner step 11 ms / 23 MB vs 6 ms / 9 MB first-order; 5 steps 54 ms / 59 MB vs
    19 ms / 11 MB — 2–3× the time, memory linear in the steps (``docs/meta-learning.md``).
    """
    n_steps = _check_inner(support_batches, alpha, steps)

    def meta_objective(theta: dict[str, Tensor]) -> Tensor:
        return loss_fn(_sgd_steps(theta, loss_fn, support_batches, alpha, n_steps), query_batch)

    return dict(torch.func.grad(meta_objective)(_detached(meta_params)))
