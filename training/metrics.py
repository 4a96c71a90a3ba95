"""Segmentation metrics of the paper, on point masks (all values in percent, 0–100).

* :func:`iou`: intersection over union of two binary masks.
* :func:`best_iou_per_region`: for each GT region, the best IoU over every predicted part of
  one or several labellings (the paper's full-segmentation score per part).
* :func:`iou_by_scale`: interactive IoU binned by the GT part's point fraction.
* :func:`mean_or_none`: the mean of a list that may be empty (``None`` then).

Aggregation used by :mod:`training.evaluate`: per object the mean over its regions, then the
mean over objects (every object weighs the same, however many parts it has).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

#: Default bin edges (point fraction of the GT part) of the IoU-vs-scale curve.
SCALE_BIN_EDGES = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)


def iou(pred: np.ndarray, target: np.ndarray) -> float:
    """IoU in percent of two boolean masks of the same shape.

    Raises ``ValueError`` when both masks are empty (IoU undefined).
    """
    p, t = np.asarray(pred, bool), np.asarray(target, bool)
    if p.shape != t.shape:
        raise ValueError(f"mask shapes differ: {p.shape} vs {t.shape}")
    union = np.count_nonzero(p | t)
    if union == 0:
        raise ValueError("IoU of two empty masks is undefined")
    return 100.0 * np.count_nonzero(p & t) / union


def iou_matrix(region_masks: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """IoU in percent (R, P) of every GT region against every predicted part.

    Args:
        region_masks: (R, N) bool GT masks.
        labels: (N,) int predicted part of every point (any non-negative ids; negative ids
            mean "unlabelled" and belong to no predicted part).

    Returns:
        (R, P) with P = ``labels.max() + 1`` (columns of absent ids are 0). Relabel huge,
        sparse ids compactly first (``np.unique(..., return_inverse=True)``).
    """
    masks = np.asarray(region_masks, bool)
    lab = np.asarray(labels, np.int64)
    if masks.ndim != 2 or lab.shape != (masks.shape[1],):
        raise ValueError(f"region masks {masks.shape} do not match labels {lab.shape}")
    n_parts = max(int(lab.max()) + 1, 1) if lab.size else 1
    ok = lab >= 0
    r_idx, p_idx = np.nonzero(masks & ok[None, :])
    inter = np.bincount(r_idx * n_parts + lab[p_idx], minlength=len(masks) * n_parts)
    inter = inter.reshape(len(masks), n_parts).astype(np.float64)
    sizes_r = masks.sum(axis=1)[:, None].astype(np.float64)
    sizes_p = np.bincount(lab[ok], minlength=n_parts)[None, :].astype(np.float64)
    union = sizes_r + sizes_p - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, 100.0 * inter / union, 0.0)
    return out


def compact_labels(labels: np.ndarray) -> np.ndarray:
    """Renumber the non-negative ids of ``labels`` to 0..P-1 (negative ids stay -1)."""
    lab = np.asarray(labels, np.int64)
    out = np.full(lab.shape, -1, np.int64)
    ok = lab >= 0
    if ok.any():
        _, out[ok] = np.unique(lab[ok], return_inverse=True)
    return out


def best_iou_per_region(
    region_masks: np.ndarray, labellings: Sequence[np.ndarray] | np.ndarray
) -> np.ndarray:
    """For every GT region the best IoU (percent) over the parts of all given labellings.

    Args:
        region_masks: (R, N) bool.
        labellings: one (N,) label array, or a sequence of them (e.g. one per tree level):
            every part of every labelling is a candidate.

    Returns:
        (R,) float64.
    """
    if isinstance(labellings, np.ndarray) and labellings.ndim == 1:
        labellings = [labellings]
    best = np.zeros(len(region_masks))
    for lab in labellings:
        best = np.maximum(best, iou_matrix(region_masks, compact_labels(lab)).max(axis=1))
    return best


def iou_by_scale(
    fractions: Iterable[float], ious: Iterable[float], edges: Sequence[float] = SCALE_BIN_EDGES
) -> list[dict]:
    """Mean IoU per bin of GT point fraction.

    Returns one dict per bin: ``lo``, ``hi`` (fraction bounds, ``lo < f <= hi``; the first
    bin also holds ``f = lo``), ``count``, ``mean_iou`` (None for an empty bin).
    """
    f = np.asarray(list(fractions), np.float64)
    v = np.asarray(list(ious), np.float64)
    out = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        sel = (f > lo) & (f <= hi) if i else (f >= lo) & (f <= hi)
        out.append(
            {
                "lo": float(lo),
                "hi": float(hi),
                "count": int(sel.sum()),
                "mean_iou": float(v[sel].mean()) if sel.any() else None,
            }
        )
    return out


def mean_or_none(values: Iterable[float | None]) -> float | None:
    """Mean of the non-None values, or None when there are none."""
    vals = [float(x) for x in values if x is not None]
    return float(np.mean(vals)) if vals else None
