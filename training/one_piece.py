"""Segment All on one-piece meshes, measured on our own generator (never the dev set).

    python -m training.one_piece [--objects 32] [--seed 777] [--report docs/one_piece.md]

AI-generated, remeshed or scanned meshes come as one welded piece, so the mesh's connected
regions say nothing about parts. This draws held-out procedural objects (a seed no training
set uses), scores Segment All on each object twice — as modelled (separate part meshes) and
fused into one closed surface (``training.data.fuse``, labels carried over) — with and
without ``SegmentAllSettings.cut_one_piece``, at the scale of the level one above the leaves
(the median part point fraction) and without a scale. Score: per GT part the best IoU over
predicted parts on the sampled points, mean per object, mean over objects (the evaluator's
"full" metric).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from core import SegmentAllSettings, Segmenter
from training.data.build import BuildConfig, _limit_levels
from training.data.fuse import fuse_mesh
from training.data.parts import flatten, tree_levels
from training.data.procedural import FAMILIES, make_object
from training.metrics import best_iou_per_region

VARIANTS = {
    "regions only (cut_one_piece=None)": SegmentAllSettings(cut_one_piece=None),
    "cut_one_piece=0.9": SegmentAllSettings(cut_one_piece=0.9),
    "cut_one_piece=0.99": SegmentAllSettings(cut_one_piece=0.99),
}


def best_iou(gt: np.ndarray, pred: np.ndarray) -> float:
    """Mean over GT labels of the best IoU (fraction) with any predicted label (both (N,)
    int), via the evaluator's :func:`training.metrics.best_iou_per_region`."""
    gt = np.asarray(gt)
    regions = gt[None, :] == np.unique(gt)[:, None]
    return float(best_iou_per_region(regions, np.asarray(pred)).mean() / 100.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objects", type=int, default=32)
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--weights", default=None, help="model folder (default: bundled)")
    p.add_argument("--report", default=None, help="write a Markdown table here")
    a = p.parse_args(argv)
    t0 = time.time()
    cfg = BuildConfig()
    seg = Segmenter.from_pretrained(path=a.weights, num_threads=2)
    fams = sorted(FAMILIES)
    keys = [(fz, sc, v) for fz in ("one piece (fused)", "separate parts")
            for sc in ("scale", "no scale") for v in VARIANTS]
    scores: dict = {k: [] for k in keys}
    parts: dict = {k: [] for k in keys}
    for i in range(a.objects):
        rng = np.random.default_rng([a.seed, i])
        fam = fams[int(rng.integers(len(fams)))]
        flat = flatten(make_object(fam, int(rng.integers(2**62)), cfg.deform_strength))
        levels = _limit_levels(tree_levels(flat), cfg.max_levels)
        for fz in ("one piece (fused)", "separate parts"):
            v, f, fl = flat.vertices, flat.faces, flat.face_leaf
            if fz.startswith("one"):
                v, f, fl = fuse_mesh(v, f, fl, seed=i, settings=cfg.fuse)
            seg.set_mesh(v, f, seed=0)
            gt = levels[min(1, len(levels) - 1)][fl[seg.point_faces]]
            frac = np.bincount(gt) / len(gt)
            level_scale = float(np.median(frac[frac > 0]))
            for sc, scale in (("scale", level_scale), ("no scale", None)):
                for name, st in VARIANTS.items():
                    r = seg.segment_all(scale=scale, settings=st)
                    scores[(fz, sc, name)].append(best_iou(gt, r.point_labels))
                    parts[(fz, sc, name)].append(r.num_parts)
        print(f"[one_piece] {i + 1}/{a.objects} {fam}", file=sys.stderr, flush=True)
    lines = ["| mesh | scale | Segment All | mean best IoU (%) | parts per object |",
             "|---|---|---|---|---|"]
    for k in keys:
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {100 * np.mean(scores[k]):.1f} | "
                     f"{np.mean(parts[k]):.1f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if a.report:
        cmd = "python -m training.one_piece " + " ".join(argv if argv is not None else
                                                         sys.argv[1:])
        Path(a.report).write_text(
            "# Segment All on one-piece meshes (our generator, held-out seed)\n\n"
            f"Command: `{cmd}` ({time.time() - t0:.0f} s). {a.objects} procedural objects, "
            "seed " f"{a.seed}; GT = the level one above the leaves; scale = its median part "
            "point fraction.\n\n" + table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
