"""The stage-1 diagnostic (training.overfit): the part-vs-rest AUC and the loss's chance and
floor mean what they say, and an encoder checkpoint is scored end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from training.overfit import main, part_auc, score_object


def test_part_auc_ranks_and_ties():
    same = np.array([True, True, False, False, False])
    assert part_auc(np.array([0.9, 0.8, 0.1, 0.2, 0.3]), same) == 1.0
    assert part_auc(np.array([0.1, 0.2, 0.9, 0.8, 0.7]), same) == 0.0
    assert part_auc(np.zeros(5), same) == 0.5
    assert math.isnan(part_auc(np.ones(3), np.ones(3, bool)))


def test_score_object_perfect_features_reach_the_floor_and_position_does_not():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 100)
    xyz = rng.normal(size=(400, 3)).astype(np.float32)  # position says nothing of the part
    onehot = np.eye(4, dtype=np.float32)[labels]
    s = score_object(onehot, xyz, labels, np.random.default_rng(1), queries=16, anchors=200)
    assert s.auc_feature == pytest.approx(1.0)
    assert s.auc_distance == pytest.approx(0.5, abs=0.1)
    assert s.chance == pytest.approx(math.log(199))
    assert s.floor < s.chance and s.loss == pytest.approx(s.floor, abs=1e-3)
    noise = rng.normal(size=(400, 8)).astype(np.float32)
    r = score_object(noise, xyz, labels, np.random.default_rng(1), queries=16, anchors=200)
    assert r.auc_feature == pytest.approx(0.5, abs=0.1) and r.loss > s.loss + 1.0


def test_score_command_on_a_trained_checkpoint(tmp_path):
    from tests.test_train_trainers import tiny_encoder_run

    run, data = tiny_encoder_run(tmp_path)
    out = tmp_path / "scores.json"
    main(["score", "--encoder", str(run), "--data", str(data), "--points", "300",
          "--levels", "2", "--queries", "8", "--anchors", "64", "--json", str(out)])
    res = json.loads(out.read_text())
    assert set(res) == {"level_0", "level_1"} and res["level_0"]["objects"] == 4
    for row in res.values():
        assert 0.0 <= row["auc_feature"] <= 1.0 and row["floor"] < row["chance"]
