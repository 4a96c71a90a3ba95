"""The training-free baseline of the mesh path: grow crease regions from the click.

Crease regions (:func:`core.creases.crease_regions`: welded faces joined across edges
whose unsigned dihedral angle is below 60°) are added whole, nearest first (distance from
the click to the region's nearest sampled point), until the grown share of the sampled
points is closest to the scale; without a scale the answer is the clicked region. No
learning, no network: the row every learned mesh method has to beat.
"""

from __future__ import annotations

import numpy as np

from core.creases import crease_regions, edge_geometry
from core.mesh_regions import MeshStructure

#: crease angle of the baseline (degrees), the value the superfaces issue measured.
GROW_CREASE_DEG = 60.0


class RegionGrowth:
    """Crease regions of one mesh and the growth answer for clicks on its sampled points.

    Args:
        vertices: (V, 3) object frame; faces: (F, 3) triangles.
        points: (N, 3) sampled points (object frame); point_faces: (N,) their faces.
        weld_rel_tol: welding tolerance (× bounding-box diagonal).
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, points: np.ndarray,
                 point_faces: np.ndarray, weld_rel_tol: float = 1e-5) -> None:
        ms = MeshStructure.build(vertices, faces, weld_rel_tol=weld_rel_tol)
        region = crease_regions(ms, edge_geometry(ms), GROW_CREASE_DEG)
        _, self.point_region = np.unique(region[np.asarray(point_faces)], return_inverse=True)
        self.point_region = self.point_region.reshape(-1)
        self.n_regions = int(self.point_region.max()) + 1
        self.points = np.asarray(points, np.float64)
        self.count = np.bincount(self.point_region, minlength=self.n_regions)

    def mask(self, idx: int, scale: float | None) -> np.ndarray:
        """(N,) bool: the grown regions for a click on sampled point ``idx``."""
        if scale is None:
            return self.point_region == self.point_region[idx]
        d = np.linalg.norm(self.points - self.points[idx], axis=1)
        near = np.full(self.n_regions, np.inf)
        np.minimum.at(near, self.point_region, d)
        order = np.argsort(near, kind="stable")
        cum = np.cumsum(self.count[order]) / len(self.points)
        k = int(np.argmin(np.abs(cum - scale))) + 1
        chosen = np.zeros(self.n_regions, bool)
        chosen[order[:k]] = True
        return chosen[self.point_region]
