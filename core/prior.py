"""The scale prior: a fixed geometric guess of the part that the decoder refines.

With a scale ``s`` the user asks for a part covering about ``s`` of the object's points. The
simplest answer, the ``ball`` baseline of the evaluation, is the ``round(s·N)`` points
nearest the positive clicks; on the dev set it already scores far above an untrained
decoder. When :attr:`core.config.ModelConfig.scale_prior` is κ > 0, the decoder's mask
logits get

    prior_i = κ · clip(1 − d_i / r_s, −1, 1)

added, where ``d_i`` is point i's distance to the nearest positive click and ``r_s`` is the
distance of the ``round(s·N)``-th nearest point (so the prior alone, thresholded at 0, is
exactly that ball). The network is trained with the same term (``training.train_decoder``),
so it learns the correction from a ball to the real part's shape instead of the whole mask.
Without a scale (the no-scale mode) the prior is zero. Negative clicks do not enter the
prior; the network handles them.

This module is numpy only (used at inference by every backend); the training code has a
torch twin with the same formula, kept equal by a test.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

#: smallest ball radius, in normalised units ([-1, 1] box), so s·N = 1 stays finite.
MIN_RADIUS = 1e-3


def scale_prior_logits(
    xyz: np.ndarray,
    prompt_idx: np.ndarray,
    prompt_label: np.ndarray,
    scale: float,
    strength: float,
) -> np.ndarray:
    """Prior logits (B, N) for B prompt sets over one object.

    Args:
        xyz: (N, 3) normalised points (the frame the model sees, [-1, 1]).
        prompt_idx: (B, P) int point indices of the clicks.
        prompt_label: (B, P) 1 positive, 0 negative, -1 padding.
        scale: part scale in [0, 1] (fraction of the object's points).
        strength: κ, the prior's largest magnitude in logits (0 gives zeros).

    Returns:
        float32 (B, N); rows without a positive click are all zero.
    """
    xyz = np.asarray(xyz, np.float32)
    idx = np.asarray(prompt_idx, np.int64)
    lab = np.asarray(prompt_label, np.float32)
    n = len(xyz)
    out = np.zeros((idx.shape[0], n), np.float32)
    if strength <= 0 or n == 0:
        return out
    k = int(np.clip(np.rint(float(scale) * n), 1, n))
    positive = lab > 0.5
    rows = np.flatnonzero(positive.any(axis=1))
    if len(rows) == 0:
        return out
    clicked, inverse = np.unique(idx[positive], return_inverse=True)
    dist = cdist(xyz[clicked], xyz).astype(np.float32)  # (U, N): clicked point to every point
    slot = np.full(idx.shape, -1, np.int64)
    slot[positive] = inverse
    d = np.full((len(rows), n), np.inf, np.float32)
    for j in range(idx.shape[1]):  # nearest positive click of each row
        s_j = slot[rows, j]
        has = s_j >= 0
        d[has] = np.minimum(d[has], dist[s_j[has]])
    r = np.maximum(np.partition(d, k - 1, axis=1)[:, k - 1 : k], MIN_RADIUS)
    out[rows] = strength * np.clip(1.0 - d / r, -1.0, 1.0)
    return out


def add_prior(probs: np.ndarray, prior: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """sigmoid(weight · logit(probs) + prior), with the logit clipped to ±16 (float32
    saturation); ``weight`` scales the decoder's own evidence against the prior."""
    p = np.clip(np.asarray(probs, np.float64), 1e-7, 1.0 - 1e-7)
    logit = weight * np.clip(np.log(p) - np.log1p(-p), -16.0, 16.0) + prior
    return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
