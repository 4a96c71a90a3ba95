"""The add-on's bpy-free engine: the Segment All job that runs in a worker thread (progress,
cancel, one bad object not stopping the others), the encoder cache, nested hierarchy levels."""

from __future__ import annotations

import sys
from pathlib import Path

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
    assert list(job.errors) == ["bad"] and "InvalidInputError" in job.errors["bad"]
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
