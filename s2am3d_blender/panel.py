"""The Parts tab of the 3D Viewport sidebar (N panel)."""

from __future__ import annotations

import sys
from collections import OrderedDict

import bpy

from . import engine, runner
from . import writers as wr
from .props import prefs_of

#: Meshes larger than this are not hashed on every redraw of the panel.
_STATUS_HASH_LIMIT = 300_000


#: Part counts shown by the panel, per (mesh key, scale, use scale, overrides); bounded.
_COUNTS: OrderedDict[tuple, int | None] = OrderedDict()
_COUNTS_MAX = 256


def mesh_key(obj) -> str | None:
    """The encoder-cache key of the active mesh's current state (hashed once per draw), or
    ``None`` for no mesh, Edit Mode, an empty mesh or one too large to hash per redraw."""
    if obj is None or obj.type != "MESH" or obj.mode == "EDIT" or not len(obj.data.vertices):
        return None
    if len(obj.data.vertices) > _STATUS_HASH_LIMIT:
        return None
    from .mesh_io import geometry_of

    return geometry_of(obj).key


def part_count(key: str | None, settings, n_points: int) -> int | None:
    """How many parts Segment All would give the active mesh at the panel's scale (or with
    the panel's Parts > 0, into that many parts), when its encoder result is cached
    (``None`` otherwise, or while Segment All runs in the background: the panel never
    encodes and never shares a segmenter with the worker). Counts are memoised per
    (mesh state, scale, use scale, min part size) or (mesh state, parts asked)."""
    if key is None or engine.job_running():
        return None
    seg = engine.CACHE.peek(key, n_points) or engine.CACHE.peek(key)
    if seg is None:
        return None
    overrides = {}
    if settings.min_part_size > 0:
        overrides["min_part_fraction"] = float(settings.min_part_size)
        overrides["min_mesh_part_fraction"] = float(settings.min_part_size)
    asked = int(settings.num_parts)
    scale = round(float(settings.scale), 6) if settings.use_scale else None
    ck = ((key, "parts", asked) if asked > 0 else (key, scale, bool(settings.use_scale))
          ) + tuple(sorted(overrides.items()))
    if ck not in _COUNTS:
        try:
            core_settings = engine.SegmentOptions(overrides=overrides).core_settings()
            if asked > 0:  # fewer than asked when the mesh cannot be cut finer
                n = seg.segment_all(num_parts=asked, settings=core_settings).num_parts
            else:
                n = seg.count_parts(scale, core_settings)
            _COUNTS[ck] = int(n)
        except (ValueError, ArithmeticError, engine.errors().S2AM3DError):
            _COUNTS[ck] = None  # a NaN scale or similar: Segment All itself reports why
        while len(_COUNTS) > _COUNTS_MAX:
            _COUNTS.popitem(last=False)
    _COUNTS.move_to_end(ck)
    return _COUNTS[ck]


def count_label(settings, n: int | None) -> str | None:
    """The panel's line about what Segment All will give: ``n`` parts (known when the mesh
    is encoded) at the scale, or into the asked number of Parts (``None``: nothing to say)."""
    asked = int(settings.num_parts)
    if asked > 0:
        got = asked if n is None else n
        more = "" if got == asked else f" (asked for {asked}: the mesh cannot be cut finer)"
        return f"Segment All into {engine.plural(got)}{more}"
    if n is None:
        return None
    at = f"scale {settings.scale:.2f}" if settings.use_scale else "no scale"
    return f"Segment All at {at}: {engine.plural(n)}"


def _encoder_status(obj, key: str | None) -> str:
    """One line: is the active mesh's current state (``key``) encoded, with how many
    points."""
    if obj is None or obj.type != "MESH" or obj.mode == "EDIT":
        return "no mesh"
    if len(obj.data.vertices) > _STATUS_HASH_LIMIT:
        return "large mesh (checked when run)"
    for k in list(engine.CACHE._items):
        if k[0] == key:
            return f"Encoder cached: {k[2]} points sampled"
    return "Not encoded yet (encodes on first use)"


def _model_status() -> str:
    """Backend line: ONNX Runtime (its version once loaded) and whether the weights are
    trained (known after the first run)."""
    ort = sys.modules.get("onnxruntime")
    text = "Backend: ONNX Runtime" + (f" {ort.__version__}" if ort is not None else "") + " (CPU)"
    metas = list(runner._MODEL_OK.values())
    if metas:
        text += ", trained model" if metas[-1].get("trained") else ", UNTRAINED model"
    return text


class S2AM3D_PT_parts(bpy.types.Panel):
    bl_label = "Parts"
    bl_idname = "S2AM3D_PT_parts"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Parts"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.s2am3d
        prefs = prefs_of(context)
        obj = context.view_layer.objects.active

        box = layout.box()
        box.label(text=_model_status(), icon="MODIFIER")
        box.label(text=f"Points per object: {settings.n_points or prefs.default_points}")
        key = mesh_key(obj)
        box.label(text=_encoder_status(obj, key))

        col = layout.column(align=True)
        col.prop(settings, "use_scale")
        row = col.row()
        row.enabled = settings.use_scale  # stays on with Parts > 0: Pick Parts uses it
        row.prop(settings, "scale", slider=True)
        col.prop(settings, "num_parts")
        if settings.num_parts > 0:
            col.label(text="Parts > 0: Segment All ignores the scale (Pick Parts uses it)",
                      icon="INFO")
        n = part_count(key, settings, settings.n_points or prefs.default_points)
        text = count_label(settings, n)
        if text is not None:
            col.label(text=text, icon="MOD_EXPLODE")

        layout.operator("s2am3d.pick_parts", icon="RESTRICT_SELECT_OFF")
        layout.prop(settings, "matching_parts")
        layout.operator("s2am3d.segment_all", icon="MOD_EXPLODE")
        layout.prop(settings, "output_mode")
        if settings.output_mode == "OBJECTS":
            layout.prop(settings, "original_mode")

        layout.prop(settings, "show_advanced", icon="PREFERENCES")
        if settings.show_advanced:
            adv = layout.box().column()
            adv.prop(settings, "n_points")
            adv.prop(settings, "min_part_size")
            adv.prop(settings, "hierarchy")
            adv.prop(settings, "include_parts")

        if obj is not None and obj.type == "MESH":
            n = len(wr.tracked_groups(obj))
            layout.label(text=f"{n} part group(s) on {obj.name}")
        layout.operator("s2am3d.clear_parts", icon="TRASH")


classes = (S2AM3D_PT_parts,)
