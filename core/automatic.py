"""Segment All on point clouds (cuts of the point merge tree), and the settings and result
of Segment All.

Meshes are segmented by the merge tree over superfaces (:mod:`core.merge_tree`, called by
:meth:`core.predictor.Segmenter.segment_all`). A bare point cloud has no mesh structure; it
gets its own merge tree over the encoder features of its points
(:mod:`core.point_tree`), read the same way:

1. **Cut** — without a scale the natural cut (every merge above the linkage's threshold is
   undone); with a scale s the cut whose parts come closest to s
   (:meth:`core.merge_tree.MergeTree.cut`).
2. **Clean-up** — parts smaller than ``min_part_fraction`` of the points join the most
   frequent other part among their points' nearest neighbours.
3. **Hierarchy** — nested cuts of the one tree (the coarsest first); the clean-up of a finer
   level stays inside its coarser part.

It replaced the paper's mask pipeline (64 farthest-point prompts decoded, scored by
quality × stability, suppressed and painted best-first; README design item 10 has the
measured effect). This module never imports the predictor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .errors import InvalidPromptError
from .mesh_regions import relabel_contiguous
from .part_count import count_cut_min_share
from .point_tree import PointTree


@dataclass
class SegmentAllSettings:
    """Every knob of Segment All. Fractions are of the sampled points (point clouds) or of
    the surface area (meshes). How the trees are built and read: ``PredictSettings.tree``
    and ``PredictSettings.point_tree``.

    Attributes:
        min_part_fraction: point clouds: parts with a smaller fraction of the points are
            absorbed by a neighbour. 0 keeps every part.
        min_mesh_part_fraction: meshes: parts of the tree cut with a smaller share of the
            surface join, one at a time and the smallest first, the part they share the
            longest boundary (or contact) with (a piece touching none: the nearest part),
            until no part is smaller (since 2026-12-06; before, one pass left specks that
            only touched each other below it). 0 (default) keeps every part of the cut:
            superfaces under
            ``SuperfaceSettings.min_share`` are already absorbed. Dev set, Segment All
            leaf mIoU without a scale (PartNet-Mobility / PSB): 0.002 → 53.9 / 56.3,
            0.001 → 55.2 / 56.3, 0.0005 → 56.1 / 56.3, 0 → 57.1 / 56.3; small real
            parts (knobs, buttons, screws) were being absorbed.
    """

    min_part_fraction: float = 0.002
    min_mesh_part_fraction: float = 0.0


def check_settings(s: SegmentAllSettings) -> None:
    """Refuse settings outside their documented ranges (names the field)."""
    for name in ("min_part_fraction", "min_mesh_part_fraction"):
        v = getattr(s, name)
        if not 0.0 <= v <= 1.0:
            raise InvalidPromptError(f"SegmentAllSettings.{name} must be in [0, 1], got {v}")


@dataclass
class SegmentAllResult:
    """Labels of one Segment All run.

    Attributes:
        point_labels: (N,) int64 part of each sampled point, 0..num_parts-1 (never -1).
        face_labels: (F,) int64 part of each face of the original mesh, or None for point
            clouds.
        num_parts: number of parts.
        scores: (num_parts,) float32 confidence of each part in [0, 1] (meshes: how
            natural the part's tree nodes are: (1 − own merge height) × the parent's merge
            height, share-weighted over the part's nodes).
        scale: the scale used (None = no-scale mode).
        input_labels: point clouds only: (M,) int64 label of every input point (nearest
            sampled point), None for meshes.
    """

    point_labels: np.ndarray
    face_labels: np.ndarray | None
    num_parts: int
    scores: np.ndarray
    scale: float | None
    input_labels: np.ndarray | None = None


def absorb_small_point_labels(labels: np.ndarray, xyz: np.ndarray, min_count: int,
                              k: int = 8, group: np.ndarray | None = None) -> np.ndarray:
    """Points-only clean-up: labels with fewer than ``min_count`` points join the most
    frequent other label among their points' ``k`` nearest neighbours (only neighbours of
    the same ``group`` when given; a label that has none keeps its points)."""
    out = labels.copy()
    cnt = np.bincount(out)
    small = np.flatnonzero((cnt > 0) & (cnt < min_count))
    if len(small) == 0 or len(small) == np.count_nonzero(cnt):
        return out
    tree = cKDTree(xyz)
    for lab in small[np.argsort(cnt[small], kind="stable")]:
        pts = np.flatnonzero(out == lab)
        if len(pts) == 0:
            continue
        _, nb = tree.query(xyz[pts], k=min(k + 1, len(xyz)))
        nbr = nb.ravel()
        sel = out[nbr] != lab
        if group is not None:
            sel &= group[nbr] == np.repeat(group[pts], nb.shape[1])
        nl = out[nbr[sel]]
        if len(nl) == 0:
            if group is not None:
                continue  # nothing of its own group nearby: keep it
            # isolated: nearest point of another label
            others = np.flatnonzero(out != lab)
            d = cKDTree(xyz[others]).query(xyz[pts])[1]
            nl = out[others[d]]
        out[pts] = np.bincount(nl).argmax()
    return out


def _result(pt: PointTree, nodes: np.ndarray, labels: np.ndarray, scale: float | None,
            points: np.ndarray, input_points: np.ndarray | None) -> SegmentAllResult:
    """Labels → result: part scores from the cut's nodes (share-weighted over the nodes
    whose points ended in each part) and the input cloud's labels by nearest point."""
    k = int(labels.max()) + 1
    per_point = pt.tree.quality(nodes)[pt.tree.labels_of_cut(nodes)[pt.leaf_of_point]]
    scores = (np.bincount(labels, weights=per_point, minlength=k)
              / np.maximum(np.bincount(labels, minlength=k), 1)).astype(np.float32)
    input_labels = None
    if input_points is not None:
        tree = cKDTree(np.asarray(points, np.float64))
        input_labels = labels[tree.query(input_points)[1]]
    return SegmentAllResult(point_labels=labels, face_labels=None, num_parts=k,
                            scores=scores, scale=scale, input_labels=input_labels)


def _labels(pt: PointTree, nodes: np.ndarray, xyz_norm: np.ndarray,
            s: SegmentAllSettings, group: np.ndarray | None = None) -> np.ndarray:
    lab = pt.tree.labels_of_cut(nodes)[pt.leaf_of_point]
    min_count = int(np.ceil(s.min_part_fraction * len(xyz_norm)))
    lab = absorb_small_point_labels(lab, xyz_norm, min_count, group=group)
    return relabel_contiguous(lab)


def segment_points(pt: PointTree, xyz_norm: np.ndarray, points: np.ndarray,
                   input_points: np.ndarray | None, scale: float | None,
                   s: SegmentAllSettings) -> SegmentAllResult:
    """Split a point cloud into parts at one (validated) scale; every point gets a label.

    Args:
        pt: the cloud's merge tree (:func:`core.point_tree.build_point_tree`).
        xyz_norm: (N, 3) sampled points, model frame (the clean-up's neighbourhoods).
        points: (N, 3) the same points, object frame.
        input_points: (M, 3) the caller's cloud (object frame) to label by nearest sampled
            point, or None.
        scale: part share in (0, 1], or None for the natural parts.
        s: see :class:`SegmentAllSettings`.
    """
    nodes = pt.tree.cut(scale)
    return _result(pt, nodes, _labels(pt, nodes, xyz_norm, s), scale, points, input_points)


def segment_points_count(pt: PointTree, xyz_norm: np.ndarray, points: np.ndarray,
                         input_points: np.ndarray | None, num_parts: int,
                         s: SegmentAllSettings) -> SegmentAllResult:
    """Split a point cloud into ``num_parts`` (validated, ≥ 1) parts: the clusters left
    before the last merges of its tree, undoing the fewest merges for ``num_parts``
    clusters of at least ``s.min_part_fraction`` of the points
    (:func:`core.part_count.count_cut_min_share`); the smaller ones join their neighbours
    (the clean-up of :func:`segment_points`). Fewer parts only when the cloud cannot be
    cut into that many parts that large.
    Arguments as :func:`segment_points`."""
    nodes, _ = count_cut_min_share(pt.tree, num_parts, s.min_part_fraction)
    return _result(pt, nodes, _labels(pt, nodes, xyz_norm, s), None, points, input_points)


def hierarchy_points(pt: PointTree, xyz_norm: np.ndarray, points: np.ndarray,
                     input_points: np.ndarray | None, scales: list[float],
                     s: SegmentAllSettings) -> list[SegmentAllResult]:
    """Nested point-cloud segmentations, one per (validated) scale, in the given order:
    nested cuts of the one tree; a finer level's small pieces are absorbed inside their
    coarser part. Arguments as :func:`segment_points`."""
    cuts = pt.tree.nested_cuts(scales)
    order = np.argsort(-np.asarray(scales), kind="stable")
    out: dict[int, SegmentAllResult] = {}
    prev: np.ndarray | None = None
    for i in order:
        lab = _labels(pt, cuts[i], xyz_norm, s, group=prev)
        if prev is not None:  # the clean-up keeps to the coarser parts; make that exact
            k = int(lab.max()) + 1
            lab = relabel_contiguous(prev * k + lab)
        out[int(i)] = _result(pt, cuts[i], lab, scales[i], points, input_points)
        prev = lab
    return [out[i] for i in range(len(scales))]
