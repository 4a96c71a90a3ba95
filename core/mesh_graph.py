"""Face graphs of huge meshes in bounded memory: edge adjacency, connected components,
dense relabelling, CSR grouping. Numpy (+ SciPy's ``connected_components`` for small graphs).

Each function gives exactly what the plain numpy/SciPy code gives (SciPy's
``connected_components`` labels, ``np.unique(..., return_inverse=True)``), with int32
indices where they fit and work done in chunks: on a 2M-polygon mesh (4M triangles, 6M
adjacency pairs) the plain code's temporaries reached about 250 MB per call.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .geometry import row_norm

#: edges (or faces) handled at once; bounds the temporaries to tens of MB.
CHUNK = 1 << 20

#: disagreeing edges :func:`components` keeps as a list of root pairs (8 MB at most).
LIVE_EDGES = CHUNK

#: :func:`components` hands graphs of at most this many edges to SciPy's compiled
#: ``connected_components`` (temporaries of ~40 bytes an edge, under the tree build's own
#: peak on such a mesh: 80 MB at 2M edges, a 1.4M-triangle mesh), when the real SciPy is
#: there (not the numpy stand-in vendored into Blender, slower than the union-find below).
SCIPY_EDGES = 1 << 21
_COMPILED = connected_components.__module__.startswith("scipy.")


def index_dtype(n: int) -> type:
    """int32 when indices below ``n`` fit in it, else int64."""
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


def as_index(faces: np.ndarray) -> np.ndarray:
    """``faces`` as an int32 or int64 array (no copy when it already is one)."""
    f = np.asarray(faces)
    return f if f.dtype in (np.int32, np.int64) else f.astype(np.int64)


def dense_inverse(labels: np.ndarray) -> np.ndarray:
    """``np.unique(labels, return_inverse=True)[1]`` as int64, through a table of size
    ``labels.max() + 1`` instead of a sort when the labels are non-negative and that table
    is not much longer than ``labels``."""
    lab = np.asarray(labels).reshape(-1)
    if len(lab) == 0:
        return np.zeros(0, np.int64)
    top = int(lab.max()) + 1
    if int(lab.min()) < 0 or top > 2 * len(lab) + 1024:
        return np.unique(lab, return_inverse=True)[1].reshape(-1).astype(np.int64)
    present = np.zeros(top, bool)
    present[lab] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    return rank[lab]


def components(n: int, pairs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Connected components of ``n`` nodes linked by ``pairs`` (E, 2) (only the rows where
    ``mask`` is True, when given): labels (n,) int64 from 0 in the order of each component's
    smallest node, which is how SciPy's ``connected_components`` numbers them.

    Small graphs (:data:`SCIPY_EDGES`) go to SciPy. Otherwise a union-find without a
    sparse matrix, in bounded memory: every node points to a smaller node of its
    component. A first pass over the edges (chunks of :data:`CHUNK`) hooks every node onto
    its smallest neighbour, then pointers jump until each node points to its tree's root.
    Later rounds work on those first roots alone: each hooks the larger current root of
    every edge whose ends still disagree onto the smaller one and jumps pointers among the
    first roots (every other node keeps pointing at its first root until the end, so its
    current root is two steps away). An edge whose ends share a root keeps sharing it, so
    once they number at most :data:`LIVE_EDGES` the disagreeing edges are kept as root
    pairs and only they are visited again.
    """
    if _COMPILED and 0 < n and len(pairs) <= SCIPY_EDGES:
        p = pairs if mask is None else pairs[mask]
        g = sp.csr_matrix((np.ones(len(p), np.int8), (p[:, 0], p[:, 1])), shape=(n, n))
        return connected_components(g, directed=False)[1].astype(np.int64)
    dt = index_dtype(n)
    parent = np.arange(n, dtype=dt)
    for p in _row_chunks(pairs, mask):
        u, v = parent[p[:, 0]], parent[p[:, 1]]
        d = u != v
        np.minimum.at(parent, np.maximum(u[d], v[d]), np.minimum(u[d], v[d]))
    _jump(parent, np.flatnonzero(parent[parent] != parent))
    first = np.flatnonzero(parent == np.arange(n, dtype=dt)).astype(dt)  # first roots
    live: tuple[np.ndarray, np.ndarray] | None = None  # first roots of the live edges
    while True:
        if live is None:
            ends = ((parent[p[:, 0]], parent[p[:, 1]]) for p in _row_chunks(pairs, mask))
        else:
            ends = iter([live])
        hooked, n_kept = False, 0
        kept: list[tuple[np.ndarray, np.ndarray]] | None = []
        for u, v in ends:
            u, v = parent[u], parent[v]  # first root -> current root
            d = u != v
            if not d.any():
                continue
            u, v = u[d], v[d]
            n_kept += len(u)
            if kept is not None:
                kept = kept + [(u, v)] if n_kept <= LIVE_EDGES else None
            np.minimum.at(parent, np.maximum(u, v), np.minimum(u, v))
            hooked = True
        if not hooked:
            break
        live = None
        if kept is not None:
            live = (np.concatenate([u for u, _ in kept]), np.concatenate([v for _, v in kept]))
        del kept
        top = parent[first]
        _jump(parent, first[parent[top] != top])
        del top
    parent = parent[parent]  # every node straight at its root
    rank = np.cumsum(parent == np.arange(n, dtype=dt), dtype=dt)
    rank -= 1
    rank = rank[parent]  # the roots' ranks, in the node index dtype
    del parent
    return rank.astype(np.int64)


def _row_chunks(pairs: np.ndarray, mask: np.ndarray | None) -> Iterator[np.ndarray]:
    """The rows of ``pairs`` (where ``mask``), :data:`CHUNK` rows at a time."""
    for s in range(0, len(pairs), CHUNK):
        p = pairs[s:s + CHUNK]
        yield p if mask is None else p[mask[s:s + CHUNK]]


def _jump(parent: np.ndarray, idx: np.ndarray) -> None:
    """Pointer jumping in place until the nodes ``idx`` (every node whose parent is not a
    root, or a set closed under ``parent``) point at their roots."""
    while len(idx):
        parent[idx] = parent[parent[idx]]
        up = parent[idx]
        idx = idx[parent[up] != up]


#: half-edges sorted at once by :func:`edge_adjacency` (its sort buffers: ~40 bytes each).
SORT_BUCKET = 1 << 21


def _half_edges(f: np.ndarray, s: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Smaller and larger vertex (int64 (c, 3)) of the half-edges corner -> next corner of
    faces ``s:s + chunk``."""
    c = f[s:s + chunk].astype(np.int64)
    nxt = np.roll(c, -1, axis=1)
    return np.minimum(c, nxt), np.maximum(c, nxt)


def _bucket_bounds(f: np.ndarray, n_v: int, bucket: int, chunk: int) -> list[int]:
    """Vertex bounds splitting the half-edges by their smaller vertex into runs of about
    ``bucket`` (every half-edge of one edge falls into the same run)."""
    shift = max(int(n_v - 1).bit_length() - 12, 0)  # ~4096 coarse bins of vertices
    hist = np.zeros(((n_v - 1) >> shift) + 1, np.int64)
    for s in range(0, len(f), chunk):
        hist += np.bincount((_half_edges(f, s, chunk)[0] >> shift).reshape(-1),
                            minlength=len(hist))
    bounds, run = [0], 0
    for i, c in enumerate(hist.tolist()):
        if run and run + c > bucket:
            bounds.append(i << shift)
            run = 0
        run += c
    bounds.append(n_v)
    return bounds


def _stable_order(key: np.ndarray, base: int, span: int) -> tuple[np.ndarray, np.ndarray]:
    """``order = np.argsort(key, kind="stable")`` and ``key[order]`` for keys in
    ``[base, base + span)``: when the key and its position fit one int64 together, a plain
    (unstable, vectorised) sort of the unique values ``(key - base) << bits | position``
    gives the same order several times faster; else the stable argsort itself."""
    bits = max(len(key) - 1, 1).bit_length()
    if max(span - 1, 1).bit_length() + bits > 62:
        order = np.argsort(key, kind="stable")
        return order, key[order]
    comb = key - base
    comb <<= bits
    comb |= np.arange(len(key), dtype=np.int64)
    comb.sort()
    order = comb & ((1 << bits) - 1)
    comb >>= bits
    comb += base
    return order, comb


def edge_adjacency(faces: np.ndarray, vertices: np.ndarray,
                   chunk: int = CHUNK // 4, bucket: int = SORT_BUCKET,
                   corners: bool = False) -> tuple[np.ndarray, ...]:
    """Faces sharing an edge and the length of that edge.

    Args:
        faces: (F, 3) triangle vertex indices (weld first to connect coincident vertices).
        vertices: (V, 3) positions, used for the edge lengths (object units).
        chunk: faces handled at once.
        bucket: about this many half-edges are sorted at once (runs of smaller-vertex
            ranges, in order), so the sort's memory does not grow with the mesh.
        corners: also return where the shared edge lies in each of the two faces.

    Returns:
        ``pairs`` (E, 2) with ``a < b`` (int32 when the face count fits, else int64; a
        non-manifold edge links its faces in a chain), in the order of the edge keys
        (``min * V + max``, then face and corner), ``length`` float64 (E,) the length
        of the shared edge, and with ``corners`` int8 (E,) ``3 * i + j``: the edge is the
        half-edge corner i -> corner i + 1 (mod 3) of face ``a`` and corner j -> j + 1 of
        face ``b``.
    """
    f = as_index(faces)
    n_v = int(f.max(initial=0)) + 1
    v = np.asarray(vertices, np.float64)
    dt = index_dtype(len(f))
    if 3 * len(f) <= bucket:  # one run (what the histogram would say)
        bounds = [0, n_v]
    else:
        bounds = _bucket_bounds(f, n_v, bucket, chunk)
    pairs, lengths, where = [np.zeros((0, 2), dt)], [np.zeros(0)], [np.zeros(0, np.int8)]
    for lo_v, hi_v in zip(bounds[:-1], bounds[1:]):
        keys, slots = [], []
        for s in range(0, len(f), chunk):
            lo, hi = _half_edges(f, s, chunk)
            slot = np.flatnonzero((lo >= lo_v) & (lo < hi_v))  # flat (face, corner) slot
            keys.append((lo * n_v + hi).reshape(-1)[slot])
            slots.append(slot + 3 * s)  # owner face = slot // 3
        key, slot = np.concatenate(keys), np.concatenate(slots)
        del keys, slots
        order, k = _stable_order(key, lo_v * n_v, (hi_v - lo_v) * n_v)
        del key
        o = slot[order]
        del slot, order
        same = np.flatnonzero(k[1:] == k[:-1])  # slot i pairs with slot i + 1 of equal key
        ek = k[same]
        del k
        sa = o[same]
        same += 1
        sb = o[same]
        del o, same
        a, b = sa // 3, sb // 3
        keep = np.flatnonzero(a != b)
        a, b, ek = a[keep], b[keep], ek[keep]
        if corners:  # corner of face a, of face b, in the pair's (smaller, larger) order
            ca, cb = (sa[keep] % 3).astype(np.int8), (sb[keep] % 3).astype(np.int8)
            where.append(np.where(a < b, 3 * ca + cb, 3 * cb + ca).astype(np.int8))
            del ca, cb
        del sa, sb, keep
        pairs.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1).astype(dt))
        del a, b
        lengths.append(row_norm(v[ek // n_v] - v[ek % n_v]))
        del ek
    out = np.concatenate(pairs)
    del pairs  # one list of pieces alive at a time
    if corners:
        return out, np.concatenate(lengths), np.concatenate(where)
    return out, np.concatenate(lengths)


def rows_joining(label: np.ndarray, pairs: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """Indices (int64, ascending) of the rows of ``pairs`` whose two faces have different
    ``label``s; ``pairs[x]`` for the mask ``label[a] != label[b]`` without (E,) gathers."""
    out = [np.zeros(0, np.int64)]
    for s in range(0, len(pairs), chunk):
        p = pairs[s:s + chunk]
        out.append(np.flatnonzero(label[p[:, 0]] != label[p[:, 1]]) + s)
    return np.concatenate(out)


def rows_within(label: np.ndarray, pairs: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """(E,) bool: the two faces of each row of ``pairs`` have the same ``label``."""
    out = np.empty(len(pairs), bool)
    for s in range(0, len(pairs), chunk):
        p = pairs[s:s + chunk]
        out[s:s + chunk] = label[p[:, 0]] == label[p[:, 1]]
    return out


def csr_rows(ptr: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions ``ptr[k] .. ptr[k + 1] − 1`` of every key ``k`` of ``keys``, one after the
    other: the entries of several rows of a CSR layout (int64)."""
    start, end = ptr[keys], ptr[keys + 1]
    lens = end - start
    if not lens.sum():
        return np.zeros(0, np.int64)
    offs = np.repeat(np.cumsum(lens) - lens, lens)
    return np.arange(int(lens.sum())) - offs + np.repeat(start, lens)


class Groups:
    """Items ``0..len(key)-1`` grouped by their ``key`` in ``0..n-1`` (a CSR layout).

    Attributes:
        order: the items sorted by key (stable; int32 where it fits).
        ptr: (n + 1,) int64, group k is ``order[ptr[k]:ptr[k + 1]]``.
    """

    def __init__(self, key: np.ndarray, n: int):
        self.order = np.argsort(key, kind="stable").astype(index_dtype(len(key)))
        self.ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(key, minlength=n), out=self.ptr[1:])

    def of(self, k: int) -> np.ndarray:
        """The items of group ``k``."""
        return self.order[self.ptr[k]:self.ptr[k + 1]]

    def members(self, keys: np.ndarray) -> np.ndarray:
        """The items of the groups ``keys``, group after group in the order of ``keys``."""
        return self.order[csr_rows(self.ptr, keys)]
