"""Label bookkeeping between the model's output and Blender's data, in plain numpy.

The add-on hands ``core`` a triangulated copy of the mesh (Blender's loop triangles) and
gets one label per triangle back; these helpers map triangle labels to polygon labels and
vertex sets, map point labels of a point cloud back onto its vertices, hash mesh states
for the encoder cache, and pick display colours.
"""

from __future__ import annotations

import colorsys
import hashlib

import numpy as np


def mesh_key(vertices: np.ndarray, triangles: np.ndarray) -> str:
    """Hash of a mesh state (vertex positions as float32 + triangle indices as int32).

    Two calls give the same key exactly when the geometry the model would see is the same;
    the encoder cache uses it to know when the mesh changed.
    """
    h = hashlib.blake2b(digest_size=16)
    v = np.ascontiguousarray(np.asarray(vertices, np.float32))
    # hashed as int32 (Blender's own index type: no copy of a huge index array)
    t = np.ascontiguousarray(np.asarray(triangles).astype(np.int32, copy=False))
    h.update(np.asarray(v.shape, np.int64).tobytes())
    h.update(v.reshape(-1).view(np.uint8))  # hashes the buffer in place (no bytes copy)
    h.update(np.asarray(t.shape, np.int64).tobytes())
    h.update(t.reshape(-1).view(np.uint8))
    return h.hexdigest()


def polygon_labels(tri_labels: np.ndarray, tri_poly: np.ndarray, n_polys: int) -> np.ndarray:
    """Label of each polygon (F,) from the labels of its triangles (T,).

    A polygon split into several triangles takes the label most of its triangles carry
    (ties: the smallest label). Labels are ints ≥ -1; ``-1`` (unlabelled) only wins when
    every triangle of the polygon is unlabelled; a polygon without triangles gets -1.
    Memory is a few (T,) arrays whatever the number of labels (one sort of
    (polygon, label) pairs), so a 2M-face mesh with hundreds of parts stays cheap.
    """
    tri_labels = np.asarray(tri_labels, np.int64)
    tri_poly = np.asarray(tri_poly, np.int64)
    out = np.full(n_polys, -1, np.int64)
    if len(tri_labels) == 0:
        return out
    k = int(tri_labels.max()) + 2  # labels -1..max → 0..k-1
    pairs, counts = np.unique(tri_poly * k + (tri_labels + 1), return_counts=True)
    poly, shifted = pairs // k, pairs % k
    counts[shifted == 0] = 0  # unlabelled triangles never outvote labelled ones
    # best first within each polygon: most triangles, then the smallest label
    order = np.lexsort((shifted, -counts, poly))
    poly, shifted = poly[order], shifted[order]
    first = np.ones(len(poly), bool)
    first[1:] = poly[1:] != poly[:-1]
    out[poly[first]] = shifted[first] - 1
    return out


def part_vertices(triangles: np.ndarray, tri_mask: np.ndarray) -> np.ndarray:
    """Sorted unique vertex indices of the masked triangles (a part's vertex group)."""
    tri = np.asarray(triangles, np.int64)[np.asarray(tri_mask, bool)]
    return np.unique(tri.ravel())


def nearest_labels(queries: np.ndarray, points: np.ndarray, labels: np.ndarray,
                   chunk: int = 2048) -> np.ndarray:
    """Label of the nearest point for each query point (brute force in chunks, numpy only).

    Used to carry labels from the model's sampled points back to every vertex of a point
    cloud larger than the sample. ``queries`` (Q, 3), ``points`` (N, 3), ``labels`` (N,).
    """
    q = np.asarray(queries, np.float32)
    p = np.asarray(points, np.float32)
    lab = np.asarray(labels)
    pn = (p * p).sum(axis=1)
    out = np.empty(len(q), lab.dtype)
    for s in range(0, len(q), chunk):
        qs = q[s:s + chunk]
        d = pn[None, :] - 2.0 * (qs @ p.T)  # |q|² is constant per row
        out[s:s + chunk] = lab[d.argmin(axis=1)]
    return out


def part_colors(n: int, saturation: float = 0.65, value: float = 0.95) -> np.ndarray:
    """``n`` well-separated RGBA colours (float32, sRGB 0–1) by golden-ratio hue steps."""
    hues = (np.arange(n) * 0.6180339887498949) % 1.0
    rgb = [colorsys.hsv_to_rgb(h, saturation, value) for h in hues]
    out = np.ones((n, 4), np.float32)
    if n:
        out[:, :3] = np.asarray(rgb, np.float32)
    return out


#: Colour of unlabelled / not-selected geometry in previews (sRGB RGBA).
NEUTRAL = np.array([0.55, 0.55, 0.55, 1.0], np.float32)
#: Colour of the part being picked.
HIGHLIGHT = np.array([1.0, 0.45, 0.05, 1.0], np.float32)
