"""Mesh structure used by Segment All and Pick Parts: regions, label transfer, clean-up.

Pure numpy/scipy. Everything here works on the *original* triangle mesh (object frame) and
on the points sampled from it (each point remembers its face, see
:func:`core.geometry.sample_surface`).

* :class:`MeshStructure` — welded connectivity, face areas, edge adjacency with shared-edge
  lengths, and candidate *regions* (connected components of the welded mesh, optionally
  split where a per-face group id such as a material changes, or along sharp creases).
* Label transfer (:func:`face_vote`, :func:`nearest_point_of_faces`,
  :func:`transfer_labels_to_faces`) — per-point labels to every face, in bounded memory.
* Clean-up (:func:`absorb_small_islands`) — fragments of a label smaller than an area
  threshold are absorbed by the neighbour that shares the longest boundary with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from .geometry import face_areas, face_normals, weld_map
from .mesh_graph import as_index, components, edge_adjacency, index_dtype

#: faces processed per chunk when querying nearest points (bounds temporary memory to a few
#: tens of MB whatever the mesh size).
FACE_CHUNK = 262_144


def _components(n: int, pairs: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Connected components (labels from 0) of ``n`` nodes linked by ``pairs`` (E, 2)
    (rows where ``mask``, when given); see :func:`core.mesh_graph.components`."""
    return components(n, pairs, mask)


def _face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    return face_normals(vertices, faces)


@dataclass
class MeshStructure:
    """Connectivity of a triangle mesh after welding, and its candidate regions.

    Attributes:
        vertices: (V, 3) float64 positions in the object frame.
        faces: (F, 3) original triangles (int32 or int64 as given).
        welded_faces: (F, 3) triangles re-indexed onto welded vertices (``faces`` itself
            when no vertices were merged).
        face_area: (F,) float64 areas (object units²).
        adjacency: (E, 2) face pairs sharing an edge of the welded mesh (int32 below 2**31
            faces).
        edge_length: (E,) float64 length of each shared edge (object units).
        components: (F,) connected component of each face on the welded mesh (edge- or
            vertex-connected, see :meth:`build`; int32 below 2**31 faces).
        face_region: (F,) candidate region of each face (components, further split by
            ``face_groups`` / creases when requested), numbered from 0 (``components``
            itself when not split).
        num_regions: number of regions.
        region_area: (num_regions,) float64 area of each region.
        adjacency_corners: (E,) int8 where each pair's shared edge lies in its two faces
            (``corners`` of :func:`core.mesh_graph.edge_adjacency`), or None; lets
            :func:`core.creases.edge_geometry` skip comparing the faces' corners.
    """

    vertices: np.ndarray
    faces: np.ndarray
    welded_faces: np.ndarray
    face_area: np.ndarray
    adjacency: np.ndarray
    edge_length: np.ndarray
    components: np.ndarray
    face_region: np.ndarray
    num_regions: int
    region_area: np.ndarray
    adjacency_corners: np.ndarray | None = None

    @property
    def total_area(self) -> float:
        return float(self.face_area.sum())

    @classmethod
    def build(
        cls,
        vertices: np.ndarray,
        faces: np.ndarray,
        weld_rel_tol: float = 1e-5,
        face_groups: np.ndarray | None = None,
        crease_angle_deg: float | None = None,
        connectivity: str = "edge",
        face_area: np.ndarray | None = None,
    ) -> MeshStructure:
        """Weld, find adjacency and regions.

        Args:
            vertices: (V, 3) positions, object frame.
            faces: (F, 3) triangle indices (validated already).
            weld_rel_tol: vertices closer than this fraction of the bounding-box diagonal
                are merged before connectivity is computed (parts modelled as separate
                pieces whose vertices coincide become connected).
            face_groups: optional (F,) integer id per face (e.g. the material index); an
                edge between faces of different groups does not connect regions.
            crease_angle_deg: optional; an edge whose dihedral angle (angle between the two
                face normals) exceeds this many degrees does not connect regions.
            connectivity: "edge" — faces are connected when they share an edge (pieces
                that touch at a single vertex stay apart); "vertex" — sharing a vertex is
                enough. On the dev set "edge" scored 56.1 leaf mIoU against 54.3.
            face_area: optional (F,) areas of ``faces`` already computed (e.g. by
                :func:`core.geometry.check_mesh_areas`); None = computed here.
        """
        v = np.asarray(vertices, np.float64)
        f = as_index(faces)
        vmap = weld_map(v, weld_rel_tol)  # None: nothing to weld, the faces are shared
        wf = f if vmap is None else vmap.astype(f.dtype)[f]
        del vmap
        area = face_areas(v, f) if face_area is None else np.asarray(face_area, np.float64)
        if len(area) != len(f):
            raise ValueError(f"face_area has {len(area)} entries for {len(f)} faces")
        pairs, length, corners = edge_adjacency(wf, v, corners=True)
        if connectivity == "edge":
            components = _components(len(f), pairs)
        elif connectivity == "vertex":
            components = _vertex_components(wf, len(v))
        else:
            raise ValueError(f"connectivity must be 'edge' or 'vertex', got {connectivity!r}")
        region_pairs = pairs
        if face_groups is not None:
            g = np.asarray(face_groups).reshape(-1)
            if len(g) != len(f):
                from .errors import InvalidInputError

                raise InvalidInputError(
                    f"face_groups has {len(g)} entries but the mesh has {len(f)} faces"
                )
            region_pairs = region_pairs[g[region_pairs[:, 0]] == g[region_pairs[:, 1]]]
        if crease_angle_deg is not None:
            nrm = _face_normals(v, f)
            cos = (nrm[region_pairs[:, 0]] * nrm[region_pairs[:, 1]]).sum(axis=1)
            region_pairs = region_pairs[cos >= np.cos(np.radians(crease_angle_deg))]
        dt = index_dtype(len(f))
        if face_groups is None and crease_angle_deg is None:
            # component labels already run 0..n-1 (np.unique would give them back)
            components = region = components.astype(dt)
        else:
            # edge-connected pieces that stay inside one component
            region = _components(len(f), region_pairs)
            _, region = np.unique(region * (components.max() + 1) + components,
                                  return_inverse=True)
            _, region = np.unique(region, return_inverse=True)
            components, region = components.astype(dt), region.reshape(-1).astype(dt)
        n_reg = int(region.max()) + 1
        return cls(
            vertices=v,
            faces=f,
            welded_faces=wf,
            face_area=area,
            adjacency=pairs,
            edge_length=length,
            components=components,
            face_region=region,
            num_regions=n_reg,
            region_area=np.bincount(region, weights=area, minlength=n_reg),
            adjacency_corners=corners,
        )

    def centroids(self, start: int, stop: int) -> np.ndarray:
        """Face centroids (stop-start, 3) for a chunk of faces."""
        return self.vertices[self.faces[start:stop]].mean(axis=1)


def _vertex_components(welded_faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Components of faces that share a (welded) vertex, labels from 0, (F,)."""
    f = welded_faces
    n = len(f)
    # union faces through vertices: link each vertex to its first face
    pairs = np.concatenate([f[:, [0, 1]], f[:, [1, 2]]])
    vlab = _components(n_vertices, pairs)
    _, lab = np.unique(vlab[f[:, 0]], return_inverse=True)
    return lab.astype(np.int64).reshape(n)


def nearest_point_of_faces(
    vertices: np.ndarray, faces: np.ndarray, points: np.ndarray,
    chunk: int = FACE_CHUNK, tree: cKDTree | None = None,
) -> np.ndarray:
    """Index (F,) int32 of the point nearest to each face centroid.

    Faces are processed in chunks of ``chunk`` so temporary memory stays bounded for meshes
    of millions of faces. ``vertices``/``faces`` and ``points`` must be in the same frame.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces)
    tree = tree if tree is not None else cKDTree(np.asarray(points, np.float64))
    out = np.empty(len(f), np.int32)
    for s in range(0, len(f), chunk):
        c = v[f[s:s + chunk]].mean(axis=1)
        out[s:s + chunk] = tree.query(c, k=1, workers=-1)[1]
    return out


def face_vote(point_labels: np.ndarray, point_faces: np.ndarray, n_faces: int) -> np.ndarray:
    """Majority label of the points sampled on each face; -1 for faces without a sample.

    Labels are non-negative ints; a tie goes to the smaller label. Points with label -1 do
    not vote.
    """
    lab = np.asarray(point_labels, np.int64)
    pf = np.asarray(point_faces, np.int64)
    ok = lab >= 0
    lab, pf = lab[ok], pf[ok]
    out = np.full(n_faces, -1, np.int64)
    if len(lab) == 0:
        return out
    pair = np.stack([pf, lab], axis=1)
    uniq, cnt = np.unique(pair, axis=0, return_counts=True)
    # sort by face, then count descending, then label ascending
    order = np.lexsort((uniq[:, 1], -cnt, uniq[:, 0]))
    uniq = uniq[order]
    first = np.ones(len(uniq), bool)
    first[1:] = uniq[1:, 0] != uniq[:-1, 0]
    out[uniq[first, 0]] = uniq[first, 1]
    return out


def transfer_labels_to_faces(
    point_labels: np.ndarray,
    point_faces: np.ndarray,
    face_nearest_point: np.ndarray,
) -> np.ndarray:
    """Labels of every face from per-point labels.

    Faces with samples take the majority of their samples (:func:`face_vote`); the others
    take the label of the point nearest their centroid (``face_nearest_point``, from
    :func:`nearest_point_of_faces`, computed once per mesh).
    """
    lab = np.asarray(point_labels, np.int64)
    out = face_vote(lab, point_faces, len(face_nearest_point))
    miss = out < 0
    out[miss] = lab[face_nearest_point[miss]]
    return out


def face_probabilities(
    point_values: np.ndarray, point_faces: np.ndarray, face_nearest_point: np.ndarray
) -> np.ndarray:
    """Mean of a per-point value over each face's samples (nearest point if none), (F,)."""
    n_f = len(face_nearest_point)
    val = np.asarray(point_values, np.float64)
    s = np.bincount(point_faces, weights=val, minlength=n_f)
    c = np.bincount(point_faces, minlength=n_f)
    out = val[face_nearest_point].astype(np.float64)
    has = c > 0
    out[has] = s[has] / c[has]
    return out


def relabel_contiguous(labels: np.ndarray) -> np.ndarray:
    """Map labels to 0..K-1 by order of first appearance (deterministic)."""
    lab = np.asarray(labels, np.int64)
    _, first, inv = np.unique(lab, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inv.reshape(-1)]


def absorb_small_islands(
    face_labels: np.ndarray,
    mesh: MeshStructure,
    min_area: float,
    group: np.ndarray | None = None,
    protect_regions: bool = True,
    max_rounds: int = 8,
) -> np.ndarray:
    """Absorb label fragments smaller than ``min_area`` into a neighbour.

    An *island* is an edge-connected set of faces with the same label. An island whose
    area is below ``min_area`` (object units²) takes the label of the neighbouring island
    that shares the longest boundary with it (edge length).

    Args:
        face_labels: (F,) int labels.
        mesh: the mesh structure (adjacency and areas).
        min_area: area threshold, object units².
        group: optional (F,) ids; an island is only absorbed by a neighbour with the same
            group (used to keep finer levels of a hierarchy inside their coarser part).
        protect_regions: when True, an island that is a whole region of ``mesh`` (e.g. a
            small separate piece such as a screw) is left alone; only fragments are
            absorbed.
        max_rounds: repeat at most this often (merged islands that are still small are
            absorbed in the next round).

    Returns:
        New labels (F,); the input is not modified.
    """
    lab = np.asarray(face_labels, np.int64).copy()
    n = len(lab)
    pairs, length = mesh.adjacency, mesh.edge_length
    if min_area <= 0 or len(pairs) == 0:
        return lab
    for _ in range(max_rounds):
        same = lab[pairs[:, 0]] == lab[pairs[:, 1]]
        isl = _components(n, pairs[same])
        n_isl = int(isl.max()) + 1
        area = np.bincount(isl, weights=mesh.face_area, minlength=n_isl)
        small = area < min_area
        if protect_regions:
            # an island that is exactly one whole region is a separate piece, not a fragment
            rmin = np.full(n_isl, np.iinfo(np.int64).max)
            rmax = np.full(n_isl, -1)
            np.minimum.at(rmin, isl, mesh.face_region)
            np.maximum.at(rmax, isl, mesh.face_region)
            one = rmin == rmax
            whole = one & np.isclose(area, mesh.region_area[np.where(one, rmin, 0)], rtol=1e-9)
            small &= ~whole
        if not small.any():
            break
        cross = ~same
        if group is not None:
            cross &= group[pairs[:, 0]] == group[pairs[:, 1]]
        a, b = isl[pairs[cross, 0]], isl[pairs[cross, 1]]
        w = length[cross]
        # boundary length between islands, both directions
        bmat = sp.coo_matrix(
            (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))),
            shape=(n_isl, n_isl),
        ).tocsr()
        bmat.sum_duplicates()
        target = np.arange(n_isl)
        rows = np.flatnonzero(small & (np.diff(bmat.indptr) > 0))
        if len(rows) == 0:
            break
        coo = bmat.tocoo()
        sel = small[coo.row]
        r_, c_, v_ = coo.row[sel], coo.col[sel], coo.data[sel]
        # per small island: longest boundary; ties to the larger neighbour, then lower index
        order = np.lexsort((c_, -area[c_], -v_, r_))
        r_, c_ = r_[order], c_[order]
        first = np.ones(len(r_), bool)
        first[1:] = r_[1:] != r_[:-1]
        target[r_[first]] = c_[first]
        # union small islands with their targets; each group takes its largest island's label
        link = np.stack([rows, target[rows]], axis=1)
        grp = _components(n_isl, link)
        isl_label = np.zeros(n_isl, np.int64)
        isl_label[isl] = lab
        order = np.lexsort((np.arange(n_isl), -area, grp))
        gs = grp[order]
        first = np.ones(n_isl, bool)
        first[1:] = gs[1:] != gs[:-1]
        g_label = np.empty(int(grp.max()) + 1, np.int64)
        g_label[gs[first]] = isl_label[order[first]]
        lab = g_label[grp][isl]
    return lab
