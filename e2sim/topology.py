"""Hexagonal site layout and UE placement (SPEC §1: centre + rings, ISD 500 m, one RU per DU)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["hex_sites", "in_hexagon", "sample_disc", "sample_hexagon"]

# Axial directions of the six neighbours of a hexagon.
_AXIAL_DIRS = ((1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1))


def hex_sites(n_sites: int, isd_m: float) -> np.ndarray:
    """Positions (n_sites, 2) in metres: the centre, then ring 1 (6 sites), ring 2 (12), ...

    Neighbouring sites are ``isd_m`` apart, so each DU's area is the hexagon of circumradius
    ``isd_m / √3`` around its site (the Voronoi cell of the layout).
    """
    if n_sites < 1:
        raise ValueError(f"n_sites must be >= 1, got {n_sites}")
    coords: list[tuple[int, int]] = [(0, 0)]
    ring = 1
    while len(coords) < n_sites:
        q, r = -ring, ring  # start corner: ring × direction 4
        for dq, dr in _AXIAL_DIRS:
            for _ in range(ring):
                coords.append((q, r))
                q, r = q + dq, r + dr
        ring += 1
    axial = np.asarray(coords[:n_sites], dtype=np.float64)
    x = isd_m * (axial[:, 0] + axial[:, 1] / 2.0)
    y = isd_m * (math.sqrt(3.0) / 2.0) * axial[:, 1]
    return np.stack([x, y], axis=1)


def in_hexagon(offsets: np.ndarray, isd_m: float) -> np.ndarray:
    """Whether points (…, 2), relative to a site, lie in its Voronoi hexagon (inradius isd/2)."""
    half = isd_m / 2.0
    ok = np.ones(offsets.shape[:-1], dtype=bool)
    for angle in (0.0, math.pi / 3.0, 2.0 * math.pi / 3.0):
        proj = offsets[..., 0] * math.cos(angle) + offsets[..., 1] * math.sin(angle)
        ok &= np.abs(proj) <= half
    return ok


def sample_hexagon(rng: np.random.Generator, n: int, isd_m: float) -> np.ndarray:
    """n points uniform in the Voronoi hexagon of a site at the origin (rejection sampling)."""
    out = np.empty((n, 2))
    filled = 0
    r = isd_m / math.sqrt(3.0)
    while filled < n:
        need = n - filled
        cand = rng.uniform(-r, r, size=(2 * need + 8, 2))
        cand = cand[in_hexagon(cand, isd_m)][:need]
        out[filled : filled + len(cand)] = cand
        filled += len(cand)
    return out


def sample_disc(rng: np.random.Generator, n: int, radius_m: float) -> np.ndarray:
    """n points uniform in a disc of the given radius around the origin."""
    rho = radius_m * np.sqrt(rng.uniform(0.0, 1.0, n))
    phi = rng.uniform(0.0, 2.0 * math.pi, n)
    return np.stack([rho * np.cos(phi), rho * np.sin(phi)], axis=1)
