"""Face graphs of huge meshes in bounded memory: edge adjacency, connected components,
dense relabelling. Pure numpy.

Each function gives exactly what the plain numpy/SciPy code gives (SciPy's
``connected_components`` labels, ``np.unique(..., return_inverse=True)``), with int32
indices where they fit and work done in chunks: on a 2M-polygon mesh (4M triangles, 6M
adjacency pairs) the plain code's temporaries reached about 250 MB per call.
"""

from __future__ import annotations

import numpy as np

#: edges (or faces) handled at once; bounds the temporaries to tens of MB.
CHUNK = 1 << 20


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

    Union-find without a sparse matrix: every node points to a smaller node of its
    component; each round hooks the larger root of every edge whose ends disagree onto the
    smaller one (chunks of :data:`CHUNK` edges), then jumps pointers until each node points
    to its root, the component's smallest node.
    """
    dt = index_dtype(n)
    parent = np.arange(n, dtype=dt)
    while True:
        hooked = False
        for s in range(0, len(pairs), CHUNK):
            p = pairs[s:s + CHUNK]
            if mask is not None:
                p = p[mask[s:s + CHUNK]]
            u, v = parent[p[:, 0]], parent[p[:, 1]]
            d = u != v
            if not d.any():
                continue
            u, v = u[d], v[d]
            np.minimum.at(parent, np.maximum(u, v), np.minimum(u, v))
            hooked = True
        if not hooked:
            break
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
        del jumped
    rank = np.cumsum(parent == np.arange(n, dtype=dt), dtype=dt)
    rank -= 1
    rank = rank[parent]  # the roots' ranks, in the node index dtype
    del parent
    return rank.astype(np.int64)


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


def edge_adjacency(faces: np.ndarray, vertices: np.ndarray,
                   chunk: int = CHUNK // 4, bucket: int = SORT_BUCKET
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Faces sharing an edge and the length of that edge.

    Args:
        faces: (F, 3) triangle vertex indices (weld first to connect coincident vertices).
        vertices: (V, 3) positions, used for the edge lengths (object units).
        chunk: faces handled at once.
        bucket: about this many half-edges are sorted at once (runs of smaller-vertex
            ranges, in order), so the sort's memory does not grow with the mesh.

    Returns:
        ``pairs`` (E, 2) with ``a < b`` (int32 when the face count fits, else int64; a
        non-manifold edge links its faces in a chain), in the order of the edge keys
        (``min * V + max``, then face and corner), and ``length`` float64 (E,) the length
        of the shared edge.
    """
    f = as_index(faces)
    n_v = int(f.max(initial=0)) + 1
    v = np.asarray(vertices, np.float64)
    dt = index_dtype(len(f))
    bounds = _bucket_bounds(f, n_v, bucket, chunk)
    pairs, lengths = [np.zeros((0, 2), dt)], [np.zeros(0)]
    for lo_v, hi_v in zip(bounds[:-1], bounds[1:]):
        keys, slots = [], []
        for s in range(0, len(f), chunk):
            lo, hi = _half_edges(f, s, chunk)
            slot = np.flatnonzero((lo >= lo_v) & (lo < hi_v))  # flat (face, corner) slot
            keys.append((lo * n_v + hi).reshape(-1)[slot])
            slots.append(slot + 3 * s)  # owner face = slot // 3
        key, slot = np.concatenate(keys), np.concatenate(slots)
        del keys, slots
        order = np.argsort(key, kind="stable")
        k, o = key[order], slot[order]
        del key, slot, order
        same = np.flatnonzero(k[1:] == k[:-1])  # slot i pairs with slot i + 1 of equal key
        a, b, ek = o[same] // 3, o[same + 1] // 3, k[same]
        keep = a != b
        a, b, ek = a[keep], b[keep], ek[keep]
        pairs.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1).astype(dt))
        lengths.append(np.linalg.norm(v[ek // n_v] - v[ek % n_v], axis=1))
    out = np.concatenate(pairs)
    del pairs  # one list of pieces alive at a time
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
