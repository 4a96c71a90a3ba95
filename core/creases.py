"""Creases of a triangle mesh: dihedral angles and convexity of every adjacency pair, and
the crease regions they bound (the first step of :mod:`core.superfaces`).

Pure numpy/SciPy (the SciPy pieces ``s2am3d_blender/scipy_lite.py`` provides), object frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import face_normals
from .mesh_graph import rows_within
from .mesh_regions import MeshStructure, _components


@dataclass
class EdgeGeometry:
    """Per mesh-adjacency pair (rows of ``MeshStructure.adjacency``).

    Attributes:
        angle: (E,) unsigned dihedral angle in radians, in [0, π/2].
        signed: (E,) signed bend in radians: > 0 concave, < 0 convex, 0 where the two
            faces' orientations disagree (a flipped face) or the edge is non-manifold.
        consistent: (E,) bool, orientation consistent and the edge manifold.
        nonmanifold: (E,) bool, the edge is shared by more than two faces.
    """

    angle: np.ndarray
    signed: np.ndarray
    consistent: np.ndarray
    nonmanifold: np.ndarray


#: adjacency pairs processed at once by :func:`edge_geometry` (bounds its temporaries to
#: a few tens of MB whatever the mesh size).
EDGE_CHUNK = 262_144


def _edge_chunk(mesh: MeshStructure, na: np.ndarray, nb: np.ndarray, a: np.ndarray,
                b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Angle, signed bend (before the non-manifold test), orientation consistency and edge
    key of one chunk of pairs; ``na``/``nb`` are the unit normals of faces ``a``/``b``."""
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
            np.sign(side).astype(np.float32) * bend, consistent, key)


def _nonmanifold(key: np.ndarray) -> np.ndarray:
    """(E,) bool: the edge key appears in more than one adjacency pair."""
    if len(key) > 1 and not (key[1:] >= key[:-1]).all():  # not edge_adjacency's order
        order = np.argsort(key, kind="stable")
        flag = _nonmanifold(key[order])
        out = np.empty(len(key), bool)
        out[order] = flag
        return out
    dup = key[1:] == key[:-1]
    out = np.zeros(len(key), bool)
    out[1:] |= dup
    out[:-1] |= dup
    return out


def edge_geometry(mesh: MeshStructure, normals: np.ndarray | None = None) -> EdgeGeometry:
    """Dihedral angles and convexity of every adjacency pair of ``mesh`` (``normals``:
    the (F, 3) unit face normals when already computed, else each chunk computes those of
    its faces). Works in chunks of :data:`EDGE_CHUNK` pairs into preallocated outputs, so
    memory stays bounded on meshes of millions of faces."""
    adj = mesh.adjacency
    n = len(adj)
    angle, signed = np.empty(n, np.float32), np.empty(n, np.float32)
    consistent, key = np.empty(n, bool), np.empty(n, np.int64)
    for k in range(0, n, EDGE_CHUNK):
        a, b = adj[k:k + EDGE_CHUNK, 0], adj[k:k + EDGE_CHUNK, 1]
        if normals is None:
            na, nb = (face_normals(mesh.vertices, mesh.faces[x]) for x in (a, b))
        else:
            na, nb = normals[a], normals[b]
        sl = slice(k, k + EDGE_CHUNK)
        angle[sl], signed[sl], consistent[sl], key[sl] = _edge_chunk(mesh, na, nb, a, b)
    # non-manifold: the edge (u, v) appears in more than one adjacency pair
    nonmanifold = _nonmanifold(key)
    del key
    consistent &= ~nonmanifold
    # bend: 0 = flat, π = folded back (consistent orientation only)
    signed[~consistent] = 0.0
    return EdgeGeometry(angle=angle, signed=signed, consistent=consistent,
                        nonmanifold=nonmanifold)


def crease_regions(mesh: MeshStructure, eg: EdgeGeometry, crease_angle_deg: float,
                   face_groups: np.ndarray | None = None) -> np.ndarray:
    """(F,) crease region of every face (numbered from 0), see the module docstring."""
    keep = eg.angle < np.radians(crease_angle_deg)
    if face_groups is not None:
        keep &= rows_within(np.asarray(face_groups).reshape(-1), mesh.adjacency)
    return _components(len(mesh.faces), mesh.adjacency, mask=keep)
