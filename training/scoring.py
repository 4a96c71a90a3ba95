"""Scoring of one method on one object, and the mean over objects (:mod:`training.evaluate`).

:func:`evaluate_object` runs a :class:`training.methods.Method` on an
:class:`training.devset.EvalSample` and returns a record (part IoUs, and the benchmark
metrics of every labelling when a :class:`training.psb_eval.PSBContext` is given);
:func:`aggregate` turns the records of one method into the result dict: per object the mean
over its regions, then the mean over objects; the same per category, per tree level and per
object. The metric definitions are in the module docstring of :mod:`training.evaluate`.
"""

from __future__ import annotations

import time

import numpy as np

from training import psb_eval
from training.devset import EvalSample
from training.methods import Method
from training.metrics import best_iou_per_region, iou_by_scale, iou_matrix, mean_or_none
from training.psb_metrics import PSB_KEYS


def level_scores(sample: EvalSample, labellings: dict[int, np.ndarray]) -> dict[int, float]:
    """Per level d: mean over level d's parts of the best IoU against labelling d."""
    out = {}
    for d, gt in sample.levels.items():
        parts = np.unique(gt)
        out[d] = float(iou_matrix(sample.region_masks[parts], labellings[d]).max(axis=1).mean())
    return out


def full_scores(sample: EvalSample, labellings: list[np.ndarray]) -> dict[str, float]:
    best = best_iou_per_region(sample.region_masks, labellings)
    return {"leaf": float(best[sample.region_is_leaf].mean()), "any": float(best.mean())}


def evaluate_object(method: Method, sample: EvalSample, prompts: np.ndarray, protocol: str,
                    psb: psb_eval.PSBContext | None = None, iou: bool = True):
    """Score one method on one object; returns a record dict (or one with ``skipped``).

    ``iou``: score the part IoUs (clicks and labellings); ``psb``: the mesh's context for the
    benchmark metrics of every labelling (``rec["psb"]``, :func:`training.psb_eval.
    score_method`), None = not scored.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    reason = method.begin(sample, protocol)
    rec: dict = {"id": sample.obj.object_id, "category": sample.obj.category}
    if reason is not None:
        rec["skipped"] = reason
        return rec
    fr = sample.region_fraction
    lab = levs = None
    if method.interactive and iou:
        iou_s, iou_n = [], []
        for j, idx in enumerate(prompts):
            target = sample.region_masks[j]
            for scale, acc in ((float(fr[j]), iou_s), (None, iou_n)):
                pred = method.predict(int(idx), scale)
                inter = np.count_nonzero(pred & target)
                acc.append(100.0 * inter / np.count_nonzero(pred | target))
        rec["inter_scale"], rec["inter_noscale"] = iou_s, iou_n
    if method.has_noscale_full:
        lab = method.segment()
        rec["labels_noscale"] = lab
        if iou:
            rec["full_noscale"] = full_scores(sample, [lab])
            rec["level_noscale"] = level_scores(sample, dict.fromkeys(sample.levels, lab))
    if method.has_level_full and sample.levels:
        levs = method.segment_levels()
        rec["labels_levels"] = levs
        if iou:
            rec["full_levels"] = full_scores(sample, list(levs.values()))
            rec["level_levels"] = level_scores(sample, levs)
    if psb is not None and (lab is not None or levs):
        rec["psb"] = psb_eval.score_method(psb, sample, method, lab, levs)
    rec["seconds"] = time.perf_counter() - t0
    rec["cpu_seconds"] = time.process_time() - c0
    return rec


def aggregate(method: Method, records: list[dict], samples: dict[str, EvalSample],
              psb: bool = False) -> dict:
    """The result entry of one method from its per-object records (``psb``: the benchmark
    metrics ran, add their keys)."""
    done = [r for r in records if "skipped" not in r and "error" not in r]
    out: dict = {
        "objects": len(done),
        "skipped": {r["id"]: r["skipped"] for r in records if "skipped" in r},
        "errors": {r["id"]: r["error"] for r in records if "error" in r},
        "wall_s": float(sum(r.get("seconds", 0.0) for r in records)),
        "cpu_s": float(sum(r.get("cpu_seconds", 0.0) for r in records)),
        "full_oracle": {"K": "oracle K per level", "scale": "oracle scale per level"}.get(
            method.level_oracle
        ),
    }

    def per_obj(rs, key, sub=None):
        vals = []
        for r in rs:
            if key not in r:
                continue
            v = r[key] if sub is None else r[key][sub]
            vals.append(float(np.mean(v)) if isinstance(v, list) else v)
        return mean_or_none(vals)

    def summary(rs):
        s = {
            "interactive_iou_scale": per_obj(rs, "inter_scale"),
            "interactive_iou_noscale": per_obj(rs, "inter_noscale"),
            "full_noscale_leaf": per_obj(rs, "full_noscale", "leaf"),
            "full_noscale_any": per_obj(rs, "full_noscale", "any"),
            "full_levels_leaf": per_obj(rs, "full_levels", "leaf"),
            "full_levels_any": per_obj(rs, "full_levels", "any"),
            "objects": len(rs),
        }
        prim = "noscale" if method.has_noscale_full else "levels"
        s["full_miou_leaf"] = s[f"full_{prim}_leaf"]
        s["full_miou_any"] = s[f"full_{prim}_any"]
        if psb:
            main = psb_eval.summarize([r["psb"][psb_main] for r in rs
                                       if psb_main in r.get("psb", {})]) or {}
            s.update({k: main.get(k) for k in PSB_KEYS})
        return s

    psb_main = method.psb_main or ("noscale" if method.has_noscale_full else "leaf")

    out.update(summary(done))
    if psb:
        out.update(psb_eval.aggregate_method(done, psb_main))
    out["full_mode"] = (
        "no GT information" if method.has_noscale_full else out["full_oracle"]
    ) if (method.has_noscale_full or method.has_level_full) else None
    cats = sorted({r["category"] for r in done})
    out["per_category"] = {c: summary([r for r in done if r["category"] == c]) for c in cats}
    # per tree level (depth from the root)
    levels: dict[int, dict] = {}
    depths = sorted({int(d) for r in done for d in samples[r["id"]].levels} | {
        int(d) for r in done for d in samples[r["id"]].region_depth})
    for d in depths:
        row: dict = {}
        for key, name in (("level_noscale", "full_noscale"), ("level_levels", "full_levels")):
            row[name] = mean_or_none(r[key][d] for r in done if key in r and d in r[key])
        for key, name in (("inter_scale", "interactive_iou_scale"),
                          ("inter_noscale", "interactive_iou_noscale")):
            vals = []
            for r in done:
                if key not in r:
                    continue
                sel = samples[r["id"]].region_depth == d
                if sel.any():
                    vals.append(float(np.mean(np.asarray(r[key])[sel])))
            row[name] = mean_or_none(vals)
        row["objects_with_level"] = sum(1 for r in done if d in samples[r["id"]].levels)
        row["mean_scale"] = mean_or_none(
            samples[r["id"]].level_scales[d] for r in done if d in samples[r["id"]].levels)
        levels[d] = row
    out["per_level"] = {str(d): v for d, v in levels.items()}
    out["per_object"] = {r["id"]: summary([r]) for r in done}
    if method.interactive:
        fr = np.concatenate([samples[r["id"]].region_fraction for r in done]) if done else []
        out["iou_vs_scale"] = {
            "scale": iou_by_scale(fr, [x for r in done for x in r["inter_scale"]]),
            "noscale": iou_by_scale(fr, [x for r in done for x in r["inter_noscale"]]),
        }
    return out
