"""The built extension, installed into a temporary Blender user folder and driven through
its registered operators in real Blender (bpy 5.0), in processes that see only Blender's
own Python modules (bpy + numpy): everything else must come from the zip's wheels.

The linux-x64 zips are built once per test session (``python build.py --platform
linux-x64``: one zip per Python ABI; wheels are cached in ``.cache/wheels``); the cp311 one
(Blender 4.2-5.0) is installed once with
``bpy.ops.extensions.package_install_files``; each scenario then runs in a fresh process
and prints one ``RESULT <json>`` line that the tests check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.blender, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SITE = Path(next(p for p in sys.path if p.endswith("site-packages") and "bpy" in os.listdir(p)))
MODULE = "bl_ext.user_default.s2am3d"
TIMEOUT = 400

# Runs first in every scenario process: drop the venv's site-packages (onnxruntime, scipy,
# torch, the repo's core ...) and expose only bpy and numpy, as Blender's own Python does.
PRELUDE = """
import importlib.abc, json, os, sys
SITE = {site!r}
sys.path = [p for p in sys.path if not p.startswith(SITE) and p not in ("", {repo!r})]
sys.path.append({shim!r})
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("core", "training", "torch"):
            raise ImportError("blocked in the Blender-like test process: " + name)
sys.meta_path.insert(0, _Block())
import bpy, numpy as np
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.preferences.addon_enable(module={module!r})
EXT = sys.modules[{module!r}]
import importlib
def sub(name):
    return importlib.import_module({module!r} + "." + name)
PREFS = bpy.context.preferences.addons[{module!r}].preferences
RESULT = {{}}
def emit():
    print("RESULT " + json.dumps(RESULT), flush=True)

def make_table(name="table", materials=True, uv=True, custom_normals=False):
    v, f, part = sample_table()
    me = bpy.data.meshes.new(name)
    me.from_pydata(v.tolist(), [], f.tolist())
    if materials:
        for mname in ("wood", "metal"):
            me.materials.append(bpy.data.materials.get(mname) or bpy.data.materials.new(mname))
        me.polygons.foreach_set("material_index", (part > 0).astype(np.int32))
    if uv:
        uvl = me.uv_layers.new(name="UVMap")
        co = np.empty(len(me.loops) * 2, np.float32)
        co[:] = np.linspace(0, 1, len(co))
        uvl.data.foreach_set("uv", co)
    me.update()
    if custom_normals:
        me.normals_split_custom_set_from_vertices([(0.0, 0.0, 1.0)] * len(me.vertices))
    ob = bpy.data.objects.new(name, me)
    bpy.context.scene.collection.objects.link(ob)
    return ob

def sample_table():
    sys.path.insert(0, {scripts!r})
    import sample_meshes
    sys.path.pop(0)
    return sample_meshes.table()

def activate(ob, others=()):
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    bpy.context.view_layer.objects.active = ob
    if ob is not None:
        ob.select_set(True)
    for o in others:
        o.select_set(True)

def groups_of(ob):
    out = {{}}
    for vg in ob.vertex_groups:
        out[vg.name] = []
    for v in ob.data.vertices:
        for g in v.groups:
            out[ob.vertex_groups[g.group].name].append((v.index, round(g.weight, 4)))
    return out

def state_of(ob):
    me = ob.data
    ac = me.color_attributes.active_color
    return {{
        "groups": groups_of(ob),
        "attributes": sorted(a.name for a in me.attributes),
        "materials": [m.name for m in me.materials],
        "material_index": [p.material_index for p in me.polygons],
        "active_color": ac.name if ac else None,
        "props": sorted(ob.keys()) + sorted("me:" + k for k in me.keys()),
        "hash": sub("mesh_io").geometry_hash(ob),
        "objects": sorted(o.name for o in bpy.data.objects),
        "hidden": ob.hide_get(),
    }}

def add_user_data(ob, verts):
    # a user vertex group (weight 0.5 on verts) and a user point attribute
    ob.vertex_groups.new(name="user_vg").add(list(verts), 0.5, "REPLACE")
    a = ob.data.attributes.new("user_attr", "FLOAT", "POINT")
    a.data.foreach_set("value", np.arange(len(ob.data.vertices), dtype=np.float32))

def segment_all_undoably():
    # Segment All with the undo steps the UI would push around it: operators called from
    # Python in background mode push none themselves (Blender does that for UI/event
    # calls of UNDO operators: ED_undo_push with the operator's name)
    bpy.ops.ed.undo_push(message="initial")
    bpy.ops.ed.undo_push(message="before")
    done = sorted(bpy.ops.s2am3d.segment_all())
    bpy.ops.ed.undo_push(message="Segment All")
    return done

def settings(**kw):
    s = bpy.context.scene.s2am3d
    s.n_points = 2048
    for k, v in kw.items():
        setattr(s, k, v)
    return s

class Rec:
    # a recording layout: what a panel draws (labels, properties, operators), in order
    def __init__(self, log): self.log = log
    def box(self): return Rec(self.log)
    def column(self, **kw): return Rec(self.log)
    def row(self, **kw): return Rec(self.log)
    def label(self, text="", **kw): self.log.append(("label", text))
    def prop(self, data, name, **kw): self.log.append(("prop", name))
    def operator(self, idname, **kw): self.log.append(("operator", idname))

def draw_panel():
    log = []
    fake = type("P", (), {{}})()
    fake.layout = Rec(log)
    bpy.types.S2AM3D_PT_parts.draw(fake, bpy.context)
    return log
"""


def _shim(tmp: Path, site: Path = SITE) -> Path:
    """A folder exposing only ``site``'s bpy and numpy (what Blender's own Python has)."""
    shim = tmp / "blender_like_site"
    shim.mkdir(exist_ok=True)
    for name in ("bpy", "numpy", "numpy.libs"):
        if (site / name).exists() and not (shim / name).exists():
            (shim / name).symlink_to(site / name)
    return shim


_ZIPS: dict[str, Path] = {}


def linux_zips(out: Path) -> dict[str, Path]:
    """``{"py311": zip, "py313": zip}``: the linux-x64 zips, built into ``out`` once per
    pytest process (the version-matrix tests share them)."""
    if not _ZIPS:
        proc = subprocess.run([sys.executable, "build.py", "--platform", "linux-x64",
                               "--out", str(out)], cwd=REPO, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        for z in out.glob("s2am3d-*-linux-x64-py3*.zip"):
            _ZIPS[z.stem.rsplit("-", 1)[1]] = z
    assert sorted(_ZIPS) == ["py311", "py313"], _ZIPS
    return dict(_ZIPS)


@pytest.fixture(scope="session")
def built_zip(tmp_path_factory) -> Path:
    """The zip for Python 3.11 (Blender 4.2-5.0), which this venv's bpy 5.0 installs."""
    return linux_zips(tmp_path_factory.getbasetemp() / "dist")["py311"]


def install_env(zip_path: Path, tmp: Path, python: str = sys.executable, site: Path = SITE,
                must_install: bool = True):
    """Install ``zip_path`` into a fresh Blender user folder under ``tmp`` with the Blender
    (bpy module) of ``python`` whose site-packages is ``site``. Returns ``(env, run, tmp)``:
    ``run(body)`` executes a scenario in a Blender-like process of that Python and returns
    its RESULT dict. With ``must_install`` False, the install's own RESULT is returned as
    ``env["install_result"]`` instead of being asserted."""
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp / "resources"),
               OMP_NUM_THREADS="2", PYTHONPATH="")
    shim = _shim(tmp, site)
    install = f"""
import sys
SITE = {str(site)!r}
sys.path = [p for p in sys.path if not p.startswith(SITE)] + [{str(shim)!r}]
import bpy, json
bpy.ops.wm.read_factory_settings(use_empty=True)
try:
    r = sorted(bpy.ops.extensions.package_install_files(
        filepath={str(zip_path)!r}, repo="user_default", enable_on_install=True))
except RuntimeError as exc:
    r = ["ERROR", str(exc).strip()]
print("RESULT " + json.dumps({{"install": r, "blender": bpy.app.version_string,
      "addons": sorted(bpy.context.preferences.addons.keys())}}))
"""
    res = _run(install, env, tmp, python)
    if must_install:
        assert res["install"] == ["FINISHED"], res
        assert MODULE in res["addons"]
    env["install_result"] = json.dumps(res)

    def run(body: str) -> dict:
        code = PRELUDE.format(site=str(site), repo=str(REPO), shim=str(shim), module=MODULE,
                              scripts=str(REPO / "scripts"))
        return _run(code + textwrap.dedent(body) + "\nemit()\n", env, tmp, python)

    return env, run, tmp


@pytest.fixture(scope="session")
def blender_env(built_zip, tmp_path_factory):
    """A temporary Blender user folder with the zip installed; returns (env, run, tmp)."""
    return install_env(built_zip, tmp_path_factory.mktemp("blender_user"))


def _run(code: str, env: dict, cwd: Path, python: str = sys.executable) -> dict:
    script = cwd / "scenario.py"
    script.write_text(code)
    proc = subprocess.run([python, str(script)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (proc.stdout[-4000:] + "\n" + proc.stderr[-4000:])
    return json.loads(lines[-1][len("RESULT "):])


# --------------------------------------------------------------------------- scenarios


@pytest.fixture(scope="module")
def segment_groups(blender_env):
    """Segment All into vertex groups on a table with user data, re-run, undo, clear."""
    _, run, _ = blender_env
    return run("""
        import onnxruntime
        try:
            import scipy  # noqa: F401 - not bundled: the vendored core needs none
            has_scipy = True
        except ImportError:
            has_scipy = False
        RESULT["modules"] = {"onnxruntime": onnxruntime.__file__,
                             "ort_version": onnxruntime.__version__,
                             "ort_dirs": [p for p in sys.path
                                          if os.path.isdir(os.path.join(p, "onnxruntime"))],
                             "scipy": has_scipy, "numpy": np.__file__,
                             "torch": "torch" in sys.modules,
                             "top_level": sorted(m for m in sys.modules
                                                 if m in ("core", "training"))}
        ob = make_table()
        add_user_data(ob, [0, 1, 2, 3])
        ob.vertex_groups.new(name="Part.002")   # a user group with the add-on's naming
        activate(ob)
        settings(scale=0.2, use_scale=True, output_mode="GROUPS")
        before = state_of(ob)
        RESULT["before"] = before
        RESULT["op"] = segment_all_undoably()
        ob = bpy.data.objects["table"]
        RESULT["after"] = state_of(ob)
        RESULT["tracked"] = list(ob["s2am3d_groups"])
        RESULT["part_domain"] = ob.data.attributes["part"].domain
        RESULT["part_type"] = ob.data.attributes["part"].data_type
        vals = np.empty(len(ob.data.polygons), np.int32)
        ob.data.attributes["part"].data.foreach_get("value", vals)
        RESULT["part_values"] = vals.tolist()
        # undo brings back the state before, redo the result
        bpy.ops.ed.undo()
        RESULT["undone"] = state_of(bpy.data.objects["table"])
        bpy.ops.ed.redo()
        RESULT["redone"] = state_of(bpy.data.objects["table"])
        # re-run at another scale replaces only the add-on's groups
        ob = bpy.data.objects["table"]
        settings(scale=0.7)
        bpy.ops.s2am3d.segment_all()
        RESULT["rerun"] = state_of(ob)
        RESULT["rerun_tracked"] = list(ob["s2am3d_groups"])
        settings(use_scale=False)
        bpy.ops.s2am3d.segment_all()
        RESULT["noscale_tracked"] = list(ob["s2am3d_groups"])
        RESULT["clear"] = sorted(bpy.ops.s2am3d.clear_parts())
        RESULT["cleared"] = state_of(ob)
        RESULT["flags"] = {n: sorted(getattr(bpy.types, n).bl_options) for n in
                           ("S2AM3D_OT_segment_all", "S2AM3D_OT_pick_parts",
                            "S2AM3D_OT_clear_parts")}
    """)


def test_bundled_onnxruntime_is_what_blender_imports(segment_groups, blender_env):
    _, _, tmp = blender_env
    mods = segment_groups["modules"]
    local = str(tmp / "resources" / "extensions" / ".local" / "lib")
    assert mods["onnxruntime"].startswith(local), mods
    # the only onnxruntime on the path is the extension's (the venv's 1.32 is not importable)
    assert mods["ort_dirs"] and all(p.startswith(local) for p in mods["ort_dirs"]), mods
    import build
    assert mods["ort_version"] == build.WHEELS[0].version
    assert not mods["scipy"]  # Segment All ran with the vendored numpy stand-in
    assert mods["numpy"].startswith(str(tmp)), mods  # the shim: Blender's own numpy
    assert not mods["torch"] and mods["top_level"] == []


def test_segment_all_writes_weight_one_groups_and_keeps_user_data(segment_groups):
    r = segment_groups
    assert r["op"] == ["FINISHED"]
    before, after = r["before"], r["after"]
    assert after["hash"] == before["hash"]  # geometry untouched
    assert after["groups"]["user_vg"] == before["groups"]["user_vg"]
    assert after["groups"]["Part.002"] == []  # the user's own group, untouched
    made = r["tracked"]
    assert len(made) >= 2 and "Part.002" not in made and "Part.001" in made
    covered = set()
    for name in made:
        members = after["groups"][name]
        assert members and all(w == 1.0 for _, w in members)
        covered |= {i for i, _ in members}
    assert covered == set(range(48))  # every vertex of the 6 boxes is in some part
    assert "user_attr" in after["attributes"]
    assert r["part_domain"] == "FACE" and r["part_type"] == "INT"
    assert min(r["part_values"]) == 0 and max(r["part_values"]) == len(made) - 1
    assert after["active_color"] == "part_color"


def test_undo_restores_and_redo_reapplies(segment_groups):
    r = segment_groups
    assert r["undone"] == r["before"]
    assert r["redone"] == r["after"]


def test_rerun_replaces_only_add_on_groups_and_clear_parts_restores(segment_groups):
    r = segment_groups
    for key in ("rerun", "cleared"):
        assert r[key]["groups"]["user_vg"] == r["before"]["groups"]["user_vg"]
        assert "Part.002" in r[key]["groups"]
        assert r[key]["hash"] == r["before"]["hash"]
    assert set(r["rerun"]["groups"]) == {"user_vg", "Part.002", *r["rerun_tracked"]}
    assert r["noscale_tracked"]
    assert r["clear"] == ["FINISHED"]
    assert r["cleared"] == r["before"]


def test_every_operator_is_undoable(segment_groups):
    for name, flags in segment_groups["flags"].items():
        assert {"REGISTER", "UNDO"} <= set(flags), name


@pytest.fixture(scope="module")
def output_modes(blender_env):
    _, run, _ = blender_env
    return run("""
        from mathutils import Matrix
        ob = make_table(custom_normals=True)
        ob.matrix_world = Matrix.Translation((1, 2, 3)) @ Matrix.Rotation(0.5, 4, "Z")
        other = make_table("table2", materials=False, uv=False)
        activate(ob, [other])
        settings(scale=0.2, output_mode="OBJECTS", original_mode="HIDE")
        before = state_of(ob)
        RESULT["op"] = sorted(bpy.ops.s2am3d.segment_all())
        parts = [o for o in bpy.data.objects if o.get("s2am3d_part_of") == "table"]
        RESULT["objects"] = [{
            "name": o.name, "faces": len(o.data.polygons),
            "materials": [m.name for m in o.data.materials],
            "uv": [u.name for u in o.data.uv_layers],
            "custom_normals": o.data.has_custom_normals,
            "matrix_equal": o.matrix_world == ob.matrix_world,
            "collection": [c.name for c in o.users_collection],
        } for o in parts]
        RESULT["original_hidden"] = ob.hide_get()
        RESULT["orig_faces"] = len(ob.data.polygons)
        RESULT["orig_hash_same"] = state_of(ob)["hash"] == before["hash"]
        RESULT["table2_parts"] = len([o for o in bpy.data.objects
                                      if o.get("s2am3d_part_of") == "table2"])
        # the hidden originals cannot be selected: a selected part object stands for its own
        activate(ob, [o for o in bpy.data.objects if o.get("s2am3d_part_of") == "table2"][:1])
        RESULT["clear"] = sorted(bpy.ops.s2am3d.clear_parts())
        RESULT["after_clear"] = state_of(ob)
        RESULT["before"] = before
        RESULT["meshes_left"] = sorted(m.name for m in bpy.data.meshes)
        # replace the original
        settings(original_mode="REPLACE")
        activate(ob)
        bpy.ops.s2am3d.segment_all()
        RESULT["replace_objects"] = sorted(o.name for o in bpy.context.scene.objects)
        # attribute mode on the second table
        t2 = bpy.data.objects["table2"]
        bpy.ops.s2am3d.clear_parts() if False else None
        activate(t2)
        settings(output_mode="ATTRIBUTE", hierarchy="0.6")
        b2 = state_of(t2)
        bpy.ops.s2am3d.segment_all()
        a2 = state_of(t2)
        RESULT["attr_groups"] = sorted(a2["groups"])
        RESULT["attr_attributes"] = a2["attributes"]
        RESULT["attr_hash_same"] = a2["hash"] == b2["hash"]
        # hierarchy in groups mode
        settings(output_mode="GROUPS", hierarchy="0.6")
        bpy.ops.s2am3d.segment_all()
        RESULT["hier_groups"] = sorted(bpy.data.objects["table2"]["s2am3d_groups"])
    """)


def test_separate_objects_keep_materials_uvs_normals_transform(output_modes):
    r = output_modes
    assert r["op"] == ["FINISHED"]
    objs = r["objects"]
    assert len(objs) >= 2
    assert sum(o["faces"] for o in objs) == r["orig_faces"]
    for o in objs:
        assert o["materials"] == ["wood", "metal"]
        assert o["uv"] == ["UVMap"]
        assert o["custom_normals"] and o["matrix_equal"]
        assert o["collection"] == ["table parts"]
    assert r["original_hidden"] and r["orig_hash_same"]
    assert r["table2_parts"] >= 2  # the other selected mesh was segmented too


def test_clear_parts_removes_part_objects_and_shows_original(output_modes):
    r = output_modes
    assert r["clear"] == ["FINISHED"]
    assert r["after_clear"] == r["before"]
    assert not any(".Part." in m for m in r["meshes_left"])


def test_replace_mode_takes_the_original_out_of_the_scene(output_modes):
    names = output_modes["replace_objects"]
    assert "table" not in names and any(n.startswith("table.Part.") for n in names)


def test_attribute_mode_and_hierarchy(output_modes):
    r = output_modes
    # attribute mode adds no groups (the earlier groups of table2 were replaced)
    assert r["attr_groups"] == []
    assert {"part", "part_color", "part_1"} <= set(r["attr_attributes"])
    assert r["attr_hash_same"]
    hier = r["hier_groups"]
    assert any(n.startswith("Part.") for n in hier)
    assert any(n.startswith("S0.6.Part.") for n in hier)


@pytest.fixture(scope="module")
def point_cloud(blender_env, shared_data):
    _, run, _ = blender_env
    ply = shared_data / "demo" / "rhino.ply"
    return run(f"""
        bpy.ops.wm.ply_import(filepath={str(ply)!r})
        ob = bpy.context.view_layer.objects.active
        RESULT["counts"] = [len(ob.data.vertices), len(ob.data.polygons)]
        activate(ob)
        settings(scale=0.2, output_mode="GROUPS")
        h = state_of(ob)["hash"]
        RESULT["op"] = sorted(bpy.ops.s2am3d.segment_all())
        after = state_of(ob)
        RESULT["hash_same"] = after["hash"] == h
        g = groups_of(ob)
        RESULT["groups"] = {{k: len(v) for k, v in g.items()}}
        RESULT["weights"] = sorted({{w for v in g.values() for _, w in v}})
        RESULT["covered"] = len({{i for v in g.values() for i, _ in v}})
        RESULT["domain"] = ob.data.attributes["part"].domain
    """)


def test_point_cloud_segment_all_writes_vertex_groups(point_cloud):
    r = point_cloud
    nv, nf = r["counts"]
    assert nf == 0 and nv == 10000
    assert r["op"] == ["FINISHED"]
    assert len(r["groups"]) >= 1 and r["weights"] == [1.0]  # part count is the model's call
    assert r["covered"] == nv and sum(r["groups"].values()) == nv  # a partition
    assert r["domain"] == "POINT" and r["hash_same"]


@pytest.fixture(scope="module")
def bad_inputs(blender_env, tmp_path_factory):
    _, run, _ = blender_env
    lib = tmp_path_factory.mktemp("lib") / "lib.blend"
    bad_model = tmp_path_factory.mktemp("bad_model")
    return run(f"""
        import shutil
        def attempt(op="segment_all"):
            try:
                return ["OK", sorted(getattr(bpy.ops.s2am3d, op)())]
            except RuntimeError as exc:
                return ["ERROR", str(exc).strip()]
        out = {{}}
        activate(None)
        out["no_active"] = attempt()
        cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
        bpy.context.scene.collection.objects.link(cam)
        activate(cam)
        out["not_mesh"] = attempt()
        empty = bpy.data.objects.new("empty_mesh", bpy.data.meshes.new("empty_mesh"))
        bpy.context.scene.collection.objects.link(empty)
        activate(empty)
        out["empty_mesh"] = attempt()
        # linked data
        t = make_table("libtable")
        bpy.data.libraries.write({str(lib)!r}, {{t}})
        bpy.data.objects.remove(t)
        with bpy.data.libraries.load({str(lib)!r}, link=True) as (src, dst):
            dst.objects = ["libtable"]
        linked = dst.objects[0]
        bpy.context.scene.collection.objects.link(linked)
        activate(linked)
        out["linked"] = attempt()
        override = linked.override_create(remap_local_usages=True)
        activate(override)
        out["override"] = attempt()
        # edit mode
        ob = make_table("editme")
        activate(ob)
        bpy.ops.object.mode_set(mode="EDIT")
        before = [vg.name for vg in ob.vertex_groups]
        out["edit_mode"] = attempt()
        out["edit_mode_clear"] = attempt("clear_parts")
        bpy.ops.object.mode_set(mode="OBJECT")
        out["edit_groups_unchanged"] = [vg.name for vg in ob.vertex_groups] == before
        # model files
        st = state_of(ob)
        PREFS.model_path = {str(bad_model / "missing")!r}
        out["missing_model"] = attempt()
        weights = os.path.join(os.path.dirname(EXT.__file__), "_vendor", "s2am3d_core",
                               "weights", "default")
        shutil.copytree(weights, {str(bad_model / "corrupt")!r})
        with open(os.path.join({str(bad_model / "corrupt")!r}, "encoder.onnx"), "r+b") as fh:
            fh.truncate(1000)
        PREFS.model_path = {str(bad_model / "corrupt")!r}
        out["corrupt_model"] = attempt()
        out["model_state_unchanged"] = state_of(ob) == st
        PREFS.model_path = ""
        # the pick tool's checks (its session refuses the same objects)
        ps = sub("pick_session")
        model = sub("engine").ModelOptions()
        for key, obj in (("pick_not_mesh", cam), ("pick_empty", empty), ("pick_linked", linked)):
            try:
                ps.PickSession(obj, bpy.context.evaluated_depsgraph_get(), model)
                out[key] = "accepted"
            except sub("mesh_io").ObjectRejected as exc:
                out[key] = str(exc)
        out["pick_invoke_background"] = attempt("pick_parts")
        RESULT.update(out)
    """)


@pytest.mark.parametrize("case,words", [
    ("no_active", "No active or selected object"),
    ("not_mesh", "not a mesh"),
    ("empty_mesh", "empty mesh"),
    ("linked", "linked from a library"),
    ("override", "library override"),
    ("edit_mode", "Edit Mode"),
    ("edit_mode_clear", "Edit Mode"),
    ("missing_model", "model"),
    ("corrupt_model", "encoder.onnx"),
])
def test_bad_input_is_cancelled_with_a_clear_report(bad_inputs, case, words):
    status, msg = bad_inputs[case]
    assert status == "ERROR", (case, msg)
    assert words in msg, (case, msg)


def test_bad_input_leaves_data_untouched(bad_inputs):
    assert bad_inputs["edit_groups_unchanged"] and bad_inputs["model_state_unchanged"]
    assert "not a mesh" in bad_inputs["pick_not_mesh"]
    assert "empty mesh" in bad_inputs["pick_empty"]
    assert "linked" in bad_inputs["pick_linked"]
    assert bad_inputs["pick_invoke_background"][0] == "ERROR"


@pytest.fixture(scope="module")
def pick(blender_env):
    _, run, _ = blender_env
    return run("""
        import numpy as np
        from mathutils import Matrix
        ps, eng = sub("pick_session"), sub("engine")
        ob = make_table()
        ob.matrix_world = Matrix.Translation((0.5, -1.0, 0.2)) @ Matrix.Diagonal((2, 2, 2, 1))
        ob.vertex_groups.new(name="user_vg").add([5], 1.0, "REPLACE")
        activate(ob)
        dg = bpy.context.evaluated_depsgraph_get()
        before = state_of(ob)
        s = ps.PickSession(ob, dg, eng.ModelOptions(), mode="groups", scale=0.2, n_points=2048)
        RESULT["first_cached"] = s.cached
        # a ray straight down onto the table top (world frame)
        top = ob.matrix_world @ __import__("mathutils").Vector((0.3, 0.1, 0.79))
        idx = s.point_from_world_ray((top.x, top.y, top.z + 5), (0, 0, -1))
        RESULT["hit_point_z"] = float(s.seg.points[idx][2])
        RESULT["miss"] = s.point_from_world_ray((50, 50, 50), (0, 0, 1))
        out = s.handle(("LEFTMOUSE", "PRESS", False, False, False, idx))
        RESULT["click"] = out.action
        def preview():
            me = ob.data
            a = me.color_attributes["s2am3d_preview"]
            c = np.empty(len(a.data) * 4, np.float32)
            a.data.foreach_get("color_srgb", c)
            c = c.reshape(-1, 4)
            loop_poly = np.repeat(np.arange(len(me.polygons)),
                                  [p.loop_total for p in me.polygons])
            lit = {int(p) for p in loop_poly[np.abs(c[:, 0] - 1.0) < 0.01]}
            return sorted(lit), me.color_attributes.active_color.name
        mask_faces = lambda: sorted(int(i) for i in np.flatnonzero(s._element_mask(s.mask)))
        lit, active = preview()
        RESULT["preview_matches_mask"] = lit == mask_faces()
        RESULT["preview_active"] = active
        sizes, decodes = [], []
        for ev in [("WHEELUPMOUSE",)] * 4 + [("WHEELDOWNMOUSE",)] * 7:
            o = s.handle(ev)
            sizes.append([round(s.state.scale, 3), int(s.mask.sum()), preview()[0] == mask_faces()])
            decodes.append(o.action)
        RESULT["wheel"] = sizes
        RESULT["wheel_actions"] = decodes
        RESULT["decodes"] = len(s.decode_ms)
        # the panel's slider moved while the tool runs: re-decoded at the new scale
        RESULT["slider"] = [s.set_scale(0.6, True).action, round(s.state.scale, 3),
                            preview()[0] == mask_faces(), len(s.decode_ms)]
        s.set_scale(0.05, True)
        s.handle(("LEFTMOUSE", "PRESS", False, True, False, s.seg.nearest_point(
            np.array(ob.matrix_world.inverted() @ __import__("mathutils").Vector((0.5, -1, 0))))))
        RESULT["prompts"] = [list(p) for p in s.state.prompts]
        kept_mask = mask_faces()
        RESULT["keep"] = s.handle(("RET",)).action
        st = state_of(ob)
        verts = set()
        for p in kept_mask:
            verts |= set(ob.data.polygons[p].vertices)
        RESULT["kept_group_ok"] = sorted(i for i, _ in st["groups"]["Part.001"]) == sorted(verts)
        RESULT["finish"] = s.handle(("RET",)).action
        st = state_of(ob)
        RESULT["after_finish"] = st
        RESULT["before"] = before
        # a second session on the same mesh reuses the encoder, Esc restores exactly
        mid = state_of(ob)
        s2 = ps.PickSession(ob, dg, eng.ModelOptions(), mode="groups", scale=0.5, n_points=2048)
        RESULT["second_cached"] = s2.cached
        s2.handle(("LEFTMOUSE", "PRESS", False, False, False, 10))
        s2.handle(("SPACE",))
        s2.handle(("LEFTMOUSE", "PRESS", False, False, False, 20))
        RESULT["esc"] = s2.handle(("ESC",)).action
        RESULT["esc_restored"] = state_of(ob) == mid
        # attribute and objects modes keep through the same writers
        s3 = ps.PickSession(ob, dg, eng.ModelOptions(), mode="objects", scale=0.3, n_points=2048)
        s3.handle(("LEFTMOUSE", "PRESS", False, False, False, 30))
        s3.handle(("RET",))
        s3.handle(("RIGHTMOUSE",))
        RESULT["objects_mode"] = sorted(o.name for o in bpy.data.objects
                                        if o.get("s2am3d_part_of") == "table")
        # an edited mesh is encoded again
        ob.data.vertices[0].co.x += 0.01
        s4 = ps.PickSession(ob, dg, eng.ModelOptions(), mode="attribute", n_points=2048)
        RESULT["edited_cached"] = s4.cached
        s4.handle(("LEFTMOUSE", "PRESS", False, False, False, 5))
        s4.handle(("RET",)); s4.handle(("RET",))
        vals = np.empty(len(ob.data.polygons), np.int32)
        ob.data.attributes["part"].data.foreach_get("value", vals)
        RESULT["attribute_ids"] = sorted(set(vals.tolist()))
        # point cloud picking
        pc = bpy.data.objects.new("pc", bpy.data.meshes.new("pc"))
        rng = np.random.default_rng(0)
        pts = np.concatenate([rng.normal(size=(400, 3)) * 0.2, rng.normal(size=(400, 3)) * 0.2 + 3])
        pc.data.vertices.add(len(pts)); pc.data.vertices.foreach_set("co", pts.ravel())
        bpy.context.scene.collection.objects.link(pc)
        s5 = ps.PickSession(pc, dg, eng.ModelOptions(), mode="groups", n_points=2048)
        i5 = s5.point_from_world_ray((3, 3, 10), (0, 0, -1))
        RESULT["pc_pick_near"] = bool(np.linalg.norm(s5.seg.points[i5][:2] - 3) < 0.6)
        s5.handle(("LEFTMOUSE", "PRESS", False, False, False, i5)); s5.handle(("RET",))
        RESULT["pc_group"] = len(groups_of(pc).get("Part.001", []))
        # a deforming modifier: the ray hits the evaluated mesh the user sees, the model
        # segments those positions, the group lands on the original vertices
        md = make_table("displaced")
        mod = md.modifiers.new("lift", "DISPLACE")
        mod.direction, mod.strength, mod.mid_level = "Z", 1.0, 0.0
        activate(md)
        dg = bpy.context.evaluated_depsgraph_get()
        h0 = state_of(md)["hash"]
        s6 = ps.PickSession(md, dg, eng.ModelOptions(), mode="groups", n_points=2048)
        i6 = s6.point_from_world_ray((0.3, 0.1, 5.0), (0, 0, -1))
        RESULT["mod_hit_z"] = float(s6.seg.points[i6][2])
        s6.handle(("LEFTMOUSE", "PRESS", False, False, False, i6)); s6.handle(("RET",))
        RESULT["mod_group"] = len(groups_of(md).get("Part.001", []))
        RESULT["mod_hash_same"] = state_of(md)["hash"] == h0
    """)


def test_pick_click_previews_the_predicted_part(pick):
    assert pick["first_cached"] is False
    assert abs(pick["hit_point_z"] - 0.79) < 0.05  # the sampled point under the click
    assert pick["miss"] is None
    assert pick["click"] == "update" and pick["preview_matches_mask"]
    assert pick["preview_active"] == "s2am3d_preview"


def test_pick_wheel_redecodes_at_each_scale(pick):
    scales = [w[0] for w in pick["wheel"]]
    assert scales[:4] == [0.25, 0.3, 0.35, 0.4] and scales[-1] == 0.05
    assert all(a == "update" for a in pick["wheel_actions"])
    assert all(w[2] for w in pick["wheel"])  # the preview follows every re-decode
    assert pick["decodes"] == 1 + 11
    assert pick["slider"] == ["update", 0.6, True, 1 + 11 + 1]


def test_pick_keep_writes_group_and_finish_removes_preview(pick):
    assert pick["prompts"][1][1] is False  # ctrl-click added a negative point
    assert pick["keep"] == "keep" and pick["kept_group_ok"]
    assert pick["finish"] == "finish"
    after, before = pick["after_finish"], pick["before"]
    assert after["hash"] == before["hash"]
    assert after["groups"]["user_vg"] == before["groups"]["user_vg"]
    assert "s2am3d_preview" not in after["attributes"]
    assert after["active_color"] == "part_color"


def test_pick_reuses_encoder_and_esc_restores_exactly(pick):
    assert pick["second_cached"] is True
    assert pick["esc"] == "cancel" and pick["esc_restored"]
    assert pick["edited_cached"] is False


def test_pick_follows_the_evaluated_mesh(pick):
    assert abs(pick["mod_hit_z"] - 1.79) < 0.05  # table top at 0.79, lifted by 1.0
    assert pick["mod_group"] > 0 and pick["mod_hash_same"]


def test_pick_other_modes_and_point_clouds(pick):
    assert pick["objects_mode"] == ["table.Part.001"]
    assert len(pick["attribute_ids"]) >= 2  # -1 / earlier ids plus the new part
    assert pick["pc_pick_near"] and pick["pc_group"] > 0


def test_installed_batch_script_runs_in_blender_like_python(blender_env, shared_data, tmp_path):
    _, run, tmp = blender_env
    out = tmp_path
    r = run(f"""
        import runpy
        batch = os.path.join(os.path.dirname(EXT.__file__), "batch.py")
        sys.argv = [batch, "--", "--input", {str(shared_data / "demo" / "rhino.ply")!r},
                    "--points", "2048", "--output", "attribute",
                    "--report", {str(out / "r.json")!r}, "--save", {str(out / "r.blend")!r}]
        try:
            runpy.run_path(batch, run_name="__main__")
        except SystemExit as exc:
            RESULT["exit"] = exc.code
    """)
    assert r["exit"] == 0
    rep = json.loads((out / "r.json").read_text())
    assert rep["objects"][0]["point_cloud"] and rep["objects"][0]["parts"] >= 1
    assert (out / "r.blend").stat().st_size > 0
    assert rep["package"] == MODULE


def test_checkout_batch_script_uses_the_installed_extension_inside_blender(
        blender_env, tmp_path):
    """`blender -b --python scripts/s2am3d_batch.py -- ARGS` (the README's command): in a
    Blender whose Python has neither SciPy nor this repository's core, the script runs the
    enabled extension's copy."""
    _, run, _ = blender_env
    sys.path.insert(0, str(REPO / "scripts"))
    import sample_meshes

    v, f, _ = sample_meshes.table()
    obj = tmp_path / "t.obj"
    sample_meshes.write_obj(obj, v, f)
    r = run(f"""
        import runpy
        script = {str(REPO / "scripts" / "s2am3d_batch.py")!r}
        sys.argv = [script, "--", "--input", {str(obj)!r}, "--points", "2048",
                    "--report", {str(tmp_path / "r.json")!r}]
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            RESULT["exit"] = exc.code
    """)
    assert r["exit"] == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["package"] == MODULE and rep["objects"][0]["parts"] >= 1


@pytest.fixture(scope="module")
def prefs_panel_hierarchy(blender_env):
    """Preferences feed the run; Separate Objects + extra scales → nested collections; the
    panel shows what the issue lists (drawn into a recording layout)."""
    _, run, _ = blender_env
    return run("""
        ob = make_table()
        activate(ob)
        PREFS.prefix = "seg_"
        PREFS.default_points = 1024
        PREFS.num_threads = 1
        settings(scale=0.1, use_scale=True, output_mode="OBJECTS", original_mode="KEEP",
                 hierarchy="0.6", n_points=0, show_advanced=True)
        RESULT["panel_before"] = draw_panel()
        spec = sub("runner").spec_from_settings(bpy.context.scene.s2am3d,
                                                sub("props").prefs_of())
        RESULT["spec"] = [spec.opts.n_points, spec.model.num_threads, spec.prefix]
        before = state_of(ob)
        RESULT["op"] = sorted(bpy.ops.s2am3d.segment_all())
        RESULT["panel_after"] = draw_panel()
        top = bpy.data.collections["table parts"]
        RESULT["top"] = sorted(o.name for o in top.objects)
        RESULT["children"] = {c.name: sorted(o.name for o in c.objects) for c in top.children}
        parts = [o for o in bpy.data.objects if o.get("s2am3d_part_of") == "table"]
        RESULT["parts_have_attrs"] = all(
            "part" in o.data.attributes and "part_color" in o.data.color_attributes
            for o in parts)
        RESULT["faces"] = {o.name: len(o.data.polygons) for o in parts}
        RESULT["original_visible"] = not ob.hide_get()
        RESULT["hash_same"] = state_of(ob)["hash"] == before["hash"]
        RESULT["orig_attrs"] = sorted(a.name for a in ob.data.attributes)
        RESULT["clear"] = sorted(bpy.ops.s2am3d.clear_parts())
        RESULT["after_clear"] = state_of(ob) == before
        RESULT["collections_left"] = sorted(c.name for c in bpy.data.collections)
    """)


def test_preferences_feed_points_threads_and_prefix(prefs_panel_hierarchy):
    r = prefs_panel_hierarchy
    assert r["op"] == ["FINISHED"]
    assert r["spec"] == [1024, 1, "seg_"]
    assert r["top"] and all(n.startswith("table.seg_Part.") for n in r["top"])


def test_objects_mode_hierarchy_gives_nested_collections_and_part_attributes(
        prefs_panel_hierarchy):
    r = prefs_panel_hierarchy
    assert list(r["children"]) == ["table parts s=0.6"]
    coarse = r["children"]["table parts s=0.6"]
    assert coarse and all(n.startswith("table.seg_S0.6.Part.") for n in coarse)
    fine_faces = sum(r["faces"][n] for n in r["top"])
    coarse_faces = sum(r["faces"][n] for n in coarse)
    assert fine_faces == coarse_faces == 36  # each level covers the table once
    assert len(coarse) <= len(r["top"])
    assert r["parts_have_attrs"]  # part + colour attributes in every mode
    assert r["original_visible"] and r["hash_same"]
    assert {"part", "part_1", "part_color"} <= set(r["orig_attrs"])
    assert r["clear"] == ["FINISHED"] and r["after_clear"]
    assert not any(c.startswith("table parts") for c in r["collections_left"])


def test_panel_shows_status_scale_buttons_output_and_advanced(prefs_panel_hierarchy):
    before, after = prefs_panel_hierarchy["panel_before"], prefs_panel_hierarchy["panel_after"]
    props = {name for kind, name in before if kind == "prop"}
    assert {"use_scale", "scale", "output_mode", "original_mode", "n_points",
            "min_part_size", "hierarchy"} <= props
    ops = [name for kind, name in before if kind == "operator"]
    assert ops == ["s2am3d.pick_parts", "s2am3d.segment_all", "s2am3d.clear_parts"]
    labels_before = [t for kind, t in before if kind == "label"]
    labels_after = [t for kind, t in after if kind == "label"]
    assert any(t.startswith("Backend: ONNX Runtime") for t in labels_before)
    assert any("Not encoded yet" in t for t in labels_before)
    assert any("Encoder cached: 1024 points sampled" in t for t in labels_after)
    assert any("1.23.2" in t and "model" in t for t in labels_after)


def test_zip_holds_the_add_on_vendored_core_models_and_wheels_only(built_zip):
    import tomllib
    import zipfile

    import build
    from core.backends import ONNX_FILES

    names = zipfile.ZipFile(built_zip).namelist()
    manifest = tomllib.loads(zipfile.ZipFile(built_zip).read("blender_manifest.toml").decode())
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert "network" not in manifest.get("permissions", {})
    assert manifest["platforms"] == ["linux-x64"] and manifest["blender_version_min"] == "4.2.0"
    # one Python ABI per zip (Blender 4.2.0 installs every wheel it is given, whatever its
    # Python tag) and the Blender range that embeds that Python
    assert manifest["blender_version_max"] == "5.1.0"
    wheels = sorted(w.split("/")[-1] for w in manifest["wheels"])
    assert [w.split("-")[:3] for w in wheels] == [["onnxruntime", "1.23.2", "cp311"]]
    assert all(f"wheels/{w}" in names for w in wheels)
    # no torch, no SciPy, no generic top-level modules such as core / training
    assert not [n for n in names if "torch" in n.lower() or n.endswith(".safetensors")]
    assert not [n for n in names if n.split("/")[0] in ("core", "training", "scipy")]
    weights = "_vendor/s2am3d_core/weights/default/"
    assert {f"{weights}{f}" for f in ONNX_FILES} <= set(names)
    assert {"__init__.py", "batch.py", "operators.py", "_vendor/s2am3d_core/__init__.py",
            "_vendor/s2am3d_core/_scipy_lite.py", "_vendor/s2am3d_core/_sparse_lite.py"
            } <= set(names)
    # the SciPy stand-in goes into the vendored core only, not the add-on's top level
    assert not {"scipy_lite.py", "_sparse_lite.py"} & set(names)
    assert built_zip.stat().st_size <= build.MAX_ZIP_MB * 1e6


@pytest.fixture(scope="module")
def pick_twins(blender_env):
    _, run, _ = blender_env
    return run("""
        import numpy as np
        ps, eng = sub("pick_session"), sub("engine")
        bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=5, radius=1.0)
        ob = bpy.context.active_object
        me = ob.data
        v = np.empty(len(me.vertices) * 3)
        me.vertices.foreach_get("co", v)
        u = v.reshape(-1, 3) / np.linalg.norm(v.reshape(-1, 3), axis=1, keepdims=True)
        r = 1.0 + 0.5 * np.clip((u[:, 2] - 0.8) / 0.2, 0, 1) ** 0.5  # a wide bump on top
        for sign in (1, -1):  # two equal horns along +x and -x
            r = r + 1.6 * np.clip((sign * u[:, 0] - 0.96) / 0.04, 0, 1) ** 0.5
        me.vertices.foreach_set("co", (u * r[:, None]).ravel())
        me.update()
        activate(ob)
        dg = bpy.context.evaluated_depsgraph_get()
        tri = np.array([list(p.vertices) for p in me.polygons])
        p = (u * r[:, None])[tri]
        area = 0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
        cx = p.mean(axis=1)[:, 0]
        horn, other = cx > 1.05, cx < -1.05
        both = float(area[horn | other].sum() / area.sum())
        s = ps.PickSession(ob, dg, eng.ModelOptions(), mode="groups", scale=both,
                           n_points=4000)
        tip = s.seg.nearest_point(np.array([2.4, 0.0, 0.0]))
        s.handle(("LEFTMOUSE", "PRESS", False, False, False, int(tip)))
        held = lambda part: float(area[s._element_mask(s.mask) & part].sum() / area[part].sum())
        RESULT["on"] = [held(horn), held(other)]
        n = len(s.decode_ms)
        s.set_twins(False)  # the panel's Matching Parts switched off while the tool runs
        RESULT["off"] = [held(horn), held(other), len(s.decode_ms) - n]
        s.set_twins(True)
        RESULT["on_again"] = [held(horn), held(other)]
        RESULT["esc"] = s.handle(("ESC",)).action
    """)


def test_pick_parts_takes_matching_parts_and_the_panel_switches_them_off(pick_twins):
    """On a smooth one-piece mesh with two equal horns, a click on one horn at the scale of
    both lights both; with Matching Parts off the same click and scale give the horn and
    the body around it, re-decoded at once when the checkbox changes."""
    r = pick_twins
    assert r["on"][0] > 0.95 and r["on"][1] > 0.85
    assert r["off"][0] > 0.95 and r["off"][1] == 0.0 and r["off"][2] == 1
    assert r["on_again"] == r["on"]
    assert r["esc"] == "cancel"


@pytest.fixture(scope="module")
def pick_modal(blender_env):
    """The Pick Parts operator's own modal() driven with synthetic events and a synthetic
    3D view (window region + sidebar), as Blender would call it: region mapping, panel
    slider sync, pass-through over the sidebar, Esc and Enter."""
    _, run, _ = blender_env
    return run("""
        import types
        from types import SimpleNamespace as NS
        Op = bpy.types.S2AM3D_OT_pick_parts
        ps, eng = sub("pick_session"), sub("engine")

        def look_at(eye, target, up):
            eye, target, up = (np.asarray(x, float) for x in (eye, target, up))
            f = target - eye; f /= np.linalg.norm(f)
            r = np.cross(f, up); r /= np.linalg.norm(r)
            u = np.cross(r, f)
            m = np.eye(4)
            m[0, :3], m[1, :3], m[2, :3] = r, u, -f
            m[:3, 3] = -m[:3, :3] @ eye
            return m

        def persp(fov, aspect, near, far):
            f = 1.0 / np.tan(fov / 2)
            m = np.zeros((4, 4))
            m[0, 0], m[1, 1] = f / aspect, f
            m[2, 2], m[2, 3] = (far + near) / (near - far), 2 * far * near / (near - far)
            m[3, 2] = -1.0
            return m

        # camera 5 m above (0.3, 0.1) looking down; the window region is 800 x 600 at (0, 0)
        PM = persp(0.8, 800 / 600, 0.1, 100.0) @ look_at((0.3, 0.1, 5), (0.3, 0.1, 0), (0, 1, 0))
        ob = make_table()
        activate(ob)
        st = settings(scale=0.2, use_scale=True, output_mode="GROUPS")
        before = state_of(ob)
        dg = bpy.context.evaluated_depsgraph_get()
        headers, reports = [], []

        def make_op():
            area = NS(regions=[NS(type="HEADER", x=0, y=600, width=1000, height=30, data=None),
                               NS(type="WINDOW", x=0, y=0, width=800, height=600,
                                  data=NS(perspective_matrix=PM)),
                               NS(type="UI", x=800, y=0, width=200, height=600, data=None)],
                      header_text_set=headers.append, tag_redraw=lambda: None,
                      spaces=NS(active=NS(shading=NS(type="SOLID", color_type="VERTEX"))))
            op = NS(report=lambda kind, msg: reports.append(msg), _area=area,
                    _shading=("SOLID", "MATERIAL"))
            for name in ("_view_under_mouse", "_header", "_end"):
                setattr(op, name, types.MethodType(getattr(Op, name), op))
            op._session = ps.PickSession(ob, dg, eng.ModelOptions(), mode="groups",
                                         scale=st.scale, use_scale=st.use_scale, n_points=2048)
            op._panel = op._panel_at_start = (st.scale, st.use_scale)
            return op

        def ev(kind, value="PRESS", x=400, y=300, shift=False, ctrl=False):
            return NS(type=kind, value=value, shift=shift, ctrl=ctrl, alt=False,
                      mouse_x=x, mouse_y=y)

        def modal(op, e):
            return sorted(Op.modal(op, bpy.context, e))

        op = make_op()
        s = op._session
        out = {}
        out["click"] = modal(op, ev("LEFTMOUSE"))
        out["clicked_z"] = float(s.seg.points[s.state.prompts[0][0]][2])
        out["mask"] = int(s.mask.sum()) if s.mask is not None else 0
        out["sidebar_click"] = modal(op, ev("LEFTMOUSE", x=900))
        out["sidebar_wheel"] = modal(op, ev("WHEELUPMOUSE", x=900))
        out["prompts_after_sidebar"] = len(s.state.prompts)
        out["wheel"] = modal(op, ev("WHEELUPMOUSE"))
        out["slider_after_wheel"] = round(st.scale, 3)
        n = len(s.decode_ms)
        st.scale = 0.6  # the user drags the panel slider
        out["move"] = modal(op, ev("MOUSEMOVE", "NOTHING"))
        out["slider_decoded"] = [round(s.state.scale, 3), len(s.decode_ms) - n]
        out["middle"] = modal(op, ev("MIDDLEMOUSE"))
        out["header"] = headers[-1]
        # the slider moves while the mouse rests: the tool's timer event picks it up
        n = len(s.decode_ms)
        st.scale = 0.4
        out["timer"] = modal(op, ev("TIMER", "NOTHING"))
        out["timer_decoded"] = [round(s.state.scale, 3), len(s.decode_ms) - n,
                                int(s.mask.sum()) if s.mask is not None else 0]
        out["timer_header"] = headers[-1]
        n = len(s.decode_ms)
        st.matching_parts = False  # the panel's Matching Parts switched off
        out["twins_toggle"] = [modal(op, ev("TIMER", "NOTHING")), s.twins,
                               len(s.decode_ms) - n]
        st.matching_parts = True
        modal(op, ev("TIMER", "NOTHING"))
        out["twins_back"] = s.twins
        out["esc"] = modal(op, ev("ESC"))
        out["slider_restored"] = round(st.scale, 3)
        out["esc_same"] = state_of(ob) == before
        out["shading"] = [op._area.spaces.active.shading.type,
                          op._area.spaces.active.shading.color_type]
        out["header_cleared"] = headers[-1] is None
        op = make_op()
        modal(op, ev("LEFTMOUSE", x=420, y=310))
        out["keep"] = modal(op, ev("RET"))
        out["finish"] = modal(op, ev("RET"))
        out["reports"] = reports
        after = state_of(ob)
        out["groups"] = sorted(k for k in after["groups"] if k.startswith("Part."))
        out["hash_same"] = after["hash"] == before["hash"]
        RESULT.update(out)
    """)


def test_pick_modal_maps_clicks_through_the_view_region(pick_modal):
    r = pick_modal
    assert r["click"] == ["RUNNING_MODAL"] and r["mask"] > 0
    assert abs(r["clicked_z"] - 0.79) < 0.05  # the table top under the view centre
    # over the sidebar: Blender handles the event, the part is unchanged
    assert r["sidebar_click"] == ["PASS_THROUGH"] and r["sidebar_wheel"] == ["PASS_THROUGH"]
    assert r["prompts_after_sidebar"] == 1
    assert r["middle"] == ["PASS_THROUGH"]


def test_pick_modal_syncs_scale_with_the_panel_slider(pick_modal):
    r = pick_modal
    assert r["wheel"] == ["RUNNING_MODAL"] and r["slider_after_wheel"] == 0.25
    assert r["move"] == ["PASS_THROUGH"] and r["slider_decoded"] == [0.6, 1]
    assert "scale 0.60" in r["header"] and "Esc: cancel" in r["header"]
    assert r["timer"] == ["PASS_THROUGH"] and r["timer_decoded"][:2] == [0.4, 1]
    assert r["timer_decoded"][2] > 0 and "scale 0.40" in r["timer_header"]
    # the Matching Parts checkbox is followed the same way (re-decoded once)
    assert r["twins_toggle"] == [["PASS_THROUGH"], False, 1] and r["twins_back"] is True


def test_pick_modal_esc_restores_and_enter_keeps(pick_modal):
    r = pick_modal
    assert r["esc"] == ["CANCELLED"] and r["esc_same"] and r["slider_restored"] == 0.2
    assert r["shading"] == ["SOLID", "MATERIAL"] and r["header_cleared"]
    assert r["keep"] == ["RUNNING_MODAL"] and r["finish"] == ["FINISHED"]
    assert r["groups"] == ["Part.001"] and r["hash_same"]
    assert any("Kept 1 part" in m for m in r["reports"])


@pytest.fixture(scope="module")
def segment_modal(blender_env):
    """Segment All's interactive path: the job runs in its worker thread while the
    operator's modal() handles timer events (progress, status text), then writes on the
    main thread; Esc cancels and leaves the scene as it was."""
    _, run, _ = blender_env
    return run("""
        import time, types
        from types import SimpleNamespace as NS
        Op = bpy.types.S2AM3D_OT_segment_all
        ob = make_table()
        activate(ob)
        settings(scale=0.2, use_scale=True, output_mode="GROUPS")
        status, progress, reports = [], [], []
        wm = NS(event_timer_remove=lambda t: None, progress_end=lambda: progress.append("end"),
                progress_update=progress.append)
        c = bpy.context
        ctx = NS(view_layer=c.view_layer, scene=c.scene, preferences=c.preferences,
                 selected_objects=c.selected_objects,
                 evaluated_depsgraph_get=c.evaluated_depsgraph_get,
                 window_manager=wm, workspace=NS(status_text_set=status.append))

        def start():
            op = NS(report=lambda kind, msg: reports.append(msg), _timer=None)
            for name in ("_prepare", "_finish", "_status", "_cleanup"):
                setattr(op, name, types.MethodType(getattr(Op, name), op))
            op._job, op._spec, op._failed = op._prepare(ctx)
            op._job.start()
            return op

        before = state_of(ob)
        op = start()
        main_thread_writes = []
        t0 = time.time()
        while True:
            main_thread_writes.append(len(ob.vertex_groups))
            r = sorted(Op.modal(op, ctx, NS(type="TIMER")))
            if r != ["PASS_THROUGH"] or time.time() - t0 > 300:
                break
            time.sleep(0.05)
        RESULT["finished"] = r
        RESULT["groups_while_running"] = sorted(set(main_thread_writes))
        RESULT["status"] = [s for s in status if s]
        RESULT["status_cleared"] = status[-1] is None
        RESULT["progress_end"] = progress[-1] == "end"
        after = state_of(ob)
        RESULT["groups"] = sorted(k for k in after["groups"] if k.startswith("Part."))
        RESULT["hash_same"] = after["hash"] == before["hash"]
        # Esc right after the start: cancelled, nothing written even once the worker ends
        settings(scale=0.7)
        op = start()
        RESULT["esc"] = sorted(Op.modal(op, ctx, NS(type="ESC")))
        op._job.done.wait(300)
        RESULT["after_esc_same"] = state_of(ob) == after
        RESULT["reports"] = reports
    """)


def test_segment_all_modal_runs_in_worker_and_applies_on_timer(segment_modal):
    r = segment_modal
    assert r["finished"] == ["FINISHED"]
    assert r["groups_while_running"] == [0]  # nothing written before the timer applies it
    assert r["groups"] and r["hash_same"]
    assert any("Segment All: table" in s and "Esc to cancel" in s for s in r["status"])
    assert r["status_cleared"] and r["progress_end"]


def test_segment_all_modal_esc_cancels_without_changes(segment_modal):
    r = segment_modal
    assert r["esc"] == ["CANCELLED"] and r["after_esc_same"]
    assert any("cancelled; nothing was changed" in m for m in r["reports"])


def test_checkout_batch_script_without_extension_or_deps_says_why(blender_env):
    """In a Blender Python without the extension enabled (and without SciPy or the venv),
    the checkout's batch script exits 1 with a one-line reason instead of a traceback."""
    env, _, tmp = blender_env
    script = REPO / "scripts" / "s2am3d_batch.py"
    code = textwrap.dedent(f"""
        import runpy, sys
        SITE = {str(SITE)!r}
        sys.path = [p for p in sys.path if not p.startswith(SITE) and p not in ("", {str(REPO)!r})]
        sys.path.append({str(_shim(tmp))!r})
        sys.argv = [{str(script)!r}, "--", "--input", "x.obj"]
        runpy.run_path({str(script)!r}, run_name="__main__")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("s2am3d-batch:")]
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert len(lines) == 1 and "lacks" in lines[0] and "scipy" in lines[0]
    assert "Traceback" not in proc.stderr
