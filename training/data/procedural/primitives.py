"""Mesh primitives and transforms for procedural objects (trimesh meshes, metres-ish).

Every builder returns a new :class:`trimesh.Trimesh` centred as documented; ``at``/``rot``
helpers return transformed copies so that family code reads as placement statements.
"""

from __future__ import annotations

import numpy as np
import trimesh
from trimesh import creation
from trimesh.transformations import rotation_matrix

_TILT = rotation_matrix(0.37, [0.3, 0.8, 0.5])[:3, :3]  # keeps sphere vertices off axis planes


def _mesh(v: np.ndarray, f: np.ndarray) -> trimesh.Trimesh:
    return trimesh.Trimesh(np.asarray(v, np.float64), np.asarray(f, np.int64), process=False)


def box(size, bevel: float = 0.0) -> trimesh.Trimesh:
    """Axis-aligned box of extents ``size`` (3,) centred at the origin.

    ``bevel`` > 0 rounds edges and corners with that radius (clipped to half the smallest
    extent).
    """
    size = np.asarray(size, np.float64)
    if bevel <= 0:
        return creation.box(extents=size)
    r = float(min(bevel, 0.49 * size.min()))
    s = creation.icosphere(subdivisions=2, radius=r)
    v = s.vertices @ _TILT.T
    v = v + np.where(v >= 0, 1.0, -1.0) * (size / 2 - r)
    return _mesh(v, s.faces)


def cylinder(radius: float, height: float, sections: int = 20) -> trimesh.Trimesh:
    """Closed cylinder along z, centred at the origin."""
    return creation.cylinder(radius=radius, height=height, sections=sections)


def tube(r_out: float, r_in: float, height: float, sections: int = 24) -> trimesh.Trimesh:
    """Hollow cylinder (annulus extruded along z), centred at the origin."""
    return creation.annulus(r_min=r_in, r_max=r_out, height=height, sections=sections)


def lathe(profile, sections: int = 24) -> trimesh.Trimesh:
    """Surface of revolution about z of a polyline ``profile`` of (radius, z) rows.

    Start and end the profile at radius 0 to close it.
    """
    p = np.asarray(profile, np.float64)
    return creation.revolve(p, sections=sections)


def frustum(r0: float, r1: float, height: float, sections: int = 24) -> trimesh.Trimesh:
    """Closed truncated cone from radius ``r0`` at z=0 to ``r1`` at z=height."""
    return lathe([[0, 0], [r0, 0], [r1, height], [0, height]], sections)


def shell(outer, thickness: float, sections: int = 24) -> trimesh.Trimesh:
    """Thin open-topped shell of revolution (bucket, pot, cup) with an inside.

    ``outer`` lists (radius, z) from the bottom centre (radius 0) to the rim; the inner wall
    is the outer profile moved inwards by ``thickness`` (and up at the bottom), walked back
    to the axis, so the closed profile has a real inside surface.
    """
    o = np.asarray(outer, np.float64)
    inner = o.copy()
    inner[:, 0] = np.maximum(inner[:, 0] - thickness, 0.0)
    inner[:, 1] = np.maximum(inner[:, 1], o[0, 1] + thickness)
    inner[-1, 1] = o[-1, 1]
    prof = np.concatenate([o, inner[::-1]])
    prof[-1, 0] = 0.0
    # drop consecutive duplicates (revolve dislikes zero-length segments)
    keep = np.ones(len(prof), bool)
    keep[1:] = np.linalg.norm(np.diff(prof, axis=0), axis=1) > 1e-9
    return lathe(prof[keep], sections)


def box_shell(size, thickness: float) -> trimesh.Trimesh:
    """Closed thin-walled open-top box (tray, case half, drawer box) with a real inside.

    ``size`` (3,) are the outer extents; the bottom's outer face lies at z=0, the open rim at
    z=size[2], centred on the z axis. Walls and bottom are ``thickness`` thick (clipped so
    an inside remains); the rim joins the outer and inner walls, so the mesh is watertight.
    """
    w, d, h = (float(x) for x in size)
    t = float(min(thickness, 0.45 * min(w, d), 0.9 * h))
    sx = np.array([-1, 1, 1, -1], np.float64)
    sy = np.array([-1, -1, 1, 1], np.float64)
    outer = [np.stack([sx * w / 2, sy * d / 2, np.full(4, z)], 1) for z in (0.0, h)]
    inner = [np.stack([sx * (w / 2 - t), sy * (d / 2 - t), np.full(4, z)], 1) for z in (t, h)]
    v = np.concatenate(outer + inner)  # 0-3 outer bottom, 4-7 outer top, 8-11 / 12-15 inner

    def quad(a, b, c, e):
        return [[a, b, c], [a, c, e]]

    f = quad(0, 3, 2, 1) + quad(8, 9, 10, 11)  # outer bottom (down), inner bottom (up)
    for i in range(4):
        j = (i + 1) % 4
        f += quad(i, j, j + 4, i + 4)  # outer wall (outwards)
        f += quad(8 + j, 8 + i, 12 + i, 12 + j)  # inner wall (towards the inside)
        f += quad(4 + i, 4 + j, 12 + j, 12 + i)  # rim (up)
    return _mesh(v, np.asarray(f, np.int64))


def sphere(radius: float, subdivisions: int = 2) -> trimesh.Trimesh:
    """Icosphere centred at the origin."""
    return creation.icosphere(subdivisions=subdivisions, radius=radius)


def ellipsoid(radii, subdivisions: int = 2) -> trimesh.Trimesh:
    """Ellipsoid with semi-axes ``radii`` (3,), centred at the origin."""
    m = creation.icosphere(subdivisions=subdivisions, radius=1.0)
    m.vertices = m.vertices * np.asarray(radii, np.float64)
    return m


def torus(major: float, minor: float, sections: int = 24, minor_sections: int = 10):
    """Torus in the xy plane centred at the origin."""
    return creation.torus(major, minor, major_sections=sections, minor_sections=minor_sections)


def capsule(length: float, radius: float) -> trimesh.Trimesh:
    """Capsule along z: a cylinder of ``length`` with hemispherical caps, centred."""
    return creation.capsule(height=length, radius=radius, count=[12, 12])


def sweep(path, radius, sections: int = 12, cap: bool = True) -> trimesh.Trimesh:
    """Tube of circular cross-section swept along a polyline ``path`` (M, 3).

    ``radius`` may be a scalar or (M,) per path point (tapering). Frames are parallel-
    transported, so bent tubes do not twist. ``sections=4`` gives a square-ish bar.
    """
    p = np.asarray(path, np.float64)
    m = len(p)
    rad = np.broadcast_to(np.asarray(radius, np.float64), (m,))
    t = np.gradient(p, axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True) + 1e-12
    ref = np.array([0.0, 0.0, 1.0]) if abs(t[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    n = np.cross(t[0], ref)
    n /= np.linalg.norm(n)
    normals = [n]
    for i in range(1, m):
        n = n - np.dot(n, t[i]) * t[i]
        n /= np.linalg.norm(n) + 1e-12
        normals.append(n)
    normals = np.array(normals)
    binormals = np.cross(t, normals)
    ang = np.linspace(0, 2 * np.pi, sections, endpoint=False)
    ring = np.cos(ang)[None, :, None] * normals[:, None] + np.sin(ang)[None, :, None] * binormals[:, None]
    verts = (p[:, None] + rad[:, None, None] * ring).reshape(-1, 3)
    faces = []
    for i in range(m - 1):
        for j in range(sections):
            a, b = i * sections + j, i * sections + (j + 1) % sections
            c, d = a + sections, b + sections
            faces += [[a, b, d], [a, d, c]]
    if cap:
        c0, c1 = len(verts), len(verts) + 1
        verts = np.vstack([verts, p[0], p[-1]])
        last = (m - 1) * sections
        for j in range(sections):
            faces.append([c0, (j + 1) % sections, j])
            faces.append([c1, last + j, last + (j + 1) % sections])
    return _mesh(verts, faces)


def rod(p0, p1, radius: float, sections: int = 12) -> trimesh.Trimesh:
    """Capped cylinder between points ``p0`` and ``p1``."""
    return sweep(np.array([p0, p1], np.float64), radius, sections)


def arc(radius: float, angle: float, n: int = 12, start: float = 0.0) -> np.ndarray:
    """Points (n, 3) on a circular arc of ``radius`` in the xz plane, centred at the origin,
    from polar angle ``start`` over ``angle`` radians (angles measured from +x toward +z)."""
    a = start + np.linspace(0, angle, n)
    return np.stack([radius * np.cos(a), np.zeros(n), radius * np.sin(a)], 1)


def at(mesh: trimesh.Trimesh, pos) -> trimesh.Trimesh:
    """Copy of ``mesh`` translated by ``pos``."""
    m = mesh.copy()
    m.apply_translation(np.asarray(pos, np.float64))
    return m


def rot(mesh: trimesh.Trimesh, axis, angle: float, pos=None) -> trimesh.Trimesh:
    """Copy of ``mesh`` rotated by ``angle`` radians about ``axis`` through the origin, then
    translated by ``pos`` when given."""
    m = mesh.copy()
    m.apply_transform(rotation_matrix(angle, axis))
    if pos is not None:
        m.apply_translation(np.asarray(pos, np.float64))
    return m


def rx(mesh, angle, pos=None):
    """Rotate about x (see :func:`rot`)."""
    return rot(mesh, [1, 0, 0], angle, pos)


def ry(mesh, angle, pos=None):
    """Rotate about y (see :func:`rot`)."""
    return rot(mesh, [0, 1, 0], angle, pos)


def rz(mesh, angle, pos=None):
    """Rotate about z (see :func:`rot`)."""
    return rot(mesh, [0, 0, 1], angle, pos)


def u(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Uniform float in [lo, hi)."""
    return float(rng.uniform(lo, hi))


def ri(rng: np.random.Generator, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi] (inclusive)."""
    return int(rng.integers(lo, hi + 1))
