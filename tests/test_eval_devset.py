"""The evaluation on the real dev objects: loaders, the cc baseline checked independently,
and a perfect prediction scoring 100 through the whole scoring path."""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry import face_components, sample_surface
from training.devset import list_objects, load_object, make_sample
from training.evaluate import Method, _full_scores, evaluate_object


def test_loader_reads_the_mesh_format(shared_data):
    obj = load_object(shared_data / "partnet-mobility-dev" / "179.npz")
    assert obj.is_mesh and obj.category == "Chair"
    assert obj.faces.shape[1] == 3 and len(obj.face_leaf) == len(obj.faces)
    s = make_sample(obj, n_points=2000, seed=0)
    assert s.points.shape == (2000, 3) and s.point_faces.shape == (2000,)
    # every point lies in exactly one leaf region; the deepest level is the leaf partition
    assert (s.region_masks[s.region_is_leaf].sum(axis=0) == 1).all()
    deepest = s.levels[max(s.levels)]
    assert set(np.unique(deepest)) == set(np.flatnonzero(s.region_is_leaf))
    # levels nest: each part of a finer level lies inside one part of the coarser level
    d = sorted(s.levels)
    for fine, coarse in zip(d[1:], d[:-1]):
        for part in np.unique(s.levels[fine]):
            assert len(np.unique(s.levels[coarse][s.levels[fine] == part])) == 1


def test_loader_reads_the_point_format(shared_data):
    path = shared_data / "shapenet-part-cap" / "cap_test_00.npz"
    obj = load_object(path)
    raw = np.load(path)
    assert not obj.is_mesh
    s = make_sample(obj, n_points=10000, seed=0)
    assert np.array_equal(s.points, raw["points"])  # fewer than 10,000: all kept
    assert s.point_faces is None and s.faces_welded is None
    assert len(s.region_masks) == 2 and s.region_is_leaf.all()
    assert sorted(s.region_masks.sum(axis=1)) == sorted(np.bincount(raw["labels"]))


def _union_find_cc_leaf_miou(vertices, faces, face_leaf, points_face, rel_tol=1e-5):
    """Independent cc score: brute-force welding + a hand-written union-find + set IoUs."""
    v = np.asarray(vertices, np.float64)
    tol = rel_tol * np.linalg.norm(v.max(0) - v.min(0))
    parent = list(range(len(v) + len(faces)))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a, b):
        parent[find(a)] = find(b)

    d2 = ((v[:, None, :] - v[None, :, :]) ** 2).sum(-1)
    for a, b in zip(*np.nonzero(np.triu(d2 <= tol * tol, k=1))):
        union(int(a), int(b))
    for fi, tri in enumerate(faces):
        for vi in tri:
            union(len(v) + fi, int(vi))
    comp_of_point = [find(len(v) + int(f)) for f in points_face]
    leaf_of_point = [int(face_leaf[f]) for f in points_face]
    comps = {}
    for i, c in enumerate(comp_of_point):
        comps.setdefault(c, set()).add(i)
    scores = []
    for leaf in sorted(set(leaf_of_point)):
        gt = {i for i, lf in enumerate(leaf_of_point) if lf == leaf}
        scores.append(max(len(gt & p) / len(gt | p) for p in comps.values()))
    return 100.0 * float(np.mean(scores))


@pytest.mark.parametrize("oid", ["3558", "11700", "8877", "20453", "148", "7296"])
def test_cc_matches_an_independent_union_find(shared_data, oid):
    from training.evaluate import CCMethod

    obj = load_object(shared_data / "partnet-mobility-dev" / f"{oid}.npz")
    s = make_sample(obj, n_points=3000, seed=0)
    rec = evaluate_object(CCMethod(), s, np.zeros(0, np.int64), "mesh")
    _, pf = sample_surface(obj.vertices, obj.faces, 3000, seed=0)
    expected = _union_find_cc_leaf_miou(obj.vertices, obj.faces, obj.face_leaf, pf)
    assert rec["full_noscale"]["leaf"] == pytest.approx(expected, abs=1e-9)


def test_cc_whole_dev_set_lands_where_the_data_readme_says(shared_data):
    """README of the data: cc ≈ 54 mIoU (leaf) welded, ≈ 65 unwelded."""
    from training.evaluate import CCMethod

    welded, unwelded = [], []
    for path in list_objects(shared_data / "partnet-mobility-dev"):
        s = make_sample(load_object(path), n_points=10000, seed=0)
        welded.append(evaluate_object(CCMethod(), s, np.zeros(0), "mesh")["full_noscale"]["leaf"])
        raw = face_components(s.obj.faces, len(s.obj.vertices))[s.point_faces]
        unwelded.append(_full_scores(s, [raw])["leaf"])
    assert len(welded) == 77
    assert 50.0 < np.mean(welded) < 58.0
    assert 60.0 < np.mean(unwelded) < 70.0
    assert np.mean(unwelded) > np.mean(welded) + 5.0  # welding removes the leak


def _kdtree_union_find_cc_leaf_miou(vertices, faces, face_leaf, points_face, rel_tol=1e-5):
    """Like :func:`_union_find_cc_leaf_miou`, with k-d tree pairs instead of all pairs (the
    biggest dev objects have 44,533 vertices)."""
    from scipy.spatial import cKDTree

    v = np.asarray(vertices, np.float64)
    parent = list(range(len(v)))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in cKDTree(v).query_pairs(rel_tol * np.linalg.norm(v.max(0) - v.min(0))):
        parent[find(int(a))] = find(int(b))
    for tri in faces:
        r = find(int(tri[0]))
        for x in tri[1:]:
            parent[find(int(x))] = r
    comps, leaves = {}, {}
    for i, f in enumerate(points_face):
        comps.setdefault(find(int(faces[f][0])), set()).add(i)
        leaves.setdefault(int(face_leaf[f]), set()).add(i)
    return 100.0 * float(np.mean([max(len(gt & p) / len(gt | p) for p in comps.values())
                                  for gt in leaves.values()]))


@pytest.mark.slow
def test_cc_on_the_whole_dev_set_equals_an_independent_computation(shared_data):
    """The cc row of the report, object by object, at the report's 10,000 points."""
    from training.evaluate import CCMethod

    ours, independent = [], []
    for path in list_objects(shared_data / "partnet-mobility-dev"):
        obj = load_object(path)
        s = make_sample(obj, n_points=10000, seed=0)
        ours.append(evaluate_object(CCMethod(), s, np.zeros(0), "mesh")["full_noscale"]["leaf"])
        independent.append(_kdtree_union_find_cc_leaf_miou(obj.vertices, obj.faces,
                                                           obj.face_leaf, s.point_faces))
    assert len(ours) == 77
    assert ours == pytest.approx(independent, abs=1e-9)


class _Oracle(Method):
    """Answers with the ground truth: what a perfect method would return."""

    name, interactive, has_noscale_full, has_level_full = "oracle", True, True, True

    def predict(self, idx, scale):
        s = self.sample
        cand = np.flatnonzero(s.region_masks[:, idx])
        j = cand[np.argmin(np.abs(s.region_fraction[cand] - (scale or 0)))]
        return s.region_masks[j]

    def segment(self):
        return self.sample.levels[max(self.sample.levels)]

    def segment_levels(self):
        return dict(self.sample.levels)


def test_a_perfect_prediction_scores_100(shared_data):
    from training.selectors import interior_point

    s = make_sample(load_object(shared_data / "partnet-mobility-dev" / "19179.npz"), 4000, 0)
    prompts = np.array([interior_point(s.points, m) for m in s.region_masks])
    # the oracle needs the prompt to lie in its own region only at that region's scale
    rec = evaluate_object(_Oracle(), s, prompts, "mesh")
    assert rec["full_levels"] == {"leaf": 100.0, "any": 100.0}
    assert rec["full_noscale"]["leaf"] == 100.0
    assert all(v == 100.0 for v in rec["level_levels"].values())
    assert rec["inter_scale"] == pytest.approx([100.0] * len(prompts))
