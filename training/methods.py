"""The methods :mod:`training.evaluate` scores: the model and the classical baselines.

A method is a :class:`Method` subclass registered in :data:`ALL_METHODS` and
:func:`build_methods`. Its flags say what it answers (clicks, one labelling without GT
information, one labelling per tree level with oracle information) and its hooks return
per-point results on the evaluation sample's points (every method is scored on the same
points). For the benchmark metrics on faces (:mod:`training.psb_metrics`) a method may also
give labels of the original mesh faces (:meth:`Method.face_labels`); otherwise the
evaluator gives every face the label of the sampled point nearest to its centroid.

To add a method: subclass :class:`Method`, set ``name`` and the flags, implement the hooks
it answers, add its name to :data:`ALL_METHODS` and a constructor to ``build_methods``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from core.geometry import face_components
from training import baselines as bl
from training.devset import EvalSample
from training.psb_metrics import mode_of_counts

if TYPE_CHECKING:
    from training.evaluate import EvalConfig

ALL_METHODS = ("model", "count", "agglo", "cc", "grow", "ball", "kmeans", "dbscan")


class Method:
    """One method under evaluation. Subclasses set the flags and implement the hooks.

    ``begin`` returns None when the method applies to the sample, else the reason it
    does not (then nothing is scored for it on that object).
    """

    name = ""
    interactive = False
    has_noscale_full = False
    has_level_full = False
    level_oracle = ""  # what the per-level labellings are told: "K" or "scale"
    psb_main = ""  # labelling of the benchmark's main row ("" = noscale, else leaf)

    def begin(self, sample: EvalSample, protocol: str) -> str | None:
        self.sample = sample
        return None

    def predict(self, idx: int, scale: float | None) -> np.ndarray:  # (N,) bool
        raise NotImplementedError

    def segment(self) -> np.ndarray:  # (N,) int
        raise NotImplementedError

    def segment_levels(self) -> dict[int, np.ndarray]:
        raise NotImplementedError

    def psb_labellings(self) -> dict[str, np.ndarray]:
        """Extra (N,) point labellings scored by the benchmark metrics only, by key (e.g.
        ``mode_k``: told the mode of the human segment counts); call after
        :meth:`segment_levels`."""
        return {}

    def face_labels(self, key: str | int) -> np.ndarray | None:
        """(F,) labels of the ORIGINAL mesh faces (``sample.obj.faces`` order) of the
        labelling made last by :meth:`segment` (``key="noscale"``) or :meth:`segment_levels`
        (``key`` = the level's depth d), when the method labels faces itself; None = let the
        evaluator map the point labels to faces."""
        return None


def mesh_only(sample: EvalSample, protocol: str) -> str | None:
    """None when a mesh-only method applies to ``sample`` under ``protocol``, else why not."""
    if protocol != "mesh":
        return "needs the mesh protocol"
    if sample.faces_welded is None:
        return "point-cloud object (no faces)"
    return None


class CCMethod(Method):
    """Connected components of the welded mesh (Blender's *Separate by loose parts*)."""

    name, has_noscale_full = "cc", True

    def begin(self, sample, protocol):
        self.sample = sample
        return mesh_only(sample, protocol)

    def segment(self):
        s = self.sample
        self._faces = face_components(s.faces_welded, len(s.obj.vertices))
        return self._faces[np.asarray(s.point_faces, np.int64)]

    def face_labels(self, key):
        return self._faces if key == "noscale" else None


class GrowMethod(Method):
    """Training-free region growth over crease regions (:mod:`training.grow`)."""

    name, interactive = "grow", True

    def begin(self, sample, protocol):
        self.sample = sample
        reason = mesh_only(sample, protocol)
        if reason is not None:
            return reason
        from training.grow import RegionGrowth

        self.growth = RegionGrowth(sample.obj.vertices, sample.obj.faces, sample.points,
                                   sample.point_faces)
        return None

    def predict(self, idx, scale):
        return self.growth.mask(int(idx), scale)


class BallMethod(Method):
    """The ``round(s·N)`` points nearest the click (a fixed fraction without a scale)."""

    name, interactive = "ball", True

    def __init__(self, settings: bl.BaselineSettings):
        self.settings = settings

    def predict(self, idx, scale):
        frac = self.settings.ball_default_fraction if scale is None else scale
        return bl.ball_mask(self.sample.points, idx, frac)


def level_ks(sample: EvalSample) -> dict[int, int]:
    """Part count K of every tree level of the sample."""
    return {d: len(np.unique(lab)) for d, lab in sample.levels.items()}


class KMeansMethod(Method):
    """k-means on XYZ with the oracle K of every level."""

    name, has_level_full, level_oracle = "kmeans", True, "K"

    def __init__(self, settings: bl.BaselineSettings):
        self.settings = settings

    def segment_levels(self):
        cache: dict[int, np.ndarray] = {}
        out = {}
        for d, k in level_ks(self.sample).items():
            if k not in cache:
                cache[k] = bl.kmeans_labels(self.sample.points, k, self.settings)
            out[d] = cache[k]
        return out


class DBSCANMethod(Method):
    """DBSCAN on XYZ (no GT information)."""

    name, has_noscale_full = "dbscan", True

    def __init__(self, settings: bl.BaselineSettings):
        self.settings = settings

    def segment(self):
        return bl.dbscan_labels(self.sample.points, self.settings)


class SharedModel:
    """Loads ``core.Segmenter`` once and embeds each object once for ``model`` and ``agglo``."""

    def __init__(self, cfg: EvalConfig):
        self.cfg = cfg
        self.error: str | None = None
        self.seg = None
        self.key = None
        try:
            from core import Segmenter

            self.seg = Segmenter.from_pretrained(path=cfg.weights, num_threads=cfg.threads)
        except Exception as exc:  # report, never fake
            self.error = f"core.Segmenter unavailable: {type(exc).__name__}: {exc}"
        md = dict(getattr(self.seg, "metadata", {}) or {}) if self.seg is not None else {}
        self.trained = md.get("trained") if self.seg is not None else None
        self.metadata = {k: v for k, v in md.items() if k != "config"}

    def embed(self, sample: EvalSample, protocol: str) -> None:
        key = (sample.obj.object_id, protocol)
        if self.key == key:
            return
        seg, cfg = self.seg, self.cfg
        self.use_faces = protocol == "mesh" and sample.obj.is_mesh
        if self.use_faces:
            seg.set_mesh(
                sample.obj.vertices, sample.faces_welded, n_points=cfg.n_points, seed=cfg.seed
            )
        else:
            seg.set_points(sample.points, n_points=None, seed=cfg.seed)
        mp = np.asarray(seg.points)
        if mp.shape == sample.points.shape and np.allclose(mp, sample.points, atol=1e-6):
            self.to_model = None  # the model's points are the evaluation points
        else:  # evaluation point -> nearest model point
            self.to_model = cKDTree(mp).query(sample.points, k=1)[1]
        self.key = key

    def point_values(self, point_arr: np.ndarray, face_arr: np.ndarray | None, sample):
        """Read a model output back on the evaluation points (faces first, mesh protocol)."""
        if self.use_faces and face_arr is not None:
            return np.asarray(face_arr)[sample.point_faces]
        arr = np.asarray(point_arr)
        return arr if self.to_model is None else arr[self.to_model]

    def model_index(self, idx: int, sample: EvalSample) -> int:
        if self.to_model is None:
            return int(idx)
        return int(self.seg.nearest_point(sample.points[idx]))


class ModelMethod(Method):
    """The bundled S2AM3D model: clicks (with and without scale) and Segment All."""

    name, interactive, has_noscale_full, has_level_full = "model", True, True, True
    level_oracle = "scale"

    def __init__(self, shared: SharedModel):
        self.shared = shared

    def begin(self, sample, protocol):
        self.sample = sample
        self._faces: dict[str | int, np.ndarray] = {}
        if self.shared.seg is None:
            return self.shared.error
        self.shared.embed(sample, protocol)
        return None

    def predict(self, idx, scale):
        sh = self.shared
        r = sh.seg.predict(prompts=[(sh.model_index(idx, self.sample), True)], scale=scale)
        return sh.point_values(r.point_mask, r.face_mask, self.sample).astype(bool)

    def _seg_all(self, scale: float | None, keys: list[str | int],
                 num_parts: int | None = None) -> np.ndarray:
        """Segment All at ``scale`` (or into ``num_parts``): point labels, and the face
        labels kept under ``keys`` for :meth:`face_labels`."""
        res = self.shared.seg.segment_all(scale=scale, num_parts=num_parts)
        if self.shared.use_faces and res.face_labels is not None:
            for k in keys:  # welding keeps the face order: these are the original faces
                self._faces[k] = np.asarray(res.face_labels)
        return self.shared.point_values(res.point_labels, res.face_labels, self.sample)

    def segment(self):
        return self._seg_all(None, ["noscale"])

    def segment_levels(self):
        by_scale: dict[float, list[int]] = {}
        for d, s in self.sample.level_scales.items():
            by_scale.setdefault(float(s), []).append(d)
        out = {}
        for s, ds in by_scale.items():
            lab = self._seg_all(s, list(ds))
            out.update(dict.fromkeys(ds, lab))
        return dict(sorted(out.items()))

    def face_labels(self, key):
        return self._faces.get(key)


class CountMethod(ModelMethod):
    """The product's Segment All into a given number of parts
    (``Segmenter.segment_all(num_parts=K)``, :mod:`core.part_count`) with the oracle K of
    every level; on meshes with human segmentations also with K = the mode of their
    segment counts (the benchmark's own protocol for methods that need K)."""

    name, interactive, has_noscale_full, has_level_full = "count", False, False, True
    level_oracle, psb_main = "K", "mode_k"

    def segment_levels(self):
        by_k: dict[int, list[int]] = {}
        for d, k in level_ks(self.sample).items():
            by_k.setdefault(k, []).append(d)
        out = {}
        for k, ds in by_k.items():
            out.update(dict.fromkeys(ds, self._seg_all(None, list(ds), num_parts=k)))
        return dict(sorted(out.items()))

    def psb_labellings(self):
        humans = self.sample.obj.human_segs
        if humans is None or not len(humans):
            return {}
        k = mode_of_counts([len(np.unique(h)) for h in humans])  # as the reference row
        return {"mode_k": self._seg_all(None, ["mode_k"], num_parts=k)}


class AggloMethod(Method):
    """Ward clustering of the model's encoder features, cut at the oracle K per level."""

    name, has_level_full, level_oracle = "agglo", True, "K"

    def __init__(self, shared: SharedModel, settings: bl.BaselineSettings):
        self.shared, self.settings = shared, settings

    def begin(self, sample, protocol):
        self.sample = sample
        if self.shared.seg is None:
            return self.shared.error
        self.shared.embed(sample, protocol)
        return None

    def segment_levels(self):
        sh = self.shared
        ks = level_ks(self.sample)
        by_k = bl.agglo_labels(sh.seg.features, sh.seg.points, list(ks.values()), self.settings)
        to = sh.to_model
        return {d: by_k[k] if to is None else by_k[k][to] for d, k in ks.items()}


def build_methods(cfg: EvalConfig) -> tuple[list[Method], SharedModel | None]:
    """The methods of ``cfg.methods``, in that order, and the shared model (or None)."""
    shared = SharedModel(cfg) if {"model", "count", "agglo"} & set(cfg.methods) else None
    make = {
        "model": lambda: ModelMethod(shared),
        "count": lambda: CountMethod(shared),
        "agglo": lambda: AggloMethod(shared, cfg.baseline),
        "cc": CCMethod,
        "grow": GrowMethod,
        "ball": lambda: BallMethod(cfg.baseline),
        "kmeans": lambda: KMeansMethod(cfg.baseline),
        "dbscan": lambda: DBSCANMethod(cfg.baseline),
    }
    return [make[m]() for m in cfg.methods], shared
