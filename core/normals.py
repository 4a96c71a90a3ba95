"""Per-point unoriented normals for the encoder's optional normal input (numpy + SciPy).

Used only when :attr:`core.config.ModelConfig.input_normals` is set. Orientation never
matters: the encoder sees n⊗n, the same for n and −n (:func:`core.modeling.encoder.normal_features`).
Zero vectors mean "unknown" and reach the encoder as zeros.

Frames: normals are unit direction vectors. The model frame differs from the object frame
by a translation and a *uniform* scale (:class:`core.geometry.Normalization`), which leave
directions unchanged, so the same normals serve both frames.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .errors import InvalidInputError
from .geometry import face_normals

#: Neighbours (the point itself included) whose covariance gives a point cloud's PCA
#: normal: 16 is the usual choice for clouds of ~10k points sampled from a surface (fewer
#: follows sampling noise, more rounds off edges and thin parts).
PCA_NEIGHBOURS = 16
#: Points processed at once by :func:`pca_normals` (bounds its temporaries to ~30 MB).
PCA_CHUNK = 65_536
#: A neighbourhood whose middle covariance eigenvalue is below this fraction of its largest
#: is a line or a single position: its plane, hence its normal, is undefined (zero).
DEGENERATE_RATIO = 1e-8


def sample_normals(
    vertices: np.ndarray, faces: np.ndarray, point_faces: np.ndarray
) -> np.ndarray:
    """Unit normal (N, 3) float32 of the face each surface sample lies on.

    Args:
        vertices: (V, 3) mesh vertices (any frame; the normals are directions in it).
        faces: (F, 3) triangle vertex indices.
        point_faces: (N,) face index of every sample (:func:`core.geometry.sample_surface`).

    Zero-area faces give zero normals (unknown). Only the N sampled faces are computed.
    """
    tri = np.asarray(faces)[np.asarray(point_faces, np.int64)]
    return face_normals(vertices, tri).astype(np.float32)


def pca_normals(xyz: np.ndarray, k: int = PCA_NEIGHBOURS) -> np.ndarray:
    """Unoriented PCA normals (N, 3) float32 of a point cloud (sign arbitrary).

    The normal of a point is the eigenvector of the smallest eigenvalue of the covariance
    of its ``k`` nearest neighbours (itself included; fewer when the cloud is smaller).
    Neighbourhoods that span no plane (collinear or coincident points, or fewer than 3
    points) give zero normals (unknown).

    Args:
        xyz: (N, 3) points, any frame and unit (the result does not depend on either up
            to the frame's rotation).
        k: neighbours per point (default :data:`PCA_NEIGHBOURS`).
    """
    pts = np.asarray(xyz, np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise InvalidInputError(f"points must have shape (N, 3), got {pts.shape}")
    n = len(pts)
    out = np.zeros((n, 3), np.float32)
    kk = min(int(k), n)
    if kk < 3:
        return out
    _, idx = cKDTree(pts).query(pts, k=kk)
    for s in range(0, n, PCA_CHUNK):
        nb = pts[idx[s:s + PCA_CHUNK]]  # (c, k, 3)
        nb = nb - nb.mean(axis=1, keepdims=True)
        cov = np.einsum("nki,nkj->nij", nb, nb)
        w, v = np.linalg.eigh(cov)  # ascending eigenvalues, eigenvectors in columns
        ok = w[:, 1] > DEGENERATE_RATIO * np.maximum(w[:, 2], 1e-300)
        out[s:s + PCA_CHUNK] = np.where(ok[:, None], v[:, :, 0], 0.0)
    return out


def check_normals(normals: np.ndarray, n: int) -> np.ndarray:
    """Validate per-point normals for ``n`` points; returns a float32 (n, 3) copy in which
    rows with a NaN or inf become zero (unknown).

    Raises :class:`InvalidInputError` for a wrong shape.
    """
    arr = np.array(normals, np.float32)
    if arr.shape != (n, 3):
        raise InvalidInputError(f"normals must have shape ({n}, 3), got {arr.shape}")
    arr[~np.isfinite(arr).all(axis=1)] = 0.0
    return arr
