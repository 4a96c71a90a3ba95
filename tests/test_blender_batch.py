"""The headless batch script from a source checkout, run the way the README shows
(``python scripts/s2am3d_batch.py -- ARGS`` with the bpy module = real Blender)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.blender, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "s2am3d_batch.py"
sys.path.insert(0, str(REPO / "scripts"))

import sample_meshes  # noqa: E402


def _run(args, cwd):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=400)


def test_batch_segments_good_inputs_and_reports_bad_ones(tmp_path, shared_data):
    v, f, _ = sample_meshes.table()
    obj = tmp_path / "table.obj"
    sample_meshes.write_obj(obj, v, f)
    bad = tmp_path / "notes.txt"
    bad.write_text("not a mesh")
    ply = shared_data / "demo" / "rhino.ply"
    out = tmp_path / "out"
    proc = _run([str(SCRIPT), "--", "--input", str(obj), "--input", str(tmp_path / "missing.obj"),
                 "--input", str(bad), "--input", str(ply), "--scale", "0.3", "--points", "2048",
                 "--output", "groups", "--save", str(out / "r.blend"),
                 "--report", str(out / "r.json"), "--preview", str(out / "r.png")], tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("s2am3d-batch:")]
    assert any("missing.obj: file not found" in ln for ln in errors), proc.stderr[-3000:]
    assert any("notes.txt: unsupported file type" in ln for ln in errors)
    rep = json.loads((out / "r.json").read_text())
    rows = {r["object"]: r for r in rep["objects"]}
    assert set(rows) == {"table", "rhino"}
    assert not rows["table"]["point_cloud"] and rows["rhino"]["point_cloud"]
    assert sum(rows["table"]["sizes"]) == len(f)  # every face is in a part
    assert sum(rows["rhino"]["sizes"]) == 10000
    assert rows["table"]["timings"]["encode_s"] > 0 and rep["model"]["trained"] in (True, False)
    assert len(rep["failures"]) == 2
    assert (out / "r.png").stat().st_size > 10000
    # the saved file holds the groups
    check = textwrap.dedent(f"""
        import bpy, json
        bpy.ops.wm.open_mainfile(filepath={str(out / "r.blend")!r})
        print("RESULT " + json.dumps({{o.name: [g.name for g in o.vertex_groups]
                                      for o in bpy.data.objects if o.type == "MESH"}}))
    """)
    res = _run(["-c", check], tmp_path)
    groups = json.loads([ln for ln in res.stdout.splitlines() if ln.startswith("RESULT")][0][7:])
    assert groups["table"] == rows["table"]["created"] and len(groups["table"]) >= 2
    assert groups["rhino"] == rows["rhino"]["created"]


def test_batch_uses_the_open_blend_file_without_inputs(tmp_path):
    v, f, _ = sample_meshes.table()
    blend = tmp_path / "scene.blend"
    make = textwrap.dedent(f"""
        import bpy
        bpy.ops.wm.read_factory_settings(use_empty=True)
        me = bpy.data.meshes.new("t"); me.from_pydata({v.tolist()!r}, [], {f.tolist()!r})
        ob = bpy.data.objects.new("t", me); bpy.context.scene.collection.objects.link(ob)
        bpy.ops.wm.save_as_mainfile(filepath={str(blend)!r})
    """)
    assert _run(["-c", make], tmp_path).returncode == 0
    # `blender -b scene.blend --python script -- ARGS` == open the file, then run the script
    run = textwrap.dedent(f"""
        import bpy, runpy, sys
        bpy.ops.wm.open_mainfile(filepath={str(blend)!r})
        sys.argv = [{str(SCRIPT)!r}, "--", "--no-scale", "--points", "2048",
                    "--output", "attribute", "--report", {str(tmp_path / "r.json")!r}]
        runpy.run_path({str(SCRIPT)!r}, run_name="__main__")
    """)
    proc = _run(["-c", run], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rep = json.loads((tmp_path / "r.json").read_text())
    assert [r["object"] for r in rep["objects"]] == ["t"]
    assert rep["settings"]["scale"] is None and rep["objects"][0]["created"] == []


def test_batch_bad_arguments_exit_2(tmp_path):
    proc = _run([str(SCRIPT), "--", "--scale", "3"], tmp_path)
    assert proc.returncode == 2 and "--scale must be in [0, 1]" in proc.stderr
