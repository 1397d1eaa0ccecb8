"""Frames of slice shares and QoS: a text line per DU (``ansi``) or a bar chart (``rgb_array``)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from slicing.slices import N_SLICES, SLICE_NAMES

__all__ = ["RENDER_MODES", "ansi_frame", "rgb_frame"]

RENDER_MODES = ["ansi", "rgb_array"]

_COLOURS = np.array([[31, 119, 180], [44, 160, 44], [214, 39, 40]], np.uint8)  # eMBB, mMTC, URLLC
_BAR_H, _BAR_W, _GAP = 48, 6, 2


def ansi_frame(t_ms: float, dus: list[int], shares: NDArray[np.float64], qos: NDArray[np.float64]) -> str:
    """``t=…`` then one line per DU: each slice's share of the RBs and its window QoS."""
    lines = [f"t={t_ms / 1e3:.2f} s"]
    for d in dus:
        cells = "  ".join(
            f"{SLICE_NAMES[i]} share {shares[d, i]:.2f} QoS {qos[d, i]:.2f}" for i in range(N_SLICES)
        )
        lines.append(f"DU {d}: {cells}")
    return "\n".join(lines) + "\n"


def rgb_frame(dus: list[int], shares: NDArray[np.float64], qos: NDArray[np.float64]) -> NDArray[np.uint8]:
    """(H, W, 3) uint8: per DU, per slice a share bar then a (lighter) QoS bar, on white."""
    group = N_SLICES * 2 * (_BAR_W + _GAP) + 3 * _GAP
    img = np.full((_BAR_H + 2 * _GAP, max(1, len(dus)) * group + _GAP, 3), 255, np.uint8)
    for j, d in enumerate(dus):
        x = _GAP + j * group
        for i in range(N_SLICES):
            for k, (value, tone) in enumerate(((shares[d, i], 1.0), (qos[d, i], 0.5))):
                h = round(float(np.clip(value, 0.0, 1.0)) * _BAR_H)
                x0 = x + (2 * i + k) * (_BAR_W + _GAP)
                colour = 255 - tone * (255 - _COLOURS[i].astype(np.float64))
                img[_GAP + _BAR_H - h : _GAP + _BAR_H, x0 : x0 + _BAR_W] = colour.astype(np.uint8)
    return img
