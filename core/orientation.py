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

from .geometry import cross_rows, face_centroid_axis
from .mesh_graph import dense_inverse, index_dtype


@dataclass
class Orientation:
    """Result of :func:`orient_faces`.

    Attributes:
        flip: (F,) bool, flip this face's winding to agree with its patch, outwards.
        nonmanifold: (E,) bool, the pair's edge is shared by more than two sheets.
        surface: (E,) bool, the pair joins two different sheets along a real shared edge
            (False for the two copies of one triangle and for degenerate pairs).
    """

    flip: np.ndarray
    nonmanifold: np.ndarray
    surface: np.ndarray


#: faces (or adjacency pairs) handled at once; bounds the temporaries to tens of MB.
CHUNK = 1 << 18


def _sorted_corners(f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smallest, middle and largest corner (int64) of the triangles ``f`` (c, 3): the
    columns of ``np.sort(f, axis=1)``, without a per-row sort."""
    a, b, c = (f[:, i].astype(np.int64) for i in range(3))
    lo = np.minimum(np.minimum(a, b), c)
    hi = np.maximum(np.maximum(a, b), c)
    return lo, a + b + c - lo - hi, hi


def _triple_keys(wf: np.ndarray, nv: int, cols: tuple[int, ...]) -> np.ndarray:
    """(F,) int64 key of the sorted corners ``cols`` of every face (base ``nv``)."""
    n = len(wf)
    out = np.empty(n, np.int64)
    for c in range(0, n, CHUNK):
        srt = _sorted_corners(wf[c:c + CHUNK])
        k = srt[cols[0]]
        for j in cols[1:]:
            k = k * nv + srt[j]
        out[c:c + CHUNK] = k
    return out


def _sort_order(wf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable order of the faces by their sorted vertex triple (``np.lexsort`` of the
    sorted corners, last corner least significant), built from per-chunk int64 keys, and
    (F,) bool in that order: the face starts a new triple."""
    n = len(wf)
    nv = int(wf.max()) + 1 if n else 1
    new = np.ones(n, bool)
    if nv ** 3 <= np.iinfo(np.int64).max:  # one key per triangle: one argsort
        key = _triple_keys(wf, nv, (0, 1, 2))
        order = np.argsort(key, kind="stable")
        for c in range(1, n, CHUNK):  # equal keys are equal triples
            k = key[order[c - 1:c + CHUNK]]
            new[c:c + CHUNK] = k[1:] != k[:-1]
        return order, new
    # least significant first, each sort stable: the order of the lexicographic sort
    order = np.argsort(_triple_keys(wf, nv, (1, 2)), kind="stable")
    order = order[np.argsort(_triple_keys(wf, nv, (0,))[order], kind="stable")]
    for c in range(1, n, CHUNK):  # a face starts a sheet when its triple differs
        srt = np.sort(wf[order[c - 1:c + CHUNK]], axis=1)
        new[c:c + CHUNK] = (srt[1:] != srt[:-1]).any(axis=1)
    return order, new


def sheets(welded_faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sheet id (F,) of every face (copies of one triangle share it), the first face (S,)
    of every sheet (both int32 below 2**31 faces), and (F,) bool: the face's winding is
    opposite to its sheet's first face. Int64 keys per chunk, no (F, 3) int64 copies."""
    wf = np.asarray(welded_faces)
    n = len(wf)
    order, new = _sort_order(wf)
    dt = index_dtype(n)
    group = np.empty(n, dt)
    group[order] = np.cumsum(new, dtype=dt) - 1
    first = order[new].astype(dt)  # the sort is stable: each sheet's smallest face first
    del order, new
    opposite = np.zeros(n, bool)  # without copies every face is its sheet's first face
    if len(first) == n:
        return group, first, opposite
    for c in range(0, n, CHUNK):
        f = wf[c:c + CHUNK]
        primary = wf[first[group[c:c + CHUNK]]]
        pos = np.argmax(primary == f[:, :1], axis=1)
        opposite[c:c + CHUNK] = primary[np.arange(len(f)), (pos + 1) % 3] != f[:, 1]
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
        # every hook of a round reads the roots and parities of the round's start (the
        # copies) and the writes land in constraint order, the last written winning, as
        # in one assignment over all constraints; in chunks, so no (C,) temporaries
        parent0, par0 = parent.copy(), par.copy()
        hooked = False
        for s in range(0, len(u), CHUNK):
            ru, rv = parent0[u[s:s + CHUNK]], parent0[v[s:s + CHUNK]]
            d = ru != rv
            if d.any():
                ru, rv = ru[d], rv[d]
                parent[np.maximum(ru, rv)] = np.minimum(ru, rv)
                hooked = True
        if not hooked:
            break
        # each root that hooks takes one of its constraints (the last written wins, for
        # the parent and the parity alike)
        for s in range(0, len(u), CHUNK):
            uu, vv = u[s:s + CHUNK], v[s:s + CHUNK]
            ru, rv = parent0[uu], parent0[vv]
            d = ru != rv
            if not d.any():
                continue
            uu, vv, ru, rv = uu[d], vv[d], ru[d], rv[d]
            req = par0[uu] ^ par0[vv] ^ odd[s:s + CHUNK][d]  # parity between the two roots
            hi, lo = np.maximum(ru, rv), np.minimum(ru, rv)
            won = parent[hi] == lo
            par[hi[won]] = req[won]
        del parent0, par0
        while True:  # pointer jumping, parities accumulate along the way
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            par = par ^ par[parent]
            parent = up
    return parent.astype(np.int64), par


def _nonmanifold(edge_key: np.ndarray, pairs: np.ndarray, sheet: np.ndarray,
                 surface: np.ndarray, n_s: int) -> np.ndarray:
    """(E,) bool: the pair's edge joins more than one pair of sheets, i.e. the surface
    pairs of one edge key (contiguous once sorted by key) hold two different sheet pairs.
    Whole runs of one key per chunk."""
    key = np.asarray(edge_key)
    n = len(key)
    out = np.zeros(n, bool)
    order = None
    if n > 1 and not (key[1:] >= key[:-1]).all():  # not edge_adjacency's order
        order = np.argsort(key, kind="stable")
    elif n < 2 or (key[1:] != key[:-1]).all():  # one pair per edge (a manifold mesh)
        return out

    def sorted_keys(i: int, j: int) -> np.ndarray:
        return key[i:j] if order is None else key[order[i:j]]

    big = np.iinfo(np.int64).max
    s = 0
    while s < n:
        e = min(s + CHUNK, n)
        while e < n:  # the chunk ends with a whole run of one key
            ahead = sorted_keys(e - 1, e + 1024)
            other = np.flatnonzero(ahead[1:] != ahead[0])
            if len(other):
                e += int(other[0])
                break
            e += len(ahead) - 1
        rows = slice(s, e) if order is None else order[s:e]
        sa = sheet[pairs[rows, 0]].astype(np.int64)
        sb = sheet[pairs[rows, 1]].astype(np.int64)
        pk = np.minimum(sa, sb) * max(n_s, 1) + np.maximum(sa, sb)
        surf, k = surface[rows], sorted_keys(s, e)
        start = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        lo = np.minimum.reduceat(np.where(surf, pk, big), start)
        hi = np.maximum.reduceat(np.where(surf, pk, -1), start)
        out[rows] = np.repeat((lo != hi) & (hi >= 0), np.diff(np.r_[start, len(k)]))
        s = e
    return out


def orient_faces(vertices: np.ndarray, welded_faces: np.ndarray, pairs: np.ndarray,
                 same_winding: np.ndarray, shared: np.ndarray, edge_key: np.ndarray,
                 pieces: np.ndarray | None = None,
                 sheet_info: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                 ) -> Orientation:
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
        sheet_info: :func:`sheets` of ``welded_faces`` when already computed.

    The steps one by one (:func:`surface_pairs`, :func:`nonmanifold_pairs`,
    :func:`orient_patches`) let a caller drop ``shared`` and ``edge_key`` on the way.
    """
    info = sheets(np.asarray(welded_faces)) if sheet_info is None else sheet_info
    surface = surface_pairs(pairs, shared, info[0])
    nonmanifold = nonmanifold_pairs(edge_key, pairs, info[0], surface)
    return orient_patches(vertices, welded_faces, pairs, same_winding, surface, nonmanifold,
                          pieces, info)


def surface_pairs(pairs: np.ndarray, shared: np.ndarray, sheet: np.ndarray) -> np.ndarray:
    """(E,) bool: the pair joins two different sheets along a real shared edge."""
    surface = np.empty(len(pairs), bool)
    for c in range(0, len(pairs), CHUNK):  # (E,) int64 sheet pairs never whole
        a, b = pairs[c:c + CHUNK, 0], pairs[c:c + CHUNK, 1]
        surface[c:c + CHUNK] = np.asarray(shared[c:c + CHUNK], bool) & (sheet[a] != sheet[b])
    return surface


def nonmanifold_pairs(edge_key: np.ndarray, pairs: np.ndarray, sheet: np.ndarray,
                      surface: np.ndarray) -> np.ndarray:
    """(E,) bool: the pair's edge is shared by more than two sheets (see
    :func:`orient_faces` for the arguments; ``surface`` from :func:`surface_pairs`)."""
    n_s = int(sheet.max()) + 1 if len(sheet) else 0
    return _nonmanifold(edge_key, pairs, sheet, surface, n_s)


def orient_patches(vertices: np.ndarray, welded_faces: np.ndarray, pairs: np.ndarray,
                   same_winding: np.ndarray, surface: np.ndarray, nonmanifold: np.ndarray,
                   pieces: np.ndarray | None,
                   sheet_info: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Orientation:
    """The last step of :func:`orient_faces`: one winding propagated over the manifold
    edges between sheets, each patch turned outwards."""
    wf = np.asarray(welded_faces)
    n_f = len(wf)
    sheet, first, opposite = sheet_info
    n_s = int(sheet.max()) + 1 if n_f else 0
    agree = np.empty(len(pairs), bool)
    for c in range(0, len(pairs), CHUNK):
        a, b = pairs[c:c + CHUNK, 0], pairs[c:c + CHUNK, 1]
        # one winding over the manifold edges between sheets (in sheet-first-face windings)
        agree[c:c + CHUNK] = (np.asarray(same_winding[c:c + CHUNK], bool)
                              ^ opposite[a] ^ opposite[b])
    m = surface & ~nonmanifold
    if pieces is not None and n_s == n_f and agree[m].all():  # already consistent
        root = np.empty(n_s, np.int64)
        root[sheet] = np.asarray(pieces, np.int64)
        par = np.zeros(n_s, bool)
    else:
        dt = index_dtype(n_s)
        su, sv = np.empty(int(m.sum()), dt), np.empty(int(m.sum()), dt)
        o = 0
        for c in range(0, len(pairs), CHUNK):  # the sheets of the pairs in m, no pairs[m]
            p = pairs[c:c + CHUNK][m[c:c + CHUNK]]
            su[o:o + len(p)], sv[o:o + len(p)] = sheet[p[:, 0]], sheet[p[:, 1]]
            o += len(p)
        root, par = parity_forest(n_s, su, sv, ~agree[m])
        del su, sv
    del m, agree
    # outwards: the sign whose volume about the patch centroid is positive; patches are
    # renumbered densely (the same sums per patch), so no (S, 3) array is needed
    comp = dense_inverse(root)
    del root
    n_c = int(comp.max()) + 1 if n_s else 0
    cen = np.zeros((n_c, 3))
    cnt = np.maximum(np.bincount(comp, minlength=n_c), 1).astype(float)
    for i in range(3):  # mean of each patch's sheet centroids
        cen[:, i] = np.bincount(comp, weights=face_centroid_axis(vertices, wf, i, rows=first),
                                minlength=n_c) / cnt
    vol = np.zeros(n_s)
    for s in range(0, n_s, CHUNK):
        t = wf[first[s:s + CHUNK]]
        c = cen[comp[s:s + CHUNK]]
        p0, p1, p2 = (vertices[t[:, i]] - c for i in range(3))
        det = np.einsum("ij,ij->i", p0, cross_rows(p1, p2))
        vol[s:s + CHUNK] = np.where(par[s:s + CHUNK], -det, det)
    inward = np.bincount(comp, weights=vol, minlength=n_c) < 0
    par ^= inward[comp]
    flip = opposite ^ par[sheet]
    return Orientation(flip=flip, nonmanifold=nonmanifold, surface=surface)
