"""Mouse → world ray → object ray → hit, with synthetic Blender-style view matrices."""

from __future__ import annotations

import numpy as np

from s2am3d_blender import raycast


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World → view matrix of a camera at ``eye`` looking at ``target`` (-Z forward)."""
    eye, target, up = (np.asarray(x, float) for x in (eye, target, up))
    f = target - eye
    f /= np.linalg.norm(f)
    r = np.cross(f, up)
    r /= np.linalg.norm(r)
    u = np.cross(r, f)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = r, u, -f
    m[:3, 3] = -m[:3, :3] @ eye
    return m


def perspective(fov_y, aspect, near, far) -> np.ndarray:
    f = 1.0 / np.tan(fov_y / 2)
    m = np.zeros((4, 4))
    m[0, 0], m[1, 1] = f / aspect, f
    m[2, 2], m[2, 3] = (far + near) / (near - far), 2 * far * near / (near - far)
    m[3, 2] = -1.0
    return m


def orthographic(half_w, half_h, near, far) -> np.ndarray:
    m = np.eye(4)
    m[0, 0], m[1, 1] = 1 / half_w, 1 / half_h
    m[2, 2], m[2, 3] = -2 / (far - near), -(far + near) / (far - near)
    return m


def to_pixel(pmat, world, size):
    c = pmat @ np.append(world, 1.0)
    ndc = c[:3] / c[3]
    return ((ndc[0] + 1) / 2 * size[0], (ndc[1] + 1) / 2 * size[1])


def trs(translation, euler_z, scale) -> np.ndarray:
    c, s = np.cos(euler_z), np.sin(euler_z)
    m = np.eye(4)
    m[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag(scale)
    m[:3, 3] = translation
    return m


def _dist_to_ray(ray, p):
    rel = p - ray.origin
    return np.linalg.norm(rel - (rel @ ray.direction) * ray.direction)


def test_pixel_ray_passes_through_the_projected_point_perspective_and_ortho():
    size = (1200, 800)
    view = look_at((6.0, -5.0, 4.0), (0.2, 0.1, 0.3))
    for proj in (perspective(np.radians(50), 1.5, 0.1, 100.0), orthographic(4.5, 3.0, -50, 50)):
        pmat = proj @ view
        for p in ([0.0, 0.0, 0.0], [1.0, -0.5, 0.7], [-1.2, 0.8, -0.3]):
            px = to_pixel(pmat, np.array(p), size)
            ray = raycast.mouse_ray(px, size, pmat)
            assert _dist_to_ray(ray, np.array(p)) < 1e-6
            assert abs(np.linalg.norm(ray.direction) - 1) < 1e-12


def test_click_hits_the_front_triangle_of_a_transformed_object():
    # two parallel unit squares (z = 0 and z = -1) in the object frame
    sq = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], float)
    verts = np.concatenate([sq, sq + [0, 0, -1]])
    tris = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    mw = trs([3.0, -2.0, 1.0], np.radians(30), [2.0, 0.5, 1.5])
    size = (1000, 1000)
    pmat = perspective(np.radians(40), 1.0, 0.1, 100) @ look_at((3.3, -2.2, 9.0), (3, -2, 1),
                                                                 up=(0, 1, 0))
    target_obj = np.array([0.3, -0.4, 0.0])
    target_world = (mw @ np.append(target_obj, 1))[:3]
    ray = raycast.to_object_space(raycast.mouse_ray(to_pixel(pmat, target_world, size), size,
                                                    pmat), mw)
    hit = raycast.intersect_triangles(ray, verts, tris)
    assert hit is not None and hit.triangle in (0, 1)  # the upper square faces the camera
    assert np.allclose(hit.point, target_obj, atol=1e-6)
    # a pixel far outside the squares misses
    assert raycast.intersect_triangles(
        raycast.to_object_space(raycast.mouse_ray((2, 2), size, pmat), mw), verts, tris) is None


def test_nearest_point_to_ray_prefers_the_front_point():
    pts = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [5.0, 5.0, 0.0]])
    ray = raycast.Ray(np.array([0.01, 0.0, 10.0]), np.array([0.0, 0.0, -1.0]))
    assert raycast.nearest_point_to_ray(ray, pts, max_distance=0.1) == 0
    assert raycast.nearest_point_to_ray(ray, pts[1:2] + [1, 0, 0], max_distance=0.1) is None


def test_region_under_mouse_maps_window_to_region_pixels():
    # a 3D view's window region beside its sidebar (Blender's Region.x/y/width/height)
    regions = [(0, 40, 800, 560), (800, 40, 200, 560)]
    assert raycast.region_under((100, 50), regions) == (0, (100.0, 10.0))
    assert raycast.region_under((900, 300), regions) == (1, (100.0, 260.0))
    assert raycast.region_under((100, 20), regions) is None  # over the header
    assert raycast.region_under((100, 50), regions[1:]) is None  # only the sidebar listed
