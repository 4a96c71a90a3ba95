"""Smoke runs of both trainers on a tiny synthetic shard with a tiny model: they train,
checkpoint, resume exactly, and their outputs load as the product's weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from training.data.shards import ObjectSample, write_meta, write_shard

TINY_MODEL = {
    "input_freqs": 2,
    "point_dim": 16,
    "voxel_resolution": 8,
    "voxel_channels": 8,
    "voxel_convs": 1,
    "plane_resolution": 16,
    "plane_channels": 16,
    "plane_convs": 1,
    "token_resolution": 4,
    "token_dim": 16,
    "token_layers": 1,
    "token_heads": 2,
    "feature_dim": 16,
    "decoder_dim": 16,
    "pos_freqs": 2,
    "num_anchors": 32,
    "knn_k": 3,
    "modulator_layers": 1,
    "decoder_layers": 1,
    "num_heads": 2,
    "mlp_ratio": 2,
    "scale_freqs": 8,
}


def _box_object(rng: np.random.Generator, n: int) -> ObjectSample:
    """Two to four boxes in a row; level 0 = boxes, level 1 = left half / right half."""
    k = int(rng.integers(2, 5))
    per = np.full(k, n // k)
    per[: n - per.sum()] += 1
    pts, leaf = [], []
    for i in range(k):
        size = rng.uniform(0.3, 1.0, 3)
        centre = np.array([1.2 * i, 0.0, 0.0])
        pts.append(centre + (rng.random((per[i], 3)) - 0.5) * size)
        leaf.append(np.full(per[i], i))
    leaf = np.concatenate(leaf)
    coarse = (leaf >= (k + 1) // 2).astype(np.int64)
    return ObjectSample(
        points=np.concatenate(pts).astype(np.float32),
        normals=np.zeros((n, 3), np.float32),
        labels=np.stack([leaf, coarse]),
        family="boxes",
        source="procedural:boxes",
    )


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(0)
    for s in range(2):
        write_shard(d / f"shard_{s:05d}.npz", [_box_object(rng, 600) for _ in range(8)], 3)
    write_meta(d, {"objects": 16, "n_points": 600})
    return d


def _enc_args(data, out, steps, extra=()):
    return [
        "--data",
        str(data),
        "--out",
        str(out),
        "--model-json",
        json.dumps(TINY_MODEL),
        "--steps",
        str(steps),
        "--batch",
        "2",
        "--anchors",
        "64",
        "--points",
        "300",
        "400",
        "--val-fraction",
        "0.25",
        "--val-objects",
        "2",
        "--log-every",
        "1",
        "--threads",
        "1",
        "--warmup",
        "2",
        *extra,
    ]


def _train_encoder(argv):
    from training.train_encoder import parse_args, train

    cfg, resume = parse_args(argv)
    return train(cfg, resume)


def tiny_encoder_run(tmp, steps: int = 2):
    """Four small boxes as one shard in ``tmp/data`` and a stage-1 run of ``steps`` steps on
    them in ``tmp/enc``; returns (checkpoint, data folder)."""
    rng = np.random.default_rng(0)
    data = tmp / "data"
    data.mkdir()
    write_shard(data / "shard_00000.npz", [_box_object(rng, 600) for _ in range(4)], 3)
    write_meta(data, {"objects": 4, "n_points": 600})
    return _train_encoder(_enc_args(data, tmp / "enc", steps)), data


def test_encoder_resume_matches_uninterrupted_run(tiny_data, tmp_path):
    full = _train_encoder(_enc_args(tiny_data, tmp_path / "full", 4))
    _train_encoder(_enc_args(tiny_data, tmp_path / "split", 2))
    split = _train_encoder(_enc_args(tiny_data, tmp_path / "split", 4, ["--resume"]))
    a = torch.load(full / "last.pt", weights_only=True)
    b = torch.load(split / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for name, value in a["encoder"].items():
        assert torch.allclose(value, b["encoder"][name], atol=1e-6), name
    rows = [json.loads(x) for x in (split / "history.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert (split / "history.png").stat().st_size > 1000


def test_encoder_with_distillation_term_runs(tiny_data, tmp_path):
    out = _train_encoder(
        _enc_args(
            tiny_data,
            tmp_path / "d",
            2,
            ["--distill-weight", "0.5", "--teacher", "random", "--views", "1", "--view-res", "16"],
        )
    )
    rows = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert all(r["loss_distill"] > 0 for r in rows if "loss_distill" in r)


def test_contrastive_training_lowers_the_loss(tiny_data, tmp_path):
    out = _train_encoder(_enc_args(tiny_data, tmp_path / "e", 40, ["--lr", "3e-3"]))
    losses = [
        json.loads(x)["loss"]
        for x in (out / "history.jsonl").read_text().splitlines()
        if "loss" in json.loads(x)
    ]
    assert np.mean(losses[-8:]) < np.mean(losses[:8])


def test_decoder_trains_resumes_and_saves_loadable_weights(tiny_data, tmp_path):
    from training.train_all import package_weights
    from training.train_decoder import parse_args, train

    enc = _train_encoder(_enc_args(tiny_data, tmp_path / "enc", 2))

    def dec_args(out, steps, extra=()):
        return [
            "--data",
            str(tiny_data),
            "--encoder",
            str(enc),
            "--out",
            str(out),
            "--steps",
            str(steps),
            "--objects",
            "2",
            "--prompts",
            "2",
            "--cache-points",
            "400",
            "--decoder-points",
            "300",
            "--val-fraction",
            "0.25",
            "--val-objects",
            "4",
            "--log-every",
            "1",
            "--threads",
            "1",
            "--warmup",
            "2",
            *extra,
        ]

    full = train(*parse_args(dec_args(tmp_path / "dfull", 4)))
    train(*parse_args(dec_args(tmp_path / "dsplit", 2)))
    split = train(*parse_args(dec_args(tmp_path / "dsplit", 4, ["--resume"])))
    a = torch.load(full / "last.pt", weights_only=True)
    b = torch.load(split / "last.pt", weights_only=True)
    for name, value in a["decoder"].items():
        assert torch.allclose(value, b["decoder"][name], atol=1e-6), name

    weights = package_weights(enc, split, tmp_path / "weights", {"data": str(tiny_data)})
    from core import Segmenter

    seg = Segmenter.from_pretrained(str(weights), backend="torch")
    assert seg.metadata["trained"] is True
    rng = np.random.default_rng(3)
    seg.set_points(rng.random((500, 3)).astype(np.float32))
    r = seg.predict(prompts=[(0, True)], scale=0.3)
    assert r.point_probs.shape == (500,) and np.isfinite(r.point_probs).all()


def test_small_feature_cache_still_validates(tiny_data, tmp_path):
    """With --cache-objects smaller than the data, the random draw can miss every
    validation object; the cache then swaps some in so checkpoints are scored, not nan."""
    from training.train_decoder import parse_args, train

    enc = _train_encoder(_enc_args(tiny_data, tmp_path / "enc", 1))
    for seed in (0, 1, 2):
        out = tmp_path / f"d{seed}"
        train(*parse_args([
            "--data", str(tiny_data), "--encoder", str(enc), "--out", str(out),
            "--steps", "1", "--objects", "1", "--prompts", "1", "--cache-points", "400",
            "--decoder-points", "300", "--cache-objects", "3", "--val-fraction", "0.07",
            "--val-objects", "2", "--threads", "1", "--seed", str(seed)]))
        rows = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
        scored = [r["val_iou_scale"] for r in rows if "val_iou_scale" in r]
        assert scored and all(np.isfinite(v) for v in scored), (seed, scored)
        # best.pt is chosen by the IoU without a scale (the only answer the product asks
        # of the decoder)
        best = torch.load(out / "best.pt", weights_only=True)["best_val"]
        noscale = [r["val_iou_noscale"] for r in rows if "val_iou_noscale" in r]
        assert best == pytest.approx(max(noscale), abs=1e-6), (best, noscale)


def test_resume_accepts_a_checkpoint_from_before_a_new_config_field(tiny_data, tmp_path):
    """A checkpoint written before a ModelConfig field existed (e.g. scale_prior) resumes:
    the missing field takes its default; a real difference is still refused."""
    enc = _train_encoder(_enc_args(tiny_data, tmp_path / "enc", 1))
    last = tmp_path / "enc" / "last.pt"
    state = torch.load(last, weights_only=True)
    cfg = json.loads(state["model_config"])
    cfg.pop("scale_prior")
    state["model_config"] = json.dumps(cfg)
    torch.save(state, last)
    resumed = _train_encoder(_enc_args(tiny_data, tmp_path / "enc", 2, ["--resume"]))
    assert torch.load(last, weights_only=True)["step"] == 2 and resumed == enc
    cfg["feature_dim"] = cfg["feature_dim"] * 2
    state["model_config"] = json.dumps(cfg)
    torch.save(state, last)
    with pytest.raises(ValueError, match="different model config"):
        _train_encoder(_enc_args(tiny_data, tmp_path / "enc", 3, ["--resume"]))
