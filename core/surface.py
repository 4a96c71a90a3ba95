"""What kind of surface a point cloud samples: one clean sheet, or many pieces.

Point clouds carry no mesh structure, but their local shape tells two kinds apart:

* **one sheet**: scans, sculpts, AI-made and other one-piece smooth meshes. Almost every
  point's neighbourhood is a thin, nearly flat disc.
* **pieces**: clouds sampled from assembled assets. Thin double-sided plates, internal
  faces, small parts, edges and corners everywhere, so many neighbourhoods span more than
  one sheet.

The point-cloud answers read this once per cloud: Segment All's merge tree picks its
linkage by it (:mod:`core.point_tree`) and the click growth its feature weight
(:mod:`core.point_growth`). On the dev sets 96 % of the PSB clouds and 36 % of the
PartNet-Mobility clouds are one sheet by the default settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class SurfaceSettings:
    """How a point cloud's surface kind is read.

    Attributes:
        neighbours: k of the neighbourhoods whose surface variation is measured (the point
            itself included).
        variation: a point lies on one sheet when its neighbourhood's smallest covariance
            eigenvalue is below this share of their sum (0 = a perfect plane).
        sheet_share: the cloud is one sheet when more than this share of its points lie on
            one sheet. Dev sets (median share of such points: PSB 0.75, PartNet-Mobility
            0.23); the Segment All linkage rule was tried at 0.3–0.6 (README design
            item 10).
    """

    neighbours: int = 16
    variation: float = 0.01
    sheet_share: float = 0.4

    def __post_init__(self) -> None:
        if self.neighbours < 3:
            raise ValueError(f"SurfaceSettings.neighbours must be ≥ 3, got {self.neighbours}")
        if not (0.0 < self.variation < 1.0 / 3.0 and 0.0 <= self.sheet_share <= 1.0):
            raise ValueError("SurfaceSettings: variation must be in (0, 1/3) and "
                             "sheet_share in [0, 1]")


def flat_fraction(xyz: np.ndarray, k: int, variation: float) -> float:
    """Share of the points whose ``k`` nearest neighbours (themselves included) have a
    surface variation λ₀ / (λ₀ + λ₁ + λ₂) below ``variation`` (0 for fewer than k points).

    Args:
        xyz: (N, 3) points, any frame (the measure is scale-free).
    """
    x = np.asarray(xyz, np.float64)
    if len(x) < k:
        return 0.0
    _, nb = cKDTree(x).query(x, k)
    p = x[nb] - x[nb].mean(axis=1, keepdims=True)
    cov = np.einsum("nki,nkj->nij", p, p)
    ev = np.linalg.eigvalsh(cov)
    return float(np.mean(ev[:, 0] < variation * np.maximum(ev.sum(axis=1), 1e-300)))


def is_one_sheet(xyz: np.ndarray, s: SurfaceSettings) -> bool:
    """True when the cloud samples one clean sheet (see the module docstring)."""
    return flat_fraction(xyz, s.neighbours, s.variation) > s.sheet_share
