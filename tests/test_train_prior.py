"""The scale prior (core.prior): what it adds to a click, its torch twin used in training,
and a model trained with it behaving the same through torch and ONNX Runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.prior import add_prior, scale_prior_logits
from training.train_decoder import scale_prior_torch


def _cloud(n: int = 2000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3)).astype(np.float32)


def test_prior_alone_is_the_ball_of_the_requested_size():
    xyz = _cloud()
    idx = np.array([[10, 20, 30]])
    lab = np.array([[1.0, 0.0, 1.0]], np.float32)  # two positives, one negative
    prior = scale_prior_logits(xyz, idx, lab, scale=0.15, strength=3.0)
    d = np.minimum(np.linalg.norm(xyz - xyz[10], axis=1), np.linalg.norm(xyz - xyz[30], axis=1))
    ball = set(np.argsort(d)[:300].tolist())  # round(0.15 * 2000) nearest the positives
    assert set(np.flatnonzero(prior[0] >= 0).tolist()) == ball
    assert prior.max() <= 3.0 and prior.min() >= -3.0
    assert prior[0, 10] == pytest.approx(3.0)  # the clicked point leans fully positive


def test_prior_is_zero_without_strength_or_positive_click():
    xyz = _cloud(500)
    idx = np.array([[3, 4], [5, 0]])
    lab = np.array([[1.0, -1.0], [0.0, -1.0]], np.float32)
    assert not scale_prior_logits(xyz, idx, lab, 0.3, 0.0).any()
    out = scale_prior_logits(xyz, idx, lab, 0.3, 2.0)
    assert out[0].any() and not out[1].any()


def test_add_prior_keeps_probabilities_and_shifts_logits():
    p = np.array([[0.5, 0.9, 1e-9, 1.0]], np.float32)
    assert np.allclose(add_prior(p, np.zeros_like(p)), np.clip(p, 1e-7, 1 - 1e-7), atol=1e-6)
    shifted = add_prior(p, np.full_like(p, 2.0))
    assert shifted[0, 0] == pytest.approx(1 / (1 + np.exp(-2.0)), abs=1e-6)
    assert np.all(shifted >= add_prior(p, np.zeros_like(p)))


def test_torch_twin_matches_numpy():
    rng = np.random.default_rng(1)
    xyz = _cloud(800, 2)
    idx = rng.integers(0, 800, (5, 3))
    lab = np.array(
        [[1, 0, -1], [1, 1, 0], [0, -1, -1], [1, -1, -1], [1, 1, 1]], np.float32
    )
    scales = np.array([0.05, 0.3, 0.5, 0.001, 1.0], np.float32)
    has = np.array([1, 1, 1, 1, 0], np.float32)
    got = scale_prior_torch(
        torch.from_numpy(np.repeat(xyz[None], 5, 0)),
        torch.from_numpy(idx),
        torch.from_numpy(lab),
        torch.from_numpy(scales),
        torch.from_numpy(has),
        2.5,
    ).numpy()
    for b in range(5):
        want = scale_prior_logits(xyz, idx[b : b + 1], lab[b : b + 1], float(scales[b]), 2.5)
        if has[b] == 0:
            want = np.zeros_like(want)
        assert np.allclose(got[b], want[0], atol=1e-4), b


@pytest.mark.slow
def test_model_trained_with_prior_runs_the_same_in_torch_and_onnx(tmp_path):
    from core import Segmenter
    from tests.test_train_trainers import _box_object, _enc_args, _train_encoder
    from training.data.shards import write_meta, write_shard
    from training.package import main as package_main
    from training.train_decoder import parse_args, train

    data = tmp_path / "shards"
    data.mkdir()
    rng = np.random.default_rng(0)
    write_shard(data / "shard_00000.npz", [_box_object(rng, 600) for _ in range(8)], 3)
    write_meta(data, {"objects": 8, "n_points": 600})
    enc = _train_encoder(_enc_args(data, tmp_path / "enc", 1))
    dec = train(
        *parse_args(
            [
                "--data", str(data), "--encoder", str(enc), "--out", str(tmp_path / "dec"),
                "--steps", "2", "--objects", "2", "--prompts", "2", "--cache-points", "400",
                "--decoder-points", "300", "--val-fraction", "0.25", "--val-objects", "2",
                "--threads", "1", "--warmup", "1",
                "--decoder-model-json", json.dumps({"scale_prior": 3.0}),
            ]
        )
    )
    weights = package_main(
        ["--encoder", str(enc), "--decoder", str(dec), "--out", str(tmp_path / "w"),
         "--data", "tiny"]
    )
    meta = json.loads((weights / "config.json").read_text())["metadata"]
    assert meta["trained"] is True and meta["package_command"].startswith("python -m training")
    assert json.loads((weights / "config.json").read_text())["config"]["scale_prior"] == 3.0
    cloud = np.random.default_rng(4).random((700, 3)).astype(np.float32)
    results = {}
    for backend in ("torch", "onnx"):
        seg = Segmenter.from_pretrained(str(weights), backend=backend, num_threads=1)
        assert seg.config.scale_prior == 3.0
        seg.set_points(cloud)
        with_scale = seg.predict([(0, True)], scale=0.2).point_probs
        no_scale = seg.predict([(0, True)], scale=None).point_probs
        raw, _ = seg.backend.decode(
            seg.conditioned(None), np.array([[0]]), np.array([[1.0]], np.float32)
        )
        assert np.allclose(no_scale, raw[0], atol=1e-6)  # no scale → no prior
        results[backend] = with_scale
    assert np.allclose(results["torch"], results["onnx"], atol=1e-4)


def test_untrained_decoder_with_prior_starts_exactly_at_the_ball():
    """With a scale prior the network's own logits start at zero (residual start), so an
    untrained decoder's mask is the prior's ball; without a prior they do not."""
    from core.config import ModelConfig
    from core.modeling.decoder import ScaleAwareDecoder

    torch.manual_seed(0)
    cfg = ModelConfig(scale_prior=4.0)
    n, k = 400, 3
    feats = torch.randn(2, n, cfg.feature_dim)
    xyz = torch.from_numpy(np.stack([_cloud(n, 5), _cloud(n, 6)]))
    anchor_idx = torch.stack([torch.randperm(n)[:64] for _ in range(2)])
    knn_idx = torch.randint(0, 64, (2, n, k))
    knn_w = torch.full((2, n, k), 1.0 / k)
    idx = torch.tensor([[7, 9], [11, 0]])
    lab = torch.tensor([[1.0, 0.0], [1.0, -1.0]])
    outs = {}
    for prior in (4.0, 0.0):
        dec = ScaleAwareDecoder(ModelConfig(scale_prior=prior)).eval()
        with torch.no_grad():
            cond = dec.condition(feats, xyz, anchor_idx, knn_idx, knn_w,
                                 torch.tensor([0.2, 0.05]), torch.ones(2))
            outs[prior], _ = dec.decode(cond, anchor_idx, knn_idx, knn_w, idx, lab)
    assert torch.count_nonzero(outs[4.0]) == 0
    assert torch.count_nonzero(outs[0.0]) > 0
    ball = scale_prior_torch(xyz, idx, lab, torch.tensor([0.2, 0.05]), torch.ones(2), 4.0)
    assert int((ball > 0).sum(dim=1)[0]) == pytest.approx(0.2 * n, abs=2)


def test_residual_weight_moves_a_click_between_the_decoder_and_the_ball():
    """PredictSettings.residual_weight: 0 = the prior alone (the ball of the requested
    size around the click), 1 = the decoder's logits at full weight; the bundled model's
    masks with a scale (Segment All on a point cloud) lie in between."""
    from core import Segmenter

    seg = Segmenter.from_pretrained(num_threads=1)
    xyz = _cloud(3000, 5)
    seg.set_points(xyz, n_points=None)
    pts = np.asarray(seg.points)
    d = np.linalg.norm(pts - pts[7], axis=1)
    ball = set(np.argsort(d)[: round(0.2 * len(pts))].tolist())
    masks = {}
    for w in (0.0, 0.1, 1.0):
        seg.settings.residual_weight = w
        probs, _ = seg.decode(np.array([[7]]), np.array([[1.0]], np.float32), 0.2)
        masks[w] = probs[0] >= seg.settings.mask_threshold
    assert set(np.flatnonzero(masks[0.0]).tolist()) == ball
    assert masks[1.0][7] and masks[0.1][7]
    inter = lambda a, b: (a & b).sum() / max((a | b).sum(), 1)  # noqa: E731
    assert inter(masks[0.1], masks[0.0]) >= inter(masks[1.0], masks[0.0])
