"""Training with normals as encoder input (``train_encoder --input-normals``): the
augmentation turns and scales normals with the points, a tiny run writes a checkpoint that
takes normals, the overfit scorer, stage 2 and packaging feed them, and the committed
stage-1 weights still load as xyz-only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_train_trainers import _box_object, _enc_args, _train_encoder
from training.common import AugmentConfig, augment_object, augment_points
from training.data.shards import write_meta, write_shard

REPO = Path(__file__).resolve().parents[1]


def _normals_data(folder: Path, turn=None) -> Path:
    """Four box objects whose normals are random unit vectors (``turn`` maps them)."""
    rng = np.random.default_rng(0)
    objs = [_box_object(rng, 600) for _ in range(4)]
    nrng = np.random.default_rng(1)
    for o in objs:
        n = nrng.normal(size=o.points.shape)
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        o.normals = (n if turn is None else turn(n)).astype(np.float32)
    folder.mkdir()
    write_shard(folder / "shard_00000.npz", objs, 3)
    write_meta(folder, {"objects": 4, "n_points": 600})
    return folder


@pytest.fixture(scope="module")
def normals_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("normals_run")
    data = _normals_data(tmp / "data")
    run = _train_encoder(_enc_args(data, tmp / "enc", 2, ["--input-normals"]))
    return run, data, tmp


def test_augmentation_turns_and_scales_normals_with_the_points():
    rng = np.random.default_rng(0)
    # a tilted plane z = 0.5 x: its normal is ±(-0.5, 0, 1) normalised
    uv = rng.random((400, 2))
    pts = np.stack([uv[:, 0], uv[:, 1], 0.5 * uv[:, 0]], axis=1)
    nrm = np.tile(np.array([-0.5, 0.0, 1.0]) / np.linalg.norm([-0.5, 0.0, 1.0]), (400, 1))
    nrm[::7] = 0.0  # unknown normals stay unknown
    cfg = AugmentConfig(rotation="so3", so3_prob=1.0, scale_range=(0.5, 2.0), jitter_sigma=0.0)
    xyz, got, keep = augment_object(pts, nrm, np.random.default_rng(5), cfg, 300)
    xyz2, keep2 = augment_points(pts, np.random.default_rng(5), cfg, 300)
    assert np.array_equal(xyz, xyz2) and np.array_equal(keep, keep2)  # same draws
    known = (keep % 7) != 0
    assert not got[~known].any()
    assert np.allclose(np.linalg.norm(got[known], axis=1), 1.0, atol=1e-5)
    # still perpendicular to the (rotated, stretched) plane: to every in-plane difference
    d = xyz[known][1:] - xyz[known][:1]
    cos = (d @ got[known][0]) / np.linalg.norm(d, axis=1)
    assert np.abs(cos).max() < 1e-3


def test_tiny_run_with_normals_writes_a_checkpoint_that_takes_them(normals_run):
    from training.train_encoder import encode, load_encoder

    run, _, _ = normals_run
    state = torch.load(run / "last.pt", weights_only=True)
    assert json.loads(state["model_config"])["input_normals"] is True
    enc, cfg, _ = load_encoder(run)
    assert cfg.input_normals
    xyz = torch.rand(1, 300, 3) * 2 - 1
    with pytest.raises(ValueError, match="normals"):
        encode(enc, xyz)


def test_overfit_score_feeds_the_normals(normals_run):
    from training.overfit import main, score_encoder

    run, data, tmp = normals_run
    out = tmp / "scores.json"
    main(["score", "--encoder", str(run), "--data", str(data), "--points", "300",
          "--levels", "2", "--queries", "8", "--anchors", "64", "--json", str(out)])
    res = json.loads(out.read_text())
    assert set(res) == {"level_0", "level_1"} and res["level_0"]["objects"] == 4
    kw = dict(points=300, levels=1, queries=8, anchors=64)
    base = score_encoder(run, data, **kw)
    flipped = _normals_data(tmp / "flipped", turn=lambda n: -n)
    assert score_encoder(run, flipped, **kw) == base  # sign-invariant
    swapped = _normals_data(tmp / "swapped", turn=lambda n: n[:, [1, 2, 0]])
    assert score_encoder(run, swapped, **kw)["level_0"]["loss"] != base["level_0"]["loss"]


def test_stage2_and_packaging_follow_an_encoder_with_normals(normals_run):
    from core import Segmenter
    from training.train_all import package_weights
    from training.train_decoder import parse_args, train

    run, data, tmp = normals_run
    dec = train(*parse_args([
        "--data", str(data), "--encoder", str(run), "--out", str(tmp / "dec"), "--steps", "1",
        "--objects", "2", "--prompts", "1", "--cache-points", "400", "--decoder-points", "300",
        "--val-fraction", "0.25", "--val-objects", "1", "--threads", "1", "--warmup", "1",
    ]))
    weights = package_weights(run, dec, tmp / "weights", {"data": str(data)})
    seg = Segmenter.from_pretrained(str(weights), backend="torch", num_threads=1)
    assert seg.config.input_normals
    seg.set_points(np.random.default_rng(2).normal(size=(400, 3)))
    r = seg.predict([(0, True)], scale=0.3)
    assert np.isfinite(r.point_probs).all()


def test_train_all_passes_the_option_to_stage_1_only_when_asked():
    from training.train_all import build_parser, encoder_command
    from training.train_encoder import parse_args

    for argv, want in (([], False), (["--enc-input-normals"], True)):
        cmd = encoder_command("py", build_parser().parse_args(argv), Path("d"), Path("r"))
        assert ("--input-normals" in cmd) is want
        cfg, _ = parse_args(cmd[3:])
        assert cfg.model.get("input_normals", False) is want


def test_committed_stage1_weights_load_as_xyz_only():
    from training.train_encoder import load_encoder

    path = REPO / "checkpoints" / "stage1_norot" / "encoder.safetensors"
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    enc, cfg, _ = load_encoder(path)
    assert cfg.input_normals is False
    with torch.no_grad():
        assert enc(torch.rand(1, 200, 3) * 2 - 1).shape == (1, 200, cfg.feature_dim)
