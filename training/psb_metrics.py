"""The Princeton Segmentation Benchmark's own metrics, per face of a mesh (numpy/scipy only).

Written from the definitions of Chen, Golovinskiy & Funkhouser (SIGGRAPH 2009), "A
Benchmark for 3D Mesh Segmentation". Two segmentations S1 and S2 of the same mesh are two
label arrays (F,) over its faces; S1 is the method, S2 a human. Notation: N = number of
faces, A = total surface area, n_ij = faces in segment i of S1 and segment j of S2, a_i and
b_j the face counts of the segments, I_ij the *area* of that intersection.

* **Rand index error** (per face, symmetric):
  ``1 − RI = [Σ_i C(a_i,2) + Σ_j C(b_j,2) − 2 Σ_ij C(n_ij,2)] / C(N,2)`` with
  ``C(x,2) = x(x−1)/2``: the fraction of face pairs on which the two disagree about "same
  segment".
* **Hamming distance** (area-weighted): ``D(S1⇒S2) = A − Σ_j max_i I_ij`` (the area of each
  S2 segment outside its best-matching S1 segment). ``Rm = D(S1⇒S2)/A`` (missing rate),
  ``Rf = D(S2⇒S1)/A`` (false-alarm rate), ``HD = (Rm + Rf)/2``. One segment for S1 gives
  Rm = 0 and Rf = 1 − (largest S2 segment's area)/A.
* **Consistency errors** (Martin et al.; per face): for face f in segment a of S1 and b of
  S2, ``e12(f) = 1 − |a∩b|/|a|`` and ``e21(f) = 1 − |a∩b|/|b|`` (face counts).
  ``GCE = min(Σ_f e12, Σ_f e21)/N``, ``LCE = Σ_f min(e12, e21)/N``. Both are set to 0 when
  either side has 1 or N segments (a trivial segmentation refines everything).
* **Cut discrepancy**: the cut vertices of a segmentation are the vertices of the mesh
  edges whose two faces lie in different segments. CD = the mean geodesic distance
  (Dijkstra along mesh edges, Euclidean edge lengths) from every cut vertex of one side to
  the nearest cut vertex of the other, both directions pooled (``(Σ_{v∈C1} d(v,C2) +
  Σ_{v∈C2} d(v,C1)) / (|C1| + |C2|)``), divided by the mesh radius = the mean Euclidean
  distance of the face centroids to the area-weighted centroid of the surface (so CD has
  no unit). Undefined (None) when either side has no cut; vertices with no path to the
  other side's cut (a piece without cut) are left out.

All metrics are fractions in [0, 1] (CD can exceed 1). Per mesh the method is compared with
every human segmentation and the values are averaged over the humans (CD over the humans
where it is defined); :func:`human_consistency` does the same for every ordered pair of
distinct human segmentations (each human scored as the method against each other one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

#: JSON keys of the metrics, in table order.
PSB_KEYS = ("psb_rand_error", "psb_hamming", "psb_rm", "psb_rf", "psb_gce", "psb_lce",
            "psb_cut_discrepancy")


@dataclass(frozen=True)
class MeshGeometry:
    """What every comparison on one mesh needs, computed once.

    Attributes:
        n_faces: N.
        face_area: (F,) float64 triangle areas (unit² of the vertex frame).
        edge_faces: (E, 2) int64 the two faces on each side of an interior mesh edge (an edge
            shared by k > 2 faces gives k − 1 consecutive pairs).
        edge_verts: (E, 2) int64 the edge's vertices, aligned with ``edge_faces``.
        graph: (V, V) CSR, symmetric, Euclidean edge lengths (unit of the vertex frame).
        radius: mean distance of face centroids to the area-weighted surface centroid.
    """

    n_faces: int
    face_area: np.ndarray
    edge_faces: np.ndarray
    edge_verts: np.ndarray
    graph: sp.csr_matrix
    radius: float


def mesh_geometry(vertices: np.ndarray, faces: np.ndarray) -> MeshGeometry:
    """Face areas, face pairs across edges, the edge-length graph and the mesh radius."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    p0, p1, p2 = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(p1 - p0, p2 - p0), axis=1)
    cen = (p0 + p1 + p2) / 3.0
    total = float(area.sum())
    surf_c = (area[:, None] * cen).sum(axis=0) / total if total > 0 else cen.mean(axis=0)
    radius = float(np.linalg.norm(cen - surf_c, axis=1).mean())
    # every face's three edges, keyed by their sorted vertex pair
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    e.sort(axis=1)
    owner = np.tile(np.arange(len(f)), 3)
    ok = e[:, 0] != e[:, 1]  # degenerate triangles have a zero-length "edge"
    e, owner = e[ok], owner[ok]
    key = e[:, 0] * len(v) + e[:, 1]
    order = np.argsort(key, kind="stable")
    key, e, owner = key[order], e[order], owner[order]
    same = key[1:] == key[:-1]
    edge_faces = np.stack([owner[:-1][same], owner[1:][same]], axis=1)
    edge_verts = e[:-1][same]
    first = np.r_[True, ~same]
    ue = e[first]
    length = np.linalg.norm(v[ue[:, 0]] - v[ue[:, 1]], axis=1)
    # a zero length would read as "no edge" in a sparse matrix: keep it tiny but positive
    diag = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))) if len(v) else 1.0
    length = np.maximum(length, 1e-12 * max(diag, 1e-300))
    g = sp.coo_matrix((length, (ue[:, 0], ue[:, 1])), shape=(len(v), len(v))).tocsr()
    return MeshGeometry(len(f), area, edge_faces, edge_verts, (g + g.T).tocsr(), radius)


@dataclass
class Segmentation:
    """One segmentation of a mesh, with what every comparison of it needs.

    Attributes:
        labels: (F,) int64 segment ids renumbered 0..n−1.
        n: number of segments.
        sizes: (n,) face count of each segment.
        pairs_same: Σ_i C(size_i, 2) (face pairs inside one segment).
        cut: (C,) int64 cut vertices (see the module docstring).
        dist: (V,) geodesic distance of every vertex to the nearest cut vertex (inf where
            unreachable); None when there is no cut.
    """

    labels: np.ndarray
    n: int
    sizes: np.ndarray
    pairs_same: float
    cut: np.ndarray
    dist: np.ndarray | None


def _pairs(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return 0.5 * x * (x - 1.0)


def segmentation(geom: MeshGeometry, labels: np.ndarray) -> Segmentation:
    """Prepare ``labels`` (F,) of any integer ids for :func:`compare` (one Dijkstra run)."""
    lab = np.asarray(labels).ravel()
    if lab.shape != (geom.n_faces,):
        raise ValueError(f"labels {lab.shape} do not match the mesh's {geom.n_faces} faces")
    _, lab = np.unique(lab, return_inverse=True)
    lab = lab.astype(np.int64)
    sizes = np.bincount(lab)
    ef = geom.edge_faces
    cut_edges = lab[ef[:, 0]] != lab[ef[:, 1]]
    cut = np.unique(geom.edge_verts[cut_edges])
    dist = None
    if len(cut):
        dist = dijkstra(geom.graph, directed=False, indices=cut, min_only=True)
    return Segmentation(lab, len(sizes), sizes, float(_pairs(sizes).sum()), cut, dist)


def _contingency(s1: Segmentation, s2: Segmentation, area: np.ndarray):
    """Non-empty cells of the contingency table: (i, j, face count n_ij, area I_ij)."""
    n1, n2 = s1.n, s2.n
    key = s1.labels * n2 + s2.labels
    if n1 * n2 <= 4 * len(key) + 4096:
        cnt = np.bincount(key, minlength=n1 * n2)
        ar = np.bincount(key, weights=area, minlength=n1 * n2)
        cells = np.flatnonzero(cnt)
        cnt, ar = cnt[cells], ar[cells]
    else:
        cells, inv = np.unique(key, return_inverse=True)
        cnt = np.bincount(inv)
        ar = np.bincount(inv, weights=area)
    return cells // n2, cells % n2, cnt.astype(np.float64), ar


def _directional_hamming(rows: np.ndarray, area: np.ndarray, n_rows: int) -> float:
    """Σ over groups ``rows`` of the largest ``area`` in the group."""
    best = np.zeros(n_rows)
    np.maximum.at(best, rows, area)
    return float(best.sum())


def _cut_discrepancy(geom: MeshGeometry, s1: Segmentation, s2: Segmentation) -> float | None:
    if s1.dist is None or s2.dist is None:
        return None
    d = np.concatenate([s2.dist[s1.cut], s1.dist[s2.cut]])
    d = d[np.isfinite(d)]
    if not len(d) or geom.radius <= 0:
        return None
    return float(d.mean() / geom.radius)


def compare(geom: MeshGeometry, s1: Segmentation, s2: Segmentation) -> dict[str, float | None]:
    """The seven metrics (:data:`PSB_KEYS`) of S1 (the method) against S2 (a human)."""
    n = float(geom.n_faces)
    i, j, cnt, ar = _contingency(s1, s2, geom.face_area)
    total_pairs = float(_pairs(n))
    rand = ((s1.pairs_same + s2.pairs_same - 2.0 * float(_pairs(cnt).sum())) / total_pairs
            if total_pairs > 0 else 0.0)
    a_tot = float(geom.face_area.sum())
    # best S1 segment per S2 one (Rm) and the reverse (Rf); clipped: rounding gives −1e-17
    rm = max(0.0, (a_tot - _directional_hamming(j, ar, s2.n)) / a_tot)
    rf = max(0.0, (a_tot - _directional_hamming(i, ar, s1.n)) / a_tot)
    if min(s1.n, s2.n) == 1 or max(s1.n, s2.n) == geom.n_faces:
        gce = lce = 0.0
    else:
        a, b = s1.sizes[i].astype(np.float64), s2.sizes[j].astype(np.float64)
        e12 = n - float((cnt * cnt / a).sum())  # Σ_f e12(f)
        e21 = n - float((cnt * cnt / b).sum())
        gce = max(0.0, min(e12, e21) / n)
        lce = max(0.0, float((cnt * (1.0 - cnt / np.minimum(a, b))).sum()) / n)
    return {
        "psb_rand_error": float(max(rand, 0.0)),
        "psb_hamming": 0.5 * (rm + rf),
        "psb_rm": rm,
        "psb_rf": rf,
        "psb_gce": gce,
        "psb_lce": lce,
        "psb_cut_discrepancy": _cut_discrepancy(geom, s1, s2),
    }


def mean_metrics(rows: Sequence[dict[str, float | None]]) -> dict[str, float | None]:
    """Per key the mean of the values that are not None (None when there are none)."""
    out: dict[str, float | None] = {}
    for k in PSB_KEYS:
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[k] = float(np.mean(vals)) if vals else None
    return out


def compare_to_humans(geom: MeshGeometry, seg: Segmentation,
                      humans: Sequence[Segmentation]) -> dict[str, float | None]:
    """A method's segmentation against every human one, averaged over the humans."""
    return mean_metrics([compare(geom, seg, h) for h in humans])


def human_consistency(geom: MeshGeometry,
                      humans: Sequence[Segmentation]) -> dict[str, float | None]:
    """Every ordered pair (S1 = human i, S2 = human j ≠ i), averaged over the pairs.

    Each unordered pair is compared once; its reverse order swaps Rm and Rf (the other
    metrics are symmetric), so over all ordered pairs the mean Rm equals the mean Rf.
    Returns None values when the mesh has fewer than two human segmentations.
    """
    rows = []
    for a in range(len(humans)):
        for b in range(a + 1, len(humans)):
            r = compare(geom, humans[a], humans[b])
            rows.append(r)
            rows.append({**r, "psb_rm": r["psb_rf"], "psb_rf": r["psb_rm"]})
    return mean_metrics(rows)


def mode_of_counts(counts: Sequence[int]) -> int:
    """The most frequent of ``counts`` (segment counts; ties: the smallest)."""
    return int(np.argmax(np.bincount(np.asarray(counts, np.int64))))


def mode_segment_count(humans: Sequence[Segmentation]) -> int:
    """The most frequent segment count among the human segmentations (ties: the smallest)."""
    return mode_of_counts([h.n for h in humans])
