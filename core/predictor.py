"""Interactive predictor: embed a mesh or point cloud once, answer many prompts.

Shaped like segment-anything's ``SamPredictor``::

    seg = Segmenter.from_pretrained()          # bundled weights, ONNX Runtime without torch
    seg.set_mesh(vertices, faces)              # samples points, runs the encoder once
    r = seg.predict([(seg.nearest_point(xyz), True)], scale=0.2)
    r.face_mask                                # (F,) bool, every face of the original mesh

Cost model: ``set_mesh``/``set_points`` sample the object and run the encoder once
(:mod:`core.embedding`). Meshes: the first click, count or Segment All builds the
superfaces and the merge tree (:mod:`core.mesh_parts`); every answer after reads the tree.
Point clouds: a click with a scale grows over the cloud's graph and Segment All cuts the
cloud's merge tree (:mod:`core.cloud_parts`, each built once); a click without a scale runs
the network's prompt path: ``Backend.condition`` once per distinct scale value (cached, see
:attr:`PredictSettings.cond_cache_size`) and ``Backend.decode`` per call.

Frames: ``points`` and every coordinate argument are in the OBJECT frame (the frame of
the vertices given to :meth:`Segmenter.set_mesh`). The model sees the same points mapped
once into its frame by :func:`core.geometry.normalization_of` (bounding box of the samples
→ [-1, 1]³).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from .affinity import AffinityModel, load_affinity
from .automatic import SegmentAllResult, SegmentAllSettings, check_settings
from .cloud_parts import CloudParts
from .embedding import Embedding, embed
from .errors import InvalidInputError, InvalidPromptError
from .geometry import check_mesh_areas, check_points, sample_checked_surface
from .mesh_parts import MeshParts
from .mesh_regions import MeshStructure, nearest_point_of_faces
from .normals import sample_normals
from .part_count import check_count
from .predict_settings import (
    DEFAULT_N_POINTS,
    MAX_N_POINTS,
    NotReadyError,
    PredictResult,
    PredictSettings,
)
from .validation import check_prompts, check_scale, check_scales

__all__ = ["Segmenter", "PredictSettings", "PredictResult", "check_scale", "NotReadyError"]


class Segmenter:
    """Embed once, answer many prompts; Segment All and hierarchies on top.

    Args:
        backend: a loaded :class:`core.backends.Backend` (use :meth:`from_pretrained`).
        settings: :class:`PredictSettings` for :meth:`predict`.
    """

    def __init__(self, backend: Any, settings: PredictSettings | None = None) -> None:
        self.backend = backend
        self.settings = settings if settings is not None else PredictSettings()
        self._state: Embedding | None = None
        self._affinity: tuple[AffinityModel | None] | None = None  # loaded on first use

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls, path: str | None = None, backend: str = "auto", num_threads: int | None = None,
        settings: PredictSettings | None = None,
    ) -> Segmenter:
        """Load weights and build a segmenter.

        Args:
            path: checkpoint folder (``model.safetensors`` + ``config.json`` and/or the
                exported ONNX files); None = the bundled default weights.
            backend: "auto" (ONNX Runtime when torch is missing or ONNX files exist),
                "torch" or "onnx".
            num_threads: CPU threads for the backend; None = the backend's default.
        """
        from .backends import load_backend

        return cls(load_backend(path=path, backend=backend, num_threads=num_threads), settings)

    @property
    def metadata(self) -> dict:
        """The checkpoint's metadata (includes ``"trained"``: False for an untrained init)."""
        return dict(self.backend.metadata)

    @property
    def config(self) -> Any:
        """The model's :class:`core.config.ModelConfig`."""
        return self.backend.config

    # ------------------------------------------------------------------ inputs
    def set_mesh(
        self, vertices: np.ndarray, faces: np.ndarray, n_points: int = DEFAULT_N_POINTS,
        seed: int = 0, face_groups: np.ndarray | None = None,
    ) -> None:
        """Sample a triangle mesh, run the encoder once, and cache everything.

        Args:
            vertices: (V, 3) positions in the object frame (any unit).
            faces: (F, 3) triangle vertex indices (fan-triangulate polygons first).
            n_points: points sampled uniformly by area (the paper uses 10,000); at most
                :data:`MAX_N_POINTS`.
            seed: sampling seed; the same mesh and seed give the same result.
            face_groups: optional (F,) integer id per face (e.g. material index); Segment All
                can treat group boundaries as region boundaries
                (``SegmentAllSettings.split_by_face_groups``).

        Raises:
            InvalidInputError: empty mesh, bad shapes, NaN/inf, indices out of range,
                fewer than 3 distinct vertices, zero total area, or a bad ``n_points``.
        """
        n_points = self._check_n(n_points)
        # face areas computed once per mesh; int32 faces halve the biggest index arrays
        v, f, area = check_mesh_areas(vertices, faces, index_dtype=np.int32)
        groups = None
        if face_groups is not None:
            groups = np.array(face_groups).reshape(-1)  # a copy: later edits never leak in
            if len(groups) != len(f):
                raise InvalidInputError(
                    f"face_groups has {len(groups)} entries but the mesh has {len(f)} faces"
                )
        pts, pf = sample_checked_surface(v, f, area, n_points, seed=seed)
        self._embed(pts, pf, seed, lambda: sample_normals(v, f, pf))
        assert self._state is not None
        self._state.vertices, self._state.faces, self._state.face_groups = v, f, groups
        self._state.face_area = area

    def set_points(self, xyz: np.ndarray, n_points: int | None = None, seed: int = 0) -> None:
        """Use a point cloud (no faces) as input; runs the encoder once.

        Args:
            xyz: (M, 3) points in the object frame.
            n_points: keep at most this many points (seeded uniform random subset, which
                keeps the cloud's density like area-weighted sampling does); None = all
                points when M ≤ 10,000, else a random subset of 10,000; at most
                :data:`MAX_N_POINTS`.
            seed: seed of the subset.

        Weights trained with normals (``ModelConfig.input_normals``) get PCA normals of the
        kept points (:func:`core.normals.pca_normals`); meshes give their faces' normals.
        """
        arr = check_points(xyz, "points")
        cap = DEFAULT_N_POINTS if n_points is None else self._check_n(n_points)
        if len(arr) > cap:
            idx = np.sort(np.random.default_rng(seed).choice(len(arr), cap, replace=False))
            pts = arr[idx]
            if np.unique(pts, axis=0).shape[0] < 3:
                raise InvalidInputError("the subsampled points have fewer than 3 distinct positions")
        else:
            pts = arr
        self._embed(pts.astype(np.float32), None, seed)  # normals: PCA (core.normals)
        assert self._state is not None
        self._state.input_points = arr

    @staticmethod
    def _check_n(n: Any) -> int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 3:
            raise InvalidInputError(f"n_points must be an integer ≥ 3, got {n!r}")
        if int(n) > MAX_N_POINTS:
            raise InvalidInputError(
                f"n_points {int(n):,} is more than the supported maximum {MAX_N_POINTS:,} "
                f"(memory grows with the number of sampled points)"
            )
        return int(n)

    def _embed(self, pts: np.ndarray, pf: np.ndarray | None, seed: int,
               mesh_normals: Callable[[], np.ndarray] | None = None) -> None:
        """Run the encoder once (:func:`core.embedding.embed`) and forget the old object."""
        self._state = embed(self.backend, pts, pf, seed, mesh_normals)

    # ------------------------------------------------------------------ accessors
    def _need(self) -> Embedding:
        if self._state is None:
            raise NotReadyError("no object set: call set_mesh(...) or set_points(...) first")
        return self._state

    @property
    def is_mesh(self) -> bool:
        return self._need().faces is not None

    @property
    def points(self) -> np.ndarray:
        """(N, 3) float32 sampled points, object frame."""
        return self._need().points

    @property
    def points_normalized(self) -> np.ndarray:
        """(N, 3) float32 sampled points in the model frame [-1, 1]³."""
        return self._need().xyz_norm

    @property
    def point_faces(self) -> np.ndarray | None:
        """(N,) int64 face of each sampled point, or None for point clouds."""
        return self._need().point_faces

    @property
    def features(self) -> np.ndarray:
        """(N, D) float32 encoder features of the sampled points."""
        return self._need().features

    @property
    def num_faces(self) -> int | None:
        st = self._need()
        return None if st.faces is None else len(st.faces)

    @property
    def input_points(self) -> np.ndarray | None:
        """The caller's point cloud (float64), or None for meshes."""
        return self._need().input_points

    def nearest_point(self, xyz: np.ndarray) -> int:
        """Index of the sampled point nearest ``xyz`` (3,), object frame."""
        q = np.asarray(xyz, np.float64).reshape(-1)
        if q.shape != (3,) or not np.isfinite(q).all():
            raise InvalidPromptError(f"nearest_point needs one finite 3D position, got {xyz!r}")
        return int(self._tree().query(q)[1])

    def _tree(self) -> cKDTree:
        st = self._need()
        if "tree" not in st.cache:
            st.cache["tree"] = cKDTree(st.points.astype(np.float64))
        return st.cache["tree"]

    def mesh_structure(self) -> MeshStructure:
        """Welded connectivity of the current mesh (cached; see
        :meth:`core.mesh_regions.MeshStructure.build`)."""
        st = self._need()
        if st.faces is None:
            raise NotReadyError("mesh_structure needs a mesh (set_mesh), not a point cloud")
        if "mesh" not in st.cache:
            st.cache["mesh"] = MeshStructure.build(
                st.vertices, st.faces, weld_rel_tol=self.settings.weld_rel_tol,
                face_area=st.face_area)
        return st.cache["mesh"]

    def mesh_parts(self) -> MeshParts:
        """Superfaces and the merge tree of the current mesh (built on first use, then
        cached until the next ``set_mesh``)."""
        st = self._need()
        if st.faces is None:
            raise NotReadyError("mesh_parts needs a mesh (set_mesh), not a point cloud")
        if "parts" not in st.cache:
            if self._affinity is None:
                self._affinity = (load_affinity(getattr(self.backend, "path", None)),)
            st.cache["parts"] = MeshParts(
                self.mesh_structure(), st.point_faces, st.xyz_norm, st.features,
                st.face_groups, self._affinity[0], self.settings.superfaces,
                self.settings.tree, st.norm, seed=st.seed, consensus=self.settings.consensus)
        return st.cache["parts"]

    def cloud_parts(self) -> CloudParts:
        """The current point cloud's surface kind, growth graph and merge tree
        (:class:`core.cloud_parts.CloudParts`; each built on first use, kept until the next
        ``set_points``)."""
        st = self._need()
        if st.faces is not None:
            raise NotReadyError("cloud_parts needs a point cloud (set_points), not a mesh")
        if "cloud" not in st.cache:
            ps = self.settings
            st.cache["cloud"] = CloudParts(st.xyz_norm, st.points, st.features,
                                           st.input_points, ps.surface, ps.point_growth,
                                           ps.point_tree, ps.tree)
        return st.cache["cloud"]

    def face_nearest_point(self) -> np.ndarray:
        """(F,) int32 index of the sampled point nearest each face centroid (cached)."""
        st = self._need()
        if st.faces is None:
            raise NotReadyError("face_nearest_point needs a mesh (set_mesh)")
        if "face_nearest" not in st.cache:
            st.cache["face_nearest"] = nearest_point_of_faces(
                st.vertices, st.faces, st.points, tree=self._tree())
        return st.cache["face_nearest"]

    # ------------------------------------------------------------------ model calls
    def conditioned(self, scale: float | None) -> np.ndarray:
        """Scale-conditioned features (N, C) of the current object, cached per scale value."""
        return self._need().conditioned(self.backend, scale, self.settings.cond_cache_size)

    def decode(self, prompt_idx: np.ndarray, prompt_label: np.ndarray,
               scale: float | None) -> tuple[np.ndarray, np.ndarray]:
        """Decode a batch of prompt sets.

        Args:
            prompt_idx: (B, P) int64 point indices.
            prompt_label: (B, P) float32, 1 = positive, 0 = negative, -1 = padding.
            scale: validated scale or None.

        Returns:
            ``probs`` (B, N) float32 in [0, 1] and ``quality`` (B,) float32.
        """
        ps = self.settings
        return self._need().decode(self.backend, prompt_idx, prompt_label, scale,
                                   ps.cond_cache_size, ps.residual_weight)

    # ------------------------------------------------------------------ prompts
    def _check_prompts(self, prompts: Any) -> tuple[np.ndarray, np.ndarray]:
        return check_prompts(prompts, len(self._need().points))

    def predict(self, prompts: Any, scale: float | None = None,
                twins: bool = True) -> PredictResult:
        """Mask of the part under the positive prompts.

        Args:
            prompts: list of ``(point_index, is_positive)``; indices into :attr:`points`
                (see :meth:`nearest_point`); at least one positive.
            scale: None (no-scale mode) or the fraction in [0, 1] of the object's surface
                the part should cover.
            twins: meshes: on a one-piece mesh, one positive click's growth may take the
                clicked part's look-alikes (the other arm) before the body
                (:mod:`core.twins`); False = never. Point clouds ignore it.

        Raises:
            InvalidPromptError: bad indices, no positive prompt, or scale outside [0, 1].
            NotReadyError: no object set.
        """
        st = self._need()
        s = check_scale(scale)
        idx, lab = self._check_prompts(prompts)
        if st.faces is not None:
            ans = self.mesh_parts().answer(idx[0], lab[0], s, twins=bool(twins))
            return PredictResult(point_probs=ans.point_mask.astype(np.float32),
                                 point_mask=ans.point_mask, quality=ans.quality,
                                 face_mask=ans.face_mask, scale=s, node=ans.node)
        if s is not None:
            m, q = self.cloud_parts().click(idx[0][lab[0] == 1], idx[0][lab[0] == 0], s)
            return PredictResult(point_probs=m.astype(np.float32), point_mask=m,
                                 quality=q, face_mask=None, scale=s)
        probs, quality = self.decode(idx, lab, s)
        p = probs[0]
        return PredictResult(point_probs=p, point_mask=p >= self.settings.mask_threshold,
                             quality=float(quality[0]), face_mask=None, scale=s)

    # ------------------------------------------------------------------ automatic
    def segment_all(self, scale: float | None = None,
                    settings: SegmentAllSettings | None = None,
                    num_parts: int | None = None) -> SegmentAllResult:
        """Label every point (and face) at one scale, or into a given number of parts.

        Meshes: the merge tree's cut at ``scale`` (:meth:`core.merge_tree.MergeTree.cut`);
        point clouds: the cut of the cloud's merge tree (:mod:`core.point_tree`,
        :func:`core.automatic.segment_points`). With ``num_parts``: the count cut of
        :mod:`core.part_count`.

        Args:
            scale: None (the natural parts) or the fraction in [0, 1] of the object a part
                should cover.
            settings: :class:`core.automatic.SegmentAllSettings` (defaults when None).
            num_parts: exactly this many parts (≥ 1; fewer only when the object has fewer
                superfaces or tree leaves), each at least the settings' smallest part size
                (``min_mesh_part_fraction`` / ``min_part_fraction``). Not together with
                ``scale``.

        Returns:
            :class:`core.automatic.SegmentAllResult`; every point and face gets a label.
        """
        s = settings if settings is not None else SegmentAllSettings()
        check_settings(s)
        sc = check_scale(scale)
        st = self._need()
        if num_parts is not None:
            k = check_count(num_parts, sc)
            if st.faces is not None:
                return self.mesh_parts().segment_count(k, self.settings.count,
                                                       s.min_mesh_part_fraction)
            return self.cloud_parts().segment_count(k, s)
        if st.faces is not None:
            return self.mesh_parts().segment(sc, s.min_mesh_part_fraction)
        return self.cloud_parts().segment(sc, s)

    def count_parts(self, scale: float | None = None,
                    settings: SegmentAllSettings | None = None) -> int:
        """How many parts :meth:`segment_all` gives at ``scale`` (instant once the tree
        exists)."""
        s = settings if settings is not None else SegmentAllSettings()
        check_settings(s)
        sc = check_scale(scale)
        if self._need().faces is not None:
            return self.mesh_parts().count(sc, s.min_mesh_part_fraction)
        return int(self.segment_all(sc, s).num_parts)

    def hierarchy(self, scales: list[float],
                  settings: SegmentAllSettings | None = None) -> list[SegmentAllResult]:
        """Nested segmentations, one per scale (any order; returned in that order): every
        part of a finer level lies in exactly one part of each coarser level.

        Meshes and point clouds: nested cuts of their one merge tree.
        """
        s = settings if settings is not None else SegmentAllSettings()
        check_settings(s)
        checked = check_scales(scales)
        if self._need().faces is not None:
            return self.mesh_parts().hierarchy(checked, s.min_mesh_part_fraction)
        return self.cloud_parts().hierarchy(checked, s)
