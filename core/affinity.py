"""Dissimilarity of neighbouring superfaces: pair features and the model that scores them.

The merge tree (:mod:`core.merge_tree`) merges the least dissimilar neighbours first; this
module says how dissimilar two superfaces are: the probability that the boundary (or the
gap) between them separates two parts. Pure numpy, so it runs inside Blender.

Models (``affinity.json`` next to the network weights; :func:`load_affinity`):

* ``"logistic"`` — standardised features → logistic regression.
* ``"trees"`` — gradient-boosted regression trees (binary log-loss), exported as arrays
  (feature, threshold, left, right, value per node) and evaluated here in numpy.
* :func:`rule_dissimilarity` — the documented hand-made fallback when no file exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelFileError
from .superfaces import Superfaces

#: file name of a trained dissimilarity model inside a weights folder.
AFFINITY_FILE = "affinity.json"

#: names of the columns of :func:`pair_features`, in order.
FEATURE_NAMES = (
    "mesh_adjacent", "boundary_rel", "boundary_norm", "angle_mean", "angle_max",
    "concave", "convex", "consistent", "nonmanifold", "same_crease_region",
    "same_piece", "gap", "contact_rel", "log_share_min", "log_share_max",
    "centroid_dist", "normal_spread_min", "normal_spread_max", "flat_min", "flat_max",
    "feature_cos", "feature_dist",
)


def pair_features(sf: Superfaces) -> np.ndarray:
    """(G, len(FEATURE_NAMES)) float64 features of every graph edge of ``sf``.

    Lengths are divided by √(total area) and areas by the total area, so the features do
    not depend on the object's unit or size. ``feature_*`` are 0 without encoder features.
    """
    a, b = sf.pairs[:, 0], sf.pairs[:, 1]
    unit = np.sqrt(max(sf.total_area, 1e-300))
    share = np.maximum(sf.share, 1e-9)
    adj = (sf.boundary > 0).astype(float)
    per = np.minimum(sf.perimeter[a], sf.perimeter[b])
    ext = sf.extents
    flat = np.where(ext[:, 0] > 0, ext[:, 2] / np.maximum(ext[:, 0], 1e-12), 0.0)
    if sf.features is not None:
        fa, fb = sf.features[a].astype(np.float64), sf.features[b].astype(np.float64)
        na = np.linalg.norm(fa, axis=1)
        nb = np.linalg.norm(fb, axis=1)
        cos = (fa * fb).sum(axis=1) / np.maximum(na * nb, 1e-12)
        dist = np.linalg.norm(fa / np.maximum(na, 1e-12)[:, None]
                              - fb / np.maximum(nb, 1e-12)[:, None], axis=1)
    else:
        cos = np.zeros(len(a))
        dist = np.zeros(len(a))
    cols = [
        adj,
        sf.boundary / np.maximum(per, 1e-12),
        sf.boundary / unit,
        sf.angle_mean, sf.angle_max, sf.concave, sf.convex, sf.consistent, sf.nonmanifold,
        (sf.crease_region[a] == sf.crease_region[b]).astype(float),
        (sf.component[a] == sf.component[b]).astype(float),
        sf.gap,
        sf.contact / (np.minimum(sf.area[a], sf.area[b]) + 1e-300),
        np.log(np.minimum(share[a], share[b])), np.log(np.maximum(share[a], share[b])),
        np.linalg.norm(sf.centroid[a] - sf.centroid[b], axis=1) / unit,
        np.minimum(sf.normal_spread[a], sf.normal_spread[b]),
        np.maximum(sf.normal_spread[a], sf.normal_spread[b]),
        np.minimum(flat[a], flat[b]), np.maximum(flat[a], flat[b]),
        cos, dist,
    ]
    return np.stack(cols, axis=1)


def rule_dissimilarity(x: np.ndarray) -> np.ndarray:
    """Hand-made dissimilarity from :func:`pair_features` rows (used without a trained
    affinity file): a smooth border between chunks of one crease region is cheap unless
    it runs along a concave valley (the minima rule); a crease costs more, a concave one
    most; separate pieces that merely come close are probably different parts."""
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    concave, convex = x[:, col["concave"]], x[:, col["convex"]]
    smooth = x[:, col["same_crease_region"]] > 0
    p = np.where(smooth, 0.1 + 0.8 * concave, 0.35 + 0.45 * concave - 0.15 * convex)
    return np.where(x[:, col["mesh_adjacent"]] > 0, p, 0.7)


@dataclass
class AffinityModel:
    """A trained dissimilarity model (see the module docstring for the kinds).

    Attributes:
        kind: "logistic" or "trees".
        features: the feature names it was trained on (must equal :data:`FEATURE_NAMES`).
        params: arrays of the model (logistic: ``mean``, ``std``, ``coef``, ``bias``;
            trees: ``feature``, ``threshold``, ``left``, ``right``, ``value`` (concatenated
            nodes of all trees, child indices global, -1 at leaves), ``roots``, ``base``,
            ``learning_rate``).
        metadata: free-form provenance (training data, scores).
    """

    kind: str
    features: tuple[str, ...]
    params: dict[str, np.ndarray]
    metadata: dict

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(G,) dissimilarity in [0, 1] for feature rows ``x`` (G, K)."""
        x = np.asarray(x, np.float64)
        if self.kind == "logistic":
            p = self.params
            z = ((x - p["mean"]) / p["std"]) @ p["coef"] + float(p["bias"][0])
        elif self.kind == "trees":
            z = self._trees(x)
        else:
            raise ModelFileError(f"unknown affinity model kind {self.kind!r}")
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def _trees(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        feat, thr = p["feature"].astype(np.int64), p["threshold"]
        left, right = p["left"].astype(np.int64), p["right"].astype(np.int64)
        val = p["value"]
        z = np.full(len(x), float(p["base"][0]))
        rows = np.arange(len(x))
        for root in p["roots"].astype(np.int64):
            node = np.full(len(x), root)
            while True:
                inner = left[node] >= 0
                if not inner.any():
                    break
                n_in = node[inner]
                go_left = x[rows[inner], feat[n_in]] <= thr[n_in]
                node[inner] = np.where(go_left, left[n_in], right[n_in])
            z += float(p["learning_rate"][0]) * val[node]
        return z

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "features": list(self.features),
                           "params": {k: np.asarray(v).tolist() for k, v in self.params.items()},
                           "metadata": self.metadata})


def load_affinity(folder: str | Path | None) -> AffinityModel | None:
    """The ``affinity.json`` of a weights folder, or None when there is none."""
    if folder is None:
        return None
    path = Path(folder) / AFFINITY_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        model = AffinityModel(kind=str(raw["kind"]), features=tuple(raw["features"]),
                              params={k: np.asarray(v, np.float64)
                                      for k, v in raw["params"].items()},
                              metadata=dict(raw.get("metadata", {})))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: not a valid affinity model ({exc})") from exc
    if model.features != FEATURE_NAMES:
        raise ModelFileError(f"{path}: trained on other features {model.features}; "
                             f"this version computes {FEATURE_NAMES}")
    return model


def dissimilarity(sf: Superfaces, model: AffinityModel | None) -> np.ndarray:
    """(G,) dissimilarity of every graph edge of ``sf`` (the model, else the rule)."""
    x = pair_features(sf)
    if len(x) == 0:
        return np.zeros(0)
    return rule_dissimilarity(x) if model is None else model.predict(x)
