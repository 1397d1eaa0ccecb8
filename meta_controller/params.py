"""Named parameters and their flat layout.

Parameters and gradients of the meta-model are *named tensors*: a ``Mapping[str, Tensor]`` with
keys such as ``"high.actor.0.weight"`` or ``"low.2.critic.4.bias"`` (the names of
``nn.Module.named_parameters()``). Nothing here depends on an agent class.

:class:`ParamLayout` fixes an order, shapes and offsets so that one set of named tensors can live
in one contiguous 1-D buffer (the natural wire format: one bytes blob plus the layout), and
:class:`GradientStack` holds the flattened gradients of all tasks as the rows of one
``(n_tasks, numel)`` buffer. With that layout the weighted sum over tasks is a single
matrix–vector product that reads every byte exactly once (see :mod:`meta_controller.maml` and
``docs/meta-learning.md`` for the measurements). A receiver that decodes each task's gradient
straight into :meth:`GradientStack.row` pays no copy beyond the one decoding already implies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from meta_controller.errors import MetaInputError

__all__ = [
    "GradientStack",
    "ParamLayout",
    "Params",
]

Params = Mapping[str, Tensor]
"""Named tensors (parameters or gradients), e.g. ``{"high.actor.0.weight": W, ...}``."""


@dataclass(frozen=True)
class ParamLayout:
    """Order, shape and offset of every named tensor inside one flat buffer.

    Attributes:
        names: the keys, in buffer order (the order of the mapping the layout was made from).
        shapes: the shape of each key.
        offsets: the index of each key's first element in the flat buffer.
        numel: the total number of elements.
    """

    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]
    offsets: tuple[int, ...]
    numel: int

    @classmethod
    def of(cls, params: Params) -> ParamLayout:
        """The layout of ``params`` (keys in mapping order)."""
        if not params:
            raise MetaInputError("cannot make a layout of an empty parameter mapping")
        names = tuple(params)
        shapes = tuple(params[n].shape for n in names)
        offsets: list[int] = []
        total = 0
        for shape in shapes:
            offsets.append(total)
            total += shape.numel()
        return cls(names=names, shapes=shapes, offsets=tuple(offsets), numel=total)

    def check(self, params: Params, what: str = "params", dtype: torch.dtype | None = None) -> None:
        """Raise :class:`MetaInputError` unless ``params`` has exactly this layout's keys and shapes
        (and every tensor has ``dtype``, if given)."""
        if len(params) != len(self.names) or any(n not in params for n in self.names):
            missing = sorted(set(self.names) - set(params))
            extra = sorted(set(params) - set(self.names))
            raise MetaInputError(f"{what}: keys differ from the layout (missing {missing}, extra {extra})")
        for name, shape in zip(self.names, self.shapes, strict=True):
            if params[name].shape != shape:
                got, want = tuple(params[name].shape), tuple(shape)
                raise MetaInputError(f"{what}: {name!r} has shape {got}, expected {want}")
            if dtype is not None and params[name].dtype != dtype:
                raise MetaInputError(f"{what}: {name!r} is {params[name].dtype}, expected {dtype}")

    def flatten(self, params: Params, out: Tensor | None = None) -> Tensor:
        """Copy ``params`` into one contiguous 1-D tensor (``out`` if given) and return it."""
        self.check(params)
        if out is None:
            first = params[self.names[0]]
            out = torch.empty(self.numel, dtype=first.dtype, device=first.device)
        elif out.shape != (self.numel,):
            raise MetaInputError(f"out has shape {tuple(out.shape)}, expected ({self.numel},)")
        with torch.no_grad():
            views = self.unflatten(out)
            torch._foreach_copy_([views[n] for n in self.names], [params[n] for n in self.names])
        return out

    def unflatten(self, flat: Tensor) -> dict[str, Tensor]:
        """Named views into ``flat`` (no copy): writing a view writes ``flat``."""
        if flat.dim() != 1 or flat.shape[0] != self.numel:
            raise MetaInputError(f"flat buffer has shape {tuple(flat.shape)}, expected ({self.numel},)")
        return {
            name: flat[off : off + shape.numel()].view(shape)
            for name, shape, off in zip(self.names, self.shapes, self.offsets, strict=True)
        }

    def slices(self, names: Sequence[str]) -> list[tuple[int, int]]:
        """Column ranges ``[start, end)`` covering ``names``, adjacent ranges merged."""
        index = {n: i for i, n in enumerate(self.names)}
        spans = sorted(
            (self.offsets[index[n]], self.offsets[index[n]] + self.shapes[index[n]].numel()) for n in names
        )
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged


class GradientStack:
    """The flattened gradients of ``n_tasks`` tasks as rows of one ``(n_tasks, numel)`` buffer.

    ``dtype=torch.bfloat16`` halves the bytes to read (and to ship from each DU): the weighted
    sum is then a bfloat16 gemv with float32 accumulation, whose result is added to float32
    meta-parameters. Each gradient entry keeps ~3 significant digits (8-bit mantissa) — far below
    the minibatch noise of a DDPG gradient — and the 30-DU aggregation runs at about half the
    float32 time (see ``metahrl bench meta``).

    A buffer, hence mutable: fill each row with :meth:`set_task` (a copy from named tensors) or
    decode straight into :meth:`row`. Pass the stack to
    :func:`meta_controller.maml.weighted_aggregate` or :func:`meta_controller.maml.meta_update`
    in place of a sequence of mappings; the result is the same, computed in one pass.
    """

    def __init__(
        self,
        layout: ParamLayout,
        n_tasks: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        if n_tasks < 1:
            raise MetaInputError(f"a gradient stack needs at least one task, got {n_tasks}")
        self.layout = layout
        self.data = torch.zeros(n_tasks, layout.numel, dtype=dtype, device=device)

    @property
    def n_tasks(self) -> int:
        """Number of rows (tasks)."""
        return int(self.data.shape[0])

    @classmethod
    def wrap(cls, layout: ParamLayout, data: Tensor) -> GradientStack:
        """A stack over an existing ``(n_tasks, layout.numel)`` buffer (no copy)."""
        if data.dim() != 2 or data.shape[0] < 1 or data.shape[1] != layout.numel:
            raise MetaInputError(f"buffer of shape {tuple(data.shape)} for a ({layout.numel},) layout")
        stack = cls.__new__(cls)
        stack.layout = layout
        stack.data = data
        return stack

    @classmethod
    def from_grads(cls, grads: Sequence[Params]) -> GradientStack:
        """Stack named gradients (all with the layout of the first); copies every tensor."""
        if not grads:
            raise MetaInputError("no task gradients given")
        layout = ParamLayout.of(grads[0])
        first = grads[0][layout.names[0]]
        stack = cls(layout, len(grads), dtype=first.dtype, device=first.device)
        for g, task in enumerate(grads):
            stack.set_task(g, task)
        return stack

    def row(self, task: int) -> Tensor:
        """Task ``task``'s flat, writable row (a view)."""
        return self.data[task]

    def task(self, task: int) -> dict[str, Tensor]:
        """Task ``task``'s gradient as named views into the buffer."""
        return self.layout.unflatten(self.data[task])

    def set_task(self, task: int, grads: Params) -> None:
        """Copy named gradients into row ``task`` (checked against the layout)."""
        if not 0 <= task < self.n_tasks:
            raise MetaInputError(f"task index {task} out of range for {self.n_tasks} tasks")
        try:
            self.layout.flatten(grads, out=self.data[task])
        except MetaInputError as exc:
            raise MetaInputError(f"task {task}: {exc}") from None
