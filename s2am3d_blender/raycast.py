"""Ray maths of the Pick Parts tool, in plain numpy (no bpy), testable with synthetic views.

Frames: *region* pixels (origin bottom-left, as Blender's ``event.mouse_region_x/y``),
*world* (Blender world units) and *object* (the mesh's own frame, before
``matrix_world``). Matrices are 4×4 row-major arrays acting on column vectors, exactly as
``numpy.array(matrix)`` gives them for a ``mathutils.Matrix``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ray:
    """A ray ``origin + t * direction`` (t ≥ 0); ``direction`` has unit length."""

    origin: np.ndarray
    direction: np.ndarray


def _unproject(inv: np.ndarray, ndc: np.ndarray) -> np.ndarray:
    p = inv @ np.append(ndc, 1.0)
    return p[:3] / p[3]


def mouse_ray(
    mouse_xy: tuple[float, float],
    region_size: tuple[int, int],
    perspective_matrix: np.ndarray,
) -> Ray:
    """World-space ray through a pixel.

    ``perspective_matrix`` is the region's ``RegionView3D.perspective_matrix`` (window
    matrix @ view matrix, world → clip space). The ray starts on the near clipping plane and
    points to the far plane, so it works for perspective and orthographic views alike.
    """
    w, h = region_size
    if w <= 0 or h <= 0:
        raise ValueError(f"region size must be positive, got {region_size}")
    x = 2.0 * float(mouse_xy[0]) / w - 1.0
    y = 2.0 * float(mouse_xy[1]) / h - 1.0
    inv = np.linalg.inv(np.asarray(perspective_matrix, np.float64))
    near = _unproject(inv, np.array([x, y, -1.0]))
    far = _unproject(inv, np.array([x, y, 1.0]))
    d = far - near
    return Ray(near, d / np.linalg.norm(d))


def to_object_space(ray: Ray, matrix_world: np.ndarray) -> Ray:
    """The same ray in the object's frame (inverse of ``matrix_world``; handles
    non-uniform scale by re-normalising the direction)."""
    inv = np.linalg.inv(np.asarray(matrix_world, np.float64))
    o = inv @ np.append(ray.origin, 1.0)
    d = inv[:3, :3] @ ray.direction
    return Ray(o[:3] / o[3], d / np.linalg.norm(d))


@dataclass(frozen=True)
class Hit:
    """Closest hit: ``triangle`` index, ray parameter ``t`` and the object-space ``point``."""

    triangle: int
    t: float
    point: np.ndarray


def intersect_triangles(
    ray: Ray, vertices: np.ndarray, triangles: np.ndarray, eps: float = 1e-12
) -> Hit | None:
    """Closest intersection of ``ray`` with a triangle soup (both sides count).

    ``vertices`` (V, 3) and ``ray`` in the same frame; ``triangles`` (T, 3) vertex indices.
    Möller–Trumbore, vectorised over all triangles. Returns ``None`` when nothing is hit.
    """
    v = np.asarray(vertices, np.float64)
    tri = np.asarray(triangles, np.int64)
    if len(tri) == 0:
        return None
    a, b, c = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
    e1, e2 = b - a, c - a
    d = ray.direction
    p = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > eps
    inv_det = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = ray.origin - a
    u = np.einsum("ij,ij->i", s, p) * inv_det
    q = np.cross(s, e1)
    w = (q @ d) * inv_det
    t = np.einsum("ij,ij->i", e2, q) * inv_det
    hit = ok & (u >= 0) & (w >= 0) & (u + w <= 1) & (t >= 0)
    if not hit.any():
        return None
    idx = np.flatnonzero(hit)
    best = int(idx[np.argmin(t[idx])])
    tb = float(t[best])
    return Hit(best, tb, ray.origin + tb * d)


def nearest_point_to_ray(ray: Ray, points: np.ndarray, max_distance: float) -> int | None:
    """Index of the point closest to the ray (perpendicular distance), for point clouds.

    Only points in front of the origin and within ``max_distance`` of the ray (object units)
    count; among those the one nearest the viewer wins, so a click picks the front surface,
    not a point behind it. ``None`` when no point qualifies.
    """
    pts = np.asarray(points, np.float64)
    rel = pts - ray.origin
    t = rel @ ray.direction
    dist = np.linalg.norm(rel - np.outer(t, ray.direction), axis=1)
    ok = (t >= 0) & (dist <= max_distance)
    if not ok.any():
        return None
    idx = np.flatnonzero(ok)
    return int(idx[np.argmin(t[idx])])


def region_under(
    mouse_xy: tuple[float, float], regions: list[tuple[int, int, int, int]]
) -> tuple[int, tuple[float, float]] | None:
    """Which region a window-space mouse position lies in, and the position in that region.

    ``regions``: ``(x, y, width, height)`` of each candidate region in window pixels (as
    Blender's ``Region.x/y/width/height``). Returns ``(index, (x, y))`` or ``None`` when the
    mouse is over none of them (e.g. over the sidebar, whose events then go to Blender).
    """
    mx, my = float(mouse_xy[0]), float(mouse_xy[1])
    for i, (x, y, w, h) in enumerate(regions):
        if x <= mx < x + w and y <= my < y + h:
            return i, (mx - x, my - y)
    return None
