"""Build a dataset: objects from every source → pipeline → shards.

Object ``i`` of a build with seed ``S`` is drawn from ``np.random.default_rng([S, i])``
alone, so a build is deterministic per seed regardless of worker count, and shard ``s``
holds objects ``[s*K, (s+1)*K)``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.geometry import sample_surface

from .fuse import FuseSettings, fuse_mesh
from .parts import Part, flatten, nest_levels, tree_levels
from .procedural import FAMILIES, make_object
from .shards import KINDS, ObjectSample, write_meta, write_shard
from .union import UnionError, UnionSettings, union_parts


@dataclass(frozen=True)
class BuildConfig:
    """Everything that decides what a build contains.

    Attributes:
        n_points: surface points per object (the model's inference density).
        max_levels: L, hierarchy levels stored per object (coarsest repeated when fewer;
            deeper trees keep their finest L-1 levels plus the coarsest).
        shard_size: objects per shard (K).
        real_fraction: share of objects drawn from real multi-part meshes (needs the asset
            cache; falls back to procedural objects when the cache is absent).
        fused_fraction: share of objects remeshed into one surface by voxel fusion
            (:mod:`.fuse`; kind "voxel").
        union_fraction: share of objects made one welded surface by the exact boolean
            union of their parts (:mod:`.union`; kind "union": parts meet at creases,
            labels exact per triangle). Drawn from the same uniform number as
            ``fused_fraction`` (voxel below it, union in the next ``union_fraction``), so
            ``union_fraction=0`` reproduces builds made before the union kind.
        union_attempts: draws of a union object (a part that cannot be made manifold means
            a fresh object) before it is kept as separate parts.
        store_meshes: also store each object's mesh with per-face labels of every level
            (the shards' optional mesh records, :mod:`.shards`).
        mesh_max_faces: objects with more triangles get no mesh record (keeps shards small).
        deform_strength: scale of the random deformation of procedural objects (0 = none).
        p_y_up: probability of storing an object y-up instead of z-up (assets use both).
        p_random_rotation: probability of a uniformly random 3D rotation.
        families: procedural families to draw from (empty = all), uniformly.
        asset_cache: folder written by ``fetch-assets`` (None = no real meshes).
        quality_weights: quality-filter weights for real-mesh labelings (None = no filter).
        quality_threshold: objects whose quality score falls below are redrawn.
        fuse: remeshing settings.
    """

    n_points: int = 10_000
    max_levels: int = 6
    shard_size: int = 64
    real_fraction: float = 0.25
    fused_fraction: float = 0.2
    union_fraction: float = 0.15
    union_attempts: int = 3
    store_meshes: bool = False
    mesh_max_faces: int = 60_000
    deform_strength: float = 1.0
    p_y_up: float = 0.3
    p_random_rotation: float = 0.1
    families: tuple[str, ...] = ()
    asset_cache: str | None = None
    quality_weights: str | None = None
    quality_threshold: float = 0.5
    fuse: FuseSettings = field(default_factory=FuseSettings)
    union: UnionSettings = field(default_factory=UnionSettings)


UNION_STATS = {"union_failed": 0}  # per process; _build_shard reports the increments


def draw_kind(u: float, cfg: BuildConfig) -> str:
    """Object kind from one uniform number ``u`` in [0, 1): "voxel" below
    ``fused_fraction``, "union" in the next ``union_fraction``, else "separate"."""
    if u < cfg.fused_fraction:
        return "voxel"
    return "union" if u < cfg.fused_fraction + cfg.union_fraction else "separate"


def try_union(root: Part, cfg: BuildConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(vertices, faces, face_leaf)`` of the exact union of ``root``'s leaves (leaf ids
    as in :func:`~.parts.flatten`), or None (counted) when a part is not manifold."""
    try:
        u = union_parts([(lf.mesh.vertices, lf.mesh.faces) for lf in root.leaves()], cfg.union)
    except UnionError:
        UNION_STATS["union_failed"] += 1
        return None
    return u.vertices, u.faces, u.face_part


def mesh_record(v: np.ndarray, f: np.ndarray, face_labels: np.ndarray, point_face: np.ndarray,
                rotation: np.ndarray, cfg: BuildConfig) -> dict:
    """ObjectSample fields of the optional mesh record (empty when not stored).

    Args:
        v, f: the mesh the points were sampled on (object frame before ``rotation``).
        face_labels: (L_obj, F) per-face part ids; point_face: (N,) face of each point.
        rotation: (3, 3) the rotation applied to the points.
    """
    if not cfg.store_meshes or len(f) > cfg.mesh_max_faces:
        return {}
    return {"mesh_vertices": (np.asarray(v, np.float64) @ rotation.T).astype(np.float32),
            "mesh_faces": np.asarray(f, np.int32),
            "mesh_face_labels": nest_levels(face_labels),
            "point_face": np.asarray(point_face, np.int32)}


def face_labels_from_points(v: np.ndarray, f: np.ndarray, face_leaf: np.ndarray,
                            points: np.ndarray, point_face: np.ndarray, labels: np.ndarray
                            ) -> np.ndarray:
    """Per-face labels (L, F) from point labels (L, N) whose levels were computed on
    points (real meshes: area-ratio levels, filter, DBSCAN): a face with a point takes its
    first point's labels, any other face those of the nearest point of the same leaf
    (the nearest point at all when its leaf has none).

    Args:
        v, f: the mesh; face_leaf: (F,) leaf of each face; points: (N, 3) the samples in
        the mesh's frame; point_face: (N,) face of each sample; labels: (L, N).
    """
    from scipy.spatial import cKDTree

    f = np.asarray(f, np.int64)
    out = np.empty((labels.shape[0], len(f)), np.int64)
    hit, first = np.unique(point_face, return_index=True)
    out[:, hit] = labels[:, first]
    rest = np.setdiff1d(np.arange(len(f)), hit)
    if len(rest):
        cent = np.asarray(v, np.float64)[f[rest]].mean(1)
        pts = np.asarray(points, np.float64)
        big = 4.0 * float(np.ptp(np.asarray(v), axis=0).max() + 1.0)
        pleaf, fleaf = face_leaf[point_face], face_leaf[rest]
        tree = cKDTree(np.column_stack([pts, pleaf * big]))
        _, nn = tree.query(np.column_stack([cent, fleaf * big]))
        same = pleaf[nn] == fleaf
        if not same.all():  # leaves without points: nearest point anywhere
            _, nn[~same] = cKDTree(pts).query(cent[~same])
        out[:, rest] = labels[:, nn]
    return out


def _rotation(rng: np.random.Generator, cfg: BuildConfig) -> np.ndarray:
    """Random orientation: yaw about the up axis, optional y-up swap or full rotation."""
    from scipy.spatial.transform import Rotation

    if rng.random() < cfg.p_random_rotation:
        return Rotation.random(random_state=int(rng.integers(2**31))).as_matrix()
    yaw = rng.uniform(0, 2 * np.pi)
    r = Rotation.from_euler("z", yaw).as_matrix()
    if rng.random() < cfg.p_y_up:
        r = Rotation.from_euler("x", -np.pi / 2).as_matrix() @ r  # z-up -> y-up
    return r


def _limit_levels(labels: np.ndarray, max_levels: int) -> np.ndarray:
    if labels.shape[0] <= max_levels:
        return labels
    return np.concatenate([labels[: max_levels - 1], labels[-1:]])


def sample_labeled(vertices: np.ndarray, faces: np.ndarray, face_leaf: np.ndarray,
                   leaf_levels: np.ndarray, n_points: int, seed: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`sample_labeled_faces` without the face index of each point."""
    return sample_labeled_faces(vertices, faces, face_leaf, leaf_levels, n_points, seed)[:3]


def sample_labeled_faces(
    vertices: np.ndarray,
    faces: np.ndarray,
    face_leaf: np.ndarray,
    leaf_levels: np.ndarray,
    n_points: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample points on a labelled mesh.

    Args:
        vertices, faces: the mesh (object frame).
        face_leaf: (F,) leaf id of each face.
        leaf_levels: (L, n_leaves) part id of each leaf per level (nested).
        n_points: points to sample; seed: sampling seed.

    Returns:
        points float32 (N, 3), unit face normals float32 (N, 3), labels int64 (L, N) with
        nesting enforced (ids renumbered 0..P-1), and the face index int64 (N,) of each point.
    """
    pts, fi = sample_surface(vertices, faces, n_points, seed=seed)
    tri = np.asarray(vertices, np.float64)[np.asarray(faces)[fi]]
    nrm = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True) + 1e-12
    labels = nest_levels(leaf_levels[:, face_leaf[fi]])
    return pts, nrm.astype(np.float32), labels, fi


def _procedural_root(rng: np.random.Generator, cfg: BuildConfig) -> tuple[str, Part]:
    fams = list(cfg.families) or sorted(FAMILIES)
    family = fams[int(rng.integers(len(fams)))]
    return family, make_object(family, int(rng.integers(2**62)), cfg.deform_strength)


def procedural_sample(index: int, seed: int, cfg: BuildConfig) -> ObjectSample:
    """Object ``index`` of the build when it is procedural (any kind, :func:`draw_kind`)."""
    rng = np.random.default_rng([seed, index, 1])
    family, root = _procedural_root(rng, cfg)
    kind = draw_kind(rng.random(), cfg)
    united = None
    if kind == "union":
        for attempt in range(cfg.union_attempts):
            if attempt:  # the previous object had a part that is not manifold
                family, root = _procedural_root(rng, cfg)
            united = try_union(root, cfg)
            if united is not None:
                break
        kind = kind if united is not None else "separate"
    flat = flatten(root)
    levels = _limit_levels(tree_levels(flat), cfg.max_levels)
    v, f, fl = united if united is not None else (flat.vertices, flat.faces, flat.face_leaf)
    if kind == "voxel":
        v, f, fl = fuse_mesh(v, f, fl, seed=int(rng.integers(2**31)), settings=cfg.fuse)
    pts, nrm, labels, fi = sample_labeled_faces(v, f, fl, levels, cfg.n_points,
                                                int(rng.integers(2**31)))
    r = _rotation(rng, cfg)
    return ObjectSample(
        points=(pts @ r.T).astype(np.float32),
        normals=(nrm @ r.T).astype(np.float32),
        labels=labels,
        family=family,
        source=f"procedural:{family}",
        fused=kind == "voxel",
        kind=kind,
        **mesh_record(v, f, levels[:, fl], fi, r, cfg),
    )


_REAL_LIBRARY = None


def make_sample(index: int, seed: int, cfg: BuildConfig) -> ObjectSample:
    """Object ``index`` of a build with ``seed`` (deterministic)."""
    rng = np.random.default_rng([seed, index, 0])
    if cfg.asset_cache and rng.random() < cfg.real_fraction:
        lib = real_library(cfg)
        if len(lib):
            got = lib.sample(index, seed)
            if got is not None:
                return got
    return procedural_sample(index, seed, cfg)


def real_library(cfg: BuildConfig):
    """The process-wide :class:`~training.data.realmesh.RealLibrary` for ``cfg``."""
    global _REAL_LIBRARY
    from .realmesh import RealLibrary

    if _REAL_LIBRARY is None or _REAL_LIBRARY.cfg != cfg:
        _REAL_LIBRARY = RealLibrary(Path(cfg.asset_cache), cfg)
    return _REAL_LIBRARY


def _build_shard(args) -> dict:
    out, s, start, stop, seed, cfg = args
    before = dict(real_library(cfg).stats) if cfg.asset_cache else {}
    union_before = UNION_STATS["union_failed"]
    samples = [make_sample(i, seed, cfg) for i in range(start, stop)]
    after = dict(real_library(cfg).stats) if cfg.asset_cache else {}
    write_shard(Path(out) / f"shard_{s:05d}.npz", samples, cfg.max_levels)
    return {
        "shard": s,
        "n": len(samples),
        "families": [x.family for x in samples],
        "sources": [x.source.split(":")[0] for x in samples],
        "fused": int(sum(x.fused for x in samples)),
        "kinds": [x.object_kind for x in samples],
        "meshes": int(sum(x.has_mesh for x in samples)),
        "union_failed": UNION_STATS["union_failed"] - union_before,
        "parts": [[int(lab.max()) + 1 for lab in x.labels] for x in samples],
        "filter": {k: after[k] - before.get(k, 0) for k in after},
    }


def build(out: Path | str, n_objects: int, seed: int, cfg: BuildConfig, workers: int = 2,
          command: str | None = None) -> dict:
    """Build ``n_objects`` into shard folder ``out`` and return the meta dict written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("shard_*.npz"):
        old.unlink()
    k = cfg.shard_size
    jobs = [(str(out), s, s * k, min(n_objects, (s + 1) * k), seed, cfg)
            for s in range((n_objects + k - 1) // k)]
    t0 = time.time()
    results = []
    with tqdm(total=n_objects, unit="obj", desc="build") as bar:
        if workers <= 1:
            for j in jobs:
                results.append(_build_shard(j))
                bar.update(results[-1]["n"])
        else:
            # a worker that dies (e.g. native code crashing) raises BrokenProcessPool here
            # instead of leaving the build waiting forever, as a multiprocessing.Pool would
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                for fut in as_completed([pool.submit(_build_shard, j) for j in jobs]):
                    results.append(fut.result())
                    bar.update(results[-1]["n"])
    results.sort(key=lambda r: r["shard"])
    fams: dict[str, int] = {}
    srcs: dict[str, int] = {}
    for r in results:
        for fam in r["families"]:
            fams[fam] = fams.get(fam, 0) + 1
        for src in r["sources"]:
            srcs[src] = srcs.get(src, 0) + 1
    meta = {
        "objects": n_objects,
        "seed": seed,
        "n_points": cfg.n_points,
        "max_levels": cfg.max_levels,
        "shard_sizes": [r["n"] for r in results],
        "families": dict(sorted(fams.items())),
        "sources": dict(sorted(srcs.items())),
        "fused": int(sum(r["fused"] for r in results)),
        "kinds": {k: int(sum(r["kinds"].count(k) for r in results)) for k in KINDS},
        "union_failed_draws": int(sum(r["union_failed"] for r in results)),
        "meshes": int(sum(r["meshes"] for r in results)),
        "quality_filter": {k: int(sum(r["filter"].get(k, 0) for r in results))
                           for k in ("levels_scored", "levels_rejected", "redraws")},
        "config": json.loads(json.dumps(asdict(cfg))),
        "workers": workers,
        "seconds": round(time.time() - t0, 1),
        "command": command or " ".join(sys.argv),
    }
    write_meta(out, meta)
    return meta
