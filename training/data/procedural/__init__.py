"""Procedural object families with exact part trees.

``FAMILIES`` maps a family name to ``builder(rng) -> Part``. :func:`make_object` builds one
object of a family from a seed and applies small random deformations (anisotropic scale,
taper, bend), so that no two objects share exact proportions.
"""

from __future__ import annotations

import numpy as np

from ..parts import Part
from . import appliances, creatures, furniture, household, vehicles

FAMILIES: dict = {}
FAMILIES.update(furniture.FAMILIES)
FAMILIES.update(household.FAMILIES)
FAMILIES.update(appliances.FAMILIES)
FAMILIES.update(vehicles.FAMILIES)
FAMILIES.update(creatures.FAMILIES)


def deform(root: Part, rng: np.random.Generator, strength: float = 1.0) -> Part:
    """Apply one smooth random deformation to every leaf of ``root`` in place.

    Anisotropic scale (each axis x[0.85, 1.18]^strength), a taper along z (width changes up
    to ±12 % from bottom to top) and a bend in the xz plane (up to ±0.08 of the height at the
    top). All leaves move with the same field, so touching parts stay touching.
    """
    leaves = root.leaves()
    allv = np.concatenate([lf.mesh.vertices for lf in leaves])
    lo, hi = allv.min(0), allv.max(0)
    h = max(hi[2] - lo[2], 1e-9)
    scale = np.exp(rng.uniform(np.log(0.85), np.log(1.18), 3) * strength)
    taper = rng.uniform(-0.12, 0.12) * strength if rng.random() < 0.5 else 0.0
    bend = rng.uniform(-0.08, 0.08) * strength if rng.random() < 0.3 else 0.0
    centre = (lo + hi) / 2
    for lf in leaves:
        v = np.asarray(lf.mesh.vertices, np.float64).copy()
        t = (v[:, 2] - lo[2]) / h
        v[:, :2] = centre[:2] + (v[:, :2] - centre[:2]) * (1 + taper * (t - 0.5))[:, None]
        v[:, 0] += bend * h * t**2
        v *= scale
        lf.mesh.vertices = v
    return root


def make_object(family: str, seed: int, deform_strength: float = 1.0) -> Part:
    """Build one object of ``family`` from ``seed`` (deterministic), deformed."""
    if family not in FAMILIES:
        raise KeyError(f"unknown family {family!r}; known: {sorted(FAMILIES)}")
    rng = np.random.default_rng(seed)
    root = FAMILIES[family](rng)
    if deform_strength > 0:
        deform(root, rng, deform_strength)
    return root
