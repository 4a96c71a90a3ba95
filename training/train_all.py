"""The whole default training recipe in one command (what ``make train`` runs):

    python -m training.train_all [--data-root data_cache] [--runs runs] \
        [--weights core/weights/default] [--enc-minutes 60] [--dec-minutes 60] \
        [--meshes MY_MESH_FOLDER --real-fraction 0.5]

1. builds the two training sets when their ``meta.json`` is missing:
   ``DATA_ROOT/train_v1`` (2,000 procedural objects) and ``DATA_ROOT/train_v2`` (2,000
   objects, procedural + real multi-part meshes from PyPI packages, after
   ``python -m training.data fetch-assets``, plus your own meshes with ``--meshes DIR``), and
   links both into ``DATA_ROOT/train_mix``;
2. stage 1 (:mod:`training.train_encoder`) into ``RUNS/enc``, resumable;
3. stage 2 (:mod:`training.train_decoder`) into ``RUNS/dec``, resumable;
4. writes the bundled weights (``core.checkpoint.save_checkpoint``: model.safetensors +
   config.json with ``trained: true``, steps, wall time, data) and exports ONNX
   (``core.export``);
5. trains the superface dissimilarity of the mesh path on the new encoder's features
   (:mod:`training.train_affinity`, ≈ 9 min for 300 generated objects) into
   ``WEIGHTS/affinity.json``.

Every stage resumes from its last checkpoint, so re-running the command after an
interruption continues where it stopped. Budget on a 2-core CPU (measured on a free
machine): data ≈ 2 min when missing (32 s + 90 s, plus the asset download), stage 1 ≤ 60 min
(8,000 steps of the no-rotation recipe, 2,048 points, finest level: 1.1–2.0 steps/s on one
thread of a shared machine, so on 2 busy cores the 60 minutes can end it before the
schedule does; see :func:`encoder_command`), stage 2 ≤ 60 min (9,000 steps at
2.8–3.4 steps/s ≈ 45–55 min, after ≈ 90 s of feature caching), export < 1 min, affinity
≈ 9 min — under 3 hours.
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


def link_mix(parts: list[Path], out: Path) -> Path:
    """A shard folder ``out`` whose shards are symlinks to every shard of ``parts`` (in order),
    with a ``meta.json`` listing the shard sizes; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    sizes: list[int] = []
    sources: list[str] = []
    k = 0
    for part in parts:
        meta = json.loads((part / "meta.json").read_text())
        sources.append(str(meta.get("command", part)))
        shards = sorted(part.glob("shard_*.npz"))
        sizes.extend(int(x) for x in meta["shard_sizes"])
        for shard in shards:
            link = out / f"shard_{k:05d}.npz"
            link.unlink(missing_ok=True)
            link.symlink_to(shard.resolve())
            k += 1
    meta = {"objects": sum(sizes), "shard_sizes": sizes, "sources": sources}
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def encoder_command(py: str, a: argparse.Namespace, data: Path, enc: Path) -> list[str]:
    """The stage-1 command of the recipe (``a``: :func:`main`'s parsed arguments).

    Default since 2026-12-05 (issue 14): 2,048 points per object, the finest level only and
    no random rotation (the data already varies yaw, y-up and 10 % full rotations): the
    encoder's voxels and tri-planes are axis-aligned, and the recipe's SO(3) augmentation
    kept it at the AUC of plain distance (MODEL_CARD, stage-1 sections). The previous recipe
    is ``--enc-points 10000 --enc-levels multi --enc-rotation so3``. ``--enc-input-normals``
    adds ``--input-normals`` (the encoder also sees unoriented normals; off by default).
    """
    return [
        py, "-m", "training.train_encoder", "--data", str(data), "--out", str(enc),
        "--minutes", str(a.enc_minutes), "--steps", str(a.enc_steps), "--batch", "2",
        "--points", str(a.enc_points), str(a.enc_points), "--levels", a.enc_levels,
        "--rotation", a.enc_rotation, "--threads", str(a.threads), "--seed", str(a.seed),
        *(["--input-normals"] if a.enc_input_normals else []), "--resume",
    ]


def decoder_command(py: str, a: argparse.Namespace, data: Path, enc_ckpt: Path,
                    dec: Path) -> list[str]:
    """The stage-2 command of the recipe (``a``: :func:`main`'s parsed arguments): the
    decoder trains on the frozen stage-1 checkpoint ``enc_ckpt`` and sees the objects with
    stage 1's rotation augmentation (``--enc-rotation``)."""
    return [
        py, "-m", "training.train_decoder", "--data", str(data), "--encoder", str(enc_ckpt),
        "--out", str(dec), "--minutes", str(a.dec_minutes), "--steps", str(a.dec_steps),
        "--objects", "4", "--prompts", "4", "--decoder-points", "4096",
        "--cache-objects", str(a.cache_objects), "--threads", str(a.threads),
        "--seed", str(a.seed), "--w-bce", str(a.dec_w_bce),
        "--decoder-model-json", json.dumps({"scale_prior": a.scale_prior}),
        "--rotation", a.enc_rotation, "--resume",
    ]


def build_parser() -> argparse.ArgumentParser:
    """The command line of :func:`main` (its defaults are the recipe)."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-root", default="data_cache", help="where the training sets live")
    p.add_argument("--objects", type=int, default=2000, help="objects per built set")
    p.add_argument("--runs", default="runs")
    p.add_argument("--weights", default="core/weights/default")
    p.add_argument("--enc-minutes", type=float, default=60.0)
    p.add_argument("--enc-steps", type=int, default=8000)
    p.add_argument("--enc-points", type=int, default=2048,
                   help="stage 1: points per object per step (the old recipe: 10000)")
    p.add_argument("--enc-levels", choices=["multi", "sample", "finest"], default="finest",
                   help="stage 1: hierarchy levels in the loss (the old recipe: multi)")
    p.add_argument("--enc-rotation", choices=["none", "up", "so3"], default="none",
                   help="stage 1: random rotation augmentation (the old recipe: so3)")
    p.add_argument("--enc-input-normals", action="store_true",
                   help="stage 1: feed unoriented point normals to the encoder "
                   "(ModelConfig.input_normals; stage 2 and the product follow the encoder)")
    p.add_argument("--dec-minutes", type=float, default=60.0)
    p.add_argument("--dec-steps", type=int, default=9000)
    p.add_argument("--cache-objects", type=int, default=1500)
    p.add_argument("--affinity-objects", type=int, default=300,
                   help="generated objects the superface dissimilarity trains on "
                        "(300: about 9 minutes on 2 cores)")
    p.add_argument(
        "--dec-w-bce",
        type=float,
        default=0.0,
        help="weight of the paper's dynamic BCE in stage 2 (Dice + quality always on); 0 by "
        "default: with the scale prior the β-weighted BCE inflated masks below the prior's own "
        "IoU (README, deviations)",
    )
    p.add_argument(
        "--scale-prior",
        type=float,
        default=4.0,
        help="ModelConfig.scale_prior of the decoder (core.prior; 0 = the paper's decoder)",
    )
    p.add_argument(
        "--meshes",
        default="",
        help="a folder of your own multi-part meshes (GLB/glTF/URDF/MJCF/OBJ): added to the "
        "asset cache (training.data add-meshes) and drawn from in DATA_ROOT/train_v2; needs a "
        "DATA_ROOT whose train_v2 is not built yet",
    )
    p.add_argument("--real-fraction", type=float, default=0.25,
                   help="share of real-mesh objects in train_v2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> None:
    p = build_parser()
    a = p.parse_args(argv)
    py = sys.executable
    t0 = time.time()
    root = Path(a.data_root)
    v1, v2 = root / "train_v1", root / "train_v2"
    if not (v1 / "meta.json").exists():
        run(
            [
                py,
                "-m",
                "training.data",
                "build",
                "--out",
                str(v1),
                "--objects",
                str(a.objects),
                "--seed",
                "1",
                "--workers",
                "2",
                "--assets",
                "",
            ]
        )
    if a.meshes and (v2 / "meta.json").exists():
        p.error(f"--meshes: {v2} is already built; pass a new --data-root")
    if not (v2 / "meta.json").exists():
        run([py, "-m", "training.data", "fetch-assets"])
        if a.meshes:
            run([py, "-m", "training.data", "add-meshes", a.meshes])
        run(
            [
                py,
                "-m",
                "training.data",
                "build",
                "--out",
                str(v2),
                "--objects",
                str(a.objects),
                "--seed",
                "2",
                "--workers",
                "2",
                "--real-fraction",
                str(a.real_fraction),
            ]
        )
    data = link_mix([v1, v2], root / "train_mix")
    enc, dec = Path(a.runs) / "enc", Path(a.runs) / "dec"
    run(encoder_command(py, a, data, enc))
    # the decoder trains on, and ships with, the encoder checkpoint with the best val loss
    enc_ckpt = enc / "best.pt" if (enc / "best.pt").exists() else enc / "last.pt"
    run(decoder_command(py, a, data, enc_ckpt, dec))
    out = package_weights(
        enc_ckpt,
        dec,
        a.weights,
        {
            "data": str(data),
            "command": "python -m training.train_all " + " ".join(argv or sys.argv[1:]),
            "total_wall_s": round(time.time() - t0, 1),
        },
    )
    run([py, "-m", "core.export", "--weights", str(out), "--out", str(out)])
    # 5. the superface dissimilarity, on the new encoder's features
    run([py, "-m", "training.train_affinity", "--objects", str(a.affinity_objects),
         "--heldout", "100", "--model", "trees", "--weights", str(out),
         "--out", str(Path(out) / "affinity.json")])
    print(f"[train_all] weights in {out} after {(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
