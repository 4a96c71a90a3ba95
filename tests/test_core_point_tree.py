"""Segment All on point clouds: the merge tree over encoder features (core.point_tree)."""

import numpy as np
import pytest
from core_infer_fake import PartOracleBackend, boxes, make_segmenter

from core.geometry import sample_surface
from core.merge_tree import TreeSettings
from core.point_tree import PointTreeSettings, build_point_tree, choose_linkage
from core.surface import SurfaceSettings, flat_fraction, is_one_sheet


def _bar_points(n=1500, seed=0):
    v, f, _ = boxes([(0, 0, 0)], extents=(6.0, 1.0, 1.0), subdivide=3)
    pts, _ = sample_surface(v, f, n, seed=seed)
    return pts / np.abs(pts).max()


def _thirds(xyz, scale=None):
    return np.digitize(xyz[:, 0], [-1 / 3, 1 / 3])


def _part_features(xyz, part, noise=0.01, seed=0):
    """Features a good encoder would give: one direction per part, plus noise."""
    rng = np.random.default_rng(seed)
    f = np.eye(8)[part] + noise * rng.standard_normal((len(xyz), 8))
    return f.astype(np.float32)


def _purity(labels, truth):
    """Share of points whose predicted part holds mostly their own true part."""
    ok = 0
    for lab in np.unique(labels):
        ok += np.bincount(truth[labels == lab]).max()
    return ok / len(labels)


@pytest.mark.parametrize("linkage", ["average", "ward"])
def test_natural_cut_finds_the_parts_the_features_separate(linkage):
    x = _bar_points()
    truth = _thirds(x)
    pt = build_point_tree(x, _part_features(x, truth), PointTreeSettings(linkage=linkage),
                          TreeSettings(), one_sheet=False)
    assert pt.linkage == linkage
    lab = pt.tree.labels_of_cut(pt.tree.cut(None))[pt.leaf_of_point]
    assert len(np.unique(lab)) == 3
    assert _purity(lab, truth) > 0.95 and _purity(truth, lab) > 0.95


def test_scale_cuts_are_nested_and_coarser_with_a_larger_scale():
    x = _bar_points()
    pt = build_point_tree(x, _part_features(x, _thirds(x)), PointTreeSettings(), TreeSettings(),
                          one_sheet=False)
    counts = [len(pt.tree.cut(s)) for s in (0.02, 0.1, 1 / 3, 1.0)]
    assert counts == sorted(counts, reverse=True) and counts[-1] == 1 and counts[2] == 3
    fine, coarse = pt.tree.nested_cuts([0.05, 0.5])
    lf = pt.tree.labels_of_cut(fine)
    lc = pt.tree.labels_of_cut(coarse)
    assert all(len(np.unique(lc[lf == k])) == 1 for k in np.unique(lf))


def test_the_surface_kind_picks_the_linkage_and_the_growth_weight(monkeypatch):
    """A clean one-sheet surface (a sphere: a scan or sculpt) gets Ward and the sheet's
    feature weight; a cloud sampled from many small pieces (an assembled asset: most
    neighbourhoods span an edge or a corner) gets average linkage and the other weight."""
    rng = np.random.default_rng(0)
    sphere = rng.standard_normal((3000, 3))
    sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
    v, f, _ = boxes([(x, y, 0) for x in range(6) for y in range(5)], extents=(0.3, 0.3, 0.3))
    pieces, _ = sample_surface(v, f, 3000, seed=0)
    assert flat_fraction(sphere, 16, 0.01) > 0.9
    assert flat_fraction(pieces, 16, 0.01) < 0.2
    assert is_one_sheet(sphere, SurfaceSettings()) and not is_one_sheet(pieces, SurfaceSettings())
    s = PointTreeSettings()
    assert choose_linkage(s, True) == "ward" and choose_linkage(s, False) == "average"
    assert choose_linkage(PointTreeSettings(linkage="average"), True) == "average"
    seg = make_segmenter(monkeypatch)
    weights = {}
    for name, cloud in (("sphere", sphere), ("pieces", pieces)):
        seg.set_points(cloud, n_points=None)
        seg.segment_all()
        cp = seg.cloud_parts()
        weights[name] = (cp.tree.linkage, cp.growth.feature_weight)
    g = seg.settings.point_growth
    assert weights == {"sphere": ("ward", g.feature_weight_sheet),
                       "pieces": ("average", g.feature_weight)}
    assert g.feature_weight_sheet != g.feature_weight


def test_bad_settings_name_the_field():
    with pytest.raises(ValueError, match="linkage"):
        PointTreeSettings(linkage="single")
    with pytest.raises(ValueError, match="thresholds"):
        PointTreeSettings(ward_threshold=0.0)
    with pytest.raises(ValueError, match="neighbours"):
        SurfaceSettings(neighbours=2)


class _PartFeatureBackend(PartOracleBackend):
    """The oracle backend with an encoder that knows the parts (the decoder is unused)."""

    def encode(self, xyz_norm):
        self.calls["encode"] += 1
        return _part_features(xyz_norm, self.part_of(np.asarray(xyz_norm), None))


def test_segment_all_on_a_point_cloud_gives_the_parts_and_labels_every_input_point(
        monkeypatch):
    seg = make_segmenter(monkeypatch)
    seg.backend = _PartFeatureBackend(_thirds)
    cloud = _bar_points(4000, seed=1)
    seg.set_points(cloud, n_points=1200)
    truth = _thirds(seg.points_normalized)
    res = seg.segment_all()
    assert res.num_parts == 3 and res.point_labels.shape == (1200,)
    assert _purity(res.point_labels, truth) > 0.95
    assert res.input_labels.shape == (4000,) and set(res.input_labels) == {0, 1, 2}
    assert res.scores.shape == (3,) and ((res.scores >= 0) & (res.scores <= 1)).all()
    assert seg.count_parts() == 3 and seg.count_parts(1.0) == 1
    assert "decode" not in seg.backend.calls and "condition" not in seg.backend.calls
    coarse, fine = seg.hierarchy([0.9, 0.1])
    for k in np.unique(fine.point_labels):  # every fine part inside one coarse part
        assert len(np.unique(coarse.point_labels[fine.point_labels == k])) == 1
    assert fine.num_parts >= 3 >= coarse.num_parts


def test_tiny_parts_are_absorbed_unless_min_part_fraction_is_zero(monkeypatch):
    from core import SegmentAllSettings

    def parts(xyz, scale):  # a sliver of 1 % at one end is its own part
        return np.where(xyz[:, 0] > 0.98, 1, 0)

    seg = make_segmenter(monkeypatch)
    seg.backend = _PartFeatureBackend(parts)
    seg.set_points(_bar_points(3000, seed=2), n_points=None)
    share = float((parts(seg.points_normalized, None) == 1).mean())
    assert 0.002 < share < 0.05
    keep = seg.segment_all(settings=SegmentAllSettings(min_part_fraction=0.0))
    drop = seg.segment_all(settings=SegmentAllSettings(min_part_fraction=0.1))
    assert keep.num_parts == 2 and drop.num_parts == 1


def test_repeated_points_and_tiny_clouds_still_segment(monkeypatch):
    """Scanned clouds repeat points; a farthest-point seed that wins no point is dropped
    instead of making a cluster of size zero. Tiny clouds give one label per point at
    most, and every answer still works (fewer than 3 distinct points are refused earlier)."""
    seg = make_segmenter(monkeypatch)
    seg.backend = _PartFeatureBackend(_thirds)
    bar = _bar_points(300, seed=3)
    seg.set_points(np.repeat(bar, 4, axis=0), n_points=None)
    tree = seg.cloud_parts().tree.tree
    assert tree.num_leaves == 300 and np.isfinite(tree.height).all()
    res = seg.segment_all()
    assert res.num_parts == 3 and _purity(res.point_labels, _thirds(seg.points_normalized)) > 0.95
    for n in (3, 5):
        seg.set_points(bar[:n], n_points=None)
        assert 1 <= seg.segment_all().num_parts <= n
        assert seg.count_parts(0.5) >= 1 and len(seg.hierarchy([0.2, 0.8])) == 2
        assert seg.predict([(0, True)], scale=0.5).point_mask[0]
