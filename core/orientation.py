"""Consistent face orientation on messy meshes, for the convexity of creases.

Concave creases are where parts meet (the minima rule), but "concave" needs faces whose
windings agree. Real assets often break that: PartNet-Mobility meshes, for instance, store
almost every triangle twice with opposite windings (double-sided), so every edge looks
non-manifold and half the faces point inwards. This module

1. merges the copies of a triangle (same three welded vertices, either winding) into one
   *sheet* face, so double-sided surfaces become ordinary two-manifolds again;
2. propagates one winding over every manifold edge between sheet faces (a union-find that
   carries the parity "this face must be flipped relative to its root");
3. turns each connected patch outwards: the sign whose enclosed volume, measured about the
   patch's centroid, is positive.

:func:`orient_faces` returns which faces to flip; :func:`core.creases.edge_geometry` reads
the signed bend of every adjacency pair through it. Pure numpy (runs inside Blender).
Memory: a few (F,) and (E,) integer arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mesh_graph import index_dtype


@dataclass
class Orientation:
    """Result of :func:`orient_faces`.

    Attributes:
        flip: (F,) bool, flip this face's winding to agree with its patch, outwards.
        sheet: (F,) int, the sheet (merged copies of one triangle) of every face.
        nonmanifold: (E,) bool, the pair's edge is shared by more than two sheets.
        surface: (E,) bool, the pair joins two different sheets along a real shared edge
            (False for the two copies of one triangle and for degenerate pairs).
    """

    flip: np.ndarray
    sheet: np.ndarray
    nonmanifold: np.ndarray
    surface: np.ndarray


def sheets(welded_faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sheet id (F,) of every face (copies of one triangle share it), the first face (S,)
    of every sheet, and (F,) bool: the face's winding is opposite to its sheet's first
    face."""
    wf = np.asarray(welded_faces)
    n = len(wf)
    s = np.sort(wf, axis=1).astype(np.int64)
    nv = int(s.max()) + 1 if n else 1
    new = np.ones(n, bool)
    if nv < 2_000_000:  # one int64 key per triangle (nv³ < 2⁶³): one argsort
        key = (s[:, 0] * nv + s[:, 1]) * nv + s[:, 2]
        del s
        order = np.argsort(key, kind="stable")
        ks = key[order]
        new[1:] = ks[1:] != ks[:-1]
        del key, ks
    else:
        order = np.lexsort((s[:, 2], s[:, 1], s[:, 0]))
        ss = s[order]
        del s
        new[1:] = (ss[1:] != ss[:-1]).any(axis=1)
        del ss
    group = np.empty(n, np.int64)
    group[order] = np.cumsum(new) - 1
    first = order[new]  # the sort is stable: the smallest face of each sheet comes first
    del order, new
    primary = wf[first[group]]
    pos = np.argmax(primary == wf[:, :1], axis=1)
    opposite = primary[np.arange(n), (pos + 1) % 3] != wf[:, 1]
    return group, first, opposite


def parity_forest(n: int, u: np.ndarray, v: np.ndarray, odd: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Union-find with parities: ``n`` nodes, constraints "u and v differ by ``odd``".

    Returns the root (n,) of every node (its component's smallest node) and its parity
    (n,) bool relative to that root. Where the constraints contradict each other (an odd
    cycle, e.g. a Möbius strip) the first hooking wins; callers check every constraint
    afterwards.
    """
    dt = index_dtype(n)
    parent = np.arange(n, dtype=dt)
    par = np.zeros(n, bool)
    u, v, odd = np.asarray(u, dt), np.asarray(v, dt), np.asarray(odd, bool)
    while True:
        ru, rv = parent[u], parent[v]
        d = ru != rv
        if not d.any():
            break
        u, v, odd, ru, rv = u[d], v[d], odd[d], ru[d], rv[d]
        req = par[u] ^ par[v] ^ odd  # parity between the two roots
        hi, lo = np.maximum(ru, rv), np.minimum(ru, rv)
        # each root that hooks takes one of its constraints (the last written wins, for
        # the parent and the parity alike)
        parent[hi] = lo
        won = parent[hi] == lo
        par[hi[won]] = req[won]
        while True:  # pointer jumping, parities accumulate along the way
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            par = par ^ par[parent]
            parent = up
    return parent.astype(np.int64), par


def orient_faces(vertices: np.ndarray, welded_faces: np.ndarray, pairs: np.ndarray,
                 same_winding: np.ndarray, shared: np.ndarray, edge_key: np.ndarray,
                 pieces: np.ndarray | None = None) -> Orientation:
    """Flips that give every patch of the mesh one outward winding.

    Args:
        vertices: (V, 3) welded vertex positions (object frame).
        welded_faces: (F, 3) triangles on the welded vertices.
        pairs: (E, 2) face pairs sharing an edge.
        same_winding: (E,) bool, the two faces traverse their shared edge in opposite
            directions (their windings agree).
        shared: (E,) bool, the pair really shares exactly one edge.
        edge_key: (E,) int64 id of the shared (undirected) edge.
        pieces: optional (F,) connected piece of every face; when the mesh has no copied
            triangles and every manifold edge already agrees, the pieces are the patches
            (only their outward sign is decided) and the propagation is skipped.
    """
    wf = np.asarray(welded_faces)
    n_f = len(wf)
    sheet, first, opposite = sheets(wf)
    a, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    sa, sb = sheet[a], sheet[b]
    surface = np.asarray(shared, bool) & (sa != sb)
    # non-manifold: an edge shared by more than two sheets, i.e. whose pairs join more
    # than one pair of sheets (pairs of one edge are contiguous once sorted by edge)
    n_s = int(sheet.max()) + 1 if n_f else 0
    pk = np.minimum(sa, sb) * max(n_s, 1) + np.maximum(sa, sb)
    key = np.asarray(edge_key)
    order = None
    if len(key) > 1 and not (key[1:] >= key[:-1]).all():  # not edge_adjacency's order
        order = np.argsort(key, kind="stable")
        key, pk, surf = key[order], pk[order], surface[order]
    else:
        surf = surface
    nonmanifold = np.zeros(len(a), bool)
    if len(key):
        start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        big = np.iinfo(np.int64).max
        lo = np.minimum.reduceat(np.where(surf, pk, big), start)
        hi = np.maximum.reduceat(np.where(surf, pk, -1), start)
        run = np.repeat((lo != hi) & (hi >= 0), np.diff(np.r_[start, len(key)]))
        if order is None:
            nonmanifold = run
        else:
            nonmanifold[order] = run
    del pk, key, order
    # one winding over the manifold edges between sheets (in sheet-first-face windings)
    m = surface & ~nonmanifold
    agree = np.asarray(same_winding, bool) ^ opposite[a] ^ opposite[b]
    if pieces is not None and n_s == n_f and agree[m].all():  # already consistent
        root = np.empty(n_s, np.int64)
        root[sheet] = np.asarray(pieces, np.int64)
        par = np.zeros(n_s, bool)
    else:
        root, par = parity_forest(n_s, sa[m], sb[m], ~agree[m])
    # outwards: the sign whose volume about the patch centroid is positive
    tri = wf[first]
    comp = root
    vol = np.zeros(n_s)
    cen = np.zeros((n_s, 3))
    cnt = np.maximum(np.bincount(comp, minlength=n_s), 1).astype(float)
    for i in range(3):  # centroid of each patch's vertices (corners counted per face)
        for j in range(3):
            cen[:, i] += np.bincount(comp, weights=vertices[tri[:, j], i], minlength=n_s)
    cen /= 3.0 * cnt[:, None]
    step = 1 << 18
    for s in range(0, n_s, step):
        t = tri[s:s + step]
        c = cen[comp[s:s + step]]
        p0, p1, p2 = (vertices[t[:, i]] - c for i in range(3))
        det = np.einsum("ij,ij->i", p0, np.cross(p1, p2))
        vol[s:s + step] = np.where(par[s:s + step], -det, det)
    inward = np.bincount(comp, weights=vol, minlength=n_s) < 0
    par ^= inward[comp]
    flip = opposite ^ par[sheet]
    return Orientation(flip=flip, sheet=sheet, nonmanifold=nonmanifold, surface=surface)
