"""Interactive IoU on held-out generated objects (never the dev set): compare weights.

    python -m training.heldout --data data_cache/heldout --weights core/weights/default \
        [--weights runs/new_weights ...] [--limit 120] [--json]

``--data`` is a shard folder built with a seed no training set uses, e.g.
``python -m training.data build --out data_cache/heldout --objects 120 --seed 4242
--real-fraction 0`` (procedural only: the real-mesh pool is shared with training). Every part
of every stored level (at least ``--min-fraction`` of the points) gets one click at its most
interior point (the evaluator's selector), with its point fraction as the scale and without;
the score is the IoU of the predicted point mask, mean per object, then mean over objects —
the evaluator's points protocol on our own data. The ``ball`` baseline (the round(s·N)
points nearest the click) is scored on the same clicks. Used to choose weights without
looking at ``../shared/data``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from core import Segmenter

from .baselines import ball_mask
from .data.shards import ShardDataset
from .metrics import iou
from .selectors import interior_point


def score_object(
    segs: dict[str, Segmenter], points: np.ndarray, labels: np.ndarray, levels: int,
    min_fraction: float,
) -> dict[str, list[float]]:
    """Per-part IoUs (percent) of every method on one object.

    Args:
        segs: name → Segmenter (each gets ``set_points(points)``).
        points: (N, 3) object-frame points.
        labels: (L, N) nested part ids, finest first; the first ``levels`` rows are real.
        min_fraction: parts below this share of the points are skipped.
    """
    targets: dict[bytes, tuple[np.ndarray, float]] = {}
    for lev in range(levels):
        for pid in np.unique(labels[lev]):
            mask = labels[lev] == pid
            frac = float(mask.mean())
            if frac < min_fraction or frac == 1.0:
                continue
            targets.setdefault(np.packbits(mask).tobytes(), (mask, frac))  # nested dupes once
    out: dict[str, list[float]] = {"ball +scale": []}
    for name in segs:
        out[f"{name} +scale"] = []
        out[f"{name} no scale"] = []
    clicks = [(m, f, interior_point(points, m)) for m, f in targets.values()]
    for mask, frac, i in clicks:
        out["ball +scale"].append(iou(ball_mask(points, i, frac), mask))
    for name, seg in segs.items():
        seg.set_points(points)
        for mask, frac, i in clicks:
            out[f"{name} +scale"].append(iou(seg.predict([(i, True)], scale=frac).point_mask, mask))
            out[f"{name} no scale"].append(iou(seg.predict([(i, True)]).point_mask, mask))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="held-out shard folder")
    p.add_argument("--weights", action="append", required=True,
                   help="weights folder (repeatable; 'bundled' = core/weights/default)")
    p.add_argument("--limit", type=int, default=0, help="at most this many objects (0 = all)")
    p.add_argument("--min-fraction", type=float, default=0.002)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print one JSON object last")
    a = p.parse_args(argv)
    t0 = time.time()
    segs = {w: Segmenter.from_pretrained(None if w == "bundled" else w, num_threads=a.threads)
            for w in a.weights}
    per_obj: dict[str, list[float]] = {}
    data = ShardDataset(a.data)
    n = min(len(data), a.limit) if a.limit else len(data)
    for i in range(n):
        obj = data[i]
        res = score_object(segs, obj["points"], obj["labels"], int(obj["num_levels"]),
                           a.min_fraction)
        for k, v in res.items():
            if v:
                per_obj.setdefault(k, []).append(float(np.mean(v)))
    summary = {k: round(float(np.mean(v)), 1) for k, v in per_obj.items()}
    for k, v in summary.items():
        print(f"{k:60s} {v:5.1f}")
    print(f"{n} objects in {time.time() - t0:.0f} s", file=sys.stderr)
    if a.json:
        print(json.dumps({"objects": n, "interactive_iou": summary}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
