"""Exact boolean union of an object's parts, with every output triangle's source part.

Separately modelled parts overlap, touch and interpenetrate (legs enter seats, handles enter
walls). Real one-piece meshes instead meet at *creases*: the surfaces are cut where they
cross, the buried pieces are gone, and the vertices along the junction are shared. The
``manifold3d`` library (Apache-2.0) computes that union robustly and keeps, for each output
triangle, the id of the input mesh it came from, so part labels stay exact: no nearest-
neighbour transfer as in the voxel fusion of :mod:`.fuse`.

Each part must be a closed 2-manifold for the union to be defined. :func:`part_manifold`
merges coincident vertices, caps simple boundary loops (open ends of revolved profiles,
open shells) with a fan and fixes inside-out parts; a part that still is not manifold makes
:func:`union_parts` raise :class:`UnionError` (the caller skips or redraws the object).

Public entry point for mesh-level learners: :func:`labelled_meshes` (implemented in
:mod:`.meshset`), which yields welded union objects and separate-part objects with per-face
labels at every level of their part tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import manifold3d as m3
import numpy as np
import trimesh


@dataclass(frozen=True)
class UnionSettings:
    """How parts are repaired before the union.

    Attributes:
        cap_holes: close simple boundary loops of an open part with a triangle fan around
            the loop's centroid (cheap; makes open lathe profiles and shells solid).
        max_loops: parts with more boundary loops than this are not capped (not manifold).
        min_faces: parts with fewer triangles are dropped before the union (degenerate).
    """

    cap_holes: bool = True
    max_loops: int = 16
    min_faces: int = 4


class UnionError(ValueError):
    """The union could not be built; ``reason`` is a short machine-readable cause
    ("part_not_manifold", "empty", "result_error")."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class UnionResult:
    """A welded union mesh.

    Attributes:
        vertices: float64 (V, 3), the input's frame and unit; each position once.
        faces: int64 (F, 3), outward-oriented triangles; parts share vertices along
            their junctions (creases).
        face_part: int64 (F,) index into the input part list of each triangle's source.
        repaired: (n_parts,) how each part was made manifold: "ok", "capped" or "dropped".
    """

    vertices: np.ndarray
    faces: np.ndarray
    face_part: np.ndarray
    repaired: list[str]


def _boundary_loops(faces: np.ndarray) -> list[list[int]] | None:
    """Boundary loops of a mesh, each as vertex ids in the direction of its faces' edges.

    Returns None when the boundary is not a set of simple loops (a vertex with several
    outgoing boundary edges, or an edge used by more than two faces).
    """
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(e, axis=1)
    _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    if (cnt > 2).any():
        return None
    bnd = e[cnt[inv] == 1]
    if len(bnd) == 0:
        return []
    nxt: dict[int, int] = {}
    for a, b in bnd.tolist():
        if a in nxt:
            return None
        nxt[a] = b
    loops, seen = [], set()
    for start in list(nxt):
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen:
            seen.add(v)
            loop.append(v)
            v = nxt.get(v, -1)
            if v < 0:
                return None
        if v != start:
            return None
        loops.append(loop)
    return loops


def cap_holes(vertices: np.ndarray, faces: np.ndarray, max_loops: int = 16
              ) -> tuple[np.ndarray, np.ndarray] | None:
    """Close every boundary loop with a fan of triangles around the loop's centroid.

    Args:
        vertices: (V, 3) positions; faces: (F, 3) triangles, coincident vertices merged.
        max_loops: give up (None) above this many loops.

    Returns:
        ``(vertices, faces)`` with one new vertex per loop, or None when the boundary is
        not made of at most ``max_loops`` simple loops.
    """
    loops = _boundary_loops(faces)
    if loops is None or len(loops) > max_loops:
        return None
    v, f = [np.asarray(vertices, np.float64)], [np.asarray(faces, np.int64)]
    n = len(vertices)
    for loop in loops:
        ring = np.asarray(loop, np.int64)
        v.append(vertices[ring].mean(0, keepdims=True))
        # boundary edge a->b belongs to a face; the cap uses b->a to stay consistent
        f.append(np.stack([np.full(len(ring), n), np.roll(ring, -1), ring], 1))
        n += 1
    return np.concatenate(v), np.concatenate(f)


def _manifold(vertices: np.ndarray, faces: np.ndarray) -> m3.Manifold:
    mesh = m3.Mesh64(np.array(vertices, np.float64, order="C"),  # fresh, writable copies
                     np.array(faces, np.uint64, order="C"))
    mesh.merge()
    return m3.Manifold(mesh)


def part_manifold(vertices: np.ndarray, faces: np.ndarray,
                  settings: UnionSettings = UnionSettings()) -> tuple[m3.Manifold, str]:
    """One part as a closed, outward-oriented manifold.

    Args:
        vertices: (V, 3) positions (any frame and unit); faces: (F, 3) triangles.
        settings: repair options.

    Returns:
        ``(manifold, how)`` with ``how`` "ok" (as given, coincident vertices merged) or
        "capped" (boundary loops closed); the manifold is marked original, so its
        ``original_id()`` names its triangles in a union.

    Raises:
        UnionError("part_not_manifold") when the part cannot be made manifold.
    """
    how = "ok"
    man = _manifold(vertices, faces)
    if man.status() != m3.Error.NoError and settings.cap_holes:
        t = trimesh.Trimesh(vertices, faces, process=True)  # merges coincident vertices
        capped = cap_holes(np.asarray(t.vertices), np.asarray(t.faces), settings.max_loops)
        if capped is not None:
            man, how = _manifold(*capped), "capped"
    if man.status() != m3.Error.NoError or man.is_empty():
        raise UnionError("part_not_manifold", f"part is not a closed manifold ({man.status()})")
    if man.volume() < 0:  # inside out: flip every triangle
        out = man.to_mesh64()
        man = _manifold(out.vert_properties[:, :3], out.tri_verts[:, ::-1])
    return man.as_original(), how


def _run_sources(mesh: m3.Mesh64, n_faces: int) -> np.ndarray:
    """Original mesh id of each output triangle from the mesh's run table (``run_index``
    counts entries of ``tri_verts``, three per triangle)."""
    idx = np.asarray(mesh.run_index, np.int64) // 3
    ids = np.asarray(mesh.run_original_id, np.int64)
    if len(idx) != len(ids) + 1 or idx[-1] != n_faces:
        raise UnionError("result_error", "run table does not cover the triangles")
    return np.repeat(ids, np.diff(idx))


def union_parts(parts: Sequence[tuple[np.ndarray, np.ndarray]],
                settings: UnionSettings = UnionSettings()) -> UnionResult:
    """Boolean union of parts with exact per-triangle provenance.

    Args:
        parts: ``(vertices (V_i, 3), faces (F_i, 3))`` per part, all in one frame.
        settings: repair options (:class:`UnionSettings`).

    Returns:
        :class:`UnionResult`: one welded mesh (positions shared along junctions, buried
        surface removed); parts entirely inside others contribute no triangles.

    Raises:
        UnionError when a part cannot be made manifold or the union fails.
    """
    mans, id_to_part, repaired = [], {}, []
    for i, (v, f) in enumerate(parts):
        if len(f) < settings.min_faces:
            repaired.append("dropped")
            continue
        try:
            man, how = part_manifold(np.asarray(v, np.float64), np.asarray(f, np.int64),
                                     settings)
        except UnionError as exc:
            raise UnionError(exc.reason, f"part {i}: {exc}") from None
        id_to_part[man.original_id()] = i
        mans.append(man)
        repaired.append(how)
    if not mans:
        raise UnionError("empty", "no part has enough triangles")
    res = m3.Manifold.batch_boolean(mans, m3.OpType.Add) if len(mans) > 1 else mans[0]
    if res.status() != m3.Error.NoError or res.is_empty():
        raise UnionError("result_error", f"union failed ({res.status()})")
    out = res.to_mesh64()
    verts = np.array(out.vert_properties[:, :3], np.float64)
    tris = np.array(out.tri_verts, np.int64)
    src = _run_sources(out, len(tris))
    vmap = np.arange(len(verts))
    if len(out.merge_from_vert):  # property seams (none with positions only); weld anyway
        vmap[np.asarray(out.merge_from_vert, np.int64)] = np.asarray(out.merge_to_vert, np.int64)
    tris = vmap[tris]
    used = np.unique(tris)
    remap = np.full(len(verts), -1, np.int64)
    remap[used] = np.arange(len(used))
    lookup = np.vectorize(id_to_part.__getitem__, otypes=[np.int64])
    return UnionResult(verts[used], remap[tris], lookup(src), repaired)


def labelled_meshes(n: int, seed: int = 0, kinds: Sequence[str] = ("union", "separate"),
                    workers: int = 1, **options) -> Iterator:
    """Labelled meshes for mesh-level learners (see :func:`training.data.meshset.labelled_meshes`,
    which documents every argument and the yielded :class:`~training.data.meshset.LabelledMesh`)."""
    from .meshset import labelled_meshes as _impl

    return _impl(n, seed=seed, kinds=kinds, workers=workers, **options)
