"""`make demo`: segment two sample meshes headlessly with the bundled model.

Runs real Blender (the bpy module) through the same code path as the batch script
(``s2am3d_blender.batch``): imports the Cesium Milk Truck glTF (its meshes joined into one
object) and a procedural table built here, runs Segment All at scale 0.2 into vertex
groups (plus the ``part`` face attribute and colours), and writes

* ``out/demo.blend`` — the scene with the parts,
* ``out/demo.json`` — per object: parts, part sizes, timings; whether the model is trained,
* ``out/demo.png``  — a Workbench render coloured by part.

Usage: ``.venv/bin/python scripts/demo.py [--scale S] [--points N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

import sample_meshes  # noqa: E402

TRUCK = REPO.parent / "shared" / "data" / "demo" / "CesiumMilkTruck.glb"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.2)
    ap.add_argument("--points", type=int, default=10000)
    ap.add_argument("--out", default=str(REPO / "out"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table_obj = out / "demo_table.obj"
    v, f, _ = sample_meshes.table()
    v = v * 1.5 + [1.0, -4.0, 0.0]  # beside the truck (which sits at the origin), not inside it
    sample_meshes.write_obj(table_obj, v, f)
    inputs = [str(table_obj)]
    if TRUCK.is_file():
        inputs.insert(0, str(TRUCK))
    else:
        print(f"demo: {TRUCK} not found; segmenting the procedural table only")

    from s2am3d_blender import batch  # imports bpy: real Blender

    argv = []
    for path in inputs:
        argv += ["--input", path]
    argv += ["--join", "--scale", str(args.scale), "--points", str(args.points),
             "--output", "groups", "--save", str(out / "demo.blend"),
             "--report", str(out / "demo.json"), "--preview", str(out / "demo.png")]
    code = batch.main(argv)
    report = json.loads((out / "demo.json").read_text())
    print(f"demo: model trained = {report['model']['trained']}")
    for row in report["objects"]:
        print(f"demo: {row['object']}: {row['parts']} parts, faces per part {row['sizes']}, "
              f"encode {row['timings']['encode_s']:.2f} s, segment {row['timings']['segment_s']:.2f} s")
    for name in ("demo.blend", "demo.json", "demo.png"):
        p = out / name
        print(f"demo: wrote {os.path.relpath(p)} ({p.stat().st_size} bytes)")
    return code


if __name__ == "__main__":
    sys.exit(main())
