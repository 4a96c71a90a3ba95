"""Farthest-point anchors and the point → anchor interpolation graph (numpy + scipy).

The decoder attends over K anchor tokens instead of all N points (see
:mod:`core.modeling.decoder`); every point then takes the anchors' update from its k nearest
anchors with inverse-distance weights. The graph depends only on the points, so it is built
once per object, next to the encoder run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .geometry import farthest_point_sampling

# distance floor of the inverse-distance weights (model-frame units, box side 2): a point
# sitting on an anchor takes (nearly) all of that anchor's update
WEIGHT_EPS = 1e-6


@dataclass(frozen=True)
class AnchorGraph:
    """Anchors of one object's N points.

    Attributes:
        anchor_idx: (K,) int64 indices of the anchor points (farthest-point order).
        knn_idx: (N, k) int64 indices *into anchor_idx* (0..K-1) of each point's nearest
            anchors, nearest first.
        knn_w: (N, k) float32 inverse-distance weights, each row sums to 1.
    """

    anchor_idx: np.ndarray
    knn_idx: np.ndarray
    knn_w: np.ndarray

    @property
    def num_anchors(self) -> int:
        return int(self.anchor_idx.shape[0])


def prepare_anchors(xyz_norm: np.ndarray, num_anchors: int, k: int, seed: int = 0) -> AnchorGraph:
    """Choose anchors by farthest-point sampling and link every point to its k nearest.

    Args:
        xyz_norm: (N, 3) points in the model frame [-1, 1].
        num_anchors: K wanted; clipped to N (small point clouds use every point).
        k: anchors per point; clipped to K.
        seed: seed of the farthest-point sampling start.

    Returns:
        :class:`AnchorGraph`.
    """
    pts = np.asarray(xyz_norm, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
        raise ValueError(f"xyz_norm must be a non-empty (N, 3) array, got shape {pts.shape}")
    if num_anchors < 1 or k < 1:
        raise ValueError(f"num_anchors and k must be >= 1, got {num_anchors} and {k}")
    anchor_idx = farthest_point_sampling(pts, num_anchors, seed=seed)
    kk = min(k, len(anchor_idx))
    dist, nn = cKDTree(pts[anchor_idx]).query(pts, k=kk)
    dist, nn = dist.reshape(len(pts), kk), nn.reshape(len(pts), kk)
    w = 1.0 / np.maximum(dist, WEIGHT_EPS)
    w /= w.sum(axis=1, keepdims=True)
    return AnchorGraph(
        anchor_idx=anchor_idx.astype(np.int64),
        knn_idx=nn.astype(np.int64),
        knn_w=w.astype(np.float32),
    )
