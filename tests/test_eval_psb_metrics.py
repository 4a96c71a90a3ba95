"""The benchmark's metrics (training.psb_metrics) on small meshes computed by hand, and
against brute-force definitions (every face pair, every face) on random labellings."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from training import psb_metrics as pm


def _strip():
    """Two unit squares side by side, two triangles each (4 faces of area 1/2):

    ::

        3---4---5
        | 1/|3 /|
        |/ 0|/ 2|
        0---1---2

    Interior edges: f0|f1 on (0,4), f0|f3 on (1,4), f2|f3 on (1,5).
    """
    v = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [1, 1, 0], [2, 1, 0]], float)
    f = np.array([[0, 1, 4], [0, 4, 3], [1, 2, 5], [1, 5, 4]])
    return v, f


def _compare(labels1, labels2, mesh=None):
    v, f = mesh if mesh is not None else _strip()
    g = pm.mesh_geometry(v, f)
    return pm.compare(g, pm.segmentation(g, labels1), pm.segmentation(g, labels2))


def test_geometry_of_the_strip():
    v, f = _strip()
    g = pm.mesh_geometry(v, f)
    assert g.face_area.tolist() == [0.5] * 4
    pairs = {tuple(sorted(p)) for p in g.edge_faces.tolist()}
    assert pairs == {(0, 1), (0, 3), (2, 3)}
    # centroids (2/3,1/3), (1/3,2/3), (5/3,1/3), (4/3,2/3); area centroid (1, 1/2)
    assert g.radius == pytest.approx((math.sqrt(5) + math.sqrt(17)) / 12)
    assert g.graph[0, 4] == pytest.approx(math.sqrt(2)) and g.graph[4, 0] == g.graph[0, 4]


def test_left_right_squares_against_one_triangle_off():
    """S1 = [0,0,1,1] (the two squares), S2 = [0,1,1,1], by hand:

    * pairs: S1 and S2 disagree on (0,1), (1,2), (1,3) of the 6 face pairs: 1 − RI = 1/2
      (formula: ΣC(a,2) = 1 + 1, ΣC(b,2) = 0 + 3, ΣC(n,2) = C(2,2) = 1: (2 + 3 − 2)/6).
    * areas (1/2 each, A = 2): I00 = .5, I01 = .5, I11 = 1. D(S1⇒S2) = 2 − (.5 + 1) = .5,
      D(S2⇒S1) = 2 − (.5 + 1) = .5: Rm = Rf = HD = 1/4.
    * e12 per face = .5, .5, 0, 0 (Σ 1); e21 = 0, 2/3, 1/3, 1/3 (Σ 4/3): GCE = 1/4;
      min per face = 0, .5, 0, 0: LCE = 1/8.
    * cuts: S1 {1, 4}; S2 {0, 1, 4}. Distances 0, 0 | 1 (vertex 0 to 1), 0, 0: mean 1/5,
      divided by the radius (√5 + √17)/12.
    """
    r = _compare([0, 0, 1, 1], [0, 1, 1, 1])
    assert r["psb_rand_error"] == pytest.approx(0.5)
    assert r["psb_rm"] == pytest.approx(0.25) and r["psb_rf"] == pytest.approx(0.25)
    assert r["psb_hamming"] == pytest.approx(0.25)
    assert r["psb_gce"] == pytest.approx(0.25)
    assert r["psb_lce"] == pytest.approx(0.125)
    assert r["psb_cut_discrepancy"] == pytest.approx(0.2 * 12 / (math.sqrt(5) + math.sqrt(17)))
    # symmetric metrics do not depend on the order; Rm and Rf swap
    s = _compare([0, 1, 1, 1], [0, 0, 1, 1])
    for k in ("psb_rand_error", "psb_hamming", "psb_gce", "psb_lce", "psb_cut_discrepancy"):
        assert s[k] == pytest.approx(r[k])


def test_hamming_is_area_weighted_and_directional():
    """Stretch the right square to width 3 (faces f2, f3 of area 3/2, A = 4).

    S1 = one segment, S2 = [0,0,1,1]: every S2 segment lies in S1's only segment, so
    D(S1⇒S2) = 0 (Rm = 0), and D(S2⇒S1) = A − max(1, 3) = 1: Rf = 1/4.
    """
    v, f = _strip()
    v[[2, 5], 0] = 4.0
    r = _compare([0, 0, 0, 0], [0, 0, 1, 1], mesh=(v, f))
    assert r["psb_rm"] == 0.0 and r["psb_rf"] == pytest.approx(0.25)
    assert r["psb_hamming"] == pytest.approx(0.125)
    # 1 − RI per face (not area): 4 of the 6 pairs are split by S2 only
    assert r["psb_rand_error"] == pytest.approx(4 / 6)
    assert r["psb_cut_discrepancy"] is None  # S1 has no cut


def test_consistency_errors_are_zero_for_trivial_segmentations():
    s2 = [0, 1, 1, 2]
    for trivial in ([7, 7, 7, 7], [3, 2, 1, 0]):  # 1 segment, N segments
        r = _compare(trivial, s2)
        assert r["psb_gce"] == 0.0 and r["psb_lce"] == 0.0
    same = _compare(s2, [5, 9, 9, 1])  # the same partition under other ids
    assert all(same[k] == pytest.approx(0.0) for k in pm.PSB_KEYS)


def test_cut_discrepancy_is_geodesic_along_edges():
    """A 1 × 5 strip of squares (10 faces). S1 cuts at x = 1, S2 at x = 4.

    Cut vertices sit on the vertical edges x = 1 ({(1,0), (1,1)}) and x = 4. Each cut
    vertex is 3 edges of length 1 away from the other cut along the bottom or top row (the
    diagonals run from (i,0) to (i+1,1): no shorter way), so CD = 3 / radius.
    """
    xs = np.arange(6, dtype=float)
    v = np.array([[x, y, 0.0] for y in (0.0, 1.0) for x in xs])  # bottom 0..5, top 6..11
    f = []
    for i in range(5):
        f += [[i, i + 1, i + 7], [i, i + 7, i + 6]]
    f = np.array(f)
    g = pm.mesh_geometry(v, f)
    cx = v[f].mean(axis=1)[:, 0]
    s1 = pm.segmentation(g, (cx > 1).astype(int))
    s2 = pm.segmentation(g, (cx > 4).astype(int))
    assert sorted(s1.cut.tolist()) == [1, 7] and sorted(s2.cut.tolist()) == [4, 10]
    assert s1.dist[4] == pytest.approx(3.0) and s1.dist[10] == pytest.approx(3.0)
    r = pm.compare(g, s1, s2)
    assert r["psb_cut_discrepancy"] == pytest.approx(3.0 / g.radius)


def _brute(l1, l2, area):
    """Every metric but CD straight from the definitions, face by face and pair by pair."""
    n = len(l1)
    dis = sum((l1[i] == l1[j]) != (l2[i] == l2[j]) for i, j in itertools.combinations(range(n), 2))
    rand = dis / (n * (n - 1) / 2)

    def d(a, b):  # A − Σ_{segments s of b} max over segments r of a of area(r ∩ s)
        tot = 0.0
        for s in set(b):
            tot += max(sum(area[k] for k in range(n) if b[k] == s and a[k] == r) for r in set(a))
        return sum(area) - tot

    rm, rf = d(l1, l2) / sum(area), d(l2, l1) / sum(area)
    e12 = [1 - sum((l1 == l1[f]) & (l2 == l2[f])) / sum(l1 == l1[f]) for f in range(n)]
    e21 = [1 - sum((l1 == l1[f]) & (l2 == l2[f])) / sum(l2 == l2[f]) for f in range(n)]
    trivial = {len(set(l1)), len(set(l2))} & {1, n}
    gce = 0.0 if trivial else min(sum(e12), sum(e21)) / n
    lce = 0.0 if trivial else sum(min(a, b) for a, b in zip(e12, e21)) / n
    return rand, rm, rf, gce, lce


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_metrics_equal_the_definitions_on_random_labellings(seed):
    rng = np.random.default_rng(seed)
    xs = np.cumsum(rng.uniform(0.5, 2.0, 7))  # uneven face areas
    v = np.array([[x, y, 0.0] for y in (0.0, 1.0) for x in np.r_[0.0, xs]])
    f = np.array([t for i in range(7) for t in ([i, i + 1, i + 9], [i, i + 9, i + 8])])
    g = pm.mesh_geometry(v, f)
    l1 = rng.integers(0, 1 + seed % 4 + 1, len(f))
    l2 = rng.integers(0, 3, len(f)) * 10 + 5  # sparse ids
    r = pm.compare(g, pm.segmentation(g, l1), pm.segmentation(g, l2))
    rand, rm, rf, gce, lce = _brute(l1, l2, g.face_area)
    assert r["psb_rand_error"] == pytest.approx(rand)
    assert r["psb_rm"] == pytest.approx(rm) and r["psb_rf"] == pytest.approx(rf)
    assert r["psb_hamming"] == pytest.approx((rm + rf) / 2)
    assert r["psb_gce"] == pytest.approx(gce) and r["psb_lce"] == pytest.approx(lce)


def test_humans_average_over_humans_and_over_ordered_pairs():
    v, f = _strip()
    g = pm.mesh_geometry(v, f)
    humans = [pm.segmentation(g, h) for h in ([0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 0, 0])]
    method = pm.segmentation(g, [0, 0, 1, 1])
    per = [pm.compare(g, method, h) for h in humans]
    got = pm.compare_to_humans(g, method, humans)
    assert got["psb_rand_error"] == pytest.approx(np.mean([p["psb_rand_error"] for p in per]))
    # CD is undefined against the one-segment human: the mean of the two others
    assert got["psb_cut_discrepancy"] == pytest.approx(
        np.mean([per[0]["psb_cut_discrepancy"], per[1]["psb_cut_discrepancy"]]))
    hc = pm.human_consistency(g, humans)
    pairs = [pm.compare(g, humans[a], humans[b]) for a in range(3) for b in range(3) if a != b]
    for k in pm.PSB_KEYS:
        vals = [p[k] for p in pairs if p[k] is not None]
        assert hc[k] == pytest.approx(np.mean(vals))
    assert hc["psb_rm"] == pytest.approx(hc["psb_rf"])
    assert pm.mode_segment_count(humans) == 2  # counts 2, 2, 1
    assert pm.human_consistency(g, humans[:1])["psb_rand_error"] is None


def test_labels_must_match_the_faces():
    v, f = _strip()
    with pytest.raises(ValueError, match="do not match"):
        pm.segmentation(pm.mesh_geometry(v, f), [0, 1, 2])
