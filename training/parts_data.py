"""Training objects held in memory, and the augmented batches stage 1 draws from them.

Points are float32 in each object's own frame (a batch normalises them to the model frame,
the bounding box in [-1, 1]); labels are int part ids per hierarchy level (level 0 =
finest); normals (loaded on request) are unit vectors in the object frame, zero where
the source had none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .common import AugmentConfig, augment_object


class InMemoryParts:
    """Every object of a shard folder held in memory (points, labels, level counts, and
    the points' normals when asked for).

    Args:
        directory: shard folder.
        val_fraction: fraction of objects (every k-th, deterministic) held out.
        normals: also keep the shards' ``normals`` (as float16, in :attr:`normals`, (M, N, 3));
            for encoders with ``ModelConfig.input_normals``. Otherwise :attr:`normals` is None.
    """

    def __init__(self, directory: str | Path, val_fraction: float = 0.03, normals: bool = False):
        from training.data.shards import ShardDataset

        ds = ShardDataset(directory)
        pts, labs, nl, fam, nrm = [], [], [], [], []
        n_levels = None
        for shard in ds.iter_shards():
            lab = shard["labels"]
            if n_levels is None:
                n_levels = lab.shape[1]
            if lab.shape[1] != n_levels:  # pad or trim to a common level count
                reps = [lab] + [lab[:, -1:]] * max(0, n_levels - lab.shape[1])
                lab = np.concatenate(reps, axis=1)[:, :n_levels]
            pts.append(shard["points"].astype(np.float32))
            if normals:
                nrm.append(shard["normals"].astype(np.float16))
            labs.append(lab.astype(np.int16))
            nl.append(np.minimum(shard["num_levels"].astype(np.int64), n_levels))
            fam.append(shard["family"].astype(str))
        npts = {p.shape[1] for p in pts}
        if len(npts) > 1:  # shards at different N: keep the smallest common count
            n = min(npts)
            pts = [p[:, :n] for p in pts]
            nrm = [x[:, :n] for x in nrm]
            labs = [lab[:, :, :n] for lab in labs]
        self.points = np.concatenate(pts)
        self.normals = np.concatenate(nrm) if normals else None
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
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """Augmented points (B, n, 3), their normals (B, n, 3) (None when ``data`` holds no
    normals), labels (B, L, n) int64 and level counts (B,)."""
    xyz, nrm, labels = [], [], []
    for i in ids:
        x, nr, keep = object_view(data, i, rng, aug, n_points)
        xyz.append(x)
        nrm.append(nr)
        labels.append(data.labels[i][:, keep].astype(np.int64))
    return (
        torch.from_numpy(np.stack(xyz)),
        None if data.normals is None else torch.from_numpy(np.stack(nrm)),
        torch.from_numpy(np.stack(labels)),
        torch.from_numpy(data.num_levels[ids]),
    )


def object_view(
    data: InMemoryParts, i: int, rng: np.random.Generator, aug: AugmentConfig,
    n_points: int | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """One augmented object: (xyz (n, 3), normals (n, 3) or None, keep (n,)); see
    :func:`training.common.augment_object`."""
    nrm = None if data.normals is None else data.normals[i]
    return augment_object(data.points[i], nrm, rng, aug, n_points)
