"""The `model` and `agglo` methods run through core.Segmenter, and untrained weights are
reported as such (never passed off as a trained model)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def untrained_weights(tmp_path_factory):
    from core.checkpoint import save_checkpoint
    from core.config import ModelConfig
    from core.modeling import PartEncoder, ScaleAwareDecoder

    torch.manual_seed(0)
    cfg = ModelConfig()
    d = tmp_path_factory.mktemp("untrained")
    save_checkpoint(d, PartEncoder(cfg), ScaleAwareDecoder(cfg), cfg,
                    {"trained": False, "notes": "random init for the evaluation test"})
    return d


@pytest.mark.slow
def test_untrained_model_is_evaluated_and_labelled(repo_root, shared_data, untrained_weights,
                                                   tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "training.evaluate", "--data",
         str(shared_data / "partnet-mobility-dev"), "--limit", "2", "--points", "2000",
         "--method", "model", "agglo", "--weights", str(untrained_weights), "--json",
         "--report", str(tmp_path), "--no-bench"],
        cwd=repo_root, capture_output=True, text=True, timeout=600, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "untrained weights" in p.stderr
    res = json.loads(p.stdout.strip().splitlines()[-1])
    model, agglo = res["methods"]["model"], res["methods"]["agglo"]
    assert model["trained"] is False and model["note"] == "untrained weights"
    assert model["objects"] == 2 and agglo["objects"] == 2
    for k in ("interactive_iou_scale", "interactive_iou_noscale", "full_noscale_leaf",
              "full_levels_leaf"):
        assert 0.0 <= model[k] <= 100.0
    assert model["full_miou_leaf"] == model["full_noscale_leaf"]  # no-scale is the main mode
    assert agglo["interactive_iou_scale"] is None and 0.0 <= agglo["full_levels_leaf"] <= 100.0
    md = (tmp_path / "report.md").read_text()
    assert "**The model's weights are UNTRAINED**" in md
    assert "| model (untrained weights) |" in md and "| agglo (untrained weights) |" in md


def test_missing_weights_are_reported_not_faked(repo_root, shared_data, tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "training.evaluate", "--data",
         str(shared_data / "partnet-mobility-dev"), "--limit", "1", "--points", "2000",
         "--method", "model", "cc", "--weights", str(tmp_path / "none"), "--json"],
        cwd=repo_root, capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    model = res["methods"]["model"]
    assert model["objects"] == 0 and model["full_miou_leaf"] is None
    assert "core.Segmenter unavailable" in model["note"]
    assert res["methods"]["cc"]["objects"] == 1
