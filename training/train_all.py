"""The whole default training recipe in one command (what ``make train`` runs):

    python -m training.train_all [--data data_cache/train_v1] [--runs runs] \
        [--weights core/weights/default] [--enc-minutes 75] [--dec-minutes 60]

1. builds the training set when ``DATA/meta.json`` is missing
   (``python -m training.data build ...``, procedural + real-asset objects);
2. stage 1 (:mod:`training.train_encoder`) into ``RUNS/enc``, resumable;
3. stage 2 (:mod:`training.train_decoder`) into ``RUNS/dec``, resumable;
4. writes the bundled weights (``core.checkpoint.save_checkpoint``: model.safetensors +
   config.json with ``trained: true``, steps, wall time, data) and exports ONNX
   (``core.export``).

Every stage resumes from its last checkpoint, so re-running the command after an
interruption continues where it stopped. The default budget (build ≈ 20 min when missing,
75 + 60 min of training, export) fits in 3 hours on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from .train_decoder import load_decoder
from .train_encoder import load_encoder


def package_weights(
    encoder_run: str | Path, decoder_run: str | Path, out: str | Path, extra: dict[str, Any]
) -> Path:
    """Save the trained encoder + decoder as a product weights directory.

    Args:
        encoder_run: stage-1 checkpoint or run folder (best.pt preferred).
        decoder_run: stage-2 checkpoint or run folder (best.pt preferred).
        out: weights directory to (over)write.
        extra: metadata merged into config.json's "metadata" (data, commands, metrics...).
    """
    from core.checkpoint import save_checkpoint

    encoder, enc_cfg, enc_state = load_encoder(encoder_run)
    decoder, dec_cfg, dec_state = load_decoder(decoder_run)
    from .train_decoder import ENCODER_FIELDS

    mismatch = [k for k in ENCODER_FIELDS if getattr(enc_cfg, k) != getattr(dec_cfg, k)]
    if mismatch:
        raise ValueError(f"encoder and decoder were trained with different configs: {mismatch}")
    meta = {
        "trained": True,
        "encoder_steps": int(enc_state["step"]),
        "decoder_steps": int(dec_state["step"]),
        "encoder_wall_s": round(float(enc_state["elapsed_s"]), 1),
        "decoder_wall_s": round(float(dec_state["elapsed_s"]), 1),
        "encoder_train_config": json.loads(enc_state["train_config"]),
        "decoder_train_config": json.loads(dec_state["train_config"]),
        "hardware": f"{platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, "
        f"{'cuda' if torch.cuda.is_available() else 'no GPU'}",
        **extra,
    }
    return save_checkpoint(out, encoder, decoder, dec_cfg, meta)


def run(cmd: list[str]) -> None:
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", default="data_cache/train_v1")
    p.add_argument("--objects", type=int, default=2000, help="objects when building the data")
    p.add_argument("--runs", default="runs")
    p.add_argument("--weights", default="core/weights/default")
    p.add_argument("--enc-minutes", type=float, default=75.0)
    p.add_argument("--enc-steps", type=int, default=4000)
    p.add_argument("--dec-minutes", type=float, default=60.0)
    p.add_argument("--dec-steps", type=int, default=4000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    py = sys.executable
    t0 = time.time()
    data = Path(a.data)
    if not (data / "meta.json").exists():
        run([py, "-m", "training.data", "fetch-assets"])
        run(
            [
                py,
                "-m",
                "training.data",
                "build",
                "--out",
                str(data),
                "--objects",
                str(a.objects),
                "--seed",
                "1",
                "--workers",
                "2",
            ]
        )
    enc, dec = Path(a.runs) / "enc", Path(a.runs) / "dec"
    run(
        [
            py,
            "-m",
            "training.train_encoder",
            "--data",
            str(data),
            "--out",
            str(enc),
            "--minutes",
            str(a.enc_minutes),
            "--steps",
            str(a.enc_steps),
            "--threads",
            str(a.threads),
            "--seed",
            str(a.seed),
            "--points",
            "10000",
            "10000",
            "--resume",
        ]
    )
    run(
        [
            py,
            "-m",
            "training.train_decoder",
            "--data",
            str(data),
            "--encoder",
            str(enc),
            "--out",
            str(dec),
            "--minutes",
            str(a.dec_minutes),
            "--steps",
            str(a.dec_steps),
            "--threads",
            str(a.threads),
            "--seed",
            str(a.seed),
            "--resume",
        ]
    )
    out = package_weights(
        enc,
        dec,
        a.weights,
        {
            "data": str(data),
            "command": "python -m training.train_all " + " ".join(argv or sys.argv[1:]),
            "total_wall_s": round(time.time() - t0, 1),
        },
    )
    run([py, "-m", "core.export", "--weights", str(out), "--out", str(out)])
    print(f"[train_all] weights in {out} after {(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
