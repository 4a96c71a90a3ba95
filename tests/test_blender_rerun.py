"""Running Segment All twice and then Clear Parts, in every output mode, in the installed
extension (real Blender 5.0, Blender-like Python): nothing of the user's is lost, nothing
of the add-on's is left, and the add-on's outputs are never taken as inputs. Also the
one-line reasons a user (or a script calling the operator) gets for bad settings and bad
objects, undo of Separate Objects, and the panel's part count.

About undo: ``bpy.ops.ed.undo.poll()`` is False in a fresh background session, because
Blender pushes an undo step for an ``UNDO`` operator only when it runs from the UI. The
scenarios push the same steps around each call (``ed.undo_push``, as the UI does with the
operator's name) and then drive ``ed.undo`` / ``ed.redo``; every operator class is also
checked for ``{"REGISTER", "UNDO"}``.
"""

from __future__ import annotations

import pytest
from test_blender_extension import install_env, linux_zips

pytestmark = [pytest.mark.blender, pytest.mark.slow]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    zips = linux_zips(tmp_path_factory.getbasetemp() / "dist")
    return install_env(zips["py311"], tmp_path_factory.mktemp("rerun_user"))


CASES = {
    # name: (make, output mode, original mode, extra scales)
    "groups": ("table", "GROUPS", "HIDE", ""),
    "attribute": ("table", "ATTRIBUTE", "HIDE", "0.6"),
    "objects_hide_suzanne": ("monkey", "OBJECTS", "HIDE", ""),
    "objects_keep": ("table", "OBJECTS", "KEEP", ""),
    "objects_replace_hierarchy": ("table", "OBJECTS", "REPLACE", "0.6"),
}


@pytest.fixture(scope="module")
def reruns(env):
    _, run, _ = env
    return run(f"""
        CASES = {CASES!r}
        def scene_state():
            return {{"scene": sorted(o.name for o in bpy.context.scene.objects),
                     "data": sorted(o.name for o in bpy.data.objects),
                     "meshes": sorted(m.name for m in bpy.data.meshes),
                     "collections": sorted(c.name for c in bpy.data.collections)}}
        def select_everything():
            for o in bpy.context.view_layer.objects:
                if o.visible_get():
                    o.select_set(True)
        def op(name):
            try:
                return sorted(getattr(bpy.ops.s2am3d, name)())
            except RuntimeError as exc:
                return ["ERROR", str(exc).strip()]
        def wipe():  # (read_factory_settings would also disable the extension)
            for o in list(bpy.data.objects):
                bpy.data.objects.remove(o)
            for m in list(bpy.data.meshes):
                bpy.data.meshes.remove(m)
            for c in list(bpy.data.collections):
                bpy.data.collections.remove(c)
            bpy.context.view_layer.update()
        for case, (make, mode, original, hier) in CASES.items():
            wipe()
            if make == "monkey":
                bpy.ops.mesh.primitive_monkey_add()
                ob = bpy.context.active_object
                ob.name = "Suzanne"
            else:
                ob = make_table()
            add_user_data(ob, [0, 1, 2])
            name = ob.name
            activate(ob)
            settings(scale=0.2, use_scale=True, output_mode=mode, original_mode=original,
                     hierarchy=hier)
            out = {{"before": state_of(ob), "scene_before": scene_state()}}
            bpy.ops.ed.undo_push(message="initial")
            bpy.ops.ed.undo_push(message="before")
            out["first"] = op("segment_all")
            bpy.ops.ed.undo_push(message="Segment All")
            out["after_first"] = scene_state()
            out["selected_after_first"] = sorted(o.name for o in bpy.context.selected_objects)
            out["tracked_first"] = list(bpy.data.objects[name].get("s2am3d_groups", []))
            # undo / redo of the first run (objects appear and go as one step)
            bpy.ops.ed.undo()
            out["undone"] = scene_state()
            out["undone_state"] = state_of(bpy.data.objects[name])
            bpy.ops.ed.redo()
            out["redone"] = scene_state()
            # the user selects everything in sight and runs Segment All again
            select_everything()
            out["second"] = op("segment_all")
            out["after_second"] = scene_state()
            out["tracked_second"] = list(bpy.data.objects[name].get("s2am3d_groups", []))
            select_everything()
            bpy.ops.ed.undo_push(message="before Clear Parts")
            out["clear"] = op("clear_parts")
            bpy.ops.ed.undo_push(message="Clear Parts")
            out["after_clear"] = state_of(bpy.data.objects[name])
            out["scene_after_clear"] = scene_state()
            bpy.ops.ed.undo()  # Clear Parts is undoable too
            out["clear_undone"] = scene_state()
            RESULT[case] = out
        RESULT["flags"] = {{c.__name__: sorted(c.bl_options)
                            for c in sub("operators").classes}}
    """)


@pytest.mark.parametrize("case", list(CASES))
def test_second_run_replaces_only_the_add_ons_output(reruns, case):
    r = reruns[case]
    assert r["first"] == ["FINISHED"] and r["second"] == ["FINISHED"], r
    # same objects after the second run: the parts were replaced, not cut again
    assert r["after_second"] == r["after_first"]
    assert not [n for n in r["after_second"]["data"] if n.count("Part.") > 1]
    assert r["tracked_second"] == r["tracked_first"]
    # an output is never left selected (it would be the next run's input)
    parts = set(r["after_first"]["data"]) - set(r["scene_before"]["data"])
    assert not parts & set(r["selected_after_first"])
    if CASES[case][1] == "OBJECTS":
        assert parts  # part objects were made


@pytest.mark.parametrize("case", list(CASES))
def test_clear_parts_after_two_runs_leaves_exactly_the_users_scene(reruns, case):
    r = reruns[case]
    assert r["clear"] == ["FINISHED"], r["clear"]
    assert r["after_clear"] == r["before"]  # groups, attributes, materials, geometry, names
    assert r["scene_after_clear"] == r["scene_before"]  # no orphan parts, meshes, collections


@pytest.mark.parametrize("case", list(CASES))
def test_undo_and_redo_of_segment_all_and_undo_of_clear_parts(reruns, case):
    r = reruns[case]
    assert r["undone"] == r["scene_before"] and r["undone_state"] == r["before"]
    assert r["redone"] == r["after_first"]
    assert r["clear_undone"] == r["after_second"]


def test_replace_keeps_the_original_in_the_file_but_out_of_the_scene(reruns):
    r = reruns["objects_replace_hierarchy"]
    assert "table" not in r["after_first"]["scene"] and "table" in r["after_first"]["data"]
    assert any(n.startswith("table.S0.6.Part.") for n in r["after_first"]["scene"])


def test_every_operator_class_is_registered_undoable(reruns):
    flags = reruns["flags"]
    assert set(flags) == {"S2AM3D_OT_segment_all", "S2AM3D_OT_clear_parts",
                          "S2AM3D_OT_pick_parts"}
    for name, f in flags.items():
        assert {"REGISTER", "UNDO"} <= set(f), name


@pytest.fixture(scope="module")
def reasons(env):
    _, run, _ = env
    return run("""
        def attempt(op="segment_all"):
            try:
                return ["OK", sorted(getattr(bpy.ops.s2am3d, op)())]
            except RuntimeError as exc:
                return ["ERROR", str(exc).strip().removeprefix("Error: ")]
        out = {}
        ob = make_table()
        activate(ob)
        before = state_of(ob)
        for key, kw in (("nan_scale", dict(scale=float("nan"))),
                        ("extra_out_of_range", dict(scale=0.2, hierarchy="0.05, 2")),
                        ("extra_not_a_number", dict(hierarchy="abc"))):
            settings(**kw)
            out[key] = attempt()
        settings(hierarchy="", scale=0.2)
        out["settings_untouched"] = state_of(ob) == before
        def bad_mesh(name, edit):
            o = make_table(name)
            v = np.empty(len(o.data.vertices) * 3, np.float32)
            o.data.vertices.foreach_get("co", v)
            v = v.reshape(-1, 3)
            edit(o, v)
            o.data.vertices.foreach_set("co", v.ravel())
            o.data.update()
            return o
        cases = {
            "nan_vertex": lambda o, v: v.__setitem__((3, 0), np.nan),
            "huge_vertex": lambda o, v: v.__setitem__((3, 0), 3.4e38),
            "degenerate": lambda o, v: v.__setitem__(slice(None), 0.5),
            "no_area": lambda o, v: v.__setitem__((slice(None), slice(1, 3)), 0.0),
            "nan_object_scale": lambda o, v: setattr(o, "scale", (np.nan, 1.0, 1.0)),
        }
        for key, edit in cases.items():
            o = bad_mesh(key, edit)
            activate(o)
            st = state_of(o)
            out[key] = attempt()
            out[key + "_untouched"] = state_of(o) == st
        # a good mesh selected with a bad one: the good one is segmented
        good = make_table("good")
        activate(bpy.data.objects["nan_vertex"], [good])
        out["mixed"] = attempt()
        out["mixed_good_groups"] = len(good.get("s2am3d_groups", []))
        # no active object but a selected mesh: the selection is taken
        other = make_table("selected_only")
        activate(None, [other])
        out["selection_only"] = attempt()
        out["selection_only_groups"] = len(other.get("s2am3d_groups", []))
        RESULT.update(out)
    """)


@pytest.mark.parametrize("case,words", [
    ("nan_scale", "Settings: Scale is nan; set it between 0 and 1"),
    ("extra_out_of_range", "Settings: Extra Scales: scale 2 is outside [0, 1]"),
    ("extra_not_a_number", "Settings: Extra Scales: 'abc' is not a number"),
    ("nan_vertex", "Nothing was segmented: 'nan_vertex': its mesh cannot be segmented: "
                   "vertices contain 1 non-finite (NaN or inf) coordinates, first at index 3"),
    ("huge_vertex", "'huge_vertex': its mesh cannot be segmented: vertices have 1 coordinates "
                    "beyond 1e+12"),
    ("degenerate", "'degenerate': its mesh cannot be segmented: vertices have fewer than 3 "
                   "distinct positions"),
    ("no_area", "'no_area': its mesh cannot be segmented: every face has zero area"),
    ("nan_object_scale", "'nan_object_scale' has a NaN or infinite location, rotation or scale"),
])
def test_a_bad_setting_or_object_gives_one_line_in_the_users_words(reasons, case, words):
    status, msg = reasons[case]
    assert status == "ERROR" and words in msg, msg
    assert "\n" not in msg and "Error" not in msg  # no traceback, no exception class names
    assert "Model problem" not in msg
    if case in ("nan_vertex", "huge_vertex", "degenerate", "no_area", "nan_object_scale"):
        assert reasons[case + "_untouched"]
    else:
        assert reasons["settings_untouched"]


def test_good_objects_are_segmented_next_to_bad_ones_and_selection_counts(reasons):
    assert reasons["mixed"] == ["OK", ["FINISHED"]] and reasons["mixed_good_groups"] >= 2
    assert reasons["selection_only"] == ["OK", ["FINISHED"]]
    assert reasons["selection_only_groups"] >= 2


def test_onnx_runtime_import_failure_is_one_line_with_what_to_do(env):
    _, run, _ = env
    r = run("""
        sys.modules["onnxruntime"] = None  # as if the bundled wheel could not be imported
        ob = make_table()
        activate(ob)
        settings(scale=0.2)
        st = state_of(ob)
        try:
            bpy.ops.s2am3d.segment_all()
            RESULT["msg"] = "no error"
        except RuntimeError as exc:
            RESULT["msg"] = str(exc).strip()
        RESULT["untouched"] = state_of(ob) == st
    """)
    msg = r["msg"]
    assert "Model problem: ONNX Runtime cannot be loaded (onnxruntime)" in msg
    assert "this Blender runs Python 3.11" in msg and "py311" in msg and "install" in msg
    assert "\n" not in msg and "Traceback" not in msg and r["untouched"]


def test_panel_shows_the_part_count_once_encoded_and_never_encodes(env):
    _, run, _ = env
    r = run("""
        def counts():
            return [t for kind, t in draw_panel()
                    if kind == "label" and t.startswith("Segment All at")]
        eng = sub("engine")
        ob = make_table()
        activate(ob)
        settings(scale=0.2, use_scale=True, output_mode="GROUPS")
        RESULT["before"] = counts()
        RESULT["cache_after_draw"] = len(eng.CACHE._items)
        bpy.ops.s2am3d.segment_all()
        RESULT["after"] = counts()
        RESULT["groups_02"] = len(ob["s2am3d_groups"])
        settings(scale=0.7)
        RESULT["at_07"] = counts()
        bpy.ops.s2am3d.segment_all()
        RESULT["groups_07"] = len(ob["s2am3d_groups"])
        settings(use_scale=False)
        RESULT["no_scale"] = counts()
        bpy.ops.s2am3d.segment_all()
        RESULT["groups_none"] = len(ob["s2am3d_groups"])
    """)
    assert r["before"] == [] and r["cache_after_draw"] == 0  # drawing encoded nothing
    def p(n):
        return f"{n} part" + ("" if n == 1 else "s")

    # the count shown before running is what Segment All then writes
    assert r["after"] == [f"Segment All at scale 0.20: {p(r['groups_02'])}"]
    assert r["at_07"] == [f"Segment All at scale 0.70: {p(r['groups_07'])}"]
    assert r["no_scale"] == [f"Segment All at no scale: {p(r['groups_none'])}"]


def test_parts_split_on_request_and_clear_parts_removes_every_level(env):
    """With Segment Part Objects on, the user's selected parts are cut themselves; Clear
    Parts on the original then removes both levels and shows everything hidden again."""
    _, run, _ = env
    r = run("""
        ob = make_table()
        name = ob.name
        activate(ob)
        settings(scale=0.2, output_mode="OBJECTS", original_mode="HIDE", include_parts=False)
        before = state_of(ob)
        data0 = sorted(o.name for o in bpy.data.objects)
        meshes0 = sorted(m.name for m in bpy.data.meshes)
        bpy.ops.s2am3d.segment_all()
        parts = [o for o in bpy.data.objects if o.get("s2am3d_part_of") == name]
        settings(include_parts=True, scale=0.5)
        activate(parts[0], parts[1:])
        RESULT["nested_op"] = sorted(bpy.ops.s2am3d.segment_all())
        RESULT["nested"] = sorted(o.name for o in bpy.data.objects if o.name.count("Part.") > 1)
        settings(include_parts=False)
        activate(bpy.data.objects[name])
        RESULT["clear"] = sorted(bpy.ops.s2am3d.clear_parts())
        RESULT["same"] = state_of(bpy.data.objects[name]) == before
        RESULT["data_same"] = sorted(o.name for o in bpy.data.objects) == data0
        RESULT["meshes_same"] = sorted(m.name for m in bpy.data.meshes) == meshes0
    """)
    assert r["nested_op"] == ["FINISHED"] and r["nested"]  # the user asked: parts were cut
    assert r["clear"] == ["FINISHED"] and r["same"] and r["data_same"] and r["meshes_same"]
