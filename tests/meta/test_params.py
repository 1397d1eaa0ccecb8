"""Flat layouts of named tensors and the gradient stack."""

from __future__ import annotations

import pytest
import torch

from meta_controller.errors import MetaInputError
from meta_controller.params import GradientStack, ParamLayout


def params() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {
        "high.actor.0.weight": torch.randn(4, 3, generator=gen),
        "high.actor.0.bias": torch.randn(4, generator=gen),
        "low.0.critic.2.weight": torch.randn(1, 4, generator=gen),
    }


def test_layout_round_trip_and_views() -> None:
    p = params()
    layout = ParamLayout.of(p)
    assert layout.names == tuple(p) and layout.offsets == (0, 12, 16) and layout.numel == 20
    flat = layout.flatten(p)
    assert torch.equal(flat[12:16], p["high.actor.0.bias"])
    views = layout.unflatten(flat)
    for k in p:
        assert torch.equal(views[k], p[k])
    views["high.actor.0.bias"].zero_()  # views write through to the buffer
    assert flat[12:16].abs().sum() == 0
    assert layout.slices(["low.0.critic.2.weight", "high.actor.0.weight"]) == [(0, 12), (16, 20)]
    assert layout.slices(["high.actor.0.bias", "high.actor.0.weight"]) == [(0, 16)]


def test_layout_rejects_mismatches() -> None:
    layout = ParamLayout.of(params())
    with pytest.raises(MetaInputError, match="missing"):
        layout.check({k: v for k, v in params().items() if "bias" not in k})
    with pytest.raises(MetaInputError, match="shape"):
        layout.check(params() | {"high.actor.0.bias": torch.zeros(5)})
    with pytest.raises(MetaInputError, match="flat buffer"):
        layout.unflatten(torch.zeros(19))
    with pytest.raises(MetaInputError, match="empty"):
        ParamLayout.of({})


def test_gradient_stack_rows() -> None:
    grads = [params(), {k: 2 * v for k, v in params().items()}]
    stack = GradientStack.from_grads(grads)
    assert stack.n_tasks == 2 and stack.data.shape == (2, 20)
    assert torch.equal(stack.row(1), 2 * stack.row(0))
    assert torch.equal(stack.task(1)["high.actor.0.weight"], grads[1]["high.actor.0.weight"])
    stack.row(0).copy_(stack.row(1))  # decode-in-place path: write the flat row directly
    assert torch.equal(stack.task(0)["high.actor.0.bias"], grads[1]["high.actor.0.bias"])
    with pytest.raises(MetaInputError, match="task 1"):
        stack.set_task(1, params() | {"high.actor.0.bias": torch.zeros(3)})
    with pytest.raises(MetaInputError, match="out of range"):
        stack.set_task(2, params())
    with pytest.raises(MetaInputError):
        GradientStack(ParamLayout.of(params()), 0)
