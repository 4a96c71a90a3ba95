"""Speed and memory benchmark of both backends: ``python -m core.bench [--json] [--runs 5]``.

Prints one JSON object: for each backend ("torch", "onnx") the median wall time in
milliseconds over ``--runs`` runs (after one warm-up) of

* ``encoder_ms``: the encoder on 10,000 points;
* ``anchors_ms``: farthest-point anchors + kNN graph of those points (numpy, backend-free);
* ``click_ms``: one decode of a single click on a cached conditioning (a point-cloud click
  without a scale);
* ``scale_change_ms``: condition at a new scale + one click decode;
* ``segment_all_ms``: ``Segmenter.segment_all`` at a new scale on a procedural mesh of
  ~100,000 faces (after ``set_mesh``; ``set_mesh_ms`` is reported separately), or
  ``"missing: ..."`` when the predictor cannot be imported or fails;
* ``tree_build_ms``: superfaces + dissimilarities + merge tree of that mesh (once per mesh,
  on the first click or Segment All); ``mesh_click_ms``: a click with a scale on it (new
  click each run); ``mesh_scale_change_ms``: the same click at a new scale (meshes are
  answered by the merge tree, not the decoder); ``points_graph_ms``,
  ``points_click_ms``, ``points_scale_change_ms``: the same 10,000 samples as a point
  cloud: its surface reading and k-NN growth graph (once), a click with a scale (new click each run; the
  growth of :mod:`core.point_growth`, not the decoder), the same click at a new scale;
  ``points_tree_ms``: the point cloud's merge tree (:mod:`core.point_tree`, once per
  cloud, on its first Segment All); ``points_segment_all_ms``: Segment All on it at a new
  scale; ``segment_all_count_ms``: Segment All into k parts on the mesh (k = 2–8, after
  the first); ``blob_count_tree_ms`` / ``blob_count_ms``: the same on a smooth one-piece
  mesh, where the first count builds the spectral tree (:func:`blob_mesh`);
  ``blob_mesh_tree_ms``: that mesh's superfaces and merge tree, once per mesh (a one-piece
  mesh's tree includes the randomized-cuts consensus, :mod:`core.consensus`);
  ``blob_click_ms``: a click with a scale on it (new click each run; a one-piece click
  also looks for the clicked part's twins, :mod:`core.twins`); ``blob_segment_all_ms``:
  Segment All at a new scale on it (with the face-level borders of
  :mod:`core.boundaries`);
* ``peak_rss_mb``: peak resident memory of the process that ran that backend alone (each
  backend runs in its own subprocess, so the ONNX figure never includes torch);
* ``cpu_ms``: for the same measurements, the median CPU time of the process per run (all
  its threads together). Other processes on a shared machine stretch wall times by
  taking cores away; CPU time is much less affected, so it tells what a run costs when
  the load average is high (on a 2-core machine wall time is at least cpu_ms / 2).

* ``blender``: the Blender add-on's Segment All (mesh read, encode, segment, vertex
  groups written) on Suzanne subdivided to 2,015,232 polygons, in real Blender:
  ``segment_s`` and ``peak_rss_mb`` of that process against ``peak_budget_mb`` (1,500 MB;
  ``within_budget``) (``python -m core.bench_labels --blender``; ``--blender-faces 0``
  skips it).

Workers run with ``OMP_WAIT_POLICY=PASSIVE`` unless set (see ``main``). The 1-minute load
average before and after is included: on a shared machine other
processes inflate wall times, so compare numbers taken under similar load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

N_POINTS = 10_000


def bench_mesh(target_faces: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic multi-part "table" mesh with about ``target_faces`` triangles.

    A slab top, four legs and a sphere ornament, each a separate connected piece.
    """
    import trimesh

    parts = []
    top = trimesh.creation.box(extents=(2.0, 1.2, 0.08))
    top.apply_translation((0, 0, 0.8))
    parts.append(top)
    for sx in (-0.9, 0.9):
        for sy in (-0.5, 0.5):
            leg = trimesh.creation.cylinder(radius=0.04, height=0.76, sections=64)
            leg.apply_translation((sx, sy, 0.38))
            parts.append(leg)
    ball = trimesh.creation.icosphere(subdivisions=4, radius=0.15)
    ball.apply_translation((0, 0, 0.99))
    parts.append(ball)
    mesh = trimesh.util.concatenate(parts)
    while len(mesh.faces) * 4 <= target_faces:
        mesh = mesh.subdivide()
    if len(mesh.faces) < target_faces:  # subdivide the largest faces to reach the target
        need = (target_faces - len(mesh.faces)) // 3
        order = np.argsort(-mesh.area_faces)[:need]
        mesh = mesh.subdivide(face_index=order)
    return np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)


#: CPU-time medians of the last measurements, by name (filled by ``_median_ms``)
_CPU_MS: dict[str, float] = {}


def _median_ms(fn: Callable[[int], Any], runs: int, name: str | None = None) -> float:
    """Median wall time (ms) of ``runs`` calls after one warm-up; with ``name``, the
    median process CPU time goes into ``_CPU_MS[name]``."""
    fn(-1)  # warm-up
    times, cpu = [], []
    for i in range(runs):
        c = time.process_time()
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    if name is not None:
        _CPU_MS[name] = round(statistics.median(cpu), 2)
    return round(statistics.median(times), 2)


def run_backend(name: str, runs: int, threads: int) -> dict[str, Any]:
    """All measurements for one backend, in this process."""
    from .anchors import prepare_anchors
    from .backends import load_backend
    from .geometry import normalize_points, sample_surface

    vertices, faces = bench_mesh()
    backend = load_backend(backend=name, num_threads=threads)
    cfg = backend.config
    pts, _ = sample_surface(vertices, faces, N_POINTS, seed=0)
    xyz = normalize_points(pts)
    out: dict[str, Any] = {"points": N_POINTS, "mesh_faces": int(len(faces))}
    out["anchors_ms"] = _median_ms(
        lambda i: prepare_anchors(xyz, cfg.num_anchors, cfg.knn_k, seed=0), runs, "anchors"
    )
    graph = prepare_anchors(xyz, cfg.num_anchors, cfg.knn_k, seed=0)
    out["encoder_ms"] = _median_ms(lambda i: backend.encode(xyz), runs, "encoder")
    feats = backend.encode(xyz)
    cond = backend.condition(feats, xyz, graph, 0.2)
    one = np.ones((1, 1), np.float32)
    rng = np.random.default_rng(0)
    clicks = rng.integers(0, N_POINTS, size=(runs + 1, 1, 1))
    out["click_ms"] = _median_ms(lambda i: backend.decode(cond, clicks[i], one), runs, "click")

    def scale_change(i: int) -> None:
        c = backend.condition(feats, xyz, graph, 0.05 + 0.9 * (i + 1) / (runs + 1))
        backend.decode(c, clicks[i], one)

    out["scale_change_ms"] = _median_ms(scale_change, runs, "scale_change")
    out.update(_segment_all(name, threads, vertices, faces, runs))
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["cpu_ms"] = dict(_CPU_MS)
    out["torch_imported"] = "torch" in sys.modules
    return out


def _segment_all(name: str, threads: int, vertices: np.ndarray, faces: np.ndarray,
                 runs: int) -> dict[str, Any]:
    try:
        from . import Segmenter
    except Exception as exc:  # the predictor is another module's job; report, never invent
        return {"segment_all_ms": f"missing: cannot import Segmenter ({exc})"}
    try:
        seg = Segmenter.from_pretrained(backend=name, num_threads=threads)
        t = time.perf_counter()
        seg.set_mesh(vertices, faces, n_points=N_POINTS, seed=0)
        set_mesh_ms = round((time.perf_counter() - t) * 1e3, 2)
        t = time.perf_counter()
        seg.mesh_parts()  # superfaces + affinity + merge tree, once per mesh
        tree_ms = round((time.perf_counter() - t) * 1e3, 2)
        clicks = np.random.default_rng(1).integers(0, N_POINTS, size=runs + 1)
        mesh_click = _median_ms(lambda i: seg.predict([(int(clicks[i]), True)], scale=0.2),
                                runs, "mesh_click")
        mesh_scale = _median_ms(
            lambda i: seg.predict([(int(clicks[0]), True)], scale=0.05 + 0.1 * ((i + 1) % 9)), runs,
            "mesh_scale_change")
        parts: list[int] = []

        def once(i: int) -> None:
            res = seg.segment_all(scale=0.1 + 0.5 * (i + 1) / (runs + 1))
            parts.append(int(res.num_parts))

        ms = _median_ms(once, runs, "segment_all")
        count_ms = _median_ms(lambda i: seg.segment_all(num_parts=2 + (i + 1) % 7), runs,
                              "segment_all_count")
        seg.set_points(seg.points)  # the same samples as a point cloud (no faces)
        t = time.perf_counter()
        _ = seg.cloud_parts().growth  # surface reading + k-NN graph, once per point cloud
        graph_ms = round((time.perf_counter() - t) * 1e3, 2)
        pc_click = _median_ms(lambda i: seg.predict([(int(clicks[i]), True)], scale=0.2),
                              runs, "points_click")
        pc_scale = _median_ms(
            lambda i: seg.predict([(int(clicks[0]), True)], scale=0.05 + 0.1 * ((i + 1) % 9)),
            runs, "points_scale_change")
        t = time.perf_counter()
        _ = seg.cloud_parts().tree  # once per point cloud
        ptree_ms = round((time.perf_counter() - t) * 1e3, 2)
        pc_all = _median_ms(lambda i: seg.segment_all(scale=0.1 + 0.5 * (i + 1) / (runs + 1)),
                            runs, "points_segment_all")
    except Exception as exc:
        return {"segment_all_ms": f"missing: segment_all failed ({type(exc).__name__}: {exc})"}
    return {"set_mesh_ms": set_mesh_ms, "tree_build_ms": tree_ms, "mesh_click_ms": mesh_click,
            "mesh_scale_change_ms": mesh_scale, "segment_all_ms": ms,
            "segment_all_count_ms": count_ms, **_one_piece_counts(seg, runs),
            "segment_all_parts": parts, "points_graph_ms": graph_ms,
            "points_click_ms": pc_click, "points_scale_change_ms": pc_scale,
            "points_tree_ms": ptree_ms, "points_segment_all_ms": pc_all}


def blob_mesh() -> tuple[np.ndarray, np.ndarray]:
    """A deterministic smooth one-piece mesh of 81,920 faces (a bumpy, stretched sphere):
    the case where a part count builds the spectral tree (:mod:`core.part_count`)."""
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=6)
    v = np.asarray(m.vertices, np.float64).copy()
    v *= 1.0 + 0.3 * np.sin(3.0 * v[:, :1]) * np.cos(2.0 * v[:, 1:2])
    v[:, 2] *= 1.8
    return v, np.asarray(m.faces, np.int64)


def _one_piece_counts(seg, runs: int) -> dict[str, Any]:
    """On :func:`blob_mesh`: ``blob_mesh_tree_ms`` (superfaces + consensus + merge tree,
    once per mesh), ``blob_count_tree_ms`` (the spectral tree, once per mesh, on its first
    part count), ``blob_click_ms`` (a click with a scale, new click each run: the growth
    with its search for twin parts, :mod:`core.twins`), ``blob_segment_all_ms`` (Segment
    All at a new scale of 0.06-0.10, with its face-level borders, :mod:`core.boundaries`)
    and ``blob_count_ms`` (Segment All into k parts afterwards)."""
    v, f = blob_mesh()
    seg.set_mesh(v, f, n_points=N_POINTS, seed=0)
    t = time.perf_counter()
    seg.mesh_parts()
    mesh_tree_ms = round((time.perf_counter() - t) * 1e3, 2)
    blob_click = _median_ms(lambda i: seg.predict([((i + 1) * 997 % N_POINTS, True)],
                                                  scale=0.2), runs, "blob_click")
    blob_all = _median_ms(lambda i: seg.segment_all(scale=0.05 + 0.01 * (i + 1)), runs,
                          "blob_segment_all")
    t = time.perf_counter()
    seg.segment_all(num_parts=5)
    tree_ms = round((time.perf_counter() - t) * 1e3, 2)
    count_ms = _median_ms(lambda i: seg.segment_all(num_parts=2 + (i + 1) % 7), runs,
                          "blob_count")
    return {"blob_faces": int(len(f)), "blob_mesh_tree_ms": mesh_tree_ms,
            "blob_click_ms": blob_click, "blob_segment_all_ms": blob_all,
            "blob_count_tree_ms": tree_ms,
            "blob_count_ms": count_ms}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="benchmark the torch and ONNX Runtime backends")
    ap.add_argument("--json", action="store_true", help="print compact JSON (default: indented)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per measurement (>= 5)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads per backend")
    ap.add_argument("--backends", default="torch,onnx", help="comma-separated backends")
    ap.add_argument("--blender-faces", type=int, default=2_000_000,
                    help="polygons of the Blender add-on measurement (0 = skip it)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.runs < 5:
        ap.error("--runs must be at least 5 (medians over >= 5 runs)")
    if args.worker:
        print(json.dumps(run_backend(args.worker, args.runs, args.threads)))
        return
    result: dict[str, Any] = {
        "runs": args.runs, "threads": args.threads, "load_avg_1min_before": os.getloadavg()[0],
    }
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    # torch's OpenMP threads busy-wait by default; on a shared CPU that made torch 10-40x
    # slower here (click 1324 ms vs 30 ms passive). ONNX Runtime runs without spinning too.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for name in args.backends.split(","):
        proc = subprocess.run(
            [sys.executable, "-m", "core.bench", "--worker", name, "--runs", str(args.runs),
             "--threads", str(args.threads)],
            capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1],
        )
        if proc.returncode != 0:
            result[name] = {"error": proc.stderr.strip().splitlines()[-1:]}
        else:
            result[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    if args.blender_faces > 0:
        from core.bench_labels import blender_run

        result["blender"] = blender_run(args.blender_faces, args.threads)
    result["load_avg_1min_after"] = os.getloadavg()[0]
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
