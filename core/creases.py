"""Creases of a triangle mesh: dihedral angles and convexity of every adjacency pair, and
the crease regions they bound (the first step of :mod:`core.superfaces`).

Pure numpy/SciPy (the SciPy pieces ``s2am3d_blender/scipy_lite.py`` provides), object frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import face_normals, row_dot
from .mesh_graph import rows_within
from .mesh_regions import MeshStructure, _components
from .orientation import nonmanifold_pairs, orient_patches, sheets, surface_pairs


@dataclass
class EdgeGeometry:
    """Per mesh-adjacency pair (rows of ``MeshStructure.adjacency``).

    Attributes:
        angle: (E,) unsigned dihedral angle in radians, in [0, π/2].
        signed: (E,) signed bend in radians: > 0 concave, < 0 convex, measured with the
            windings of :func:`core.orientation.orient_faces` (copies of a triangle merged,
            one winding propagated per patch, outwards); 0 where no consistent winding
            exists (non-manifold edge, contradicting patch) or the pair joins two copies of
            one triangle.
        consistent: (E,) bool, a signed bend exists (see ``signed``).
        nonmanifold: (E,) bool, the edge is shared by more than two sheets (copies of one
            triangle, e.g. the two sides of a double-sided face, count once).
        flip: (F,) bool, faces whose winding :func:`core.orientation.orient_faces` turns
            (so their normals point outwards, like their patch's), or None.
    """

    angle: np.ndarray
    signed: np.ndarray
    consistent: np.ndarray
    nonmanifold: np.ndarray
    flip: np.ndarray | None = None


#: adjacency pairs processed at once by :func:`edge_geometry` (bounds its temporaries to
#: a few tens of MB whatever the mesh size).
EDGE_CHUNK = 262_144


def _edge_chunk(mesh: MeshStructure, na: np.ndarray, nb: np.ndarray, a: np.ndarray,
                b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Angle, signed bend (with the faces' own windings), winding agreement, whether the
    pair shares exactly one edge, and the edge key of one chunk of pairs; ``na``/``nb``
    are the unit normals of faces ``a``/``b``."""
    wf = mesh.welded_faces
    cos = np.clip((na * nb).sum(axis=1), -1.0, 1.0)
    fa, fb = wf[a].astype(np.int64), wf[b].astype(np.int64)
    eq = fa[:, :, None] == fb[:, None, :]  # (E, 3, 3): corner i of a equals corner j of b
    in_b = eq.any(axis=2)  # corners of a shared with b
    in_a = eq.any(axis=1)
    # a traverses the shared edge u -> v when the corner after u is v
    shared_a = in_b & np.roll(in_b, -1, axis=1)  # corner i and i+1 both shared
    i_u = np.argmax(shared_a, axis=1)
    ok = shared_a.any(axis=1) & (in_b.sum(axis=1) == 2)
    rows = np.arange(len(a))
    u = fa[rows, i_u]
    v = fa[rows, (i_u + 1) % 3]
    # consistent when b traverses v -> u: the corner after v in b is u
    j_v = np.argmax(fb == v[:, None], axis=1)
    consistent = ok & (fb[rows, (j_v + 1) % 3] == u)
    n_v = len(mesh.vertices)
    key = np.minimum(u, v) * n_v + np.maximum(u, v)
    w = fb[rows, np.argmax(~in_a, axis=1)]  # b's corner off the shared edge
    side = ((mesh.vertices[w] - mesh.vertices[u]) * na).sum(axis=1)
    bend = np.arccos(cos).astype(np.float32)
    return (np.arccos(np.abs(cos)).astype(np.float32),
            np.sign(side).astype(np.float32) * bend, consistent, ok, key)


def _edge_chunk_corners(mesh: MeshStructure, na: np.ndarray, nb: np.ndarray, a: np.ndarray,
                        b: np.ndarray, code: np.ndarray, flat: np.ndarray
                        ) -> tuple[np.ndarray, ...]:
    """:func:`_edge_chunk` from where the shared edge lies in each face (``code``:
    ``MeshStructure.adjacency_corners``; ``flat``: the welded faces, flattened). A pair of
    two proper triangles whose third corners differ shares exactly that edge, so its
    answers are read off the corners; the other pairs (copies of one triangle, degenerate
    faces) go through :func:`_edge_chunk`, which gives the same answers for every pair."""
    ca, cb = code // 3, code % 3
    fa, fb = a.astype(np.int64) * 3, b.astype(np.int64) * 3
    u = flat[fa + ca]  # a traverses the shared edge u -> v
    v = flat[fa + (ca + 1) % 3]
    x = flat[fa + (ca + 2) % 3]  # a's corner off the edge
    r = flat[fb + cb]  # b traverses r -> (the other end)
    w = flat[fb + (cb + 2) % 3]  # b's corner off the edge
    del fa, fb
    regular = (u != v) & (x != u) & (x != v) & (w != u) & (w != v) & (w != x)
    cos = np.clip(row_dot(na, nb), -1.0, 1.0)
    consistent = r == v
    ok = np.ones(len(a), bool)
    u, v, w = u.astype(np.int64), v.astype(np.int64), w.astype(np.int64)
    key = np.minimum(u, v) * len(mesh.vertices) + np.maximum(u, v)
    side = row_dot(mesh.vertices[w] - mesh.vertices[u], na)
    bend = np.arccos(cos).astype(np.float32)
    out = (np.arccos(np.abs(cos)).astype(np.float32), np.sign(side).astype(np.float32) * bend,
           consistent, ok, key)
    odd = np.flatnonzero(~regular)
    if len(odd):
        for arr, got in zip(out, _edge_chunk(mesh, na[odd], nb[odd], a[odd], b[odd])):
            arr[odd] = got
    return out


def edge_geometry(mesh: MeshStructure, normals: np.ndarray | None = None) -> EdgeGeometry:
    """Dihedral angles and convexity of every adjacency pair of ``mesh`` (``normals``:
    the (F, 3) unit face normals when already computed). Works in chunks of
    :data:`EDGE_CHUNK` pairs into preallocated outputs, so memory stays bounded on meshes of
    millions of faces; normals computed here are dropped before the orientation step."""
    adj = mesh.adjacency
    n = len(adj)
    sheet_info = sheets(mesh.welded_faces)  # its sort buffers come and go before the (E,)s
    nrm = face_normals(mesh.vertices, mesh.faces) if normals is None else normals
    angle, signed = np.empty(n, np.float32), np.empty(n, np.float32)
    winding, shared = np.empty(n, bool), np.empty(n, bool)
    key = np.empty(n, np.int64)
    code, wf = mesh.adjacency_corners, mesh.welded_faces
    flat = wf.reshape(-1) if code is not None and wf.flags.c_contiguous else None
    for k in range(0, n, EDGE_CHUNK):
        a, b = adj[k:k + EDGE_CHUNK, 0], adj[k:k + EDGE_CHUNK, 1]
        sl = slice(k, k + EDGE_CHUNK)
        if flat is None:
            got = _edge_chunk(mesh, nrm[a], nrm[b], a, b)
        else:
            got = _edge_chunk_corners(mesh, nrm[a], nrm[b], a, b, code[sl], flat)
        angle[sl], signed[sl], winding[sl], shared[sl], key[sl] = got
        del got
    del nrm, flat
    # orient_faces step by step, so the (E,) key and shared flags go as soon as they served
    surface = surface_pairs(adj, shared, sheet_info[0])
    del shared
    nonmanifold = nonmanifold_pairs(key, adj, sheet_info[0], surface)
    del key
    ori = orient_patches(mesh.vertices, mesh.welded_faces, adj, winding, surface, nonmanifold,
                         mesh.components, sheet_info)
    del sheet_info, surface, nonmanifold
    consistent = np.empty(n, bool)
    for k in range(0, n, EDGE_CHUNK):  # in place, chunk by chunk: no (E,) float64s
        sl = slice(k, k + EDGE_CHUNK)
        fa, fb = ori.flip[adj[sl, 0]], ori.flip[adj[sl, 1]]
        cons = ori.surface[sl] & ~ori.nonmanifold[sl] & (winding[sl] ^ fa ^ fb)
        # the bend was measured with each face's own normal: flipping one of the two folds
        # it (b → π − b), flipping a also turns the side its normal points to
        sg = signed[sl]
        bend = np.abs(sg)
        folded = fa ^ fb
        bend[folded] = np.float32(np.pi) - bend[folded]
        signed[sl] = np.where(cons, np.sign(sg) * np.where(fa, -1.0, 1.0) * bend,
                              0.0).astype(np.float32)
        consistent[sl] = cons
    return EdgeGeometry(angle=angle, signed=signed, consistent=consistent,
                        nonmanifold=ori.nonmanifold, flip=ori.flip)


def crease_regions(mesh: MeshStructure, eg: EdgeGeometry, crease_angle_deg: float,
                   face_groups: np.ndarray | None = None) -> np.ndarray:
    """(F,) crease region of every face (numbered from 0), see the module docstring."""
    keep = eg.angle < np.radians(crease_angle_deg)
    if face_groups is not None:
        keep &= rows_within(np.asarray(face_groups).reshape(-1), mesh.adjacency)
    return _components(len(mesh.faces), mesh.adjacency, mask=keep)
