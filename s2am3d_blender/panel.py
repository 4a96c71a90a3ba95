"""The Parts tab of the 3D Viewport sidebar (N panel)."""

from __future__ import annotations

import sys

import bpy

from . import engine, runner
from . import writers as wr
from .props import prefs_of

#: Meshes larger than this are not hashed on every redraw of the panel.
_STATUS_HASH_LIMIT = 300_000


def _encoder_status(obj, prefs) -> str:
    """One line: is the active mesh's current state encoded (and with how many points)."""
    if obj is None or obj.type != "MESH" or obj.mode == "EDIT":
        return "no mesh"
    if len(obj.data.vertices) > _STATUS_HASH_LIMIT:
        return "large mesh (checked when run)"
    from .mesh_io import geometry_of

    geom = geometry_of(obj)
    for key in list(engine.CACHE._items):
        if key[0] == geom.key:
            return f"Encoder cached: {key[2]} points sampled"
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
        box.label(text=_encoder_status(obj, prefs))

        col = layout.column(align=True)
        col.prop(settings, "use_scale")
        row = col.row()
        row.enabled = settings.use_scale
        row.prop(settings, "scale", slider=True)

        layout.operator("s2am3d.pick_parts", icon="RESTRICT_SELECT_OFF")
        layout.operator("s2am3d.segment_all", icon="MOD_EXPLODE")
        layout.prop(settings, "output_mode")
        if settings.output_mode == "OBJECTS":
            layout.prop(settings, "original_mode")

        layout.prop(settings, "show_advanced", icon="PREFERENCES")
        if settings.show_advanced:
            adv = layout.box().column()
            adv.prop(settings, "n_points")
            adv.prop(settings, "num_prompts")
            adv.prop(settings, "min_part_size")
            adv.prop(settings, "hierarchy")

        if obj is not None and obj.type == "MESH":
            n = len(wr.tracked_groups(obj))
            layout.label(text=f"{n} part group(s) on {obj.name}")
        layout.operator("s2am3d.clear_parts", icon="TRASH")


classes = (S2AM3D_PT_parts,)
