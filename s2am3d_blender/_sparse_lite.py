"""Sparse matrices and graph searches of :mod:`scipy_lite` (numpy only): the part of SciPy's
``scipy.sparse`` and ``scipy.sparse.csgraph`` that ``core`` calls, for the copy vendored
into Blender. Re-exported by ``scipy_lite`` (vendored beside it as ``_sparse_lite.py``);
checked against SciPy by ``tests/test_blender_scipy_lite.py``.
"""

from __future__ import annotations

import numpy as np


class SparseMatrix:
    """A 2-D sparse matrix kept in canonical form: entries sorted by (row, col), duplicates
    summed. Stands for both SciPy's COO and CSR matrices in the calls ``core`` makes."""

    def __init__(self, data, row, col, shape):
        n_rows, n_cols = int(shape[0]), int(shape[1])
        row = np.asarray(row, np.int64).ravel()
        col = np.asarray(col, np.int64).ravel()
        data = np.asarray(data).ravel()
        if len(row) and (row.min() < 0 or row.max() >= n_rows or col.min() < 0
                         or col.max() >= n_cols):
            raise ValueError("row or column index out of range")
        key = row * n_cols + col
        uk, inv = np.unique(key, return_inverse=True)
        dtype = data.dtype if len(data) else np.float64
        summed = np.bincount(inv.ravel(), weights=data.astype(np.float64),
                             minlength=len(uk)).astype(dtype)
        self.row = (uk // max(n_cols, 1)).astype(np.int32)
        self.col = (uk % max(n_cols, 1)).astype(np.int32)
        self.data = summed
        self.shape = (n_rows, n_cols)

    @property
    def indices(self) -> np.ndarray:
        return self.col

    @property
    def indptr(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(np.bincount(self.row, minlength=self.shape[0]))]
                              ).astype(np.int32)

    @property
    def nnz(self) -> int:
        return len(self.data)

    def tocsr(self) -> SparseMatrix:
        return self

    def tocoo(self) -> SparseMatrix:
        return self

    def sum_duplicates(self) -> None:
        """Already canonical: nothing to do."""

    def getrow(self, i: int) -> SparseMatrix:
        sel = self.row == int(i)
        return SparseMatrix(self.data[sel], np.zeros(int(sel.sum()), np.int64), self.col[sel],
                            (1, self.shape[1]))

    @property
    def T(self) -> SparseMatrix:  # noqa: N802 - SciPy's name
        return SparseMatrix(self.data, self.col, self.row, self.shape[::-1])

    def sum(self, axis=None):
        """Sum of all entries, or a (1, n_cols) / (n_rows, 1) array per column / row."""
        if axis is None:
            return self.data.sum()
        if axis in (0, -2):
            return np.bincount(self.col, self.data, self.shape[1])[None, :].astype(self.data.dtype)
        return np.bincount(self.row, self.data, self.shape[0])[:, None].astype(self.data.dtype)

    def __matmul__(self, other):
        other = np.asarray(other)
        vec = other.ndim == 1
        dense = other[:, None] if vec else other
        if dense.shape[0] != self.shape[1]:
            raise ValueError(f"shape mismatch {self.shape} @ {other.shape}")
        out = np.zeros((self.shape[0], dense.shape[1]), np.result_type(self.data, dense))
        if self.nnz:  # entries are sorted by row: sum each row's run at once
            starts = np.flatnonzero(np.r_[True, self.row[1:] != self.row[:-1]])
            prod = self.data[:, None] * dense[self.col]
            out[self.row[starts]] = np.add.reduceat(prod, starts, axis=0)
        return out[:, 0] if vec else out

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.shape, self.data.dtype)
        out[self.row, self.col] = self.data
        return out


def _from_args(arg, shape) -> SparseMatrix:
    if isinstance(arg, SparseMatrix):
        return arg
    data, (row, col) = arg
    if shape is None:
        shape = (int(np.max(row)) + 1, int(np.max(col)) + 1)
    return SparseMatrix(data, row, col, shape)


def coo_matrix(arg, shape=None) -> SparseMatrix:
    """``coo_matrix((data, (row, col)), shape=...)`` as SciPy's (duplicates summed)."""
    return _from_args(arg, shape)


def csr_matrix(arg, shape=None) -> SparseMatrix:
    """``csr_matrix((data, (row, col)), shape=...)`` as SciPy's (duplicates summed)."""
    return _from_args(arg, shape)


def bmat(blocks, format=None) -> SparseMatrix:  # noqa: A002 - SciPy's argument name
    """A block matrix from a 2-D list of :class:`SparseMatrix` or ``None`` (zero) blocks."""
    n_br, n_bc = len(blocks), len(blocks[0])
    heights, widths = [None] * n_br, [None] * n_bc
    for i in range(n_br):
        for j in range(n_bc):
            b = blocks[i][j]
            if b is not None:
                heights[i], widths[j] = b.shape
    if None in heights or None in widths:
        raise ValueError("every block row and column needs at least one block")
    r0 = np.concatenate([[0], np.cumsum(heights)])
    c0 = np.concatenate([[0], np.cumsum(widths)])
    data, rows, cols = [], [], []
    for i in range(n_br):
        for j in range(n_bc):
            b = blocks[i][j]
            if b is not None:
                data.append(b.data)
                rows.append(b.row.astype(np.int64) + r0[i])
                cols.append(b.col.astype(np.int64) + c0[j])
    return SparseMatrix(np.concatenate(data), np.concatenate(rows), np.concatenate(cols),
                        (int(r0[-1]), int(c0[-1])))


def connected_components(csgraph, directed: bool = False, connection: str = "weak",
                         return_labels: bool = True):
    """``(n_components, labels)`` of the graph whose edges are the stored entries of
    ``csgraph`` (directions ignored, as SciPy's undirected / weak mode). Labels run from 0
    in the order of each component's smallest node, as SciPy numbers them."""
    g = _from_args(csgraph, None) if not isinstance(csgraph, SparseMatrix) else csgraph
    n = g.shape[0]
    if g.shape[0] != g.shape[1]:
        raise ValueError(f"the graph must be square, got {g.shape}")
    if directed and connection == "strong":
        raise NotImplementedError("strong components are not needed here")
    u, v = g.row.astype(np.int64), g.col.astype(np.int64)
    parent = np.arange(n)
    while True:
        pu, pv = parent[u], parent[v]
        lo, hi = np.minimum(pu, pv), np.maximum(pu, pv)
        diff = lo != hi
        if not diff.any():
            break
        np.minimum.at(parent, hi[diff], lo[diff])
        while True:  # pointer jumping: every node points at its root
            pp = parent[parent]
            if np.array_equal(pp, parent):
                break
            parent = pp
    roots, labels = np.unique(parent, return_inverse=True)
    labels = labels.ravel().astype(np.int32)
    return (len(roots), labels) if return_labels else len(roots)


def dijkstra(csgraph, directed: bool = True, indices=None, min_only: bool = False):
    """Shortest path lengths from ``indices`` over non-negative edge weights, as SciPy's
    ``dijkstra`` with ``min_only=True`` (the distance to the nearest source; unreachable
    nodes get inf). Vectorised Bellman-Ford relaxation over the stored edges (numpy has
    no priority queue): one pass per edge on the longest shortest path, which suits the
    k-NN graphs of :mod:`core.point_growth`."""
    g = _from_args(csgraph, None) if not isinstance(csgraph, SparseMatrix) else csgraph
    if not min_only:
        raise NotImplementedError("only min_only=True is needed here")
    n = g.shape[0]
    u, v = g.row.astype(np.int64), g.col.astype(np.int64)
    w = np.asarray(g.data, np.float64)
    if not directed:
        u, v, w = np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([w, w])
    dist = np.full(n, np.inf)
    dist[np.atleast_1d(np.asarray(indices, np.int64))] = 0.0
    while True:
        cand = dist[u] + w
        better = cand < dist[v]
        if not better.any():
            return dist
        np.minimum.at(dist, v[better], cand[better])
