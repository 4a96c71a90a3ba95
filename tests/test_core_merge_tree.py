"""The merge tree: how it is built, and every answer read from it (cuts, clicks, slider,
negative clicks, hierarchies, part counts) through the public Segmenter API."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from core_infer_fake import boxes, make_segmenter

from core.agglomerate import Agglomeration, build_merge_tree
from core.merge_tree import TreeSettings
from core.twins import CutParts, TwinSettings, twin_order

ROW = [(3.0 * i, 0, 0) for i in range(8)]  # eight separate boxes in a row


def _chain_tree(size_weight=0.1):
    """Four leaves in a chain, equal shares; the middle boundary is strong."""
    pairs = np.array([[0, 1], [1, 2], [2, 3]])
    dis = np.array([0.1, 0.9, 0.2])
    cen = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], float)
    return build_merge_tree(4, np.full(4, 0.25), pairs, np.ones(3), dis, cen,
                            TreeSettings(size_weight=size_weight))


def test_weakest_boundaries_merge_first_and_the_natural_cut_keeps_the_strong_one():
    t = _chain_tree()
    assert t.children[4].tolist() == [0, 1] and t.height[4] == pytest.approx(0.1)
    assert t.children[5].tolist() == [2, 3] and t.height[5] == pytest.approx(0.2)
    assert t.height[6] == pytest.approx(0.9) and t.share[6] == pytest.approx(1.0)
    assert t.cut(None).tolist() == [4, 5]  # two natural parts
    assert t.cut(0.25).tolist() == [4, 5]  # a weak scale pull does not cut cheap borders
    strong = _chain_tree(size_weight=TreeSettings().size_weight)
    assert strong.cut(0.25).tolist() == [0, 1, 2, 3]  # the default one does
    assert strong.cut(1.0).tolist() == [6]


def test_a_one_piece_tree_never_answers_the_whole_mesh_without_a_scale():
    """Eight leaves in a chain, all weak boundaries: the natural cut is one part. A
    one-piece mesh's tree (a sculpt, a scan) splits its top merge instead, so Segment All
    without a scale gives parts; an assembled mesh's tree keeps the one part."""
    n = 8
    pairs = np.array([[i, i + 1] for i in range(n - 1)])
    cen = np.array([[i, 0, 0] for i in range(n)], float)
    dis = np.full(n - 1, 0.1)
    dis[2] = 0.2  # the weakest-but-one boundary: merged last, split first

    def tree(one_piece):
        return build_merge_tree(n, np.full(n, 1 / n), pairs, np.ones(n - 1), dis, cen,
                                TreeSettings(), one_piece)

    parts = tree(True).cut(None)
    assert len(parts) == 2
    assert sorted(tree(True).leaves_under(int(x)).tolist() for x in parts) == [
        [0, 1, 2], [3, 4, 5, 6, 7]]
    assert len(tree(False).cut(None)) == 1
    assert len(tree(True).cut(1.0)) == 1  # a scale is still answered as asked


def test_a_one_piece_tree_needs_more_evidence_to_halve_a_large_body():
    """A body of 90 % (two halves of 45 %) and a leg of 10 %, both boundaries at height
    0.55. Without the size weight both are cut; with the default weight (threshold 0.4 +
    0.5 × the smaller side's share) the leg still comes off but the body stays whole,
    as the humans of a table or a cup keep its top or body in one piece."""
    share = np.array([0.45, 0.45, 0.10])
    pairs = np.array([[0, 1], [1, 2]])
    cen = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], float)
    dis = np.array([0.55, 0.56])  # the halves merge first, the leg last

    def parts(weight):
        t = build_merge_tree(3, share, pairs, np.ones(2), dis, cen,
                             TreeSettings(one_piece_size_weight=weight), True)
        return sorted(t.leaves_under(int(x)).tolist() for x in t.cut(None))

    assert parts(0.0) == [[0], [1], [2]]
    assert TreeSettings().one_piece_size_weight == 0.5
    assert parts(0.5) == [[0, 1], [2]]


def test_unconnected_pieces_still_form_one_tree():
    t = build_merge_tree(3, np.full(3, 1 / 3), np.zeros((0, 2), np.int64), np.zeros(0),
                         np.zeros(0), np.array([[0, 0, 0], [1, 0, 0], [5, 0, 0]], float))
    assert t.share[t.root] == pytest.approx(1.0)
    assert t.children[3].tolist() == [0, 1]  # nearest first
    assert t.cut(None).tolist() == [0, 1, 2]  # unconnected = dissimilarity 1


def test_a_merged_cluster_joins_pieces_from_its_share_weighted_centroid():
    """Leaf 1 (three times leaf 0's share) pulls the merged centroid to x = 1.5, so the
    merged cluster is nearer leaf 3 (x = 2.4) than leaf 2 (x = -1.2): those join next."""
    cen = np.array([[0, 0, 0], [2, 0, 0], [-1.2, 0, 0], [2.4, 0, 0]], float)
    agg = Agglomeration(np.array([0.1, 0.3, 0.3, 0.3]), cen)
    m = agg.merge(0, 1, 0.2)
    assert agg.centroid[m].tolist() == pytest.approx([1.5, 0, 0])
    assert agg.share[m] == pytest.approx(0.4) and agg.height[m] == pytest.approx(0.2)
    joins = agg.join_pieces(0.9)
    assert agg.children[joins[0]].tolist() == [3, m]  # nearest pair first
    t = agg.tree(TreeSettings())
    assert t.root == joins[-1] and t.share[t.root] == pytest.approx(1.0)
    assert t.height[joins].tolist() == [0.9, 0.9] and t.parent[t.root] == -1


def test_segment_all_on_separate_boxes_follows_the_scale(monkeypatch):
    seg = make_segmenter(monkeypatch)
    v, f, owner = boxes(ROW, subdivide=1)
    seg.set_mesh(v, f, n_points=4000)
    natural = seg.segment_all()
    assert natural.num_parts == 8
    for b in range(8):  # every box is one part
        assert len(np.unique(natural.face_labels[owner == b])) == 1
    counts = [seg.count_parts(s) for s in (1 / 8, 0.25, 0.5, 1.0)]
    assert counts[0] == 8 and counts[-1] == 1
    assert counts == sorted(counts, reverse=True)
    for s in (1 / 8, 0.5):
        assert seg.count_parts(s) == seg.segment_all(scale=s).num_parts


def test_click_and_slider_walk_one_path(monkeypatch):
    seg = make_segmenter(monkeypatch)
    v, f, owner = boxes(ROW, subdivide=1)
    seg.set_mesh(v, f, n_points=4000)
    i = seg.nearest_point([0.0, 0.0, 0.5])
    r0 = seg.predict([(i, True)])
    assert (r0.face_mask == (owner == 0)).all()  # no scale: the natural part, box 0
    masks = [seg.predict([(i, True)], scale=s).face_mask for s in np.linspace(0.01, 1, 30)]
    for small, big in zip(masks, masks[1:]):
        assert (small <= big).all()  # the slider grows the selection monotonically
    assert masks[0].sum() < (owner == 0).sum() and masks[-1].all()
    r = seg.predict([(i, True)], scale=0.25)
    assert abs(r.face_mask.mean() - 0.25) <= 0.13  # about two of the eight boxes
    assert 0.0 <= r.quality <= 1.0 and r.node is not None


def test_negative_and_several_positive_clicks(monkeypatch):
    seg = make_segmenter(monkeypatch)
    v, f, owner = boxes(ROW, subdivide=1)
    seg.set_mesh(v, f, n_points=4000)
    a = seg.nearest_point([0.0, 0.0, 0.5])
    b = seg.nearest_point([3.0, 0.0, 0.5])
    big = seg.predict([(a, True)], scale=0.5).face_mask
    assert big[owner == 1].all()
    cut = seg.predict([(a, True), (b, False)], scale=0.5).face_mask
    assert not cut[owner == 1].any() and cut[owner == 0].all()  # the negative box is out
    both = seg.predict([(a, True), (seg.nearest_point([9.0, 0, 0.5]), True)]).face_mask
    assert both[owner == 0].all() and both[owner == 3].all()


def test_hierarchy_is_nested_cuts_of_one_tree(monkeypatch):
    seg = make_segmenter(monkeypatch)
    v, f, _ = boxes(ROW, subdivide=1)
    seg.set_mesh(v, f, n_points=4000)
    levels = seg.hierarchy([0.05, 0.5, 0.2])
    assert [lv.scale for lv in levels] == [0.05, 0.5, 0.2]
    order = [levels[1], levels[2], levels[0]]  # coarse to fine
    for coarse, fine in zip(order, order[1:]):
        pairs = np.unique(np.stack([fine.face_labels, coarse.face_labels], 1), axis=0)
        assert len(np.unique(pairs[:, 0])) == len(pairs)
        assert fine.num_parts >= coarse.num_parts


def test_tiny_parts_are_absorbed_only_when_asked(monkeypatch):
    from core import SegmentAllSettings

    seg = make_segmenter(monkeypatch)
    big, fb, _ = boxes([(0, 0, 0)], subdivide=1)
    small, fs, _ = boxes([(0.553, 0, 0)], extents=(0.1, 0.1, 0.1), subdivide=1)
    v = np.concatenate([big, small])
    f = np.concatenate([fb, fs + len(big)])
    seg.set_mesh(v, f, n_points=4000)
    keep = seg.segment_all(settings=SegmentAllSettings(min_mesh_part_fraction=0.0))
    assert keep.num_parts == 2
    merged = seg.segment_all(settings=SegmentAllSettings(min_mesh_part_fraction=0.05))
    assert merged.num_parts == 1


def test_no_part_stays_below_the_smallest_part_size(monkeypatch):
    """Specks that touch only each other (a chain of three tiny boxes far from the big
    ones) used to absorb into one another and stay below the size; now every part of
    Segment All, at any scale, in a hierarchy too, is at least that large."""
    from core import SegmentAllSettings

    seg = make_segmenter(monkeypatch)
    big, fb, _ = boxes([(0, 0, 0), (3, 0, 0)], subdivide=1)
    specks, fs, _ = boxes([(1.5, 4.0, 0), (1.62, 4.0, 0), (1.74, 4.0, 0)],
                          extents=(0.1, 0.1, 0.1), subdivide=1)
    v = np.concatenate([big, specks])
    f = np.concatenate([fb, fs + len(big)])
    seg.set_mesh(v, f, n_points=4000)
    area = seg.mesh_structure().face_area
    st = SegmentAllSettings(min_mesh_part_fraction=0.05)
    for scale in (None, 0.05, 0.3):
        res = seg.segment_all(scale, st)
        shares = np.bincount(res.face_labels, weights=area) / area.sum()
        assert shares.min() >= 0.05, (scale, np.round(shares, 4))
    fine, coarse = seg.hierarchy([0.05, 0.5], st)
    for lv in (fine, coarse):
        assert (np.bincount(lv.face_labels, weights=area) / area.sum()).min() >= 0.05
    pairs = np.unique(np.stack([fine.face_labels, coarse.face_labels], 1), axis=0)
    assert len(np.unique(pairs[:, 0])) == len(pairs)  # still nested


def test_a_click_on_a_big_low_poly_face_is_never_empty(monkeypatch):
    """Two big triangles per side: a small scale still selects at least the clicked face."""
    seg = make_segmenter(monkeypatch)
    v, f, _ = boxes([(0, 0, 0)])  # 12 triangles
    seg.set_mesh(v, f, n_points=500)
    for s in (0.001, 0.01, 0.05):
        r = seg.predict([(0, True)], scale=s)
        assert r.face_mask[seg.point_faces[0]] and r.point_mask[0]


def _clicked_sphere(monkeypatch, tree: TreeSettings | None = None):
    """A segmenter on an icosphere (a smooth one-piece mesh; ``tree``: its tree settings,
    None = the defaults), its vertices, faces, face areas and the sample nearest the north
    pole."""
    import trimesh

    seg = make_segmenter(monkeypatch)
    if tree is not None:
        seg.settings = dataclasses.replace(seg.settings, tree=tree)
    sphere = trimesh.creation.icosphere(subdivisions=4)
    v, f = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    seg.set_mesh(v, f, n_points=3000)
    return seg, v, f, np.asarray(sphere.area_faces), seg.nearest_point([0.0, 0.0, 1.0])


def _cap_iou(area, height, mask, share: float) -> float:
    """Area IoU of ``mask`` (F,) with the ideal cap of ``share``: the faces whose
    ``height`` (F,) along the clicked direction is highest."""
    cap = height >= np.quantile(height, 1 - share)
    return float(area[mask & cap].sum() / area[mask | cap].sum())


def test_the_slider_gives_the_share_asked_for_on_a_smooth_one_piece_mesh(monkeypatch):
    """A sphere has no creases: the click + scale answer grows face by face around the
    click, so its area share follows the slider closely and stays around the click: close
    to the ideal cap of the same share (the highest faces). Its rim is a little ragged,
    because the random cuts' consensus that steers the growth falls anywhere on a sphere
    (area IoU with the ideal cap 0.79-0.96 over these scales with 0.4 % chunks)."""
    seg, v, f, area, i = _clicked_sphere(monkeypatch)
    z = v[f].mean(axis=1)[:, 2]
    prev = None
    for s in (0.05, 0.1, 0.25, 0.5, 0.8):
        m = seg.predict([(i, True)], scale=s).face_mask
        assert abs(area[m].sum() / area.sum() - s) < 0.01
        assert _cap_iou(area, z, m, s) > 0.75
        if prev is not None:
            assert (prev <= m).all()
        prev = m


def _small_cap_iou(monkeypatch, ramp: float) -> float:
    """Mean area IoU of click + scale answers (scales 1 % and 2 %, four clicks) on the
    sphere with ``one_piece_growth_ramp`` = ``ramp``, against the ideal cap of the same
    share around the clicked point."""
    seg, v, f, area, _ = _clicked_sphere(monkeypatch,
                                         TreeSettings(one_piece_growth_ramp=ramp))
    assert seg.mesh_parts().tree.one_piece
    cen = v[f].mean(axis=1)
    out = []
    for click in ([0, 0, 1], [0.6, 0, 0.8], [0, 1, 0], [-0.5, 0.5, -0.7]):
        i = seg.nearest_point(click)
        z = cen @ (seg.points[i] / np.linalg.norm(seg.points[i]))
        for s in (0.01, 0.02):
            out.append(_cap_iou(area, z, seg.predict([(i, True)], scale=s).face_mask, s))
    return float(np.mean(out))


def test_a_small_part_on_a_smooth_mesh_is_a_round_cap_not_cut_at_chunk_borders(monkeypatch):
    """A one-piece mesh's superfaces are chunks of ~0.4 % whose borders are arbitrary:
    near the click the distance leads (``one_piece_growth_ramp``), so a 1-2 % answer is
    the cap around the click, not the clicked chunk plus bits of its neighbours."""
    ramped = _small_cap_iou(monkeypatch, TreeSettings().one_piece_growth_ramp)
    plain = _small_cap_iou(monkeypatch, 0.0)
    assert ramped > 0.75
    assert ramped > plain + 0.05


def test_a_click_without_a_scale_on_a_smooth_mesh_gives_a_cap_of_the_natural_size(monkeypatch):
    """No scale on a one-piece mesh: a compact cap around the click (grown face by face),
    as large as the natural part on the tree, never the whole object (a sphere has no
    parts to find, so how large is the tree's choice). The growth crosses the consensus
    of random cuts, which on a sphere falls anywhere, so the cap's rim is a little ragged:
    compact means close to the ideal cap of the same share around the click."""
    seg, v, f, area, i = _clicked_sphere(monkeypatch)
    r = seg.predict([(i, True)])
    share = area[r.face_mask].sum() / area.sum()
    tree = seg.mesh_parts().tree
    assert abs(share - tree.share[r.node]) < 0.01  # the natural node's size
    assert 0.01 < share < 0.95  # a part, not the object
    assert _cap_iou(area, v[f].mean(axis=1)[:, 2], r.face_mask, share) > 0.9
    assert r.face_mask[seg.point_faces[i]] and r.point_mask[i]


def _horned_sphere(monkeypatch, twins: TwinSettings | None = None):
    """A segmenter on a smooth one-piece sphere with two equal horns along ±x and a wider,
    shorter bump on top (``twins``: None = the default :class:`TwinSettings`), the face
    areas, the masks of the two horns and the sample nearest the +x horn's tip."""
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=5)
    u = np.asarray(m.vertices) / np.linalg.norm(m.vertices, axis=1, keepdims=True)
    r = 1.0
    for axis in ([1, 0, 0], [-1, 0, 0]):
        r = r + 1.6 * np.clip((u @ np.array(axis, float) - 0.96) / 0.04, 0, 1) ** 0.5
    r = r + 0.5 * np.clip((u[:, 2] - 0.8) / 0.2, 0, 1) ** 0.5
    v, f = u * r[:, None], np.asarray(m.faces)
    seg = make_segmenter(monkeypatch)
    if twins is not None:
        seg.settings = dataclasses.replace(
            seg.settings, tree=dataclasses.replace(seg.settings.tree, twins=twins))
    seg.set_mesh(v, f, n_points=4000)
    cx = v[f].mean(axis=1)[:, 0]
    area = trimesh.Trimesh(v, f, process=False).area_faces
    return seg, area, cx > 1.05, cx < -1.05, seg.nearest_point([2.4, 0.0, 0.0])


def test_a_click_on_one_horn_grows_into_its_twin_before_the_body(monkeypatch):
    """Limbs come in sets and a part name often means the set ("leg"): on a one-piece mesh
    a click on one horn, at the scale of both horns, gives both horns, not the horn plus the
    body around it; the clicked horn alone still comes at its own scale, the wider bump on
    top is no twin, and the slider stays nested. Without twins the same scale gives the
    horn and the body."""
    seg, area, horn, other, i = _horned_sphere(monkeypatch)
    assert seg.mesh_parts().tree.one_piece
    both = area[horn | other].sum() / area.sum()

    def held(mask, part):
        return area[mask & part].sum() / area[part].sum()

    prev = None
    for s in (0.5 * both, 0.75 * both, both, 1.2 * both):
        m = seg.predict([(i, True)], scale=s).face_mask
        if prev is not None:
            assert (prev <= m).all()
        prev = m
    alone = seg.predict([(i, True)], scale=0.5 * both).face_mask
    assert held(alone, horn) > 0.9 and held(alone, other) == 0.0
    pair = seg.predict([(i, True)], scale=both).face_mask
    assert held(pair, horn) > 0.95 and held(pair, other) > 0.85
    assert area[pair & ~horn & ~other].sum() / area.sum() < 0.1 * both
    natural = seg.predict([(i, True)]).face_mask  # no scale: the clicked horn only
    assert held(natural, other) == 0.0
    off = seg.predict([(i, True)], scale=both, twins=False).face_mask  # asked: no twins
    assert held(off, other) == 0.0 and held(off, horn) > 0.95
    assert (seg.predict([(i, True)], scale=both).face_mask == pair).all()

    plain, area, horn, other, i = _horned_sphere(monkeypatch, TwinSettings(tolerance=0.0))
    m = plain.predict([(i, True)], scale=both).face_mask
    assert held(m, other) == 0.0 and held(m, horn) > 0.95


def test_twin_blocks_are_whole_and_only_for_look_alikes():
    """The twin order in isolation: 12 faces in three groups of four (the clicked part
    near x = 0, a copy of it at x = 10, a part twice as long at x = 20)."""
    cen = np.zeros((12, 3))
    cen[:4, 0] = [0, 1, 2, 3]
    cen[4:8, 0] = [10, 11, 12, 13]
    cen[8:, 0] = [20, 22, 24, 26]
    area = np.ones(12)
    cut = np.repeat([0, 1, 2], 4)
    order = np.array([0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7])  # the plain growth: body first
    cum = np.cumsum(area[order]) / 12
    parts = CutParts.build(cut, cen, area)
    out = twin_order(order, cum, 4 / 12, parts, cen, area, TwinSettings(margin=0.0))
    assert out is not None
    new, ends = out
    assert new[:4].tolist() == [0, 1, 2, 3]
    assert sorted(new[4:8].tolist()) == [4, 5, 6, 7]  # the copy, as one block
    assert new[8:].tolist() == [8, 9, 10, 11]
    assert ends.tolist() == [1, 2, 3, 4, 8, 9, 10, 11, 12]  # never half of the copy
    assert twin_order(order, cum, 4 / 12, parts, cen, area, TwinSettings(tolerance=0.0)) is None
    cen[4:8, 0] = [10, 12, 14, 16]  # the copy stretched: no longer a twin
    parts = CutParts.build(cut, cen, area)
    assert twin_order(order, cum, 4 / 12, parts, cen, area, TwinSettings(margin=0.0)) is None
