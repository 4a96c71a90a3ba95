"""The panel's Parts setting (Segment All into exactly K parts) in the installed extension
(real Blender 5.0, Blender-like Python): the operator gives K part groups without touching
the geometry or the user's data, is undoable, Parts = 0 keeps the scale, a count level
names its groups / objects like a no-scale run (extra scales nested after it), and the
panel says what Segment All will give.

Undo is driven by the prelude's ``segment_all_undoably`` (``ed.undo_push`` around the
call, as the UI does for an ``UNDO`` operator).
"""

from __future__ import annotations

import pytest
from test_blender_extension import install_env, linux_zips

pytestmark = [pytest.mark.blender, pytest.mark.slow]


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    zips = linux_zips(tmp_path_factory.getbasetemp() / "dist")
    _, run, _ = install_env(zips["py311"], tmp_path_factory.mktemp("parts_user"))
    return run("""
        runner = sub("runner")
        ob = make_table()
        add_user_data(ob, [0, 1, 2])
        activate(ob)
        s = settings(scale=0.2, use_scale=True, num_parts=3, output_mode="GROUPS")
        RESULT["default_parts"] = type(s).bl_rna.properties["num_parts"].default
        spec = runner.spec_from_settings(s, sub("props").prefs_of())
        RESULT["spec"] = [spec.opts.scale, spec.opts.num_parts]
        RESULT["panel_before"] = draw_panel()
        before = state_of(ob)
        RESULT["before"] = before
        RESULT["op"] = segment_all_undoably()
        ob = bpy.data.objects["table"]
        RESULT["after"] = state_of(ob)
        RESULT["tracked"] = list(ob["s2am3d_groups"])
        vals = np.empty(len(ob.data.polygons), np.int32)
        ob.data.attributes["part"].data.foreach_get("value", vals)
        RESULT["part_values"] = sorted(set(vals.tolist()))
        RESULT["panel_after"] = draw_panel()
        RESULT["text"] = runner.parts_text({"parts": 3, "num_parts_asked": 3})
        bpy.ops.ed.undo()
        RESULT["undone"] = state_of(bpy.data.objects["table"])
        bpy.ops.ed.redo()
        ob = bpy.data.objects["table"]
        # a count above what the table has: fewer parts, and the panel says so
        settings(num_parts=1000)
        RESULT["panel_many"] = draw_panel()
        bpy.ops.s2am3d.segment_all()
        RESULT["many_tracked"] = len(ob["s2am3d_groups"])
        # with a smallest part size only parts that large count: the panel says the same
        settings(num_parts=1000, min_part_size=0.05)
        RESULT["panel_min"] = draw_panel()
        bpy.ops.s2am3d.segment_all()
        RESULT["min_tracked"] = len(ob["s2am3d_groups"])
        settings(min_part_size=0.0)
        # Parts = 0: Segment All by the scale again
        settings(num_parts=0)
        spec = runner.spec_from_settings(bpy.context.scene.s2am3d, sub("props").prefs_of())
        RESULT["spec_scale"] = [spec.opts.scale, spec.opts.num_parts]
        RESULT["panel_scale"] = draw_panel()
        RESULT["scale_op"] = sorted(bpy.ops.s2am3d.segment_all())
        RESULT["scale_tracked"] = len(ob["s2am3d_groups"])
        RESULT["scale_hash"] = state_of(ob)["hash"]
        # Separate Objects with Parts and an extra scale: names and collections
        settings(num_parts=4, output_mode="OBJECTS", original_mode="KEEP", hierarchy="0.6")
        RESULT["objects_op"] = sorted(bpy.ops.s2am3d.segment_all())
        top = bpy.data.collections["table parts"]
        RESULT["top"] = sorted(o.name for o in top.objects)
        RESULT["children"] = {c.name: len(c.objects) for c in top.children}
        RESULT["clear"] = sorted(bpy.ops.s2am3d.clear_parts())
        RESULT["cleared"] = state_of(ob)
    """)


def test_parts_setting_defaults_to_zero_and_feeds_a_count_without_a_scale(parts):
    assert parts["default_parts"] == 0
    assert parts["spec"] == [None, 3]  # core never gets a scale with a part count
    assert parts["spec_scale"] == [pytest.approx(0.2), None]


def test_segment_all_with_parts_3_makes_exactly_3_groups_and_keeps_the_mesh(parts):
    assert parts["op"] == ["FINISHED"]
    before, after = parts["before"], parts["after"]
    assert after["hash"] == before["hash"]  # geometry unchanged
    assert parts["tracked"] == ["Part.001", "Part.002", "Part.003"]
    assert after["groups"]["user_vg"] == before["groups"]["user_vg"]
    assert "user_attr" in after["attributes"]
    covered = set()
    for name in parts["tracked"]:
        members = after["groups"][name]
        assert members and all(w == 1.0 for _, w in members)
        covered |= {i for i, _ in members}
    assert covered == set(range(48))
    assert parts["part_values"] == [0, 1, 2]
    assert parts["text"] == "3 parts (asked for 3)"


def test_segment_all_with_parts_is_undoable(parts):
    assert parts["undone"] == parts["before"]


def test_panel_shows_parts_and_says_the_scale_is_for_pick_parts(parts):
    before = parts["panel_before"]
    props = [name for kind, name in before if kind == "prop"]
    assert props.index("num_parts") == props.index("scale") + 1  # next to the slider
    labels = [t for kind, t in before if kind == "label"]
    assert "Segment All into 3 parts" in labels  # not encoded yet: what was asked
    assert any("Segment All ignores the scale" in t and "Pick Parts" in t for t in labels)
    after = [t for kind, t in parts["panel_after"] if kind == "label"]
    assert "Segment All into 3 parts" in after  # the real count, from the cached mesh
    many = [t for kind, t in parts["panel_many"] if kind == "label"]
    n = parts["many_tracked"]
    assert 3 < n < 1000
    assert f"Segment All into {n} parts (asked for 1000: the mesh cannot be cut finer)" in many
    scale = [t for kind, t in parts["panel_scale"] if kind == "label"]
    assert not any("ignores the scale" in t for t in scale)


def test_parts_zero_keeps_segmenting_by_the_scale(parts):
    assert parts["scale_op"] == ["FINISHED"]
    n = parts["scale_tracked"]
    scale = [t for kind, t in parts["panel_scale"] if kind == "label"]
    assert f"Segment All at scale 0.20: {n} parts" in scale  # the count the scale gives
    assert n != 3
    assert parts["scale_hash"] == parts["before"]["hash"]


def test_count_level_names_objects_like_a_no_scale_run_with_extra_scales_nested(parts):
    assert parts["objects_op"] == ["FINISHED"]
    assert parts["top"] == [f"table.Part.00{i}" for i in range(1, 5)]
    (name, n), = parts["children"].items()
    assert name == "table parts s=0.6" and n >= 1
    assert parts["clear"] == ["FINISHED"] and parts["cleared"] == parts["before"]


def test_parts_honour_the_smallest_part_size(parts):
    n, many = parts["min_tracked"], parts["many_tracked"]
    assert 1 <= n < many
    labels = [t for kind, t in parts["panel_min"] if kind == "label"]
    assert f"Segment All into {n} parts (asked for 1000: the mesh cannot be cut finer)" in labels
