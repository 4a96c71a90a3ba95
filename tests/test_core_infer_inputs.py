"""Bad input to the predictor: a specific exception with a clear message, data untouched."""

from __future__ import annotations

import numpy as np
import pytest
from core_infer_fake import boxes, make_segmenter

from core.errors import InvalidInputError, InvalidPromptError
from core.predictor import NotReadyError


@pytest.fixture
def seg(monkeypatch):
    return make_segmenter(monkeypatch)


@pytest.fixture
def box_seg(seg):
    v, f, _ = boxes([(0, 0, 0), (3, 0, 0)], subdivide=1)
    seg.set_mesh(v, f, n_points=600)
    return seg


def test_empty_mesh(seg):
    with pytest.raises(InvalidInputError, match="empty"):
        seg.set_mesh(np.zeros((0, 3)), np.zeros((0, 3), int))
    v, _, _ = boxes([(0, 0, 0)])
    with pytest.raises(InvalidInputError, match="no faces"):
        seg.set_mesh(v, np.zeros((0, 3), int))


def test_fewer_than_three_distinct_points(seg):
    with pytest.raises(InvalidInputError, match="3 distinct"):
        seg.set_points(np.array([[0, 0, 0], [1, 1, 1], [1, 1, 1.0]]))
    with pytest.raises(InvalidInputError, match="3 distinct"):
        seg.set_mesh(np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0.0]]), np.array([[0, 1, 2]]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_coordinates(seg, bad):
    v, f, _ = boxes([(0, 0, 0)])
    v = v.copy()
    v[3, 1] = bad
    before = v.copy()
    with pytest.raises(InvalidInputError, match="non-finite"):
        seg.set_mesh(v, f)
    np.testing.assert_array_equal(v, before)  # the caller's array is untouched
    with pytest.raises(InvalidInputError, match="non-finite"):
        seg.set_points(v)


def test_zero_area_faces_only(seg):
    v = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0.0]])
    f = np.array([[0, 1, 2], [0, 0, 3]])  # collinear and repeated-vertex triangles
    with pytest.raises(InvalidInputError, match="zero area"):
        seg.set_mesh(v, f)


def test_face_index_out_of_range(seg):
    v, f, _ = boxes([(0, 0, 0)])
    f = f.copy()
    f[5, 2] = len(v)
    with pytest.raises(InvalidInputError, match="out of range"):
        seg.set_mesh(v, f)
    f[5, 2] = -1
    with pytest.raises(InvalidInputError, match="out of range"):
        seg.set_mesh(v, f)


def test_non_triangle_faces_and_float_indices(seg):
    v, f, _ = boxes([(0, 0, 0)])
    with pytest.raises(InvalidInputError, match="triangles"):
        seg.set_mesh(v, f[:, :2])
    with pytest.raises(InvalidInputError, match="integers"):
        seg.set_mesh(v, f.astype(float))


def test_coplanar_flat_plate_works(seg):
    """A flat plate is a valid mesh: every face gets a label."""
    xs = np.linspace(0, 1, 11)
    gx, gy = np.meshgrid(xs, xs, indexing="ij")
    v = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], 1)
    i = (np.arange(10)[:, None] * 11 + np.arange(10)[None, :]).ravel()
    f = np.concatenate([np.stack([i, i + 11, i + 1], 1), np.stack([i + 1, i + 11, i + 12], 1)])
    seg.set_mesh(v, f, n_points=500)
    assert np.isfinite(seg.points_normalized).all()
    assert np.allclose(seg.points[:, 2], 0.0)
    r = seg.predict([(0, True)])
    assert r.face_mask.shape == (len(f),) and r.face_mask.any()
    res = seg.segment_all()
    assert res.face_labels.shape == (len(f),) and (res.face_labels >= 0).all()
    # one connected plate: no split unless confident masks cut it into sizeable pieces
    assert res.num_parts >= 1


def test_collinear_points_are_a_documented_result(seg):
    """Collinear points have no surface but are a valid (degenerate) point cloud: the
    model frame keeps them finite and every point gets a label."""
    t = np.linspace(0, 1, 50)
    xyz = np.stack([t, 2 * t, 0 * t], 1)
    seg.set_points(xyz)
    assert np.isfinite(seg.points_normalized).all()
    res = seg.segment_all()
    assert res.point_labels.shape == (50,) and (res.point_labels >= 0).all()
    # and as a mesh, collinear vertices only make zero-area faces
    with pytest.raises(InvalidInputError, match="zero area"):
        seg.set_mesh(xyz, np.array([[0, 10, 20], [1, 2, 3]]))


def test_prompt_index_out_of_range(box_seg):
    n = len(box_seg.points)
    with pytest.raises(InvalidPromptError, match="out of range"):
        box_seg.predict([(n, True)])
    with pytest.raises(InvalidPromptError, match="out of range"):
        box_seg.predict([(0, True), (-1, False)])


def test_prompt_list_problems(box_seg):
    with pytest.raises(InvalidPromptError, match="no prompt"):
        box_seg.predict([])
    with pytest.raises(InvalidPromptError, match="positive"):
        box_seg.predict([(0, False), (5, False)])
    with pytest.raises(InvalidPromptError, match="pair"):
        box_seg.predict([3])
    with pytest.raises(InvalidPromptError, match="integer"):
        box_seg.predict([(1.5, True)])


@pytest.mark.parametrize("scale", [-0.1, 1.5, float("nan"), "big", True])
def test_scale_outside_unit_interval(box_seg, scale):
    with pytest.raises(InvalidPromptError, match="scale"):
        box_seg.predict([(0, True)], scale=scale)
    with pytest.raises(InvalidPromptError, match="scale"):
        box_seg.segment_all(scale=scale)


def test_scale_bounds_are_valid(box_seg):
    for s in (0.0, 1.0, 0, 1):
        assert box_seg.predict([(0, True)], scale=s).point_mask.shape == (600,)


def test_hierarchy_rejects_bad_scales(box_seg):
    with pytest.raises(InvalidPromptError):
        box_seg.hierarchy([])
    with pytest.raises(InvalidPromptError, match="None"):
        box_seg.hierarchy([0.2, None])
    with pytest.raises(InvalidPromptError, match="scale"):
        box_seg.hierarchy([0.2, 2.0])


def test_predict_before_set_mesh(seg):
    with pytest.raises(NotReadyError, match="set_mesh"):
        seg.predict([(0, True)])
    with pytest.raises(NotReadyError, match="set_mesh"):
        seg.segment_all()
    with pytest.raises(NotReadyError):
        _ = seg.points


def test_bad_n_points(seg):
    v, f, _ = boxes([(0, 0, 0)])
    for n in (0, 2, 10.5, True):
        with pytest.raises(InvalidInputError, match="n_points"):
            seg.set_mesh(v, f, n_points=n)


def test_too_many_points_is_refused_before_any_work(seg):
    """A huge n_points would exhaust memory in the encoder: refused with the limit named,
    and the previously set object stays usable."""
    from core.predictor import MAX_N_POINTS

    v, f, _ = boxes([(0, 0, 0)])
    seg.set_mesh(v, f, n_points=300)
    with pytest.raises(InvalidInputError, match=f"{MAX_N_POINTS:,}"):
        seg.set_mesh(v, f, n_points=MAX_N_POINTS + 1)
    with pytest.raises(InvalidInputError, match="maximum"):
        seg.set_points(np.random.default_rng(0).random((50, 3)), n_points=10**9)
    assert seg.backend.calls["encode"] == 1  # nothing was sampled or encoded
    assert len(seg.points) == 300 and seg.predict([(0, True)]).face_mask.shape == (len(f),)


def test_failed_set_mesh_keeps_the_previous_object(seg):
    v, f, _ = boxes([(0, 0, 0), (3, 0, 0)])
    seg.set_mesh(v, f, n_points=400)
    before = seg.points.copy()
    bad = v.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InvalidInputError):
        seg.set_mesh(bad, f)
    np.testing.assert_array_equal(seg.points, before)
    assert seg.segment_all().face_labels.shape == (len(f),)


def test_face_groups_length_mismatch(seg):
    v, f, _ = boxes([(0, 0, 0)])
    with pytest.raises(InvalidInputError, match="face_groups"):
        seg.set_mesh(v, f, face_groups=np.zeros(3, int))


def test_nearest_point_bad_query(box_seg):
    with pytest.raises(InvalidPromptError):
        box_seg.nearest_point([np.nan, 0, 0])
    with pytest.raises(InvalidPromptError):
        box_seg.nearest_point([0, 0])
