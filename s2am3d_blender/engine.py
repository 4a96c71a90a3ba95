"""The add-on's bridge to ``core``: model loading, the per-mesh encoder cache and the
Segment All job. No bpy here, so the job can run in a worker thread and in tests.

Frames and units: every array is in the object's own frame (Blender local coordinates,
before ``matrix_world``); ``scale`` is the fraction of the object's points a part covers
(0–1) or ``None`` for the model's no-scale mode.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import labels as lab
from ._core import core, errors


@dataclass(frozen=True)
class ModelOptions:
    """Which model to run. ``path``: folder holding the weights (``None`` = the bundled
    default); ``backend``: ``"onnx"`` inside Blender (torch is never needed there);
    ``num_threads``: ONNX Runtime intra-op threads (``None`` = its default)."""

    path: str | None = None
    backend: str = "onnx"
    num_threads: int | None = None


@dataclass(frozen=True)
class Geometry:
    """A mesh (or vertex-only point cloud) ready for the model.

    ``vertices`` (V, 3) float object frame (float32 from Blender); ``triangles`` (T, 3)
    int (Blender's loop triangles, int32; empty for a point cloud); ``tri_poly`` (T,) the
    polygon of each triangle;
    ``n_polys`` the polygon count of the Blender mesh; ``face_groups`` (T,) optional id
    per triangle (the material index) that Segment All may treat as region boundaries.
    """

    name: str
    vertices: np.ndarray
    triangles: np.ndarray
    tri_poly: np.ndarray
    n_polys: int
    face_groups: np.ndarray | None = None

    @property
    def is_point_cloud(self) -> bool:
        return len(self.triangles) == 0

    @cached_property
    def key(self) -> str:
        k = lab.mesh_key(self.vertices, self.triangles)
        if self.face_groups is not None:
            k += lab.mesh_key(self.face_groups[:, None].astype(float), self.triangles[:0])
        return k


@dataclass(frozen=True)
class SegmentOptions:
    """Settings of one Segment All run.

    ``scale``: part size as a fraction of the object (0–1), ``None`` = no-scale mode;
    ``n_points``: surface points sampled per object; ``seed``: sampling seed;
    ``hierarchy``: extra scales (coarse or fine, 0–1) segmented too; with a ``scale`` the
    levels nest (``core``'s ``hierarchy``: every finer part lies in one coarser part); in
    no-scale mode the extra scales nest among themselves;
    ``overrides``: fields of ``core.SegmentAllSettings`` to change; only the names in
    :data:`OVERRIDABLE` (the smallest part) are accepted;
    ``num_parts``: Segment All into exactly this many parts (fewer only when the object
    has fewer); ``None`` = by ``scale``. When set, ``scale`` is not used (the first level
    is the count cut, its ``scale`` is ``None``); ``hierarchy`` scales still follow it.
    """

    scale: float | None = 0.2
    n_points: int = 10000
    seed: int = 0
    hierarchy: tuple[float, ...] = ()
    overrides: dict = field(default_factory=dict)
    num_parts: int | None = None

    def __post_init__(self) -> None:
        k = self.num_parts
        whole = isinstance(k, (int, np.integer)) and not isinstance(k, bool)
        if k is not None and not (whole and k >= 1):
            raise ValueError(f"num_parts is {k!r}; set it to a whole number of parts, 1 or "
                             "more (None = Segment All by the scale)")

    def core_settings(self):
        """``core.SegmentAllSettings`` with :attr:`overrides` applied (other names raise)."""
        cls = core().SegmentAllSettings
        names = {f.name for f in dataclasses.fields(cls)} & set(OVERRIDABLE)
        unknown = sorted(set(self.overrides) - names)
        if unknown:
            raise ValueError(f"unknown Segment All setting(s) {unknown}; known: {sorted(names)}")
        return cls(**self.overrides)


#: The ``core.SegmentAllSettings`` fields the add-on sets (the panel's Min Part Size, which
#: sets both the point-cloud and the mesh minimum).
OVERRIDABLE = ("min_part_fraction", "min_mesh_part_fraction")


class RuntimeUnavailable(RuntimeError):
    """ONNX Runtime cannot be imported in this Python; the message says what to do."""


def _from_pretrained(model: ModelOptions):
    """``core.Segmenter.from_pretrained`` with an import failure of ONNX Runtime turned into
    :class:`RuntimeUnavailable` (one line naming this Python and the zip to install)."""
    try:
        return core().Segmenter.from_pretrained(
            path=model.path, backend=model.backend, num_threads=model.num_threads
        )
    except ImportError as exc:
        py = f"{sys.version_info.major}.{sys.version_info.minor}"
        raise RuntimeUnavailable(
            f"ONNX Runtime cannot be loaded ({exc.name or exc}): this Blender runs Python "
            f"{py}; install the S2AM3D zip made for it (py{py.replace('.', '')} in its name) "
            "and restart Blender"
        ) from None


class EncoderCache:
    """Segmenters with their encoded mesh, keyed by mesh state and model options.

    Encoding runs once per mesh state (positions + faces hash); a click or a scale change
    only decodes. Holds at most ``max_items`` meshes (least recently used dropped).
    Thread-safe: the Segment All worker and the main thread share one cache.
    """

    def __init__(self, max_items: int = 4):
        self.max_items = max_items
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: tuple) -> bool:
        with self._lock:
            return key in self._items

    @staticmethod
    def key_of(geom: Geometry, model: ModelOptions, n_points: int, seed: int) -> tuple:
        return (geom.key, model, int(n_points), int(seed))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def peek(self, geom_key: str, n_points: int | None = None):
        """The segmenter already holding the mesh state ``geom_key`` (with ``n_points``
        sampled when given, else any), or ``None``; never encodes."""
        with self._lock:
            for key, seg in reversed(self._items.items()):
                if key[0] == geom_key and (n_points is None or key[2] == int(n_points)):
                    return seg
        return None

    def get(self, geom: Geometry, model: ModelOptions, n_points: int, seed: int = 0):
        """Return ``(segmenter, was_cached)`` with ``geom`` encoded (encodes on a miss)."""
        key = self.key_of(geom, model, n_points, seed)
        with self._lock:
            seg = self._items.get(key)
            if seg is not None:
                self._items.move_to_end(key)
                return seg, True
        seg = _from_pretrained(model)
        if geom.is_point_cloud:
            n = None if len(geom.vertices) <= n_points else int(n_points)
            seg.set_points(geom.vertices, n_points=n, seed=seed)
        else:
            seg.set_mesh(geom.vertices, geom.triangles, n_points=int(n_points), seed=seed,
                         face_groups=geom.face_groups)
        with self._lock:
            self._items[key] = seg
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return seg, False


#: The module-level cache shared by Pick Parts and Segment All.
CACHE = EncoderCache()


def point_labels_to_vertices(seg, geom: Geometry, point_labels: np.ndarray) -> np.ndarray:
    """Labels per vertex of a point cloud from labels per sampled point."""
    pts = np.asarray(seg.points)
    if len(pts) == len(geom.vertices) and np.allclose(pts, geom.vertices, atol=1e-5):
        return np.asarray(point_labels)
    return lab.nearest_labels(geom.vertices, pts, point_labels)


@dataclass
class Level:
    """One segmentation of an object. Meshes: ``poly_labels`` (F,) and ``tri_labels``
    (T,); point clouds: ``vertex_labels`` (V,). Labels are 0..num_parts-1 (compacted).
    ``scale`` is ``None`` for the no-scale mode and for a part-count level (``asked``)."""

    scale: float | None
    num_parts: int
    poly_labels: np.ndarray | None = None
    tri_labels: np.ndarray | None = None
    vertex_labels: np.ndarray | None = None
    #: the part count asked for (a count level, ``scale`` None), else ``None``
    asked: int | None = None

    def sizes(self) -> list[int]:
        """Faces per part (meshes) or vertices per part (point clouds)."""
        arr = self.poly_labels if self.poly_labels is not None else self.vertex_labels
        return np.bincount(arr[arr >= 0], minlength=self.num_parts).tolist()


@dataclass
class ObjectResult:
    """Segment All result of one object: ``levels[0]`` is the main scale (or part count);
    further levels are the hierarchy scales in the order given. ``timings`` in seconds."""

    name: str
    levels: list[Level]
    point_cloud: bool
    timings: dict[str, float]
    encoder_cached: bool


def plural(n: int, word: str = "part") -> str:
    """``1 part``, ``2 parts``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def _compact(labels: np.ndarray) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels, np.int64)
    ids = np.unique(labels[labels >= 0])
    remap = np.full(int(labels.max(initial=-1)) + 2, -1, np.int64)
    remap[ids + 1] = np.arange(len(ids))
    return remap[labels + 1], len(ids)


def level_from_result(seg, geom: Geometry, res, scale: float | None) -> Level:
    """Turn a ``core`` Segment All result into polygon / vertex labels of ``geom``."""
    if geom.is_point_cloud:
        per_vertex = getattr(res, "input_labels", None)
        if per_vertex is None or len(per_vertex) != len(geom.vertices):
            per_vertex = point_labels_to_vertices(seg, geom, res.point_labels)
        v, n = _compact(per_vertex)
        return Level(scale, n, vertex_labels=v)
    # the part count is the polygons': a part that holds no polygon of its own (a triangle
    # of a quad whose other triangle went elsewhere) is not a part the user gets
    tri = np.asarray(res.face_labels, np.int64)
    poly, n = _compact(lab.polygon_labels(tri, geom.tri_poly, geom.n_polys))
    poly = poly.astype(np.int32)
    return Level(scale, n, poly_labels=poly, tri_labels=poly[geom.tri_poly])


def segment_object(geom: Geometry, model: ModelOptions, opts: SegmentOptions,
                   cache: EncoderCache = CACHE, on_encoded=None) -> ObjectResult:
    """Encode (or reuse) and run Segment All (at ``opts.scale``, or into ``opts.num_parts``
    parts, plus hierarchy scales) on one object; ``on_encoded()`` (optional) is called
    between the two stages (progress reporting)."""
    t0 = time.perf_counter()
    settings = opts.core_settings()
    seg, cached = cache.get(geom, model, opts.n_points, opts.seed)
    t1 = time.perf_counter()
    if on_encoded is not None:
        on_encoded()
    count = opts.num_parts
    if opts.hierarchy and opts.scale is not None and count is None:
        scales = [opts.scale, *opts.hierarchy]
        results = seg.hierarchy(scales, settings=settings)
    else:
        if count is not None:  # the count cut: core never gets a scale with it
            scales = [None]
            results = [seg.segment_all(num_parts=int(count), settings=settings)]
        else:
            scales = [opts.scale]
            results = [seg.segment_all(scale=opts.scale, settings=settings)]
        if opts.hierarchy:
            scales += list(opts.hierarchy)
            results += seg.hierarchy(list(opts.hierarchy), settings=settings)
    levels = [level_from_result(seg, geom, r, s) for r, s in zip(results, scales)]
    if count is not None:
        levels[0].asked = int(count)
    t2 = time.perf_counter()
    return ObjectResult(geom.name, levels, geom.is_point_cloud,
                        {"encode_s": t1 - t0, "segment_s": t2 - t1}, cached)


def predict_mask(seg, geom: Geometry, prompts, scale: float | None,
                 twins: bool = True) -> tuple[np.ndarray, float]:
    """Mask of the prompted part: per triangle (meshes) or per vertex (point clouds), and
    the model's quality estimate. ``prompts``: ``[(point index, positive?), ...]``;
    ``twins``: the growth may take the part's look-alikes (the panel's Matching Parts,
    ``core.Segmenter.predict``)."""
    r = seg.predict(prompts=list(prompts), scale=scale, twins=twins)
    if geom.is_point_cloud:
        mask = point_labels_to_vertices(seg, geom, np.asarray(r.point_mask, np.int64)) > 0
    else:
        mask = np.asarray(r.face_mask, bool)
    return mask, float(r.quality)


class SegmentJob:
    """Segment All over several objects; :meth:`run` is the synchronous path and the body
    of the worker thread started by :meth:`start` (same code, no bpy inside).

    Progress counts two stages per object (encoding, then Segment All); ``current`` names
    the object and stage. :meth:`cancel` stops before the next object (a single object's
    model call is not interruptible).
    """

    def __init__(self, geoms: list[Geometry], model: ModelOptions, opts: SegmentOptions,
                 cache: EncoderCache = CACHE):
        self.geoms = geoms
        self.model = model
        self.opts = opts
        self.cache = cache
        self.results: list[ObjectResult] = []
        self.errors: dict[str, str] = {}
        self.done = threading.Event()
        self._cancel = threading.Event()
        self.current: str = ""
        self.thread: threading.Thread | None = None
        self._half = 0.0

    @property
    def progress(self) -> float:
        """Fraction of the work done, 0–1."""
        n = max(1, len(self.geoms))
        return min(1.0, (len(self.results) + len(self.errors) + self._half) / n)

    def _encoded(self) -> None:
        self._half = 0.5
        self.current = self.current.replace("encoding", "segmenting")

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        """Segment every object in turn; errors of one object are kept and do not stop
        the others (``errors[name] = message``)."""
        S2AM3DError = errors().S2AM3DError
        try:
            for geom in self.geoms:
                if self.cancelled:
                    break
                self.current = f"{geom.name} (encoding)"
                try:
                    res = segment_object(geom, self.model, self.opts, self.cache,
                                         on_encoded=self._encoded)
                    self._half = 0.0
                    self.results.append(res)
                except (S2AM3DError, ValueError, OSError, RuntimeUnavailable) as exc:
                    self._half = 0.0
                    self.errors[geom.name] = describe_error(exc)
        finally:
            self.done.set()
            _RUNNING.discard(self)

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.run, name="s2am3d-segment-all", daemon=True)
        _RUNNING.add(self)
        self.thread.start()
        return self.thread


#: Jobs whose worker thread is running (their segmenters must not be used meanwhile).
_RUNNING: set = set()


def job_running() -> bool:
    """True while a Segment All worker thread runs."""
    return bool(_RUNNING)


def describe_error(exc: BaseException) -> str:
    """One line in the user's words for an error of one object (no exception class names):
    what is wrong, and for geometry, that it is the mesh's own data."""
    err = errors()
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, err.InvalidInputError):
        return f"its mesh cannot be segmented: {msg}"
    if isinstance(exc, err.ModelFileError):
        return f"model file problem: {msg}"
    if isinstance(exc, err.InvalidPromptError):
        return f"setting out of range: {msg}"
    return msg


def load_check(model: ModelOptions) -> dict:
    """Load the model once (no mesh) and return its metadata; raises ``ModelFileError``
    (or another ``S2AM3DError``) for a missing or corrupt model file."""
    seg = _from_pretrained(model)
    return dict(getattr(seg, "metadata", {}) or {})
