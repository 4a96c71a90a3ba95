"""The GPU recipe (scripts/train_on_device.sh) run end to end on the CPU at a tiny size, so it
works the first time a GPU machine appears; and bf16 autocast (the script's default on
CUDA) runs through both networks — checked with CPU autocast, which CI has."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.config import ModelConfig
from tests.test_train_trainers import TINY_MODEL

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_device_script_runs_tiny_on_cpu(tmp_path):
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "WORK": str(tmp_path / "work"),
        "WHEELS": str(tmp_path / "no_wheels"),
        "OBJECTS": "8",
        "WORKERS": "1",
        "POINTS": "600",
        "DEVICE": "cpu",
        "BF16": "0",
        "THREADS": "1",
        "VAL_FRACTION": "0.25",
        "VAL_OBJECTS": "2",
        "MODEL_JSON": json.dumps(TINY_MODEL),
        "ENC_STEPS": "2",
        "ENC_BATCH": "2",
        "ENC_POINTS": "300",
        "ENC_ARGS": "--anchors 64 --warmup 1 --log-every 1",
        "DEC_STEPS": "2",
        "DEC_OBJECTS": "2",
        "DEC_PROMPTS": "2",
        "CACHE_OBJECTS": "0",
        "CACHE_POINTS": "400",
        "DECODER_POINTS": "300",
        "DEC_ARGS": "--warmup 1 --log-every 1",
    }
    res = subprocess.run(
        ["bash", str(ROOT / "scripts" / "train_on_device.sh"), str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted(
        ["weights/model.safetensors", "weights/config.json"]
        + [f"{s}/{f}" for s in ("enc", "dec") for f in ("last.pt", "history.jsonl", "history.png")]
    )
    for stage, key in (("enc", "encoder"), ("dec", "decoder")):
        state = torch.load(out / stage / "last.pt", weights_only=True)
        assert state["step"] == 2 and state[key]
        rows = [json.loads(x) for x in (out / stage / "history.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows if "loss" in r] == [1, 2]
    from core import Segmenter

    seg = Segmenter.from_pretrained(str(out / "weights"), backend="torch")
    assert seg.metadata["trained"] is True and seg.metadata["encoder_steps"] == 2
    stage2 = seg.metadata["decoder_train_config"]["augment"]
    assert stage2["rotation"] == "none"  # stage 2 sees the objects as stage 1 did
    seg.set_points(np.random.default_rng(0).random((400, 3)).astype(np.float32))
    r = seg.predict(prompts=[(0, True)], scale=0.3)
    assert np.isfinite(r.point_probs).all()


def test_bf16_autocast_runs_both_networks():
    """The ops of both networks accept bf16 autocast (forward and backward), and the
    encoder's scatter-means keep float32 sums; CPU autocast stands in for CUDA's."""
    from core.anchors import prepare_anchors
    from core.modeling.encoder import PartEncoder
    from core.modeling.layers import scatter_mean
    from training.loop import autocast
    from training.train_decoder import build_decoder, run_decoder

    torch.manual_seed(0)
    cfg = ModelConfig.from_dict({**TINY_MODEL, "scale_prior": 4.0})
    enc, dec = PartEncoder(cfg), build_decoder(cfg)
    xyz = torch.rand(1, 300, 3) * 2 - 1
    g = prepare_anchors(xyz[0].numpy(), cfg.num_anchors, cfg.knn_k, seed=0)
    with autocast(torch.device("cpu"), True):
        feats = enc(xyz)
        t = {"feats": feats, "xyz": xyz, "anchor_idx": torch.from_numpy(g.anchor_idx)[None],
             "knn_idx": torch.from_numpy(g.knn_idx.astype(np.int64))[None],
             "knn_w": torch.from_numpy(g.knn_w.astype(np.float32))[None]}
        logits, quality = run_decoder(dec, t, torch.tensor([0.3]), torch.tensor([1.0]),
                                      torch.tensor([[5, -1]]), torch.tensor([[1.0, -1.0]]))
    assert feats.dtype == torch.bfloat16
    (logits.float().mean() + quality.float().mean()).backward()
    grads = [p.grad for p in [*enc.parameters(), *dec.parameters()] if p.grad is not None]
    assert grads and all(torch.isfinite(gr).all() for gr in grads)
    with torch.no_grad():
        ref = enc(xyz)
    assert torch.allclose(feats.float(), ref, atol=0.1 * float(ref.abs().max()))
    vals = torch.full((1, 512, 1), 1.0 + 2**-7, dtype=torch.bfloat16)  # bf16 sums would drift
    mean = scatter_mean(vals, torch.zeros(1, 512, dtype=torch.int64), 2)
    assert mean.dtype == torch.float32 and float(mean[0, 0, 0]) == pytest.approx(1.0 + 2**-7)
