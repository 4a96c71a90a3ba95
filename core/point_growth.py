"""Click + scale on point clouds: growth over a k-nearest-neighbour graph of the points.

The point-cloud counterpart of the mesh path's face-level growth
(:meth:`core.mesh_parts.MeshParts.answer`). Every point gets the key

    key = d + λ · B

where d is its distance to the nearest positive click and B the cheapest path cost to a
positive click over the symmetric k-NN graph of the points, an edge costing the cosine
dissimilarity 1 − cos(f_i, f_j) of the encoder features of its two points (both in the
model frame, so d is in units of the half bounding-box extent). The answer at scale s is
the round(s · N) points of smallest key: monotone and nested in s, and a slider move is
a slice of one cached order. Negative clicks: a point whose key from the negative clicks
is smaller than its key from the positive ones is never taken.

Why (dev sets, points protocol, click + scale, bundled weights; README design item 6d):
the decoder's mask with its scale prior scored 63.3 / 73.8 (PartNet-Mobility / PSB), the
ball (λ = 0) 58.4 / 75.1. :class:`PointGrowthSettings` lists the λ values tried.
Pure numpy + SciPy (``cKDTree``; ``scipy.sparse.csgraph.dijkstra`` runs the paths), so it
runs inside Blender through the extension's SciPy stand-in where SciPy is absent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from .geometry import pair_dots


@dataclass
class PointGrowthSettings:
    """How a click with a scale is answered on a point cloud.

    Attributes:
        neighbours: k of the k-NN graph (each point's k nearest other points; the graph is
            made symmetric).
        feature_weight: λ, model-frame distance per unit of summed feature dissimilarity
            (0 = the ball: the s·N points nearest the click), for clouds sampled from
            assembled pieces (:mod:`core.surface`).
        feature_weight_sheet: λ for clouds that sample one clean sheet (scans, sculpts,
            one-piece meshes), whose features change less from point to point.

    How the values were chosen. README design item 6d lists the values measured on the dev
    sets (with k = 8). With the 0.863 encoder, k and λ were chosen on 60 held-out
    generated objects (one interior click per part of every level, its share as the
    scale), never on the dev sets:

    * pieces, λ 32 / 64 / 128 / 256: k = 8 55.5 / 56.0 / 56.1 / —, 12 55.7 / 56.3 / 56.5
      / —, 16 55.8 / 56.5 / 56.6 / 56.6, 24 — / 56.5 / 56.8 / 56.8, 32 — / 56.5 / 56.7 /
      56.7 (the 0.850 encoder at k = 8, λ 16 / 32 / 64 / 128: 54.6 / 55.6 / 56.0 / 55.9);
    * one sheet, λ 8 / 16 / 32: 57.6 / 57.8 / 57.6 at k = 8, 12 and 16 alike (λ 64 / 128:
      57.0 / 56.4; the 0.850 encoder, λ 16 / 32 / 64 / 128: 57.6 / 57.2 / 56.6 / 55.9).
      k = 24 was not measured on one-sheet held-out clouds; on PSB (dev, almost all one
      sheet) the change to k = 24 left click + scale at 76.6.

    Chosen: the held-out best, k = 24 and λ = 128 on pieces, λ = 16 on one sheet (until
    2026-12-05 k = 8, λ = 64 on pieces; dev PartNet-Mobility 67.8 → 68.8, PSB 76.6 →
    76.6; README design item 6d has the cost in time).
    """

    neighbours: int = 24
    feature_weight: float = 128.0
    feature_weight_sheet: float = 16.0


class PointGrowth:
    """The k-NN graph of one point cloud and the growth order of each set of clicks.

    Args:
        xyz_norm: (N, 3) points in the model frame.
        features: (N, D) encoder features of the points (any scale; they are normalised).
        settings: see :class:`PointGrowthSettings`.
        one_sheet: the cloud's surface kind (:func:`core.surface.is_one_sheet`): picks
            ``feature_weight_sheet`` instead of ``feature_weight``.
    """

    def __init__(self, xyz_norm: np.ndarray, features: np.ndarray,
                 settings: PointGrowthSettings, one_sheet: bool = False) -> None:
        if settings.neighbours < 1:
            raise ValueError(f"PointGrowthSettings.neighbours must be ≥ 1, "
                             f"got {settings.neighbours}")
        for name in ("feature_weight", "feature_weight_sheet"):
            if not getattr(settings, name) >= 0:
                raise ValueError(f"PointGrowthSettings.{name} must be ≥ 0, "
                                 f"got {getattr(settings, name)}")
        #: λ of this cloud
        self.feature_weight = float(settings.feature_weight_sheet if one_sheet
                                    else settings.feature_weight)
        self.xyz = np.asarray(xyz_norm, np.float64)
        n = len(self.xyz)
        k = min(settings.neighbours, n - 1)
        f = np.asarray(features, np.float64)
        f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        _, nb = cKDTree(self.xyz).query(self.xyz, k + 1)
        rows = np.repeat(np.arange(n), k)
        cols = np.asarray(nb, np.int64)[:, 1:].ravel()
        ok = cols < n  # cKDTree pads missing neighbours with n
        rows, cols = rows[ok], cols[ok]
        self.edges = np.stack([rows, cols], axis=1)
        self.dissimilarity = np.maximum(1.0 - pair_dots(f, rows, cols), 0.0)
        self._graph = None
        self._cache: tuple | None = None

    def _path_cost(self, sources: np.ndarray) -> np.ndarray:
        """(N,) cheapest summed dissimilarity × λ from any of ``sources``."""
        n = len(self.xyz)
        if self._graph is None:
            w = self.feature_weight * self.dissimilarity + 1e-9  # 0 = no edge
            self._graph = sp.csr_matrix((w, (self.edges[:, 0], self.edges[:, 1])),
                                        shape=(n, n))
        b = dijkstra(self._graph, directed=False, indices=np.asarray(sources, np.int64),
                     min_only=True)
        reached = np.isfinite(b)
        b[~reached] = (b[reached].max() if reached.any() else 0.0) + 1.0  # other islands
        return b

    def _key(self, sources: np.ndarray) -> np.ndarray:
        d = np.full(len(self.xyz), np.inf)
        for c in self.xyz[sources]:
            np.minimum(d, np.linalg.norm(self.xyz - c, axis=1), out=d)
        if self.feature_weight == 0:
            return d
        return d + self._path_cost(sources)

    def order(self, positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
        """Point indices in growth order (points a negative click claims left out).
        Cached for the last set of clicks."""
        pos = np.unique(np.asarray(positives, np.int64))
        neg = np.setdiff1d(np.asarray(negatives, np.int64), pos)
        ck = (tuple(pos.tolist()), tuple(neg.tolist()))
        if self._cache is None or self._cache[0] != ck:
            key = self._key(pos)
            if len(neg):
                key[self._key(neg) < key] = np.inf
            key[pos] = -1.0  # the clicked points always come first
            order = np.argsort(key, kind="stable")
            self._cache = (ck, order[np.isfinite(key[order])])
        return self._cache[1]

    def mask(self, positives: np.ndarray, negatives: np.ndarray, scale: float) -> np.ndarray:
        """(N,) bool: the round(scale · N) points first in :meth:`order` (at least the
        clicked points)."""
        order = self.order(positives, negatives)
        n = len(self.xyz)
        m = np.zeros(n, bool)
        m[order[:max(int(round(scale * n)), 1)]] = True
        m[np.asarray(positives, np.int64)] = True
        return m

    def quality(self, mask: np.ndarray) -> float:
        """How sharply the features change across the answer's border, in [0, 1]: the mean
        dissimilarity of the k-NN edges the border cuts, over that plus the mean of the
        edges inside (0.5 = no change; 1 when nothing crosses the border)."""
        a, b = mask[self.edges[:, 0]], mask[self.edges[:, 1]]
        cut, inside = a != b, a & b
        if not cut.any():
            return 1.0
        c = float(self.dissimilarity[cut].mean())
        i = float(self.dissimilarity[inside].mean()) if inside.any() else 0.0
        return c / max(c + i, 1e-12)
