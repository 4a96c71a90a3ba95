"""Creases of a triangle mesh: dihedral angles and convexity of every adjacency pair, and
the crease regions they bound (the first step of :mod:`core.superfaces`).

Pure numpy/SciPy (the SciPy pieces ``s2am3d_blender/scipy_lite.py`` provides), object frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mesh_regions import MeshStructure, _components, _face_normals


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


def _edge_chunk(mesh: MeshStructure, nrm: np.ndarray, a: np.ndarray, b: np.ndarray
                ) -> tuple[np.ndarray, ...]:
    """Angle, bend, orientation consistency, edge key and side of one chunk of pairs."""
    wf = mesh.welded_faces
    cos = np.clip((nrm[a] * nrm[b]).sum(axis=1), -1.0, 1.0)
    fa, fb = wf[a], wf[b]
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
    side = ((mesh.vertices[w] - mesh.vertices[u]) * nrm[a]).sum(axis=1)
    return (np.arccos(np.abs(cos)).astype(np.float32), np.arccos(cos).astype(np.float32),
            consistent, key, np.sign(side).astype(np.float32))


def edge_geometry(mesh: MeshStructure, normals: np.ndarray | None = None) -> EdgeGeometry:
    """Dihedral angles and convexity of every adjacency pair of ``mesh`` (``normals``:
    the (F, 3) unit face normals when already computed). Works in chunks of
    :data:`EDGE_CHUNK` pairs, so memory stays bounded on meshes of millions of faces."""
    nrm = _face_normals(mesh.vertices, mesh.faces) if normals is None else normals
    adj = mesh.adjacency
    parts = [_edge_chunk(mesh, nrm, adj[k:k + EDGE_CHUNK, 0], adj[k:k + EDGE_CHUNK, 1])
             for k in range(0, len(adj), EDGE_CHUNK)]
    if not parts:
        z = np.zeros(0)
        return EdgeGeometry(angle=z, signed=z, consistent=z.astype(bool),
                            nonmanifold=z.astype(bool))
    angle, bend, consistent, key, sign = (np.concatenate(x) for x in zip(*parts))
    # non-manifold: the edge (u, v) appears in more than one adjacency pair
    if len(key) > 1 and (key[1:] >= key[:-1]).all():  # edge_adjacency's order: no sort
        dup = key[1:] == key[:-1]
        nonmanifold = np.zeros(len(key), bool)
        nonmanifold[1:] |= dup
        nonmanifold[:-1] |= dup
    else:
        _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
        nonmanifold = cnt[inv.reshape(-1)] > 1
    del key
    consistent &= ~nonmanifold
    # bend: 0 = flat, π = folded back (consistent orientation only)
    signed = np.where(consistent, sign * bend, np.float32(0.0))
    return EdgeGeometry(angle=angle, signed=signed, consistent=consistent,
                        nonmanifold=nonmanifold)


def crease_regions(mesh: MeshStructure, eg: EdgeGeometry, crease_angle_deg: float,
                   face_groups: np.ndarray | None = None) -> np.ndarray:
    """(F,) crease region of every face (numbered from 0), see the module docstring."""
    keep = eg.angle < np.radians(crease_angle_deg)
    if face_groups is not None:
        g = np.asarray(face_groups).reshape(-1)
        keep &= g[mesh.adjacency[:, 0]] == g[mesh.adjacency[:, 1]]
    return _components(len(mesh.faces), mesh.adjacency[keep])
