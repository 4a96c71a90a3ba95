"""Procedural multi-part meshes for the demo and the Blender tests (numpy only).

Every part is a separate closed box; parts touch but share no vertices (like a model built
from primitives). Frames: Blender's, Z up, metres.
"""

from __future__ import annotations

import numpy as np

_BOX_QUADS = np.array([[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4],
                       [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]])


def box(center, size) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (8, 3) and outward quads (6, 4) of an axis-aligned box."""
    c, h = np.asarray(center, float), np.asarray(size, float) / 2
    signs = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                      [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], float)
    return c + signs * h, _BOX_QUADS.copy()


def table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A table: top, four legs and a drawer box under the top.

    Returns vertices (V, 3), quads (F, 4) and the part id of every face (F,)
    (0 = top, 1-4 = legs, 5 = drawer).
    """
    parts = [box((0, 0, 0.75), (1.6, 0.9, 0.08))]
    for x in (-0.72, 0.72):
        for y in (-0.37, 0.37):
            parts.append(box((x, y, 0.355), (0.08, 0.08, 0.71)))
    parts.append(box((0.0, 0.0, 0.62), (0.6, 0.5, 0.18)))
    verts, faces, part = [], [], []
    for i, (v, f) in enumerate(parts):
        faces.append(f + 8 * i)
        verts.append(v)
        part.append(np.full(len(f), i))
    return np.concatenate(verts), np.concatenate(faces), np.concatenate(part)


def write_obj(path, vertices, faces) -> None:
    """Write a minimal OBJ (positions + polygons) in OBJ's Y-up convention, so Blender's
    importer (forward -Z, up Y) brings it back Z-up as given."""
    with open(path, "w") as fh:
        fh.write("# procedural table (s2am3d demo)\n")
        for v in vertices:
            fh.write(f"v {v[0]:.6f} {v[2]:.6f} {-v[1]:.6f}\n")
        for f in faces:
            fh.write("f " + " ".join(str(int(i) + 1) for i in f) + "\n")
