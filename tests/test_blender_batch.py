"""The headless batch script from a source checkout, run the way the README shows
(``python scripts/s2am3d_batch.py -- ARGS`` with the bpy module = real Blender)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
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
    proc = _run([str(SCRIPT), "--", "--preview-size", "big"], tmp_path)
    assert proc.returncode == 2 and "--preview-size must be WxH" in proc.stderr
    # refused at parsing, before any import or model load (was a per-object failure, exit 1)
    proc = _run([str(SCRIPT), "--", "--points", "300000"], tmp_path)
    assert proc.returncode == 2
    assert "--points must be between 64 and 200000, got 300000" in proc.stderr
    proc = _run([str(SCRIPT), "--", "--hierarchy", "0.05,abc"], tmp_path)
    assert proc.returncode == 2 and "--hierarchy: 'abc' is not a number" in proc.stderr
    # --parts: a count, never silently combined with a part size
    proc = _run([str(SCRIPT), "--", "--parts", "3", "--scale", "0.2"], tmp_path)
    assert proc.returncode == 2
    assert "--parts and --scale cannot be used together" in proc.stderr, proc.stderr[-2000:]
    proc = _run([str(SCRIPT), "--", "--no-scale", "--parts", "3"], tmp_path)
    assert proc.returncode == 2 and "--parts and --no-scale cannot be used together" in proc.stderr
    proc = _run([str(SCRIPT), "--", "--parts", "0"], tmp_path)
    assert proc.returncode == 2 and "--parts must be a whole number of parts, 1 or more, got 0" \
        in proc.stderr
    proc = _run([str(SCRIPT), "--", "--parts", "3", "--min-part-size", "0.9"], tmp_path)
    assert proc.returncode == 2
    assert "--min-part-size must be between 0 and 0.5, got 0.9" in proc.stderr


def test_batch_parts_gives_that_many_parts_with_extra_scales_after_it(tmp_path):
    v, f, _ = sample_meshes.table()
    obj = tmp_path / "table.obj"
    sample_meshes.write_obj(obj, v, f)
    rep_path = tmp_path / "r.json"
    proc = _run([str(SCRIPT), "--", "--input", str(obj), "--parts", "3", "--hierarchy", "0.6",
                 "--points", "2048", "--threads", "1", "--report", str(rep_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "s2am3d-batch: table: 3 parts (asked for 3)" in proc.stdout
    rep = json.loads(rep_path.read_text())
    assert rep["settings"]["scale"] is None and rep["settings"]["num_parts"] == 3
    (row,) = rep["objects"]
    assert row["parts"] == 3 and row["num_parts_asked"] == 3 and sum(row["sizes"]) == len(f)
    assert [(lv["scale"], lv["num_parts_asked"]) for lv in row["levels"]] == [(None, 3),
                                                                              (0.6, None)]
    main = [n for n in row["created"] if n.startswith("Part.")]
    coarse = [n for n in row["created"] if n.startswith("S0.6.Part.")]
    assert main == ["Part.001", "Part.002", "Part.003"] and coarse
    assert len(main) + len(coarse) == len(row["created"])


def test_batch_warns_about_a_truncated_obj_and_still_segments_it(tmp_path):
    v, f, _ = sample_meshes.table()
    obj = tmp_path / "cut.obj"
    sample_meshes.write_obj(obj, v, f)
    data = obj.read_bytes()
    obj.write_bytes(data[: data.rindex(b"\nf ") + 5])  # ends inside the last face record
    rep_path = tmp_path / "r.json"
    proc = _run([str(SCRIPT), "--", "--input", str(obj), "--points", "2048",
                 "--report", str(rep_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    warn = [ln for ln in proc.stderr.splitlines() if ln.startswith("s2am3d-batch: warning:")]
    assert warn and "cut.obj: the file looks truncated" in warn[0], proc.stderr[-3000:]
    rep = json.loads(rep_path.read_text())
    assert rep["warnings"] and rep["objects"][0]["parts"] >= 1
    # the report's part count is what was written (polygons, not triangles)
    assert len(rep["objects"][0]["created"]) == rep["objects"][0]["parts"]


def _write_stl(path, vertices, quads):
    """ASCII STL of the quads (split into triangles)."""
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    with open(path, "w") as fh:
        fh.write("solid table\n")
        for t in tris:
            a, b, c = vertices[t]
            n = np.cross(b - a, c - a)
            n = n / (np.linalg.norm(n) or 1.0)
            fh.write(f"facet normal {n[0]} {n[1]} {n[2]}\n outer loop\n")
            for p in (a, b, c):
                fh.write(f"  vertex {p[0]} {p[1]} {p[2]}\n")
            fh.write(" endloop\nendfacet\n")
        fh.write("endsolid table\n")


def test_batch_stl_and_blend_inputs_into_objects_with_hierarchy_cycles_preview(tmp_path):
    v, f, _ = sample_meshes.table()
    stl = tmp_path / "stl_table.stl"
    _write_stl(stl, v, f)
    lib = tmp_path / "lib.blend"
    make = textwrap.dedent(f"""
        import bpy
        bpy.ops.wm.read_factory_settings(use_empty=True)
        me = bpy.data.meshes.new("m"); me.from_pydata({v.tolist()!r}, [], {f.tolist()!r})
        ob = bpy.data.objects.new("blend_table", me)
        bpy.context.scene.collection.objects.link(ob)
        bpy.ops.wm.save_as_mainfile(filepath={str(lib)!r})
    """)
    assert _run(["-c", make], tmp_path).returncode == 0
    rep_path, blend = tmp_path / "r.json", tmp_path / "r.blend"
    proc = _run([str(SCRIPT), "--", "--input", str(stl), "--input", str(lib), "--scale", "0.1",
                 "--hierarchy", "0.6", "--output", "objects", "--original", "keep",
                 "--prefix", "p_", "--points", "2048", "--threads", "1",
                 "--report", str(rep_path), "--save", str(blend),
                 "--preview", str(tmp_path / "c.png"), "--preview-engine", "cycles",
                 "--preview-size", "320x240"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rep = json.loads(rep_path.read_text())
    rows = {r["object"]: r for r in rep["objects"]}
    assert set(rows) == {"stl_table", "blend_table"} and rep["failures"] == []
    for row in rows.values():
        assert [lv["scale"] for lv in row["levels"]] == [0.1, 0.6]
        assert len({sum(lv["sizes"]) for lv in row["levels"]}) == 1  # both cover every face
        fine = [n for n in row["created"] if ".p_Part." in n]
        coarse = [n for n in row["created"] if ".p_S0.6.Part." in n]
        assert fine and coarse and len(fine) + len(coarse) == len(row["created"])
    assert sum(rows["blend_table"]["sizes"]) == len(f)  # quads kept as quads from .blend
    check = textwrap.dedent(f"""
        import bpy, json
        bpy.ops.wm.open_mainfile(filepath={str(blend)!r})
        out = {{}}
        for c in bpy.data.collections:
            out[c.name] = [sorted(o.name for o in c.objects), sorted(k.name for k in c.children)]
        vis = {{o.name: o.hide_get() for o in bpy.data.objects if "s2am3d_part_of" not in o}}
        print("RESULT " + json.dumps([out, vis]))
    """)
    res = _run(["-c", check], tmp_path)
    colls, vis = json.loads([ln for ln in res.stdout.splitlines()
                             if ln.startswith("RESULT")][0][7:])
    assert colls["blend_table parts"][1] == ["blend_table parts s=0.6"]
    assert colls["blend_table parts s=0.6"][0] == sorted(
        n for n in rows["blend_table"]["created"] if ".p_S0.6." in n)
    assert vis == {"stl_table": False, "blend_table": False}  # --original keep
    from PIL import Image

    img = np.asarray(Image.open(tmp_path / "c.png").convert("RGB"))
    assert img.shape == (240, 320, 3)
    img = img.reshape(-1, 3)
    assert len(np.unique(img // 32, axis=0)) >= 4  # a Cycles render with several part colours


def test_batch_parts_with_a_smallest_part_size(tmp_path):
    """``--min-part-size`` with ``--parts``: only parts that large count, so a table asked
    for 8 parts of at least 10 % of its surface gets fewer, larger parts."""
    v, f, _ = sample_meshes.table()
    obj = tmp_path / "table.obj"
    sample_meshes.write_obj(obj, v, f)
    counts = {}
    for size in ("0", "0.1"):
        rep_path = tmp_path / f"r{size}.json"
        proc = _run([str(SCRIPT), "--", "--input", str(obj), "--parts", "8", "--min-part-size",
                     size, "--points", "2048", "--threads", "1", "--report", str(rep_path)],
                    tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        rep = json.loads(rep_path.read_text())
        assert rep["settings"]["min_part_size"] == float(size)
        counts[size] = rep["objects"][0]["parts"]
    assert counts["0"] == 8
    assert 1 <= counts["0.1"] < 8
