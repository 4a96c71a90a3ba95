"""Segment All on point clouds (the mask pipeline), and the settings and result of Segment All.

Meshes are segmented by the merge tree over superfaces (:mod:`core.merge_tree`, called by
:meth:`core.predictor.Segmenter.segment_all`); only ``min_part_fraction`` of
:class:`SegmentAllSettings` applies to them. A bare point cloud has no mesh structure, so it
keeps the network path of the paper's full segmentation (every knob a field of
:class:`SegmentAllSettings`):

1. **Prompts** — ``num_prompts`` farthest-point samples of the sampled points.
2. **Masks** — decoded in batches of ``batch_size`` (one positive prompt each) at the
   requested scale; each mask gets a score = predicted quality × stability (IoU of the
   mask thresholded at ``mask_threshold ± stability_offset``).
3. **Grouping** — masks outside the size limits are dropped, and so are masks below
   ``min_mask_score`` unless they are among the ``min_masks_kept`` best; the rest go
   through non-maximum suppression by mask IoU (``nms_iou``) and are painted best-first
   onto the still unlabelled points; leftover points take the label of the nearest
   labelled point; labels smaller than ``min_part_fraction`` are absorbed.
4. **Hierarchy** — the coarsest scale first; each finer level is intersected with the
   level above it and small pieces are absorbed inside their coarser part.

This module never imports the predictor: it works on any object with the
:class:`PromptDecoder` members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.spatial import cKDTree

from .errors import InvalidPromptError
from .geometry import farthest_point_sampling
from .mesh_regions import relabel_contiguous


class PromptDecoder(Protocol):
    """What the mask pipeline needs from a segmenter with a point cloud set."""

    points_normalized: np.ndarray  # (N, 3) model frame
    points: np.ndarray  # (N, 3) object frame
    input_points: np.ndarray | None  # the caller's cloud (M, 3), object frame

    def decode(self, prompt_idx: np.ndarray, prompt_label: np.ndarray,
               scale: float | None) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class SegmentAllSettings:
    """Every knob of Segment All. Fractions are of the sampled points (point clouds) or of
    the surface area (meshes).

    Attributes:
        num_prompts: point clouds: farthest-point prompts decoded (one click each).
        batch_size: prompts per decoder call (memory ≈ batch_size × N × 4 bytes per mask).
        seed: seed of the farthest-point prompts.
        mask_threshold: probability threshold that turns a decoded mask into a point set.
        stability_offset: δ of the stability score (IoU of the masks at threshold ± δ);
            0 disables it (score = quality alone).
        min_mask_score: masks whose score (quality × stability) is below this are dropped,
            except the ``min_masks_kept`` best ones.
        min_masks_kept: the best this many masks (by score, within the size limits) stay
            candidates even when they score below ``min_mask_score``, so a model whose
            quality head is cautious still splits a point cloud (the trained default
            weights predict qualities of 0.3–0.5: with a strict threshold every mask was
            dropped and a point cloud came back as one part). 0 = strict threshold.
        min_mask_fraction: masks smaller than this fraction of the points are dropped.
        max_mask_fraction: masks larger than this fraction of the points are dropped
            (a mask of the whole object is not a part).
        nms_iou: a mask overlapping an already kept, better mask with IoU above this is
            suppressed.
        min_new_fraction: when painting best-first, a mask whose still unlabelled points
            are fewer than this fraction of its size is skipped.
        min_part_fraction: point clouds: labels with a smaller fraction of the points are
            absorbed by a neighbour. 0 keeps every part.
        min_mesh_part_fraction: meshes: parts of the tree cut with a smaller share of the
            surface join the neighbouring part they share the longest boundary (or
            contact) with. 0 (default) keeps every part of the cut: superfaces under
            ``SuperfaceSettings.min_share`` are already absorbed. Dev set, Segment All
            leaf mIoU without a scale (PartNet-Mobility / PSB): 0.002 → 53.9 / 56.3,
            0.001 → 55.2 / 56.3, 0.0005 → 56.1 / 56.3, 0 → 57.1 / 56.3; small real
            parts (knobs, buttons, screws) were being absorbed.
    """

    num_prompts: int = 64
    batch_size: int = 32
    seed: int = 0
    mask_threshold: float = 0.5
    stability_offset: float = 0.1
    min_mask_score: float = 0.5
    min_masks_kept: int = 16
    min_mask_fraction: float = 0.002
    max_mask_fraction: float = 0.95
    nms_iou: float = 0.7
    min_new_fraction: float = 0.5
    min_part_fraction: float = 0.002
    min_mesh_part_fraction: float = 0.0


def check_settings(s: SegmentAllSettings) -> None:
    """Refuse settings outside their documented ranges (names the field)."""
    if s.num_prompts < 1 or s.batch_size < 1:
        raise InvalidPromptError("SegmentAllSettings.num_prompts and batch_size must be ≥ 1")
    if s.min_masks_kept < 0:
        raise InvalidPromptError(
            f"SegmentAllSettings.min_masks_kept must be ≥ 0, got {s.min_masks_kept}")
    for name in ("mask_threshold", "min_part_fraction", "min_mesh_part_fraction",
                 "min_mask_fraction",
                 "max_mask_fraction", "nms_iou", "min_new_fraction"):
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
            natural the part's tree node is; point clouds: the best mask score × IoU of
            that mask with the part).
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


@dataclass
class MaskSet:
    """Decoded masks of the farthest-point prompts."""

    masks: np.ndarray  # (M, N) bool
    scores: np.ndarray  # (M,) float32 quality × stability
    prompts: np.ndarray  # (M,) int64 prompt point

def _mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    af, bf = a.astype(np.float32), b.astype(np.float32)
    inter = af @ bf.T
    union = af.sum(1)[:, None] + bf.sum(1)[None, :] - inter
    return inter / np.maximum(union, 1.0)


def group_masks(ms: MaskSet, s: SegmentAllSettings) -> tuple[np.ndarray, np.ndarray]:
    """NMS + best-first painting; returns point labels (N,) (-1 = none) and label scores."""
    n = ms.masks.shape[1]
    size = ms.masks.sum(axis=1) / n
    sized = (size >= s.min_mask_fraction) & (size <= s.max_mask_fraction)
    ok = sized & (ms.scores >= s.min_mask_score)
    if s.min_masks_kept > 0:  # the best few always compete, whatever the absolute score
        best = np.flatnonzero(sized)
        best = best[np.argsort(-ms.scores[best], kind="stable")[:s.min_masks_kept]]
        ok[best] = True
    cand = np.flatnonzero(ok)
    cand = cand[np.argsort(-ms.scores[cand], kind="stable")]
    labels = np.full(n, -1, np.int64)
    lab_scores: list[float] = []
    if len(cand) == 0:
        return labels, np.zeros(0, np.float32)
    iou = _mask_iou(ms.masks[cand], ms.masks[cand])
    kept: list[int] = []
    for j in range(len(cand)):
        if kept and iou[j, kept].max() > s.nms_iou:
            continue
        kept.append(j)
        m = ms.masks[cand[j]]
        new = m & (labels < 0)
        if new.sum() < s.min_new_fraction * m.sum():
            continue
        labels[new] = len(lab_scores)
        lab_scores.append(float(ms.scores[cand[j]]))
    return labels, np.asarray(lab_scores, np.float32)


def fill_nearest(labels: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """Give points with label -1 the label of the nearest labelled point (all 0 if none)."""
    out = labels.copy()
    miss = out < 0
    if not miss.any():
        return out
    if miss.all():
        out[:] = 0
        return out
    tree = cKDTree(xyz[~miss])
    out[miss] = out[~miss][tree.query(xyz[miss])[1]]
    return out


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


def part_scores(point_labels: np.ndarray, ms: MaskSet, num_parts: int | None = None
                ) -> np.ndarray:
    """Best mask score × IoU with each part, (num_parts,) float32 (0 for parts without
    sampled points)."""
    k = int(point_labels.max()) + 1 if num_parts is None else int(num_parts)
    out = np.zeros(k, np.float32)
    if len(ms.scores) == 0:
        return out
    order = np.argsort(point_labels, kind="stable")
    lab_sorted = point_labels[order]
    present, start = np.unique(lab_sorted, return_index=True)
    inter = np.add.reduceat(ms.masks[:, order].astype(np.float32), start, axis=1)  # (M, K')
    part_size = np.diff(np.append(start, len(order))).astype(np.float32)
    mask_size = ms.masks.sum(axis=1).astype(np.float32)
    iou = inter / np.maximum(mask_size[:, None] + part_size[None, :] - inter, 1.0)
    out[present] = (iou * ms.scores[:, None]).max(axis=0)
    return out


def decode_masks(seg: PromptDecoder, scale: float | None, s: SegmentAllSettings) -> MaskSet:
    """Decode farthest-point prompts in batches and score the masks."""
    xyz = seg.points_normalized
    prompts = farthest_point_sampling(xyz, s.num_prompts, seed=s.seed)
    probs_all, qual_all = [], []
    for b in range(0, len(prompts), s.batch_size):
        idx = prompts[b:b + s.batch_size, None]
        probs, qual = seg.decode(idx, np.ones(idx.shape, np.float32), scale)
        probs_all.append(probs)
        qual_all.append(qual)
    probs = np.concatenate(probs_all)
    quality = np.clip(np.concatenate(qual_all), 0.0, 1.0)
    masks = probs >= s.mask_threshold
    score = quality.astype(np.float32)
    if s.stability_offset > 0:
        hi = (probs >= s.mask_threshold + s.stability_offset).sum(axis=1)
        lo = (probs >= s.mask_threshold - s.stability_offset).sum(axis=1)
        score = score * (hi / np.maximum(lo, 1)).astype(np.float32)
    return MaskSet(masks=masks, scores=score, prompts=prompts)


def _points_labels(dec: PromptDecoder, point_labels: np.ndarray, s: SegmentAllSettings,
                   group: np.ndarray | None = None) -> np.ndarray:
    xyz = dec.points_normalized
    lab = fill_nearest(point_labels, xyz)
    min_count = int(np.ceil(s.min_part_fraction * len(xyz)))
    lab = absorb_small_point_labels(lab, xyz, min_count, group=group)
    return relabel_contiguous(lab)


def _finish(dec: PromptDecoder, point_labels: np.ndarray, ms: MaskSet,
            scale: float | None) -> SegmentAllResult:
    k = int(point_labels.max()) + 1
    input_labels = None
    if dec.input_points is not None:
        tree = cKDTree(np.asarray(dec.points, np.float64))
        input_labels = point_labels[tree.query(dec.input_points)[1]]
    return SegmentAllResult(point_labels=point_labels, face_labels=None, num_parts=k,
                            scores=part_scores(point_labels, ms, k), scale=scale,
                            input_labels=input_labels)


def _segment(dec: PromptDecoder, scale: float | None, s: SegmentAllSettings
             ) -> tuple[SegmentAllResult, MaskSet]:
    ms = decode_masks(dec, scale, s)
    labels, _ = group_masks(ms, s)
    return _finish(dec, _points_labels(dec, labels, s), ms, scale), ms


def segment_points(dec: PromptDecoder, scale: float | None, s: SegmentAllSettings
                   ) -> SegmentAllResult:
    """Split a point cloud into parts at one (validated) scale; every point gets a label."""
    return _segment(dec, scale, s)[0]


def hierarchy_points(dec: PromptDecoder, scales: list[float], s: SegmentAllSettings
                     ) -> list[SegmentAllResult]:
    """Nested point-cloud segmentations, one per (validated) scale, in the given order:
    the coarsest first, each finer level intersected with the level above it and its
    small pieces absorbed inside their coarser part."""
    order = np.argsort(-np.asarray(scales), kind="stable")
    out: dict[int, SegmentAllResult] = {}
    prev: SegmentAllResult | None = None
    for i in order:
        res, ms = _segment(dec, scales[i], s)
        if prev is not None:
            k = int(res.point_labels.max()) + 1
            inter = relabel_contiguous(prev.point_labels * k + res.point_labels)
            res = _finish(dec, _points_labels(dec, inter, s, group=prev.point_labels), ms,
                          res.scale)
        out[int(i)] = res
        prev = res
    return [out[i] for i in range(len(scales))]
