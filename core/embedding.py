"""One embedded object: its samples, the encoder's features (run once) and the prompt path.

:func:`embed` is what :meth:`core.predictor.Segmenter.set_mesh` and ``set_points`` do after
sampling: map the points into the model frame, build the anchors and run the encoder once.
:class:`Embedding` keeps the result and answers the network's prompt path: scale
conditioning (cached per scale value, the expensive half) and mask decoding with the scale
prior added.

Frames: ``points`` in the OBJECT frame (the caller's), ``xyz_norm`` in the model frame
(:func:`core.geometry.normalization_of`: bounding box of the samples → [-1, 1]³).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .geometry import Normalization, normalization_of
from .prior import add_prior, scale_prior_logits


@dataclass
class Embedding:
    """An object after the encoder ran once.

    Attributes:
        points: (N, 3) float32 sampled points, object frame.
        xyz_norm: (N, 3) float32 the same points in the model frame.
        norm: the object → model frame map.
        point_faces: (N,) face of every sample (meshes) or None.
        features: (N, D) float32 encoder features.
        anchors: the backend's anchor structure (farthest-point anchors and kNN weights).
        seed: the sampling / anchor seed.
        vertices, faces, face_area, face_groups: the mesh (float64 (V, 3), int32 (F, 3)
            (int64 past 2**31 vertices), float64 (F,), optional (F,) ids), None for clouds.
        input_points: point clouds: the caller's points (float64), else None.
        cache: structures built on first use (welded mesh, merge trees, k-d tree).
    """

    points: np.ndarray
    xyz_norm: np.ndarray
    norm: Normalization
    point_faces: np.ndarray | None
    features: np.ndarray
    anchors: Any
    seed: int
    vertices: np.ndarray | None = None
    faces: np.ndarray | None = None
    face_area: np.ndarray | None = None
    face_groups: np.ndarray | None = None
    input_points: np.ndarray | None = None
    cache: dict = field(default_factory=dict)
    _cond: OrderedDict = field(default_factory=OrderedDict, repr=False)

    def conditioned(self, backend: Any, scale: float | None, cache_size: int) -> np.ndarray:
        """Scale-conditioned features (N, C) from ``backend``, cached for the last
        ``cache_size`` scale values."""
        if scale in self._cond:
            self._cond.move_to_end(scale)
            return self._cond[scale]
        cond = backend.condition(self.features, self.xyz_norm, self.anchors, scale)
        self._cond[scale] = cond
        while len(self._cond) > max(1, cache_size):
            self._cond.popitem(last=False)
        return cond

    def decode(self, backend: Any, prompt_idx: np.ndarray, prompt_label: np.ndarray,
               scale: float | None, cache_size: int, residual_weight: float
               ) -> tuple[np.ndarray, np.ndarray]:
        """Decode a batch of prompt sets.

        Args:
            backend: the loaded :class:`core.backends.Backend`.
            prompt_idx: (B, P) int64 point indices.
            prompt_label: (B, P) float32, 1 = positive, 0 = negative, -1 = padding.
            scale: validated scale or None.
            cache_size: see :meth:`conditioned`.
            residual_weight: weight of the network's logits on top of the scale prior
                (``PredictSettings.residual_weight``).

        Returns:
            ``probs`` (B, N) float32 in [0, 1] and ``quality`` (B,) float32.
        """
        cond = self.conditioned(backend, scale, cache_size)
        idx = np.asarray(prompt_idx, np.int64)
        lab = np.asarray(prompt_label, np.float32)
        probs, quality = backend.decode(cond, idx, lab)
        probs = np.asarray(probs, np.float32)
        strength = float(backend.config.scale_prior)
        if scale is not None and strength > 0:
            prior = scale_prior_logits(self.xyz_norm, idx, lab, scale, strength)
            probs = add_prior(probs, prior, residual_weight)
        return probs, np.asarray(quality, np.float32).reshape(-1)


def embed(backend: Any, pts: np.ndarray, point_faces: np.ndarray | None, seed: int,
          mesh_normals: Callable[[], np.ndarray] | None = None) -> Embedding:
    """Normalise ``pts`` (N, 3, object frame), build the anchors and run the encoder once.

    With a config asking for normals (``input_normals``) the encoder gets
    ``mesh_normals()`` (meshes: the sampled faces' normals), or the backend's PCA normals of
    the points when it is None (point clouds).
    """
    from .anchors import prepare_anchors

    pts = np.asarray(pts, np.float32)
    norm = normalization_of(pts)
    xyz_norm = norm.apply(pts)
    cfg = backend.config
    anchors = prepare_anchors(xyz_norm, int(cfg.num_anchors), int(cfg.knn_k), seed)
    if getattr(cfg, "input_normals", False):
        # directions: the model frame is the object frame up to translation and scale
        nrm = mesh_normals() if mesh_normals is not None else None
        feats = np.asarray(backend.encode(xyz_norm, nrm), np.float32)
    else:
        feats = np.asarray(backend.encode(xyz_norm), np.float32)
    return Embedding(points=pts, xyz_norm=xyz_norm, norm=norm, point_faces=point_faces,
                     features=feats, anchors=anchors, seed=seed)
