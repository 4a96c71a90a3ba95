"""Training objects held in memory, and the augmented batches stage 1 draws from them.

Points are float32 in each object's own frame (a batch normalises them to the model frame,
the bounding box in [-1, 1]); labels are int part ids per hierarchy level (level 0 =
finest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .common import AugmentConfig, augment_points


class InMemoryParts:
    """Every object of a shard folder held in memory (points, labels, level counts).

    Args:
        directory: shard folder.
        val_fraction: fraction of objects (every k-th, deterministic) held out.
    """

    def __init__(self, directory: str | Path, val_fraction: float = 0.03):
        from training.data.shards import ShardDataset

        ds = ShardDataset(directory)
        pts, labs, nl, fam = [], [], [], []
        n_levels = None
        for shard in ds.iter_shards():
            lab = shard["labels"]
            if n_levels is None:
                n_levels = lab.shape[1]
            if lab.shape[1] != n_levels:  # pad or trim to a common level count
                reps = [lab] + [lab[:, -1:]] * max(0, n_levels - lab.shape[1])
                lab = np.concatenate(reps, axis=1)[:, :n_levels]
            pts.append(shard["points"].astype(np.float32))
            labs.append(lab.astype(np.int16))
            nl.append(np.minimum(shard["num_levels"].astype(np.int64), n_levels))
            fam.append(shard["family"].astype(str))
        npts = {p.shape[1] for p in pts}
        if len(npts) > 1:  # shards at different N: keep the smallest common count
            n = min(npts)
            pts = [p[:, :n] for p in pts]
            labs = [lab[:, :, :n] for lab in labs]
        self.points = np.concatenate(pts)
        self.labels = np.concatenate(labs)
        self.num_levels = np.concatenate(nl)
        self.family = np.concatenate(fam)
        self.meta = ds.meta
        m = len(self.points)
        stride = max(2, int(round(1.0 / val_fraction))) if val_fraction > 0 else m + 1
        is_val = (np.arange(m) % stride) == stride - 1
        self.train_ids = np.flatnonzero(~is_val)
        self.val_ids = np.flatnonzero(is_val)

    def __len__(self) -> int:
        return len(self.points)


def make_batch(
    data: InMemoryParts,
    ids: np.ndarray,
    n_points: int,
    rng: np.random.Generator,
    aug: AugmentConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented points (B, n, 3), labels (B, L, n) int64 and level counts (B,)."""
    xyz, labels = [], []
    for i in ids:
        x, keep = augment_points(data.points[i], rng, aug, n_points)
        xyz.append(x)
        labels.append(data.labels[i][:, keep].astype(np.int64))
    return (
        torch.from_numpy(np.stack(xyz)),
        torch.from_numpy(np.stack(labels)),
        torch.from_numpy(data.num_levels[ids]),
    )
