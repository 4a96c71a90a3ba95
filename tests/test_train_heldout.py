"""python -m training.heldout: interactive IoU on generated held-out shards."""

from __future__ import annotations

import json

import numpy as np

from training.data.shards import ObjectSample, write_meta, write_shard
from training.heldout import main


def _two_blobs(rng: np.random.Generator, n: int = 1200) -> ObjectSample:
    """Two far-apart balls of equal size, one part each (the ball baseline is exact)."""
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    pts = d * 0.3 * rng.random((n, 1)) ** (1 / 3)
    pts[n // 2 :] += [3.0, 0.0, 0.0]
    leaf = (np.arange(n) >= n // 2).astype(np.int64)
    return ObjectSample(points=pts.astype(np.float32), normals=np.zeros((n, 3), np.float32),
                        labels=leaf[None], family="blobs", source="procedural:blobs")


def test_heldout_scores_ball_exactly_and_reports_the_model(tmp_path, capsys):
    rng = np.random.default_rng(0)
    write_shard(tmp_path / "shard_00000.npz", [_two_blobs(rng) for _ in range(3)], 2)
    write_meta(tmp_path, {"objects": 3})
    assert main(["--data", str(tmp_path), "--weights", "bundled", "--threads", "1",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["objects"] == 3
    scores = out["interactive_iou"]
    assert scores["ball +scale"] == 100.0  # each blob is exactly its s·N nearest points
    assert 0.0 <= scores["bundled +scale"] <= 100.0
    assert 0.0 <= scores["bundled no scale"] <= 100.0
