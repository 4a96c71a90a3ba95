"""The few SciPy pieces ``core`` uses, in plain numpy, for the copy vendored into Blender.

Why: Blender ships numpy but not SciPy, and SciPy's wheels are 20–37 MB per platform and
Python version; bundling them for Python 3.11 and 3.13 would put every extension zip far
over its 60 MB budget. ``build.py`` rewrites the vendored ``core``'s SciPy imports to this
module (it is copied there as ``_scipy_lite.py``); the repository's ``core`` keeps SciPy.
``tests/test_blender_scipy_lite.py`` checks every function against SciPy itself.

Covered (same call signatures and results as SciPy for the arguments ``core`` uses):

* :class:`cKDTree` — ``query(x, k)`` (exact k nearest neighbours) and
  ``query_pairs(r, output_type="ndarray")``, on a uniform grid (cells sized so a query
  looks at a few points; queries the grid cannot settle fall back to exact brute force);
* :func:`coo_matrix`, :func:`csr_matrix`, :func:`bmat` — a small sparse matrix
  (:class:`SparseMatrix`) with duplicates summed and indices sorted, ``tocsr``, ``tocoo``,
  ``sum_duplicates``, ``getrow``, ``indptr``, ``indices``, ``row``/``col``/``data``,
  ``T``, ``sum(axis)`` and ``@`` with a dense array;
* :func:`cdist` (Euclidean);
* :func:`connected_components` of an undirected graph (labels numbered like SciPy's:
  components in order of their smallest node).

The sparse matrices and graph searches live in ``_sparse_lite.py`` (vendored beside this
module under the same name) and are re-exported here.
"""

from __future__ import annotations

import numpy as np

from ._sparse_lite import (  # noqa: F401 - re-exported under SciPy's names
    SparseMatrix,
    bmat,
    connected_components,
    coo_matrix,
    csr_matrix,
    dijkstra,
)

#: Candidate (query, point) pairs examined at once; bounds temporary memory (~40 bytes each).
CANDIDATE_BUDGET = 4_000_000
#: Mean number of points per occupied grid cell aimed for, ``base + per_k * k``: small cells
#: keep the candidate lists short, large enough ones let most queries settle in 3x3x3 cells.
TARGET_OCCUPANCY = (1.9, 0.27)
#: Grids with at most this many cells use a dense cell table (8 bytes x 2 per cell).
DENSE_CELLS = 4_000_000
#: Cells per axis are kept below this so cell keys fit an int64.
_MAX_CELLS = 1 << 20
#: Empty cells around a dense grid, so 5x5x5 neighbourhoods of points stay inside it.
_PAD = 2


# ---------------------------------------------------------------------------- k-d tree


def _cell_keys(cells: np.ndarray) -> np.ndarray:
    c = np.clip(cells, -_MAX_CELLS, _MAX_CELLS - 1) + _MAX_CELLS
    return (c[:, 0] << 42) | (c[:, 1] << 21) | c[:, 2]


class cKDTree:  # noqa: N801 - SciPy's name, so the vendored code reads unchanged
    """Exact nearest-neighbour queries over ``data`` (N, 3) (or (N, D), D ≤ 3)."""

    def __init__(self, data):
        d = np.asarray(data, np.float64)
        if d.ndim != 2 or d.shape[1] > 3:
            raise ValueError(f"cKDTree here takes (N, D<=3) points, got shape {d.shape}")
        self.data = d
        self.n = len(d)
        self._pts = np.zeros((len(d), 3))
        self._pts[:, : d.shape[1]] = d
        self._grids: dict[float, tuple] = {}
        self._cells: dict[int, float] = {}

    # -- grid

    def _grid(self, h: float) -> dict:
        """The points bucketed in cells of size ``h`` (cached per ``h``): ``perm`` orders the
        points by cell; each occupied cell has a ``start`` and ``count`` in that order, found
        through a dense table of all cells (``DENSE_CELLS`` at most, padded by 2 cells) or,
        for larger grids, by binary search over the sorted occupied-cell keys."""
        if h in self._grids:
            return self._grids[h]
        origin = self._pts.min(axis=0) if self.n else np.zeros(3)
        cells = np.floor((self._pts - origin) / h).astype(np.int64)
        dims = (cells.max(axis=0) + 1 if self.n else np.ones(3, np.int64)) + 2 * _PAD
        g = {"h": h, "origin": origin}
        if int(np.prod(dims)) <= DENSE_CELLS:
            strides = np.array([dims[1] * dims[2], dims[2], 1], np.int64)
            lin = (cells + _PAD) @ strides
            g["perm"] = np.argsort(lin, kind="stable")
            counts = np.bincount(lin, minlength=int(np.prod(dims)))
            g.update(dense=True, dims=dims, strides=strides, counts=counts,
                     starts=np.cumsum(counts) - counts)
        else:
            keys = _cell_keys(cells)
            g["perm"] = np.argsort(keys, kind="stable")
            ukeys, starts, counts = np.unique(keys[g["perm"]], return_index=True,
                                              return_counts=True)
            g.update(dense=False, ukeys=ukeys, starts=starts, counts=counts)
        g["occupancy"] = self.n / max(1, int(np.count_nonzero(g["counts"])))
        self._grids[h] = g
        return g

    def _knn_cell(self, k: int) -> float:
        """A cell size at which occupied cells hold about ``TARGET_OCCUPANCY`` points
        (measured on the data; cached per ``k``). On sampled surfaces this lets ~99 % of
        queries settle in their 3x3x3 cells (measured: k=1, 3, 9 on 10k sphere points)."""
        if k in self._cells:
            return self._cells[k]
        ext = float(np.ptp(self._pts, axis=0).max()) if self.n else 0.0
        if ext <= 0.0:
            return self._cells.setdefault(k, 1.0)
        target = TARGET_OCCUPANCY[0] + TARGET_OCCUPANCY[1] * max(1, k)
        origin = self._pts.min(axis=0)
        lo_h, hi_h = ext / (_MAX_CELLS // 2), 2.0 * ext
        h = ext / max(1.0, np.sqrt(self.n))
        for _ in range(16):
            cells = np.floor((self._pts - origin) / h).astype(np.int64)
            mean = self.n / len(np.unique(_cell_keys(cells)))
            if 0.8 * target <= mean <= 1.25 * target or self.n < target:
                break
            if mean < target:
                lo_h = h
            else:
                hi_h = h
            h = float(np.clip(h * np.sqrt(target / mean), lo_h, hi_h))
            if hi_h <= lo_h * 1.0001:
                break
        self._cells[k] = h
        return h

    def _candidates(self, q: np.ndarray, g: dict, r: int):
        """(query index, point index) of every point in the (2r+1)^3 cells around each
        query (r <= 2), grouped by query."""
        cq = np.floor((q - g["origin"]) / g["h"]).astype(np.int64)
        rng = np.arange(-r, r + 1)
        offs = np.stack(np.meshgrid(rng, rng, rng, indexing="ij"), -1).reshape(-1, 3)
        if g["dense"]:
            cq += _PAD
            inside = ((cq >= r) & (cq < g["dims"] - r)).all(axis=1)
            lin = (np.where(inside[:, None], cq, r) @ g["strides"])[:, None] + (
                offs @ g["strides"])[None, :]
            cnt = np.where(inside[:, None], g["counts"][lin], 0).ravel()
            st = g["starts"][lin].ravel()
        else:
            keys = _cell_keys((cq[:, None, :] + offs[None]).reshape(-1, 3))
            ukeys = g["ukeys"]
            pos = np.clip(np.searchsorted(ukeys, keys), 0, max(len(ukeys) - 1, 0))
            hit = ukeys[pos] == keys if len(ukeys) else np.zeros(len(keys), bool)
            cnt = np.where(hit, g["counts"][pos], 0)
            st = np.where(hit, g["starts"][pos], 0)
        total = int(cnt.sum())
        qi = np.repeat(np.arange(len(cnt)) // len(offs), cnt)
        first = np.repeat(np.cumsum(cnt) - cnt, cnt)
        pi = g["perm"][np.repeat(st, cnt) + np.arange(total) - first]
        return qi, pi

    @staticmethod
    def _topk(qi, pi, d2, nq: int, k: int):
        """k smallest candidates per query: (dist2 (nq, k), idx (nq, k), have (nq,)).

        ``qi`` is non-decreasing (candidates come grouped by query): each block of queries
        is laid out as a padded (queries, candidates) matrix and partitioned row-wise."""
        have = np.bincount(qi, minlength=nq)
        out_d = np.full((nq, k), np.inf)
        out_i = np.full((nq, k), -1, np.int64)
        if len(qi) == 0:
            return out_d, out_i, have
        start = np.cumsum(have) - have
        width = max(int(have.max()), k)
        rows_per_block = max(1, CANDIDATE_BUDGET // width)
        for r0 in range(0, nq, rows_per_block):
            r1 = min(nq, r0 + rows_per_block)
            c0 = start[r0]
            c1 = start[r1 - 1] + have[r1 - 1]
            q, p, d = qi[c0:c1] - r0, pi[c0:c1], d2[c0:c1]
            pos = np.arange(c0, c1) - start[qi[c0:c1]]
            dm = np.full((r1 - r0, width), np.inf)
            im = np.full((r1 - r0, width), -1, np.int64)
            dm[q, pos], im[q, pos] = d, p
            if k < width:
                part = np.argpartition(dm, k - 1, axis=1)[:, :k]
                dm = np.take_along_axis(dm, part, axis=1)
                im = np.take_along_axis(im, part, axis=1)
            order = np.argsort(dm, axis=1, kind="stable")[:, :k]
            out_d[r0:r1] = np.take_along_axis(dm, order, axis=1)
            out_i[r0:r1] = np.take_along_axis(im, order, axis=1)
        return out_d, out_i, have

    def _brute(self, q: np.ndarray, k: int):
        out_d = np.empty((len(q), k))
        out_i = np.empty((len(q), k), np.int64)
        step = max(1, CANDIDATE_BUDGET // max(1, self.n))
        for s in range(0, len(q), step):
            d2 = ((q[s:s + step, None, :] - self._pts[None]) ** 2).sum(-1)
            idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
            out_i[s:s + step] = idx
            out_d[s:s + step] = np.take_along_axis(d2, idx, axis=1)
        return out_d, out_i

    def query(self, x, k: int = 1, eps: float = 0, p: float = 2, distance_upper_bound=np.inf,
              workers: int = 1):
        """Distances and indices of the ``k`` nearest points of each query (Euclidean).

        Shapes as SciPy's: ``k == 1`` gives (Q,), else (Q, k); a single query point gives
        scalars / (k,). With ``k`` above the number of points, missing neighbours have
        distance ``inf`` and index ``n``. ``eps``, ``p`` and ``distance_upper_bound`` must
        keep their defaults; ``workers`` is accepted and ignored (numpy runs this).
        """
        if eps != 0 or p != 2 or np.isfinite(distance_upper_bound):
            raise NotImplementedError("only exact Euclidean queries are supported here")
        x = np.asarray(x, np.float64)
        single = x.ndim == 1
        q = np.zeros((1 if single else len(x), 3))
        q[:, : self.data.shape[1]] = x.reshape(len(q), -1)
        kk = min(int(k), self.n)
        d2 = np.full((len(q), int(k)), np.inf)
        idx = np.full((len(q), int(k)), self.n, np.int64)
        if kk > 0 and len(q):
            d2[:, :kk], idx[:, :kk] = self._query_grid(q, kk)
        dist = np.sqrt(d2)
        if k == 1:
            dist, idx = dist[:, 0], idx[:, 0]
        return (dist[0], idx[0]) if single else (dist, idx)

    def _query_grid(self, q: np.ndarray, k: int):
        if len(q) * self.n <= CANDIDATE_BUDGET // 4:
            return self._brute(q, k)
        grid = self._grid(self._knn_cell(k))
        h, occ = grid["h"], grid["occupancy"]
        out_d = np.empty((len(q), k))
        out_i = np.empty((len(q), k), np.int64)
        todo = np.arange(len(q))
        for r in (1, 2):
            if len(todo) == 0:
                break
            step = max(1, int(CANDIDATE_BUDGET / (occ * (2 * r + 1) ** 3)))
            left = []
            for s in range(0, len(todo), step):
                ids = todo[s:s + step]
                qi, pi = self._candidates(q[ids], grid, r)
                d2 = ((q[ids][qi] - self._pts[pi]) ** 2).sum(-1)
                bd, bi, have = self._topk(qi, pi, d2, len(ids), k)
                # exact when the k-th candidate is no farther than any point outside the block
                ok = (have >= k) & (bd[:, -1] <= (r * h) ** 2)
                out_d[ids[ok]], out_i[ids[ok]] = bd[ok], bi[ok]
                left.append(ids[~ok])
            todo = np.concatenate(left) if left else todo[:0]
        if len(todo):
            out_d[todo], out_i[todo] = self._brute(q[todo], k)
        return out_d, out_i

    def query_pairs(self, r: float, p: float = 2.0, eps: float = 0, output_type: str = "set"):
        """All pairs ``(i, j)``, ``i < j``, at distance ``<= r``; as SciPy's: a set of tuples
        or, with ``output_type="ndarray"``, an (P, 2) int array (here sorted by i, then j)."""
        if p != 2 or eps != 0:
            raise NotImplementedError("only exact Euclidean pairs are supported here")
        pairs = self._pairs(float(r))
        if output_type == "ndarray":
            return pairs
        if output_type == "set":
            return {(int(a), int(b)) for a, b in pairs}
        raise ValueError(f"output_type must be 'set' or 'ndarray', got {output_type!r}")

    def _pairs(self, r: float) -> np.ndarray:
        if self.n < 2 or r < 0:
            return np.zeros((0, 2), np.int64)
        ext = float(np.ptp(self._pts, axis=0).max())
        h = max(r, ext / (_MAX_CELLS // 2), 1e-300)
        grid = self._grid(h)
        occ = grid["occupancy"]
        step = max(1, int(CANDIDATE_BUDGET / (occ * 27)))
        out = []
        for s in range(0, self.n, step):
            ids = np.arange(s, min(self.n, s + step))
            qi, pi = self._candidates(self._pts[ids], grid, 1)
            a = ids[qi]
            keep = a < pi
            a, b = a[keep], pi[keep]
            d2 = ((self._pts[a] - self._pts[b]) ** 2).sum(-1)
            keep = d2 <= r * r
            out.append(np.stack([a[keep], b[keep]], 1))
        pairs = np.concatenate(out) if out else np.zeros((0, 2), np.int64)
        order = np.lexsort((pairs[:, 1], pairs[:, 0]))
        return pairs[order].astype(np.int64)


def cdist(XA, XB, metric: str = "euclidean") -> np.ndarray:  # noqa: N803 - SciPy's names
    """Euclidean distance of every row of ``XA`` (A, D) to every row of ``XB`` (B, D): (A, B)
    float64, computed from coordinate differences (no cancellation)."""
    if metric != "euclidean":
        raise NotImplementedError("only the Euclidean metric is supported here")
    a, b = np.asarray(XA, np.float64), np.asarray(XB, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"XA and XB must be 2-D with equal columns, got {a.shape}, {b.shape}")
    out = np.empty((len(a), len(b)))
    step = max(1, CANDIDATE_BUDGET // max(1, len(b)))
    for s in range(0, len(a), step):
        out[s:s + step] = np.sqrt(((a[s:s + step, None, :] - b[None]) ** 2).sum(-1))
    return out
