"""Face corners (loops) of Blender meshes in bounded memory: the vertices of some
polygons, and values repeated per corner.

A 2M-polygon mesh has 8M corners, so an (L,) int64 array is 64 MB; the functions here keep
the corners as Blender stores them (int32) and work over chunks of polygons. A polygon's
corners are the loops ``loop_start .. loop_start + loop_total`` and polygons are stored in
loop order, so chunk ``p0:p1`` of the polygons owns loops ``start[p0]:start[p1]``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: polygons handled at once.
POLY_CHUNK = 1 << 18


def loop_totals(me) -> np.ndarray:
    """Corner count of every polygon (int32 (P,))."""
    totals = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_total", totals)
    return totals


def poly_corners(me) -> tuple[np.ndarray, np.ndarray]:
    """Vertex index and polygon index (int32, as Blender stores them) of every face corner
    (loop) of ``me``."""
    verts = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", verts)
    return verts, np.repeat(np.arange(len(me.polygons), dtype=np.int32), loop_totals(me))


def corner_values(me, per_face: np.ndarray) -> np.ndarray:
    """``per_face`` (P, ...) repeated for every corner of each polygon (L, ...)."""
    return np.repeat(per_face, loop_totals(me), axis=0)


def corner_rows(me, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """``table[row]`` repeated per corner, (L, ...) of ``table``'s dtype: ``corner_values(me,
    table[row])`` without (P, ...) or (L,) index temporaries."""
    totals = loop_totals(me)
    start = np.concatenate([[0], np.cumsum(totals, dtype=np.int64)])
    out = np.empty((int(start[-1]), *table.shape[1:]), table.dtype)
    for p0 in range(0, len(totals), POLY_CHUNK):
        p1 = min(p0 + POLY_CHUNK, len(totals))
        out[start[p0]:start[p1]] = table[np.repeat(row[p0:p1], totals[p0:p1])]
    return out


def part_vertices(me) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a polygon mask (P,) to the sorted unique vertices (int64) of the
    masked polygons; the corners are read once, each call marks vertices chunk by chunk
    (no sort, no (L,) temporaries)."""
    verts = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", verts)
    totals = loop_totals(me)
    start = np.concatenate([[0], np.cumsum(totals, dtype=np.int64)])
    n_vertices = len(me.vertices)

    def vertices_of(poly_mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(poly_mask, bool)
        hit = np.zeros(n_vertices, bool)
        for p0 in range(0, len(totals), POLY_CHUNK):
            p1 = min(p0 + POLY_CHUNK, len(totals))
            if mask[p0:p1].any():
                hit[verts[start[p0]:start[p1]][np.repeat(mask[p0:p1], totals[p0:p1])]] = True
        return np.flatnonzero(hit)

    return vertices_of


def polygon_vertices(me, poly_mask: np.ndarray) -> np.ndarray:
    """Sorted unique vertices of the masked polygons."""
    return part_vertices(me)(poly_mask)
