"""The add-on's bpy-free engine: the Segment All job that runs in a worker thread (progress,
cancel, one bad object not stopping the others), the encoder cache, nested hierarchy levels."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from s2am3d_blender import engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import sample_meshes  # noqa: E402

MODEL = engine.ModelOptions(num_threads=1)


def _table(name="table", shift=0.0) -> engine.Geometry:
    v, quads, _ = sample_meshes.table()
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    tri_poly = np.concatenate([np.arange(len(quads))] * 2)
    return engine.Geometry(name, v + shift, tris, tri_poly, len(quads))


def _cloud(name="cloud") -> engine.Geometry:
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(size=(600, 3)) * 0.2, rng.normal(size=(600, 3)) * 0.2 + 3])
    return engine.Geometry(name, pts, np.zeros((0, 3), np.int64), np.zeros(0, np.int64), 0)


def test_segment_job_in_a_worker_thread_reports_progress_and_isolates_failures():
    bad = engine.Geometry("bad", np.full((8, 3), np.nan), np.array([[0, 1, 2]]),
                          np.array([0]), 1)
    job = engine.SegmentJob([_table(), bad, _cloud()], MODEL,
                            engine.SegmentOptions(scale=0.2, n_points=1024),
                            cache=engine.EncoderCache())
    assert job.progress == 0.0
    seen = []
    job._encoded = (lambda orig: lambda: (orig(), seen.append((job.current, job.progress))))(
        job._encoded)
    job.start()
    assert job.done.wait(300)
    assert job.progress == 1.0 and not job.cancelled
    # half-way marks after each encoder run (the bad object fails while encoding)
    assert seen == [("table (segmenting)", 0.5 / 3), ("cloud (segmenting)", 2.5 / 3)]
    assert [r.name for r in job.results] == ["table", "cloud"]
    # the reason in the user's words, without internal exception class names
    assert list(job.errors) == ["bad"]
    why = job.errors["bad"]
    assert why.startswith("its mesh cannot be segmented: ") and "NaN" in why
    assert "Error" not in why and "\n" not in why
    table, cloud = job.results
    lv = table.levels[0]
    assert lv.poly_labels.shape == (36,) and (lv.poly_labels >= 0).all()
    assert sum(lv.sizes()) == 36 and lv.num_parts == len(lv.sizes())
    assert cloud.point_cloud and cloud.levels[0].vertex_labels.shape == (1200,)
    assert table.timings["encode_s"] > 0 and not table.encoder_cached


def test_cancelled_job_stops_before_the_next_object():
    job = engine.SegmentJob([_table("a"), _table("b", 5.0)], MODEL,
                            engine.SegmentOptions(n_points=1024), cache=engine.EncoderCache())
    job.cancel()
    job.start()
    assert job.done.wait(60)
    assert job.cancelled and job.results == [] and job.errors == {}


def test_encoder_cache_encodes_once_per_mesh_state():
    cache = engine.EncoderCache(max_items=2)
    seg, cached = cache.get(_table(), MODEL, 1024)
    again, cached2 = cache.get(_table(), MODEL, 1024)
    assert (cached, cached2) == (False, True) and again is seg
    _, moved = cache.get(_table(shift=0.01), MODEL, 1024)  # the mesh changed: encode again
    assert moved is False


def test_hierarchy_levels_nest():
    res = engine.segment_object(_table(), MODEL,
                                engine.SegmentOptions(scale=0.1, n_points=1024,
                                                      hierarchy=(0.6,)),
                                cache=engine.EncoderCache())
    fine, coarse = res.levels
    assert (fine.scale, coarse.scale) == (0.1, 0.6)
    for k in range(fine.num_parts):
        parents = np.unique(coarse.poly_labels[fine.poly_labels == k])
        assert len(parents) == 1  # every finer part lies in exactly one coarser part


def test_unknown_segment_all_setting_is_refused():
    with pytest.raises(ValueError, match="unknown Segment All setting"):
        engine.SegmentOptions(overrides={"no_such_field": 1}).core_settings()


@pytest.mark.parametrize("value", [3.4e38, 1e30, -1e13])
def test_huge_finite_coordinates_are_refused_with_a_reason(value):
    g = _table()
    v = g.vertices.copy()
    v[5] = (value, 0.0, 0.0)
    geom = engine.Geometry("huge", v, g.triangles, g.tri_poly, g.n_polys)
    job = engine.SegmentJob([geom], MODEL, engine.SegmentOptions(n_points=1024),
                            cache=engine.EncoderCache())
    job.run()
    assert job.results == []
    why = job.errors["huge"]
    assert "beyond 1e+12" in why and "index 5" in why and "stray vertex" in why


def test_part_count_is_the_polygons_not_the_triangles():
    """A one-quad plane whose two triangles got two labels is one part with one group."""
    quad = engine.Geometry("plane", np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float),
                           np.array([[0, 1, 2], [0, 2, 3]]), np.array([0, 0]), 1)
    res = SimpleNamespace(face_labels=np.array([0, 1]))
    lv = engine.level_from_result(None, quad, res, 0.2)
    assert lv.num_parts == 1 and lv.sizes() == [1]
    assert lv.poly_labels.tolist() == [0] and lv.tri_labels.tolist() == [0, 0]


def test_onnx_runtime_import_failure_is_one_line_with_what_to_do(monkeypatch):
    core = engine.core()

    def broken(*a, **k):
        raise ModuleNotFoundError("No module named 'onnxruntime.capi.onnxruntime_pybind11_state'",
                                  name="onnxruntime.capi.onnxruntime_pybind11_state")

    monkeypatch.setattr(core.Segmenter, "from_pretrained", staticmethod(broken))
    with pytest.raises(engine.RuntimeUnavailable) as info:
        engine.load_check(MODEL)
    msg = str(info.value)
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    assert "\n" not in msg and msg.startswith("ONNX Runtime cannot be loaded")
    assert "onnxruntime_pybind11_state" in msg and py in msg and "install" in msg
    job = engine.SegmentJob([_table()], MODEL, engine.SegmentOptions(n_points=1024),
                            cache=engine.EncoderCache())
    job.run()  # the worker keeps it as the object's reason instead of dying
    assert job.errors["table"] == msg


class _SpySegmenter:
    """Stands for a core.Segmenter: records the calls Segment All makes."""

    def __init__(self, n_faces: int):
        self.calls = []
        self.n = n_faces

    def hierarchy(self, scales, settings=None):
        self.calls.append(("hierarchy", list(scales)))
        return [SimpleNamespace(face_labels=np.arange(self.n) // max(1, i + 1))
                for i in range(len(scales))]

    def segment_all(self, scale=None, settings=None, num_parts=None):
        assert scale is None or num_parts is None  # core refuses both
        self.calls.append(("segment_all", scale, num_parts))
        return SimpleNamespace(face_labels=np.arange(self.n) % (num_parts or 1))


class _SpyCache(engine.EncoderCache):
    def __init__(self, seg):
        super().__init__()
        self.seg = seg

    def get(self, geom, model, n_points, seed=0):
        return self.seg, True


def test_hierarchy_output_comes_from_one_hierarchy_call():
    g = _table()
    spy = _SpySegmenter(len(g.triangles))
    res = engine.segment_object(g, MODEL, engine.SegmentOptions(scale=0.1, hierarchy=(0.3, 0.6)),
                                cache=_SpyCache(spy))
    assert spy.calls == [("hierarchy", [0.1, 0.3, 0.6])]
    assert [lv.scale for lv in res.levels] == [0.1, 0.3, 0.6]


def test_num_parts_gives_exactly_that_many_parts():
    cache = engine.EncoderCache()
    for k in (1, 3, 5):
        res = engine.segment_object(_table(), MODEL,
                                    engine.SegmentOptions(num_parts=k, n_points=1024),
                                    cache=cache)
        (lv,) = res.levels
        assert (lv.num_parts, lv.scale, lv.asked) == (k, None, k)
        assert sum(lv.sizes()) == 36 and min(lv.sizes()) > 0
    cloud = engine.segment_object(_cloud(), MODEL,
                                  engine.SegmentOptions(num_parts=2, n_points=1024),
                                  cache=cache)
    assert cloud.levels[0].num_parts == 2 and cloud.levels[0].vertex_labels.shape == (1200,)


def test_num_parts_never_reaches_core_with_a_scale_and_hierarchy_follows_it():
    g = _table()
    spy = _SpySegmenter(len(g.triangles))
    # the default scale (0.2) is not used with num_parts; extra scales come after the count
    res = engine.segment_object(g, MODEL, engine.SegmentOptions(num_parts=3, hierarchy=(0.6,)),
                                cache=_SpyCache(spy))
    assert spy.calls == [("segment_all", None, 3), ("hierarchy", [0.6])]
    assert [(lv.scale, lv.asked) for lv in res.levels] == [(None, 3), (0.6, None)]
    assert res.levels[0].num_parts == 3


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "3"])
def test_bad_num_parts_is_refused_naming_the_field(value):
    with pytest.raises(ValueError, match=r"num_parts is .*whole number of parts, 1 or more"):
        engine.SegmentOptions(num_parts=value)


def test_only_min_part_size_can_be_overridden():
    opts = engine.SegmentOptions(overrides={"min_part_fraction": 0.01,
                                            "min_mesh_part_fraction": 0.02})
    s = opts.core_settings()
    assert (s.min_part_fraction, s.min_mesh_part_fraction) == (0.01, 0.02)
    with pytest.raises(ValueError, match="unknown Segment All setting"):
        engine.SegmentOptions(overrides={"num_prompts": 8}).core_settings()
    # a real field the add-on must not set (core may remove them all: then any name)
    field = next((f.name for f in __import__("dataclasses").fields(type(s))
                  if f.name not in engine.OVERRIDABLE), "no_such_field")
    with pytest.raises(ValueError, match="unknown Segment All setting"):
        engine.SegmentOptions(overrides={field: 1}).core_settings()


def test_part_counts_read_as_english():
    assert [engine.plural(n) for n in (0, 1, 2)] == ["0 parts", "1 part", "2 parts"]
