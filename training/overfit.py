"""Does stage 1 learn at all? Score an encoder on the very objects it was trained on.

    python -m training.overfit score --encoder runs/overfit --data runs/overfit/data \
        [--rotation so3]      # --encoder also takes core/weights/default or a .safetensors
    python -m training.overfit run --out runs/overfit --objects 16 --minutes 10 \
        -- --batch 2 --points 4096 4096 --threads 1      # any train_encoder flags after --

``score`` reports, per hierarchy level and averaged over every object of ``--data``:

- ``auc_feature``: for random query points, the ROC AUC with which the cosine between the
  query's feature and every other point's feature separates the query's own part from the
  rest (1 = perfect, 0.5 = chance);
- ``auc_distance``: the same AUC for minus the Euclidean distance to the query (the
  no-learning baseline: features that only encode position score about this);
- ``loss``: the supervised contrastive loss of :func:`training.losses.supervised_contrastive_loss`
  on ``--anchors`` random points, with ``chance`` = ln(A − 1) (every similarity equal) and
  ``floor`` = the mean of ln |P(i)| over anchors (the least the loss can be: every positive
  at cosine 1, every negative far below). A loss "well below chance" means a large share
  of the gap ``chance − floor``, which is only ~2–3 nats with parts of a few percent.

``run`` builds ``--objects`` procedural objects (``training.data build``), trains
:mod:`training.train_encoder` on all of them (``--val-fraction 0``: nothing held out) for
``--minutes`` with the trainer flags given after ``--``, then scores the result on the same
objects. Points are normalised as in training (bounding box in [-1, 1]) without random
rotation, scale or jitter.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata

from .common import AugmentConfig
from .losses import supervised_contrastive_loss
from .parts_data import InMemoryParts, object_view
from .train_encoder import encode_object, load_encoder

PLAIN = AugmentConfig(rotation="none", scale_range=(1.0, 1.0), jitter_sigma=0.0)


def part_auc(scores: np.ndarray, same: np.ndarray) -> float:
    """ROC AUC of ``scores`` (M,) for the boolean labels ``same`` (M,); nan when one class
    is empty. Ties count half (Mann–Whitney U)."""
    pos = int(same.sum())
    neg = len(same) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[same].sum() - pos * (pos + 1) / 2) / (pos * neg))


@dataclass
class ObjectScore:
    """Scores of one object at one level (see the module docstring)."""

    auc_feature: float
    auc_distance: float
    loss: float
    chance: float
    floor: float


def score_object(
    feats: np.ndarray,
    xyz: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    queries: int = 64,
    anchors: int = 512,
    tau: float = 0.07,
) -> ObjectScore:
    """Scores of one object's features at one level.

    Args:
        feats: (N, D) per-point features.
        xyz: (N, 3) normalised points (model frame, [-1, 1]).
        labels: (N,) part id of every point at the level scored.
        rng: draws the queries and the anchors.
        queries: query points for the AUCs.
        anchors: points in the contrastive loss.
        tau: temperature of the loss.
    """
    f = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    n = len(xyz)
    auc_f, auc_d = [], []
    for q in rng.choice(n, size=min(queries, n), replace=False):
        rest = np.arange(n) != q
        same = (labels == labels[q])[rest]
        auc_f.append(part_auc((f[rest] @ f[q]), same))
        auc_d.append(part_auc(-np.linalg.norm(xyz[rest] - xyz[q], axis=1), same))
    a = rng.choice(n, size=min(anchors, n), replace=False)
    lab = torch.from_numpy(labels[a].astype(np.int64))
    loss = float(supervised_contrastive_loss(torch.from_numpy(feats[a]), lab, tau))
    n_pos = (lab[:, None] == lab[None, :]).sum(1).numpy() - 1
    floor = float(np.mean(np.log(n_pos[n_pos > 0]))) if (n_pos > 0).any() else float("nan")
    return ObjectScore(
        auc_feature=float(np.nanmean(auc_f)),
        auc_distance=float(np.nanmean(auc_d)),
        loss=loss,
        chance=math.log(max(2, len(a) - 1)),
        floor=floor,
    )


@torch.no_grad()
def score_encoder(
    encoder: str | Path,
    data: str | Path,
    points: int = 4096,
    levels: int = 3,
    queries: int = 64,
    anchors: int = 512,
    tau: float = 0.07,
    seed: int = 0,
    rotation: str = "none",
) -> dict[str, dict[str, float]]:
    """Mean :class:`ObjectScore` per level over every object of a shard folder.

    Args:
        encoder: stage-1 checkpoint or run folder (one with ``input_normals`` also gets
            the shards' normals, turned with the points).
        data: shard folder.
        points: points per object fed to the encoder (a fixed random subset).
        levels: the first ``levels`` hierarchy levels are scored (0 = finest); a level
            beyond an object's real levels is skipped for that object.
        queries, anchors, tau: see :func:`score_object`.
        seed: seed of the point subsets, queries and anchors.
        rotation: "none" (objects as stored), "so3" (a uniformly random rotation of every
            object before normalisation: arbitrarily oriented inputs) or "up" (a random
            rotation about one random axis of the object frame).

    Returns:
        ``{"level_0": {"auc_feature": ..., ...}, ...}`` plus ``"objects"``.
    """
    enc, enc_cfg, _ = load_encoder(encoder)
    parts = InMemoryParts(data, val_fraction=0.0, normals=enc_cfg.input_normals)
    aug = replace(PLAIN, rotation=rotation, so3_prob=1.0)
    rows: dict[int, list[ObjectScore]] = {lev: [] for lev in range(levels)}
    for i in range(len(parts)):
        rng = np.random.default_rng([seed, i])
        xyz, nrm, keep = object_view(parts, i, rng, aug, min(points, parts.points.shape[1]))
        feats = encode_object(enc, xyz, nrm)
        for lev in range(min(levels, int(parts.num_levels[i]))):
            lab = parts.labels[i, lev, keep]
            rows[lev].append(score_object(feats, xyz, lab, rng, queries, anchors, tau))
    out: dict[str, dict[str, float]] = {}
    for lev, scores in rows.items():
        if scores:
            out[f"level_{lev}"] = {
                k: float(np.nanmean([getattr(s, k) for s in scores]))
                for k in ObjectScore.__dataclass_fields__
            } | {"objects": len(scores)}
    return out


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("score", help="score an encoder on a shard folder")
    s.add_argument("--encoder", required=True, help="stage-1 checkpoint or run folder")
    s.add_argument("--data", required=True, help="shard folder")
    s.add_argument("--rotation", choices=["none", "up", "so3"], default="none",
                   help="rotate every scored object first (so3: arbitrary orientations)")
    r = sub.add_parser("run", help="build objects, train on all of them, score")
    r.add_argument("--out", required=True, help="run folder (data in OUT/data)")
    r.add_argument("--objects", type=int, default=16)
    r.add_argument("--data-seed", type=int, default=77, help="seed of the generated objects")
    r.add_argument("--minutes", type=float, default=10.0, help="training budget")
    for q in (s, r):
        q.add_argument("--points", type=int, default=4096, help="points per scored object")
        q.add_argument("--levels", type=int, default=3, help="levels scored (0 = finest)")
        q.add_argument("--queries", type=int, default=64, help="AUC query points per object")
        q.add_argument("--anchors", type=int, default=512, help="points in the scored loss")
        q.add_argument("--tau", type=float, default=0.07, help="temperature of the scored loss")
        q.add_argument("--json", default="", help="also write the scores to this file")
    a = p.parse_args(argv)
    if a.cmd == "run":
        out = Path(a.out)
        data = out / "data"
        if not (data / "meta.json").exists():
            subprocess.run(
                [sys.executable, "-m", "training.data", "build", "--out", str(data),
                 "--objects", str(a.objects), "--seed", str(a.data_seed), "--workers", "1",
                 "--assets", ""],
                check=True,
            )
        subprocess.run(
            [sys.executable, "-m", "training.train_encoder", "--data", str(data), "--out",
             str(out), "--minutes", str(a.minutes), "--val-fraction", "0", *extra],
            check=True,
        )
        encoder, data_dir = out / "last.pt", data
    else:
        if extra:
            p.error("trainer flags after -- go with 'run' only")
        encoder, data_dir = Path(a.encoder), Path(a.data)
    res = score_encoder(encoder, data_dir, a.points, a.levels, a.queries, a.anchors, a.tau,
                        rotation=getattr(a, "rotation", "none"))
    for name, row in res.items():
        print(name + ": " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                      for k, v in row.items()), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
