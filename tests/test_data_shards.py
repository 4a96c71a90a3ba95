"""Shard format: what the trainers read is what the builder wrote."""

from __future__ import annotations

import json

import numpy as np

from training.data.build import BuildConfig, build
from training.data.parts import levels_nest
from training.data.shards import ObjectSample, ShardDataset, write_meta, write_shard


def _sample(rng, n, levels, fam):
    fine = rng.integers(0, 6, n)
    labs = [fine]
    for _ in range(levels - 1):
        labs.append(labs[-1] // 2)
    return ObjectSample(
        points=rng.normal(size=(n, 3)).astype(np.float32),
        normals=rng.normal(size=(n, 3)).astype(np.float32),
        labels=np.stack(labs),
        family=fam,
        source=f"procedural:{fam}",
        fused=levels == 2,
    )


def test_shard_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    a = [_sample(rng, 50, 3, "chair"), _sample(rng, 50, 2, "mug")]
    b = [_sample(rng, 50, 1, "lamp")]
    write_shard(tmp_path / "shard_00000.npz", a, n_levels=4)
    write_shard(tmp_path / "shard_00001.npz", b, n_levels=4)
    write_meta(tmp_path, {"objects": 3, "shard_sizes": [2, 1]})
    ds = ShardDataset(tmp_path)
    assert len(ds) == 3
    for got, want in zip([ds[0], ds[1], ds[2]], a + b):
        np.testing.assert_array_equal(got["points"], want.points)
        np.testing.assert_array_equal(got["normals"], want.normals)
        nl = want.labels.shape[0]
        assert int(got["num_levels"]) == nl
        assert got["labels"].dtype == np.int16 and got["labels"].shape == (4, 50)
        np.testing.assert_array_equal(got["labels"][:nl], want.labels)
        for extra in range(nl, 4):  # padded with the coarsest level
            np.testing.assert_array_equal(got["labels"][extra], want.labels[-1])
        assert str(got["family"]) == want.family and str(got["source"]) == want.source
        assert bool(got["fused"]) == want.fused
        frac = got["fractions"]
        np.testing.assert_allclose(frac.sum(axis=1), 1.0, atol=1e-5)
    assert ds[-1]["family"] == "lamp"
    assert sum(len(s["points"]) for s in ds.iter_shards()) == 3


def test_build_is_deterministic_and_nested(tmp_path):
    cfg = BuildConfig(n_points=512, shard_size=3, fused_fraction=0.5)
    meta = build(tmp_path / "a", 5, seed=7, cfg=cfg, workers=1)
    build(tmp_path / "b", 5, seed=7, cfg=cfg, workers=2)
    build(tmp_path / "c", 5, seed=8, cfg=cfg, workers=1)
    da, db, dc = (ShardDataset(tmp_path / x) for x in "abc")
    assert len(da) == len(db) == 5 and meta["objects"] == 5
    assert json.loads((tmp_path / "a" / "meta.json").read_text())["seed"] == 7
    differs = False
    for i in range(5):
        x, y, z = da[i], db[i], dc[i]
        np.testing.assert_array_equal(x["points"], y["points"])
        np.testing.assert_array_equal(x["labels"], y["labels"])
        differs |= not np.array_equal(x["points"], z["points"])
        nl = int(x["num_levels"])
        assert nl >= 1 and levels_nest(x["labels"][:nl])
        assert np.isfinite(x["points"]).all()
    assert differs, "a different seed must give different objects"
