"""Evaluate the model and classical baselines on objects with GT part trees.

Usage::

    python -m training.evaluate --data ../shared/data/partnet-mobility-dev \\
        [--method model cc ball kmeans dbscan agglo] [--protocol mesh|points [...]] \\
        [--limit N] [--points 10000] [--seed 0] [--json] [--report OUT_DIR] \\
        [--no-bench | --bench-json FILE]

The whole dev set, every method, both protocols, one command (reports committed under
``docs/eval/``)::

    python -m training.evaluate --data ../shared/data/partnet-mobility-dev \\
        --protocol mesh points --report docs/eval

Protocols (the sampled points are shared by every method and every metric):

* ``points`` (the paper's): 10,000 area-weighted surface points per object, seeded, XYZ only.
* ``mesh``: methods may also use the mesh (vertices + faces welded at 1e-5 of the bounding
  box diagonal, :data:`training.devset.WELD_REL_TOL`); face outputs are read back on the same
  sampled points through each point's face.

Metrics (percent; per object the mean over its GT regions, then the mean over objects; the
terms region, depth, level and scale of a level are defined in :mod:`training.devset`):

* ``interactive_iou_scale`` / ``interactive_iou_noscale``: one positive click per region at
  its most interior point (:func:`training.selectors.interior_point`), target = the region,
  with scale = the region's point fraction / without scale.
* ``full_noscale_{leaf,any}``: the method's one labelling made without GT information,
  scored per region as the best IoU over predicted parts; ``leaf`` over leaf regions,
  ``any`` over every region.
* ``full_levels_{leaf,any}``: labellings made with per-level oracle information (the K of
  the level for k-means/agglo, the scale of the level for the model), one per level; every
  part of every level's labelling is a candidate for every region.
* ``full_miou_leaf`` / ``full_miou_any``: the no-scale numbers where a method has them,
  else the per-level ones (``full_mode`` says which).
* per level d: the level's parts scored against the labelling for level d (or the single
  labelling); interactive per level = regions of depth d.

``--json`` prints one JSON object on the last line of stdout. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from core.errors import S2AM3DError
from training import baselines as bl
from training.devset import EvalSample, list_objects, load_object, make_sample
from training.metrics import best_iou_per_region, iou_by_scale, iou_matrix, mean_or_none
from training.selectors import interior_point

ALL_METHODS = ("model", "agglo", "cc", "ball", "kmeans", "dbscan")
PROTOCOLS = ("mesh", "points")
UNTRAINED = "untrained weights"


@dataclass
class EvalConfig:
    """What one evaluation run does.

    Attributes:
        data: folder of objects (mesh or point-cloud format, see :mod:`training.devset`).
        methods: names from :data:`ALL_METHODS`.
        protocol: ``mesh`` or ``points``.
        n_points: sampled points per object.
        seed: sampling and baseline seed.
        limit: evaluate only the first ``limit`` objects (sorted by file name).
        threads: CPU threads for the model and scikit-learn.
        weights: model folder for ``core.Segmenter.from_pretrained`` (None = bundled default).
        keep_labels_for: object ids whose labellings are kept for the report's pictures.
    """

    data: str
    methods: tuple[str, ...] = ALL_METHODS
    protocol: str = "mesh"
    n_points: int = 10000
    seed: int = 0
    limit: int | None = None
    threads: int = 1
    weights: str | None = None
    baseline: bl.BaselineSettings = field(default_factory=bl.BaselineSettings)
    keep_labels_for: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- methods
class Method:
    """One method under evaluation. Subclasses set the flags and implement the hooks.

    ``begin`` returns None when the method applies to the sample, else the reason it
    does not (then nothing is scored for it on that object).
    """

    name = ""
    interactive = False
    has_noscale_full = False
    has_level_full = False
    level_oracle = ""  # what the per-level labellings are told: "K" or "scale"

    def begin(self, sample: EvalSample, protocol: str) -> str | None:
        self.sample = sample
        return None

    def predict(self, idx: int, scale: float | None) -> np.ndarray:  # (N,) bool
        raise NotImplementedError

    def segment(self) -> np.ndarray:  # (N,) int
        raise NotImplementedError

    def segment_levels(self) -> dict[int, np.ndarray]:
        raise NotImplementedError


class CCMethod(Method):
    name, has_noscale_full = "cc", True

    def begin(self, sample, protocol):
        self.sample = sample
        if protocol != "mesh":
            return "needs the mesh protocol"
        if sample.faces_welded is None:
            return "point-cloud object (no faces)"
        return None

    def segment(self):
        s = self.sample
        return bl.cc_labels(s.faces_welded, len(s.obj.vertices), s.point_faces)


class BallMethod(Method):
    name, interactive = "ball", True

    def __init__(self, settings: bl.BaselineSettings):
        self.settings = settings

    def predict(self, idx, scale):
        frac = self.settings.ball_default_fraction if scale is None else scale
        return bl.ball_mask(self.sample.points, idx, frac)


def _level_ks(sample: EvalSample) -> dict[int, int]:
    return {d: len(np.unique(lab)) for d, lab in sample.levels.items()}


class KMeansMethod(Method):
    name, has_level_full, level_oracle = "kmeans", True, "K"

    def __init__(self, settings: bl.BaselineSettings):
        self.settings = settings

    def segment_levels(self):
        cache: dict[int, np.ndarray] = {}
        out = {}
        for d, k in _level_ks(self.sample).items():
            if k not in cache:
                cache[k] = bl.kmeans_labels(self.sample.points, k, self.settings)
            out[d] = cache[k]
        return out


class DBSCANMethod(Method):
    name, has_noscale_full = "dbscan", True

    def __init__(self, settings: bl.BaselineSettings):
        self.settings = settings

    def segment(self):
        return bl.dbscan_labels(self.sample.points, self.settings)


class SharedModel:
    """Loads ``core.Segmenter`` once and embeds each object once for ``model`` and ``agglo``."""

    def __init__(self, cfg: EvalConfig):
        self.cfg = cfg
        self.error: str | None = None
        self.seg = None
        self.key = None
        try:
            from core import Segmenter

            self.seg = Segmenter.from_pretrained(path=cfg.weights, num_threads=cfg.threads)
        except Exception as exc:  # report, never fake
            self.error = f"core.Segmenter unavailable: {type(exc).__name__}: {exc}"
        md = dict(getattr(self.seg, "metadata", {}) or {}) if self.seg is not None else {}
        self.trained = md.get("trained") if self.seg is not None else None
        self.metadata = {k: v for k, v in md.items() if k != "config"}

    def embed(self, sample: EvalSample, protocol: str) -> None:
        key = (sample.obj.object_id, protocol)
        if self.key == key:
            return
        seg, cfg = self.seg, self.cfg
        self.use_faces = protocol == "mesh" and sample.obj.is_mesh
        if self.use_faces:
            seg.set_mesh(
                sample.obj.vertices, sample.faces_welded, n_points=cfg.n_points, seed=cfg.seed
            )
        else:
            seg.set_points(sample.points, n_points=None, seed=cfg.seed)
        mp = np.asarray(seg.points)
        if mp.shape == sample.points.shape and np.allclose(mp, sample.points, atol=1e-6):
            self.to_model = None  # the model's points are the evaluation points
        else:  # evaluation point -> nearest model point
            self.to_model = cKDTree(mp).query(sample.points, k=1)[1]
        self.key = key

    def point_values(self, point_arr: np.ndarray, face_arr: np.ndarray | None, sample):
        """Read a model output back on the evaluation points (faces first, mesh protocol)."""
        if self.use_faces and face_arr is not None:
            return np.asarray(face_arr)[sample.point_faces]
        arr = np.asarray(point_arr)
        return arr if self.to_model is None else arr[self.to_model]

    def model_index(self, idx: int, sample: EvalSample) -> int:
        if self.to_model is None:
            return int(idx)
        return int(self.seg.nearest_point(sample.points[idx]))


class ModelMethod(Method):
    name, interactive, has_noscale_full, has_level_full = "model", True, True, True
    level_oracle = "scale"

    def __init__(self, shared: SharedModel):
        self.shared = shared

    def begin(self, sample, protocol):
        self.sample = sample
        if self.shared.seg is None:
            return self.shared.error
        self.shared.embed(sample, protocol)
        return None

    def predict(self, idx, scale):
        sh = self.shared
        r = sh.seg.predict(prompts=[(sh.model_index(idx, self.sample), True)], scale=scale)
        return sh.point_values(r.point_mask, r.face_mask, self.sample).astype(bool)

    def _seg_all(self, scale):
        res = self.shared.seg.segment_all(scale=scale)
        return self.shared.point_values(res.point_labels, res.face_labels, self.sample)

    def segment(self):
        return self._seg_all(None)

    def segment_levels(self):
        cache: dict[float, np.ndarray] = {}
        out = {}
        for d, s in self.sample.level_scales.items():
            if s not in cache:
                cache[s] = self._seg_all(float(s))
            out[d] = cache[s]
        return out


class AggloMethod(Method):
    name, has_level_full, level_oracle = "agglo", True, "K"

    def __init__(self, shared: SharedModel, settings: bl.BaselineSettings):
        self.shared, self.settings = shared, settings

    def begin(self, sample, protocol):
        self.sample = sample
        if self.shared.seg is None:
            return self.shared.error
        self.shared.embed(sample, protocol)
        return None

    def segment_levels(self):
        sh = self.shared
        ks = _level_ks(self.sample)
        by_k = bl.agglo_labels(sh.seg.features, sh.seg.points, list(ks.values()), self.settings)
        to = sh.to_model
        return {d: by_k[k] if to is None else by_k[k][to] for d, k in ks.items()}


def build_methods(cfg: EvalConfig) -> tuple[list[Method], SharedModel | None]:
    shared = SharedModel(cfg) if {"model", "agglo"} & set(cfg.methods) else None
    make = {
        "model": lambda: ModelMethod(shared),
        "agglo": lambda: AggloMethod(shared, cfg.baseline),
        "cc": CCMethod,
        "ball": lambda: BallMethod(cfg.baseline),
        "kmeans": lambda: KMeansMethod(cfg.baseline),
        "dbscan": lambda: DBSCANMethod(cfg.baseline),
    }
    return [make[m]() for m in cfg.methods], shared


# ----------------------------------------------------------------------------- scoring
def _level_scores(sample: EvalSample, labellings: dict[int, np.ndarray]) -> dict[int, float]:
    """Per level d: mean over level d's parts of the best IoU against labelling d."""
    out = {}
    for d, gt in sample.levels.items():
        parts = np.unique(gt)
        out[d] = float(iou_matrix(sample.region_masks[parts], labellings[d]).max(axis=1).mean())
    return out


def _full_scores(sample: EvalSample, labellings: list[np.ndarray]) -> dict[str, float]:
    best = best_iou_per_region(sample.region_masks, labellings)
    return {"leaf": float(best[sample.region_is_leaf].mean()), "any": float(best.mean())}


def evaluate_object(method: Method, sample: EvalSample, prompts: np.ndarray, protocol: str):
    """Score one method on one object; returns a record dict (or one with ``skipped``)."""
    t0, c0 = time.perf_counter(), time.process_time()
    reason = method.begin(sample, protocol)
    rec: dict = {"id": sample.obj.object_id, "category": sample.obj.category}
    if reason is not None:
        rec["skipped"] = reason
        return rec
    fr = sample.region_fraction
    if method.interactive:
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
        rec["full_noscale"] = _full_scores(sample, [lab])
        rec["level_noscale"] = _level_scores(sample, dict.fromkeys(sample.levels, lab))
        rec["labels_noscale"] = lab
    if method.has_level_full and sample.levels:
        levs = method.segment_levels()
        rec["full_levels"] = _full_scores(sample, list(levs.values()))
        rec["level_levels"] = _level_scores(sample, levs)
        rec["labels_levels"] = levs
    rec["seconds"] = time.perf_counter() - t0
    rec["cpu_seconds"] = time.process_time() - c0
    return rec


def _aggregate(method: Method, records: list[dict], samples: dict[str, EvalSample]) -> dict:
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
        return s

    out.update(summary(done))
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


# ----------------------------------------------------------------------------- driver
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(cfg: EvalConfig) -> dict:
    """Evaluate ``cfg.methods`` on ``cfg.data``; returns the result dict (see module doc)."""
    if cfg.protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {cfg.protocol!r}")
    unknown = set(cfg.methods) - set(ALL_METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {ALL_METHODS}")
    from threadpoolctl import threadpool_limits

    t_start, c_start = time.perf_counter(), time.process_time()
    files = list_objects(cfg.data, cfg.limit)
    methods, shared = build_methods(cfg)
    if shared is not None and shared.seg is None:
        log(f"[evaluate] model methods not run: {shared.error}")
    if shared is not None and shared.trained is False:
        log(f"[evaluate] WARNING: the model has {UNTRAINED} (metadata trained=False)")
    records: dict[str, list[dict]] = {m.name: [] for m in methods}
    samples: dict[str, EvalSample] = {}
    kept: dict[str, dict] = {}
    t_prep = 0.0
    with threadpool_limits(limits=cfg.threads):
        for i, path in enumerate(files):
            t0 = time.perf_counter()
            sample = make_sample(load_object(path), cfg.n_points, cfg.seed)
            prompts = np.array([interior_point(sample.points, m) for m in sample.region_masks])
            t_prep += time.perf_counter() - t0
            oid = sample.obj.object_id
            samples[oid] = sample
            line = []
            for m in methods:
                try:
                    rec = evaluate_object(m, sample, prompts, cfg.protocol)
                except Exception as exc:  # recorded and reported, the run goes on
                    rec = {"id": oid, "category": sample.obj.category,
                           "error": f"{type(exc).__name__}: {exc}"}
                    log(traceback.format_exc())
                if oid in cfg.keep_labels_for and "skipped" not in rec and "error" not in rec:
                    kept.setdefault(oid, {})[m.name] = _picture_labels(rec, sample)
                for k in ("labels_noscale", "labels_levels"):
                    rec.pop(k, None)
                records[m.name].append(rec)
                fl = rec.get("full_noscale", rec.get("full_levels", {})).get("leaf")
                line.append(f"{m.name}={fl:.1f}" if fl is not None else f"{m.name}=-")
            log(f"[{i + 1}/{len(files)}] {oid} ({sample.obj.category}, "
                f"{len(sample.region_masks)} regions) leaf mIoU: {' '.join(line)}")
    result = {
        "data": str(cfg.data),
        "protocol": cfg.protocol,
        "points": cfg.n_points,
        "seed": cfg.seed,
        "objects": len(files),
        "regions": int(sum(len(s.region_masks) for s in samples.values())),
        "dropped_regions": int(sum(s.dropped_regions for s in samples.values())),
        "baseline_settings": asdict(cfg.baseline),
        "threads": cfg.threads,
        "prep_s": t_prep,
        "methods": {},
    }
    for m in methods:
        agg = _aggregate(m, records[m.name], samples)
        if m.name in ("model", "agglo") and shared is not None:
            agg["trained"] = shared.trained
            agg["model_metadata"] = shared.metadata
            if shared.trained is False:
                agg["note"] = UNTRAINED
            if shared.seg is None:
                agg["note"] = shared.error
        result["methods"][m.name] = agg
    result["wall_s"] = time.perf_counter() - t_start
    result["cpu_s"] = time.process_time() - c_start
    result["_pictures"] = {
        oid: {"points": samples[oid].points, "gt": _gt_leaf_labels(samples[oid]), "pred": v}
        for oid, v in kept.items()
    }
    return result


def _gt_leaf_labels(sample: EvalSample) -> np.ndarray:
    """Leaf-level GT label of every point (index of its leaf region)."""
    lab = np.full(sample.n_points, -1, np.int64)
    for j in np.flatnonzero(sample.region_is_leaf):
        lab[sample.region_masks[j]] = j
    return lab


def _picture_labels(rec: dict, sample: EvalSample) -> np.ndarray | None:
    """The labelling shown in pictures: no-scale, else the deepest level's."""
    if "labels_noscale" in rec:
        return rec["labels_noscale"]
    levs = rec.get("labels_levels")
    return levs[max(levs)] if levs else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of objects (npz [+ json])")
    p.add_argument("--method", nargs="+", default=list(ALL_METHODS), choices=ALL_METHODS)
    p.add_argument("--protocol", nargs="+", default=["mesh"], choices=PROTOCOLS,
                   help="one or both protocols; with both, --report writes OUT_DIR/<protocol>/ "
                        "and --json prints {'protocols': {name: result}}")
    p.add_argument("--limit", type=int, default=None, help="first N objects only")
    p.add_argument("--points", type=int, default=10000, help="sampled points per object")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="CPU threads (model, sklearn)")
    p.add_argument("--weights", default=None, help="model folder (default: bundled)")
    p.add_argument("--json", action="store_true", help="print the result JSON on the last line")
    p.add_argument("--report", default=None, help="write report.md/json and pictures here")
    bench = p.add_mutually_exclusive_group()
    bench.add_argument("--no-bench", action="store_true", help="report without core.bench numbers")
    bench.add_argument("--bench-json", default=None, metavar="FILE",
                       help="speed numbers for the report from this file (the output of "
                            "`python -m core.bench --json`) instead of running core.bench")
    a = p.parse_args(argv)
    if a.limit is not None and a.limit < 1:
        p.error("--limit must be at least 1")
    if a.points < 16:
        p.error("--points must be at least 16")
    a.protocol = list(dict.fromkeys(a.protocol))  # each protocol once, in the given order
    try:
        return _main(a, argv)
    except S2AM3DError as exc:
        log(f"error: {exc}")
        return 1


def _main(a: argparse.Namespace, argv: list[str] | None) -> int:
    from training.report import (
        bench_from_file,
        choose_picture_ids,
        print_table,
        run_bench,
        write_report,
        write_summary,
    )

    ids = [f.stem for f in list_objects(a.data, a.limit)]
    bench = None
    if a.report:
        if a.no_bench:
            bench = {"note": "core.bench not run (--no-bench)"}
        elif a.bench_json:
            bench = bench_from_file(Path(a.bench_json))
    t0 = time.perf_counter()
    results = {}
    for protocol in a.protocol:
        cfg = EvalConfig(
            data=a.data, methods=tuple(a.method), protocol=protocol, n_points=a.points,
            seed=a.seed, limit=a.limit, threads=a.threads, weights=a.weights,
            keep_labels_for=choose_picture_ids(ids) if a.report else (),
        )
        log(f"[evaluate] {protocol} protocol: {len(ids)} objects, methods {', '.join(a.method)}")
        result = run(cfg)
        pictures = result.pop("_pictures")
        if a.report:
            out = Path(a.report) if len(a.protocol) == 1 else Path(a.report) / protocol
            if bench is None:  # measured once, shared by every protocol's report
                log("[evaluate] running python -m core.bench --json for the report")
                bench = run_bench()
            write_report(result, pictures, out, argv=sys.argv if argv is None else argv,
                         bench=bench)
            log(f"[evaluate] report written to {out}/report.md")
        print_table(result, file=sys.stdout if not a.json else sys.stderr)
        results[protocol] = result
    wall = time.perf_counter() - t0
    if a.report and len(a.protocol) > 1:
        write_summary(results, Path(a.report), argv=sys.argv if argv is None else argv,
                      wall_s=wall)
        log(f"[evaluate] summary written to {a.report}/summary.md")
    log(f"[evaluate] total wall time {wall:.0f} s")
    if a.json:
        out_json = (results[a.protocol[0]] if len(a.protocol) == 1
                    else {"protocols": results, "wall_s": wall})
        print(json.dumps(out_json, allow_nan=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
