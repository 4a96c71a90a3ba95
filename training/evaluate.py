"""Evaluate the model and classical baselines on objects with GT part trees.

Usage::

    python -m training.evaluate --data DIR [DIR ...] \\
        [--method model count cc ball kmeans dbscan agglo] [--protocol mesh|points [...]] \\
        [--metrics iou psb] [--limit N] [--points 10000] [--seed 0] [--json] \\
        [--report OUT_DIR] [--no-bench | --bench-json FILE]

Both dev sets, every method, both protocols, one command (``make eval``; reports committed
under ``docs/eval/<data set>/<protocol>/`` with one ``docs/eval/summary.md``)::

    python -m training.evaluate --data ../shared/data/partnet-mobility-dev \\
        ../shared/data/psb-dev --protocol mesh points --jobs 2 --report docs/eval --json

``--jobs N`` runs the (data set, protocol) evaluations in N processes (largest data set
first); the numbers are the same as serial (every run is seeded), only the wall times
overlap.

Report folders: one data set and one protocol write ``OUT_DIR/report.md``; one data set and
several protocols ``OUT_DIR/<protocol>/``; several data sets ``OUT_DIR/<data set folder
name>/<protocol>/``; ``summary.md`` in ``OUT_DIR`` whenever more than one report is written.

``--metrics``: ``iou`` (the part IoUs below) and/or ``psb`` (the Princeton Segmentation
Benchmark's own metrics on faces against every human segmentation, data with
``human_segs`` only: :mod:`training.psb_eval`, :mod:`training.psb_metrics`). Default: iou,
plus psb on every data set whose first object has ``human_segs``.

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
  the level for k-means/agglo/count, the scale of the level for the model), one per level; every
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

from core.errors import InvalidInputError, S2AM3DError
from training import baselines as bl
from training import psb_eval
from training.devset import EvalSample, has_human_segs, list_objects, load_object, make_sample
from training.methods import (  # noqa: F401  (re-exported: the registry lives in methods)
    ALL_METHODS,
    AggloMethod,
    BallMethod,
    CCMethod,
    DBSCANMethod,
    KMeansMethod,
    Method,
    ModelMethod,
    SharedModel,
    build_methods,
)
from training.scoring import aggregate, evaluate_object, full_scores, level_scores
from training.selectors import interior_point

# the pre-split names (tests and scripts import them from here)
_aggregate, _full_scores, _level_scores = aggregate, full_scores, level_scores

PROTOCOLS = ("mesh", "points")
METRICS = ("iou", "psb")
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
        metrics: ``iou`` and/or ``psb`` (:data:`METRICS`; psb needs ``human_segs``).
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
    metrics: tuple[str, ...] = ("iou",)


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
    if not cfg.metrics or set(cfg.metrics) - set(METRICS):
        raise ValueError(f"metrics must be some of {METRICS}, got {cfg.metrics!r}")
    do_iou, do_psb = "iou" in cfg.metrics, "psb" in cfg.metrics
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
    psb_ref: list[dict] = []  # per mesh: category + the reference rows
    n_humans = 0
    t_prep = t_psb = 0.0
    with threadpool_limits(limits=cfg.threads):
        for i, path in enumerate(files):
            t0 = time.perf_counter()
            sample = make_sample(load_object(path), cfg.n_points, cfg.seed)
            prompts = (np.array([interior_point(sample.points, m) for m in sample.region_masks])
                       if do_iou else np.zeros(0, np.int64))
            t_prep += time.perf_counter() - t0
            oid = sample.obj.object_id
            samples[oid] = sample
            ctx = None
            if do_psb:
                t0 = time.perf_counter()
                ctx = psb_eval.psb_context(sample.obj)
                if ctx is not None:
                    n_humans += len(ctx.humans)
                    psb_ref.append({"id": oid, "category": sample.obj.category,
                                    **psb_eval.score_reference(ctx, sample, cfg.baseline)})
                t_psb += time.perf_counter() - t0
            line = []
            for m in methods:
                try:
                    rec = evaluate_object(m, sample, prompts, cfg.protocol, psb=ctx, iou=do_iou)
                except Exception as exc:  # recorded and reported, the run goes on
                    rec = {"id": oid, "category": sample.obj.category,
                           "error": f"{type(exc).__name__}: {exc}"}
                    log(traceback.format_exc())
                if oid in cfg.keep_labels_for and "skipped" not in rec and "error" not in rec:
                    kept.setdefault(oid, {})[m.name] = _picture_labels(rec, sample)
                for k in ("labels_noscale", "labels_levels"):
                    rec.pop(k, None)
                records[m.name].append(rec)
                line.append(_progress_cell(m, rec))
            sample.obj.human_segs = None  # scored: free the memory (up to 1.8 MB per mesh)
            what = "leaf mIoU" if do_iou else "1-RI x100"
            log(f"[{i + 1}/{len(files)}] {oid} ({sample.obj.category}, "
                f"{len(sample.region_masks)} regions) {what}: {' '.join(line)}")
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
        "metrics": list(cfg.metrics),
        "methods": {},
    }
    if do_psb:
        if not psb_ref:
            raise InvalidInputError(f"{cfg.data}: --metrics psb needs objects with human_segs")
        result["psb"] = {"objects": len(psb_ref), "human_segmentations": n_humans,
                         "reference_s": t_psb,
                         "reference": psb_eval.aggregate_reference(psb_ref)}
    for m in methods:
        agg = aggregate(m, records[m.name], samples, psb=do_psb)
        if m.name in ("model", "count", "agglo") and shared is not None:
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


def _progress_cell(m: Method, rec: dict) -> str:
    """``name=value`` for the progress line: leaf mIoU, else 100·(1 − RI) of the main
    labelling."""
    fl = rec.get("full_noscale", rec.get("full_levels", {})).get("leaf")
    if fl is None and rec.get("psb"):
        main = rec["psb"].get("noscale", rec["psb"].get("leaf", {}))
        fl = None if main.get("psb_rand_error") is None else 100.0 * main["psb_rand_error"]
    return f"{m.name}={fl:.1f}" if fl is not None else f"{m.name}=-"


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
    p.add_argument("--data", required=True, nargs="+",
                   help="folder(s) of objects (npz [+ json]); with several, --report writes "
                        "OUT_DIR/<folder name>/<protocol>/ and --json prints "
                        "{'datasets': {name: {'protocols': {protocol: result}}}}")
    p.add_argument("--method", nargs="+", default=list(ALL_METHODS), choices=ALL_METHODS)
    p.add_argument("--protocol", nargs="+", default=["mesh"], choices=PROTOCOLS,
                   help="one or both protocols; with both, --report writes OUT_DIR/<protocol>/ "
                        "and --json prints {'protocols': {name: result}}")
    p.add_argument("--metrics", nargs="+", default=None, choices=METRICS,
                   help="iou (part IoUs) and/or psb (the PSB benchmark's metrics against the "
                        "human segmentations); default: iou, plus psb where the data have "
                        "human_segs")
    p.add_argument("--limit", type=int, default=None, help="first N objects only")
    p.add_argument("--points", type=int, default=10000, help="sampled points per object")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="CPU threads (model, sklearn)")
    p.add_argument("--jobs", type=int, default=1,
                   help="(data set, protocol) runs in this many parallel processes")
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
    if a.jobs < 1:
        p.error("--jobs must be at least 1")
    a.protocol = list(dict.fromkeys(a.protocol))  # each protocol once, in the given order
    a.data = list(dict.fromkeys(a.data))
    names = [Path(d).name for d in a.data]
    if len(set(names)) != len(names):
        p.error(f"--data folders need distinct names (report sub-folders): {names}")
    try:
        return _main(a, argv)
    except S2AM3DError as exc:
        log(f"error: {exc}")
        return 1


def _metrics_for(data: str, files: list[Path], asked: list[str] | None) -> tuple[str, ...]:
    """The metrics of one data set: as asked (psb checked), else iou (+ psb if available)."""
    humans = has_human_segs(files[0])
    if asked is None:
        return ("iou", "psb") if humans else ("iou",)
    if "psb" in asked and not humans:
        raise InvalidInputError(f"{data}: --metrics psb needs objects with human_segs "
                                f"({files[0].name} has none)")
    return tuple(m for m in METRICS if m in asked)


def _run_task(cfg: EvalConfig) -> dict:
    """One (data set, protocol) run, logged; usable in a worker process."""
    log(f"[evaluate] {cfg.data} {cfg.protocol} protocol: methods {', '.join(cfg.methods)}, "
        f"metrics {', '.join(cfg.metrics)}")
    return run(cfg)


def _main(a: argparse.Namespace, argv: list[str] | None) -> int:
    from training.report import (
        bench_from_file,
        choose_picture_ids,
        print_table,
        report_folder,
        run_bench,
        write_report,
        write_summary,
    )

    argv = sys.argv if argv is None else argv
    cfgs = []
    n_objects: dict[str, int] = {}
    for data in a.data:
        files = list_objects(data, a.limit)
        n_objects[data] = len(files)
        metrics = _metrics_for(data, files, a.metrics)
        ids = [f.stem for f in files]
        for protocol in a.protocol:
            cfgs.append(EvalConfig(
                data=data, methods=tuple(a.method), protocol=protocol, n_points=a.points,
                seed=a.seed, limit=a.limit, threads=a.threads, weights=a.weights,
                keep_labels_for=choose_picture_ids(ids) if a.report else (), metrics=metrics))
    t0 = time.perf_counter()
    if a.jobs > 1 and len(cfgs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        # the biggest data set first (so the last process to start has the shortest run)
        order = sorted(range(len(cfgs)), key=lambda i: -n_objects[cfgs[i].data])
        with ProcessPoolExecutor(max_workers=min(a.jobs, len(cfgs))) as pool:
            futures = {i: pool.submit(_run_task, cfgs[i]) for i in order}
            outs = [futures[i].result() for i in range(len(cfgs))]
    else:
        outs = [_run_task(c) for c in cfgs]
    t_eval = time.perf_counter() - t0
    results: dict[str, dict[str, dict]] = {}
    bench = None
    if a.report:
        if a.no_bench:
            bench = {"note": "core.bench not run (--no-bench)"}
        elif a.bench_json:
            bench = bench_from_file(Path(a.bench_json))
        else:  # measured once, after the evaluation, shared by every report
            log("[evaluate] running python -m core.bench --json for the report")
            bench = run_bench()
    for cfg, result in zip(cfgs, outs):
        pictures = result.pop("_pictures")
        name = Path(cfg.data).name
        if a.report:
            out = Path(a.report)
            if len(a.data) > 1:
                out = out / report_folder(name) / cfg.protocol
            elif len(a.protocol) > 1:
                out = out / cfg.protocol
            write_report(result, pictures, out, argv=argv, bench=bench)
            log(f"[evaluate] report written to {out}/report.md")
        print_table(result, file=sys.stdout if not a.json else sys.stderr)
        results.setdefault(name, {})[cfg.protocol] = result
    wall = time.perf_counter() - t0
    if a.report and len(cfgs) > 1:
        write_summary(results, Path(a.report), argv=argv, wall_s=wall, eval_s=t_eval,
                      jobs=a.jobs)
        log(f"[evaluate] summary written to {a.report}/summary.md")
    log(f"[evaluate] total wall time {wall:.0f} s (evaluation {t_eval:.0f} s, {a.jobs} job(s))")
    if a.json:
        if len(a.data) > 1:
            out_json = {"datasets": {n: {"protocols": r} for n, r in results.items()},
                        "wall_s": wall}
        else:
            only = next(iter(results.values()))
            out_json = (only[a.protocol[0]] if len(a.protocol) == 1
                        else {"protocols": only, "wall_s": wall})
        print(json.dumps(out_json, allow_nan=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
