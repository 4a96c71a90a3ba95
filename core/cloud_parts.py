"""One point cloud's structures behind the product's answers: the counterpart of
:mod:`core.mesh_parts` for clouds without faces.

* its surface kind (:mod:`core.surface`), read once;
* the k-NN growth graph that answers a click with a scale (:mod:`core.point_growth`);
* the merge tree that answers Segment All, part counts and hierarchies
  (:mod:`core.point_tree`, cut by :mod:`core.automatic`).

Each is built on first use and kept for the cloud's lifetime (the predictor keeps one
:class:`CloudParts` per ``set_points``). A click without a scale is the decoder's, not
this module's.
"""

from __future__ import annotations

import numpy as np

from .automatic import (
    SegmentAllResult,
    SegmentAllSettings,
    hierarchy_points,
    segment_points,
    segment_points_count,
)
from .merge_tree import TreeSettings
from .point_growth import PointGrowth, PointGrowthSettings
from .point_tree import PointTree, PointTreeSettings, build_point_tree
from .surface import SurfaceSettings, is_one_sheet


class CloudParts:
    """Lazily built structures of one point cloud.

    Args:
        xyz_norm: (N, 3) sampled points, model frame.
        points: (N, 3) the same points, object frame.
        features: (N, D) encoder features of the points.
        input_points: (M, 3) the caller's cloud (object frame) to label by nearest sampled
            point in Segment All, or None.
        surface, growth, point_tree, tree: settings of the surface reading, the growth, the
            tree's build and the tree's reading (``PredictSettings`` fields).
    """

    def __init__(self, xyz_norm: np.ndarray, points: np.ndarray, features: np.ndarray,
                 input_points: np.ndarray | None, surface: SurfaceSettings,
                 growth: PointGrowthSettings, point_tree: PointTreeSettings,
                 tree: TreeSettings) -> None:
        self.xyz_norm, self.points, self.features = xyz_norm, points, features
        self.input_points = input_points
        self._settings = (surface, growth, point_tree, tree)
        self._one_sheet: bool | None = None
        self._growth: PointGrowth | None = None
        self._tree: PointTree | None = None

    @property
    def one_sheet(self) -> bool:
        """Whether the cloud samples one clean sheet (:func:`core.surface.is_one_sheet`)."""
        if self._one_sheet is None:
            self._one_sheet = is_one_sheet(self.xyz_norm, self._settings[0])
        return self._one_sheet

    @property
    def growth(self) -> PointGrowth:
        """The k-NN growth graph (its λ follows :attr:`one_sheet`)."""
        if self._growth is None:
            self._growth = PointGrowth(self.xyz_norm, self.features, self._settings[1],
                                       self.one_sheet)
        return self._growth

    @property
    def tree(self) -> PointTree:
        """The merge tree over the features (its linkage follows :attr:`one_sheet`)."""
        if self._tree is None:
            self._tree = build_point_tree(self.xyz_norm, self.features, self._settings[2],
                                          self._settings[3], self.one_sheet)
        return self._tree

    def click(self, positives: np.ndarray, negatives: np.ndarray, scale: float
              ) -> tuple[np.ndarray, float]:
        """A click with a scale: the (N,) bool mask grown from the positive points (indices)
        away from the negative ones, and its border quality in [0, 1]."""
        m = self.growth.mask(positives, negatives, scale)
        return m, self.growth.quality(m)

    def segment(self, scale: float | None, s: SegmentAllSettings) -> SegmentAllResult:
        """Segment All at one (validated) scale (None = the natural parts)."""
        return segment_points(self.tree, self.xyz_norm, self.points, self.input_points,
                              scale, s)

    def segment_count(self, num_parts: int, s: SegmentAllSettings) -> SegmentAllResult:
        """Segment All into ``num_parts`` (validated) parts, none below
        ``s.min_part_fraction``."""
        return segment_points_count(self.tree, self.xyz_norm, self.points, self.input_points,
                                    num_parts, s)

    def hierarchy(self, scales: list[float], s: SegmentAllSettings) -> list[SegmentAllResult]:
        """Nested Segment All results, one per (validated) scale, in the given order."""
        return hierarchy_points(self.tree, self.xyz_norm, self.points, self.input_points,
                                scales, s)
