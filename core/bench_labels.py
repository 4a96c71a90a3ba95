"""Benchmark: mesh → per-face labels on a huge mesh (bounded memory), as one JSON object.

``python -m core.bench_labels --faces 5000000 --json`` builds a procedural mesh of about
``--faces`` triangles (a wavy plate of separate strips plus a field of small blocks),
loads the bundled weights, and reports:

* ``set_mesh_ms``: sampling + encoder + anchors (once per mesh);
* ``first_click_ms``: the first ``predict`` (builds the welded regions and the
  face → point map, once per mesh);
* ``click_ms``, ``segment_all_ms``: medians over ``--runs`` runs (Segment All at the same
  scale, so the conditioned features are cached and this is decode + mesh work);
* ``peak_rss_mb``: peak resident memory of the process (includes the mesh itself,
  ``mesh_mb``).

``python -m core.bench_labels --blender --faces 2000000`` measures the add-on's own path
instead, in real Blender (the ``bpy`` module of this environment): Suzanne subdivided
(Subdivision Surface applied) to at least ``--faces`` polygons (level 6: 2,015,232) is
saved to a temporary .blend, then a fresh process opens it and runs Segment All at
``--scale`` (default 0.2: 10 parts; 0.02 gives 60, more borders) into vertex groups through
``s2am3d_blender.runner.run_sync`` (mesh read, encode, segment, write), and
reports ``segment_s``, ``rss_after_open_mb`` (Blender + the mesh, before the add-on runs)
and ``peak_rss_mb`` of that process, with ``peak_budget_mb`` (:data:`BLENDER_PEAK_BUDGET_MB`)
and ``within_budget``. ``core`` itself never imports bpy: the Blender code runs in the
subprocesses only. ``make bench`` includes it (``python -m core.bench``).

This is a script, not a test: speed targets live here, not in timed tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: Memory target of the add-on's Segment All on 2M-polygon Suzanne in Blender (MB, peak
#: RSS of the whole Blender process, mesh included); the ``--blender`` run reports it.
BLENDER_PEAK_BUDGET_MB = 1500


def huge_mesh(target_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """About ``target_faces`` triangles: 4 separate wavy strips (a grid per strip)."""
    strips = 4
    per = max(target_faces // (2 * strips), 1)
    nx = max(int(np.sqrt(per * 4)), 2)
    ny = max(per // nx, 1)
    verts, faces, off = [], [], 0
    for s in range(strips):
        xs = np.linspace(0.0, 4.0, nx + 1)
        ys = np.linspace(0.0, 1.0, ny + 1) + 1.1 * s
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        z = 0.1 * np.sin(3.0 * gx) * np.cos(2.0 * gy)
        verts.append(np.stack([gx.ravel(), gy.ravel(), z.ravel()], 1))
        i = (np.arange(nx)[:, None] * (ny + 1) + np.arange(ny)[None, :]).ravel()
        faces.append(off + np.concatenate([np.stack([i, i + ny + 1, i + 1], 1),
                                           np.stack([i + 1, i + ny + 1, i + ny + 2], 1)]))
        off += (nx + 1) * (ny + 1)
    return np.concatenate(verts), np.concatenate(faces).astype(np.int64)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(faces: int, runs: int, threads: int, backend: str) -> dict:
    from core import Segmenter

    v, f = huge_mesh(faces)
    out: dict = {"faces": int(len(f)), "mesh_mb": round((v.nbytes + f.nbytes) / 2**20, 1)}
    seg = Segmenter.from_pretrained(backend=backend, num_threads=threads)
    out["backend"] = seg.backend.name
    t = time.perf_counter()
    seg.set_mesh(v, f, n_points=10_000, seed=0)
    out["set_mesh_ms"] = round(1000 * (time.perf_counter() - t), 1)
    t = time.perf_counter()
    seg.predict([(0, True)], scale=0.2)
    out["first_click_ms"] = round(1000 * (time.perf_counter() - t), 1)

    def median_ms(fn) -> float:
        ts = []
        for i in range(runs):
            t0 = time.perf_counter()
            fn(i)
            ts.append(1000 * (time.perf_counter() - t0))
        return round(statistics.median(ts), 1)

    out["click_ms"] = median_ms(lambda i: seg.predict([(17 * i + 1, True)], scale=0.2))
    res = seg.segment_all(scale=0.2)
    out["segment_all_ms"] = median_ms(lambda i: seg.segment_all(scale=0.2))
    out["segment_all_parts"] = int(res.num_parts)
    out["every_face_labelled"] = bool((res.face_labels >= 0).all())
    out["peak_rss_mb"] = round(_peak_mb(), 1)
    return out


_MAKE_SUZANNE = """
import bpy, sys
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.mesh.primitive_monkey_add()
ob = bpy.context.active_object
ob.name = "Suzanne"
mod = ob.modifiers.new("subdivide", "SUBSURF")
mod.levels = mod.render_levels = int(sys.argv[1])
bpy.ops.object.modifier_apply(modifier=mod.name)
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[2])
"""

_SEGMENT_SUZANNE = """
import json, resource, sys, time
import bpy
sys.path.insert(0, sys.argv[3])
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
from s2am3d_blender import engine, runner
def mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base = mb()
ob = bpy.data.objects["Suzanne"]
spec = runner.RunSpec(engine.ModelOptions(num_threads=int(sys.argv[2])),
                      engine.SegmentOptions(scale=float(sys.argv[4]), n_points=10000),
                      mode="groups")
t = time.perf_counter()
rows, failed = runner.run_sync([ob], spec, bpy.context.evaluated_depsgraph_get())
out = {"faces": len(ob.data.polygons), "segment_s": round(time.perf_counter() - t, 1),
       "parts": rows[0]["parts"] if rows else None, "failed": failed,
       "rss_after_open_mb": round(base, 1), "peak_rss_mb": round(mb(), 1)}
print("RESULT " + json.dumps(out), flush=True)
"""


def blender_run(faces: int, threads: int, scale: float = 0.2) -> dict:
    """Segment All at ``scale`` on Suzanne subdivided to at least ``faces`` polygons, in
    real Blender (two subprocesses of this Python, which needs the ``bpy`` module); see the
    docstring."""
    level, n = 1, 1968  # Suzanne's polygons after one subdivision level; x4 per level
    while n < faces:
        level, n = level + 1, n * 4
    repo = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory() as tmp:
        blend = os.path.join(tmp, "suzanne.blend")
        subprocess.run([sys.executable, "-c", _MAKE_SUZANNE, str(level), blend], check=True,
                       capture_output=True, env=env)
        proc = subprocess.run([sys.executable, "-c", _SEGMENT_SUZANNE, blend, str(threads),
                               repo, str(scale)], capture_output=True, text=True, env=env,
                              cwd=repo)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no result"])[-1]}
    out = {"subdivision_level": level, "scale": scale, **json.loads(lines[-1][7:])}
    out["peak_budget_mb"] = BLENDER_PEAK_BUDGET_MB
    out["within_budget"] = out["peak_rss_mb"] <= BLENDER_PEAK_BUDGET_MB
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=5_000_000, help="triangles in the mesh")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per median (>= 5)")
    ap.add_argument("--threads", type=int, default=2, help="backend CPU threads")
    ap.add_argument("--backend", default="onnx", help="auto, onnx or torch")
    ap.add_argument("--json", action="store_true", help="compact JSON")
    ap.add_argument("--scale", type=float, default=0.2,
                    help="--blender: Segment All's scale (smaller = more parts, more borders)")
    ap.add_argument("--blender", action="store_true",
                    help="the add-on's path in real Blender on subdivided Suzanne (bpy module)")
    a = ap.parse_args(argv)
    if a.runs < 5:
        ap.error("--runs must be >= 5 (medians)")
    if a.blender:
        out = blender_run(a.faces, a.threads, a.scale)
    else:
        out = run(a.faces, a.runs, a.threads, a.backend)
    json.dump(out, sys.stdout, indent=None if a.json else 2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
