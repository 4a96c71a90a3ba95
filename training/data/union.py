"""Exact boolean union of an object's parts, with every output triangle's source part.

Separately modelled parts overlap, touch and interpenetrate (legs enter seats, handles enter
walls). Real one-piece meshes instead meet at *creases*: the surfaces are cut where they
cross, the buried pieces are gone, and the vertices along the junction are shared. The
``manifold3d`` library (Apache-2.0) computes that union robustly and keeps, for each output
triangle, the id of the input mesh it came from, so part labels stay exact: no nearest-
neighbour transfer as in the voxel fusion of :mod:`.fuse`.

Each part must be a closed 2-manifold for the union to be defined. :func:`part_manifold`
merges coincident vertices, checks that every edge is shared by exactly two
consistently oriented triangles (only such meshes are handed to manifold3d), caps simple boundary loops (open ends of revolved profiles,
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
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class UnionSettings:
    """How parts are repaired before the union.

    Attributes:
        cap_holes: close simple boundary loops of an open part with a triangle fan around
            the loop's centroid (cheap; makes open lathe profiles and shells solid).
        max_loops: parts with more boundary loops than this are not capped (not manifold).
        min_faces: parts with fewer triangles are dropped before the union (degenerate).
        drop_area: a part whose bodies (:func:`manifold_bodies`) cannot all be closed is
            kept without them when they hold less than this fraction of its area.
        weld_tol: vertices of a part closer than this × the part's bounding-box diagonal
            are merged before the topology check.
    """

    cap_holes: bool = True
    weld_tol: float = 1e-7
    drop_area: float = 0.02
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


def clean_part(vertices: np.ndarray, faces: np.ndarray, tol: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices within ``tol`` (on a grid, unit of ``vertices``), then drop faces
    that repeat a vertex and duplicate faces. Returns ``(vertices, faces)``, unused
    vertices removed."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    q = np.floor(v / max(tol, 1e-300) + 0.5).astype(np.int64)
    _, first, inv = np.unique(q, axis=0, return_index=True, return_inverse=True)
    f = inv.ravel()[f]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])]
    if len(f):
        _, keep = np.unique(np.sort(f, axis=1), axis=0, return_index=True)
        f = f[np.sort(keep)]
    used, f = np.unique(f, return_inverse=True)
    return v[first][used], f.reshape(-1, 3)


def is_closed_oriented(faces: np.ndarray) -> bool:
    """True when every directed edge occurs once and its reverse once (a closed,
    consistently oriented 2-manifold without boundary; vertex fans are not checked)."""
    f = np.asarray(faces, np.int64)
    if len(f) < 4:
        return False
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    n = int(f.max()) + 1
    fwd = e[:, 0] * n + e[:, 1]
    rev = e[:, 1] * n + e[:, 0]
    fwd_sorted = np.sort(fwd)
    if (fwd_sorted[1:] == fwd_sorted[:-1]).any():
        return False
    return bool(np.isin(rev, fwd_sorted, assume_unique=False).all())


def _manifold(vertices: np.ndarray, faces: np.ndarray) -> m3.Manifold:
    """manifold3d object of a mesh that passed :func:`is_closed_oriented` (manifold3d
    3.5.4 can crash on some open input, so nothing else is handed to it)."""
    mesh = m3.Mesh64(np.array(vertices, np.float64, order="C"),  # fresh, writable copies
                     np.array(faces, np.uint64, order="C"))
    return m3.Manifold(mesh)


def manifold_bodies(faces: np.ndarray) -> np.ndarray:
    """Bodies of a mesh (F,) from 0: faces joined across edges shared by exactly two
    oppositely oriented faces only, so solids that touch along an edge or at a vertex
    (common in CAD exports) come apart."""
    f = np.asarray(faces, np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    owner = np.tile(np.arange(len(f)), 3)
    key = np.sort(e, axis=1)
    _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    two = np.flatnonzero(cnt[inv] == 2)
    order = two[np.argsort(inv[two], kind="stable")]
    a, b = order[0::2], order[1::2]
    opposite = (e[a, 0] == e[b, 1]) & (e[a, 1] == e[b, 0])
    a, b = owner[a[opposite]], owner[b[opposite]]
    g = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(f), len(f)))
    return connected_components(g, directed=False)[1].astype(np.int64)


def _body_manifold(v: np.ndarray, f: np.ndarray, settings: UnionSettings
                   ) -> tuple[m3.Manifold | None, str]:
    """One body as a manifold ("ok" / "capped"), or (None, "open")."""
    how = "ok"
    if not is_closed_oriented(f) and settings.cap_holes and len(f):
        capped = cap_holes(v, f, settings.max_loops)
        if capped is not None and is_closed_oriented(capped[1]):
            (v, f), how = capped, "capped"
    if not is_closed_oriented(f):
        return None, "open"
    man = _manifold(v, f)
    if man.status() != m3.Error.NoError or man.is_empty():
        return None, "open"
    if man.volume() < 0:  # inside out: flip every triangle
        man = _manifold(v, f[:, ::-1])
    return man, how


def part_manifold(vertices: np.ndarray, faces: np.ndarray,
                  settings: UnionSettings = UnionSettings()) -> tuple[m3.Manifold, str]:
    """One part as a closed, outward-oriented manifold.

    Coincident vertices are merged; a part that is not one closed manifold is split into
    bodies (:func:`manifold_bodies`), each closed (capped if needed) and the bodies
    unioned; bodies that cannot be closed are dropped when together they hold less than
    ``settings.drop_area`` of the part's area.

    Args:
        vertices: (V, 3) positions (any frame and unit); faces: (F, 3) triangles.
        settings: repair options.

    Returns:
        ``(manifold, how)``, ``how`` one of "ok" (as given), "capped" (holes closed),
        "bodies" (split into bodies and re-joined), "trimmed" (small open bodies
        dropped); the manifold is marked original, so its ``original_id()`` names its
        triangles in a union.

    Raises:
        UnionError("part_not_manifold") when the part cannot be made manifold.
    """
    v = np.asarray(vertices, np.float64)
    diag = float(np.linalg.norm(np.ptp(v, axis=0))) if len(v) else 0.0
    if not np.isfinite(v).all() or diag <= 0:
        raise UnionError("part_not_manifold", "part has no extent or non-finite vertices")
    v, f = clean_part(v, faces, settings.weld_tol * diag)
    man, how = _body_manifold(v, f, settings)
    if man is not None:
        return man.as_original(), how
    body = manifold_bodies(f)
    area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]),
                                axis=1)
    mans, lost, how = [], 0.0, "bodies"
    for b in range(int(body.max()) + 1 if len(f) else 0):
        sel = body == b
        used, fb = np.unique(f[sel], return_inverse=True)
        m, _ = _body_manifold(v[used], fb.reshape(-1, 3), settings)
        if m is None:
            lost += float(area[sel].sum())
        else:
            mans.append(m)
    if lost > 0:
        how = "trimmed"
    if not mans or lost > settings.drop_area * float(area.sum()):
        raise UnionError("part_not_manifold", "part has open or non-manifold edges")
    joined = m3.Manifold.batch_boolean(mans, m3.OpType.Add) if len(mans) > 1 else mans[0]
    if joined.status() != m3.Error.NoError or joined.is_empty():
        raise UnionError("part_not_manifold", f"bodies do not join ({joined.status()})")
    return joined.as_original(), how


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
