"""Superfaces: crease regions, size control, chunks of smooth surfaces, the region graph."""

from __future__ import annotations

import numpy as np
import trimesh
from test_core_part_count import dumbbell

from core.geometry import normalization_of, sample_surface
from core.mesh_regions import MeshStructure
from core.superfaces import SuperfaceSettings, build_superfaces

ONE_PIECE = SuperfaceSettings(max_share=1.0)  # no chunking: crease regions only


def _sf(v, f, settings=ONE_PIECE, n=3000, features=None):
    ms = MeshStructure.build(v, f)
    pts, pf = sample_surface(v, f, n, seed=0)
    return build_superfaces(ms, pf, normalization_of(pts).apply(pts), features=features,
                            settings=settings), ms, pf


def _box(center=(0, 0, 0), extents=(1, 1, 1), subdiv=2):
    b = trimesh.creation.box(extents=extents)
    for _ in range(subdiv):
        b = b.subdivide()
    b.apply_translation(center)
    return np.asarray(b.vertices), np.asarray(b.faces)


def test_box_gives_its_six_sides_and_a_convex_graph():
    v, f = _box()
    sf, _, _ = _sf(v, f)
    assert sf.num == 6
    np.testing.assert_allclose(sf.share, 1 / 6, atol=1e-9)
    assert len(sf.pairs) == 12  # the cube's 12 edges
    assert (sf.convex > 0.99).all() and (sf.concave == 0).all()
    np.testing.assert_allclose(sf.angle_mean, np.pi / 2, atol=1e-6)


def test_double_sided_and_flipped_faces_stay_with_their_surface():
    v, f = _box()
    f2 = f.copy()
    f2[::3] = f2[::3, ::-1]  # every third face flipped: unsigned angles still say flat
    both = np.concatenate([f2, f[:40, ::-1]])  # and some faces duplicated back to back
    sf, _, _ = _sf(v, both)
    assert sf.num == 6


def test_concave_crease_is_seen_where_two_boxes_meet():
    a = trimesh.creation.box(extents=(2, 1, 1))
    b = trimesh.creation.box(extents=(1, 1, 1))
    b.apply_translation((0.5, 0, 1.0))  # a step: one concave crease along the junction
    m = trimesh.boolean.union([a, b], engine="manifold")
    sf, _, _ = _sf(np.asarray(m.vertices), np.asarray(m.faces))
    assert (sf.concave > 0.99).sum() == 1  # exactly the junction
    assert (sf.convex > 0.99).sum() == len(sf.pairs) - 1


def test_smooth_one_piece_mesh_is_split_into_compact_connected_chunks():
    s = trimesh.creation.icosphere(subdivisions=4)
    v, f = np.asarray(s.vertices), np.asarray(s.faces)
    settings = SuperfaceSettings(max_share=0.02, chunk_share=0.01)
    sf, ms, _ = _sf(v, f, settings=settings, n=5000)
    assert 60 <= sf.num <= 140  # about 1 / chunk_share chunks
    assert sf.share.max() < 0.05
    for k in range(sf.num):  # every chunk is one edge-connected patch
        faces = np.flatnonzero(sf.face_sf == k)
        sub = ms.adjacency[np.isin(ms.adjacency, faces).all(axis=1)]
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        idx = {x: i for i, x in enumerate(faces)}
        g = coo_matrix((np.ones(len(sub)), ([idx[x] for x in sub[:, 0]],
                                            [idx[x] for x in sub[:, 1]])),
                       shape=(len(faces), len(faces)))
        assert connected_components(g, directed=False)[0] == 1
    # chunk borders are smooth: no crease, no concavity on a sphere
    assert (sf.angle_max < np.radians(30)).all() and (sf.concave == 0).all()


def test_separate_pieces_get_proximity_edges_only_when_close():
    va, fa = _box((0, 0, 0))
    vb, fb = _box((1.02, 0, 0))  # 2 cm gap
    vc, fc = _box((5, 0, 0))  # far away
    v = np.concatenate([va, vb, vc])
    f = np.concatenate([fa, fb + len(va), fc + len(va) + len(vb)])
    sf, _, _ = _sf(v, f)
    assert sf.num == 18
    prox = sf.boundary == 0
    assert prox.any()
    comps = sf.component[sf.pairs[prox]]
    assert (comps[:, 0] != comps[:, 1]).all()
    far = sf.component[sf.face_sf[-1]]  # the far box's piece
    assert not (comps == far).any()
    assert (sf.gap[prox] > 0).all() and (sf.gap[prox] < 0.03).all()
    assert not sf.fold[prox].any()  # no surface folds between separate pieces
    # a box's sides meet at convex right angles: each pair of adjacent sides folds out
    side = ~prox
    np.testing.assert_allclose(sf.fold[side], -np.sqrt(2), atol=1e-6)


def test_specks_without_points_are_absorbed_and_features_pooled():
    v, f = _box()
    sv, sfc = _box((0.5005, 0, 0), extents=(0.001, 0.001, 0.001), subdiv=0)
    vv = np.concatenate([v, sv])
    ff = np.concatenate([f, sfc + len(v)])
    feats = np.random.default_rng(0).random((3000, 8)).astype(np.float32)
    sf, _, pf = _sf(vv, ff, features=feats)
    assert sf.num == 6 and (sf.point_count > 0).all()
    k = 2
    np.testing.assert_allclose(sf.features[k], feats[sf.point_sf == k].mean(axis=0), rtol=1e-5)


def _neck_and_lobe_folds(sf):
    x = sf.centroid[:, 0]
    a, b = sf.pairs[:, 0], sf.pairs[:, 1]
    neck = (np.abs(x[a]) < 0.6) & (np.abs(x[b]) < 0.6) & (np.sign(x[a]) != np.sign(x[b]))
    lobe = (np.abs(x[a]) > 1.3) & (np.abs(x[b]) > 1.3)
    assert neck.any() and lobe.any()
    return sf.fold[neck], sf.fold[lobe]


def test_fold_is_concave_in_the_neck_convex_on_the_lobes_whatever_the_windings():
    """The superfaces' fold reads the minima rule at their own scale: the chunks either
    side of a dumbbell's neck fold inwards (> 0), those on a round lobe outwards (< 0).
    Half the faces wound the other way (a badly exported mesh) read the same."""
    v, f = dumbbell()
    flipped = f.copy()
    flipped[::2] = flipped[::2, ::-1]
    for faces in (f, flipped):
        sf, _, _ = _sf(v, faces, settings=SuperfaceSettings())  # chunks of ~0.6 %
        assert sf.num > 50 and sf.fold.shape == (len(sf.pairs),)
        neck, lobe = _neck_and_lobe_folds(sf)
        assert np.median(neck) > 0.1
        assert (lobe < 0).mean() > 0.9
