"""Test-only helpers for the core inference tests: a geometric stand-in backend and meshes.

``BallBackend`` implements the three Backend methods (encode / condition / decode) with a
plain geometric rule (a soft ball around the positive clicks whose radius grows with the
scale) so predictor and Segment All logic can be tested without model weights. It is
never used by product code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import trimesh


@dataclass
class FakeConfig:
    num_anchors: int = 64
    knn_k: int = 8
    scale_prior: float = 0.0  # no geometric prior: the stand-in's masks are used as they are


class BallBackend:
    """Soft-ball masks: p = sigmoid((r(scale) - distance to nearest positive) / width)."""

    def __init__(self, quality: float = 0.9, width: float = 0.02) -> None:
        self.metadata = {"trained": False}
        self.config = FakeConfig()
        self.calls: Counter = Counter()
        self.quality = quality
        self.width = width

    def encode(self, xyz_norm: np.ndarray) -> np.ndarray:
        self.calls["encode"] += 1
        return np.asarray(xyz_norm, np.float32).copy()

    def condition(self, features, xyz_norm, anchors, scale):
        self.calls["condition"] += 1
        r = 0.3 if scale is None else 0.1 + 1.6 * float(scale)
        return np.concatenate([xyz_norm, np.full((len(xyz_norm), 1), r, np.float32)], axis=1)

    def decode(self, cond, prompt_idx, prompt_label):
        self.calls["decode"] += 1
        xyz, r = cond[:, :3], float(cond[0, 3])
        probs = np.zeros((prompt_idx.shape[0], len(xyz)), np.float32)
        for b in range(prompt_idx.shape[0]):
            pos = prompt_idx[b][prompt_label[b] == 1]
            neg = prompt_idx[b][prompt_label[b] == 0]
            d = np.linalg.norm(xyz[:, None] - xyz[pos][None], axis=2).min(axis=1)
            p = 1.0 / (1.0 + np.exp(np.clip((d - r) / self.width, -50, 50)))
            if len(neg):
                dn = np.linalg.norm(xyz[:, None] - xyz[neg][None], axis=2).min(axis=1)
                p = np.where(dn < d, 0.0, p)
            probs[b] = p
        return probs, np.full(prompt_idx.shape[0], self.quality, np.float32)


def boxes(offsets, extents=(1.0, 1.0, 1.0), subdivide: int = 0):
    """Separate axis-aligned boxes (one connected component each); returns (V, F, face_box)."""
    verts, faces, owner = [], [], []
    n = 0
    for i, off in enumerate(offsets):
        m = trimesh.creation.box(extents=extents)
        for _ in range(subdivide):
            m = m.subdivide()
        verts.append(np.asarray(m.vertices) + np.asarray(off, float))
        faces.append(np.asarray(m.faces) + n)
        owner.append(np.full(len(m.faces), i))
        n += len(m.vertices)
    return np.concatenate(verts), np.concatenate(faces), np.concatenate(owner)


def unweld(vertices, faces):
    """Give every face its own three vertices (like per-part OBJ files): same surface."""
    v = np.asarray(vertices)[np.asarray(faces).ravel()]
    return v, np.arange(len(v)).reshape(-1, 3)


def make_segmenter(monkeypatch=None, **kw):
    """A Segmenter over :class:`BallBackend` (anchors from core.anchors when present)."""
    from core import predictor

    try:
        import core.anchors  # noqa: F401
    except ImportError:
        if monkeypatch is None:
            raise
        monkeypatch.setattr(predictor, "_prepare_anchors", lambda *a: None)
    return predictor.Segmenter(BallBackend(**kw))


class PartOracleBackend:
    """A "good model" stand-in: the mask of a click is the part (given by ``part_of``) that
    holds the positive clicks, minus the parts of negative clicks.

    ``part_of(xyz_norm (N,3), scale) -> (N,) int`` defines the parts in the model frame at
    each scale (None = no-scale mode).
    """

    def __init__(self, part_of, quality: float = 0.9) -> None:
        self.metadata = {"trained": False}
        self.config = FakeConfig()
        self.calls: Counter = Counter()
        self.part_of = part_of
        self.quality = quality

    def encode(self, xyz_norm):
        self.calls["encode"] += 1
        return np.asarray(xyz_norm, np.float32).copy()

    def condition(self, features, xyz_norm, anchors, scale):
        self.calls["condition"] += 1
        return np.asarray(self.part_of(np.asarray(xyz_norm), scale))

    def decode(self, cond, prompt_idx, prompt_label):
        self.calls["decode"] += 1
        part = cond
        probs = np.zeros((prompt_idx.shape[0], len(part)), np.float32)
        for b in range(prompt_idx.shape[0]):
            pos = np.isin(part, part[prompt_idx[b][prompt_label[b] == 1]])
            neg = np.isin(part, part[prompt_idx[b][prompt_label[b] == 0]])
            probs[b] = np.where(pos & ~neg, 0.97, 0.02)
        return probs, np.full(prompt_idx.shape[0], self.quality, np.float32)
