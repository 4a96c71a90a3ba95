"""Scene settings (the Parts panel) and add-on preferences."""

from __future__ import annotations

from dataclasses import dataclass

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

OUTPUT_MODES = [
    ("GROUPS", "Vertex Groups", "One vertex group per part (weight 1); geometry unchanged"),
    ("OBJECTS", "Separate Objects", "One object per part, with materials, UVs and normals"),
    ("ATTRIBUTE", "Face Attribute", "Integer face attribute 'part' plus colours only"),
]
ORIGINAL_MODES = [
    ("HIDE", "Hide Original", "Keep the original object, hidden (Clear Parts shows it again)"),
    ("REPLACE", "Replace Original", "Delete the original object (undo brings it back)"),
    ("KEEP", "Keep Original", "Keep the original object visible"),
]
MODE_TO_WRITER = {"GROUPS": "groups", "OBJECTS": "objects", "ATTRIBUTE": "attribute"}


class S2AM3D_Settings(bpy.types.PropertyGroup):
    """Settings of the Parts panel, stored per scene (saved with the .blend)."""

    use_scale: BoolProperty(
        name="Use Scale", default=True,
        description="Off: the model's no-scale mode (it decides the part size itself)",
    )
    scale: FloatProperty(
        name="Scale", default=0.2, min=0.0, max=1.0, step=1, precision=2,
        description="Part size as a fraction of the object (0 = tiny parts, 1 = whole object)",
    )
    num_parts: IntProperty(
        name="Parts", default=0, min=0, max=1000,
        description="Segment All into exactly this many parts per object (fewer only when "
        "the object cannot be cut finer); 0 = by the scale (or the natural parts when Use "
        "Scale is off). Pick Parts always uses the scale",
    )
    matching_parts: BoolProperty(
        name="Matching Parts", default=True,
        description="Pick Parts on a smooth one-piece mesh: past the picked part, the "
        "selection grows into its look-alikes (the other arm, the other legs) before the "
        "body. Off: it always grows outwards from the click",
    )
    output_mode: EnumProperty(name="Output", items=OUTPUT_MODES, default="GROUPS")
    original_mode: EnumProperty(name="Original", items=ORIGINAL_MODES, default="HIDE")
    n_points: IntProperty(
        name="Points", default=0, min=0, max=200000,
        description="Surface points sampled per object (0 = the preferences' default)",
    )
    min_part_size: FloatProperty(
        name="Min Part Size", default=0.0, min=0.0, max=0.5, precision=3,
        description="Segment All: smallest part kept, as a fraction of the object (its "
        "surface on meshes, its points on point clouds); with Parts, only parts this large "
        "count (0 = the model's default)",
    )
    hierarchy: StringProperty(
        name="Extra Scales", default="",
        description="Comma-separated extra scales (e.g. 0.05, 0.5) segmented too: nested "
        "group names / collections",
    )
    include_parts: BoolProperty(
        name="Segment Part Objects", default=False,
        description="Also split objects S2AM3D made (off: a selected part object stands for "
        "the object it was cut from, so re-running replaces its parts)",
    )
    show_advanced: BoolProperty(name="Advanced", default=False)


def _addon_name() -> str:
    return __package__


class S2AM3D_Preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    default_points: IntProperty(
        name="Default Points", default=10000, min=256, max=200000,
        description="Surface points sampled per object when the panel says 0",
    )
    num_threads: IntProperty(
        name="Threads", default=0, min=0, max=256,
        description="CPU threads for ONNX Runtime (0 = automatic)",
    )
    prefix: StringProperty(
        name="Name Prefix", default="",
        description="Prefix of the vertex groups / objects made (e.g. 'seg_' → seg_Part.001)",
    )
    model_path: StringProperty(
        name="Model Folder", default="", subtype="DIR_PATH",
        description="Folder with other weights (encoder.onnx, decoder_*.onnx, config.json); "
        "empty = the bundled model",
    )

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "default_points")
        col.prop(self, "num_threads")
        col.prop(self, "prefix")
        col.prop(self, "model_path")


@dataclass(frozen=True)
class PrefValues:
    """Preference values, with defaults when the add-on is not registered (scripts)."""

    default_points: int = 10000
    num_threads: int = 0
    prefix: str = ""
    model_path: str = ""


def prefs_of(context=None) -> PrefValues:
    context = context or bpy.context
    addon = context.preferences.addons.get(_addon_name())
    if addon is None or addon.preferences is None:
        return PrefValues()
    p = addon.preferences
    return PrefValues(int(p.default_points), int(p.num_threads), str(p.prefix),
                      bpy.path.abspath(str(p.model_path)) if p.model_path else "")


class SettingsError(ValueError):
    """A panel setting or batch argument that cannot be used; the message names the field."""


def parse_scales(text: str, field_name: str = "scales") -> tuple[float, ...]:
    """``"0.05, 0.5"`` → ``(0.05, 0.5)``; raises :class:`SettingsError` naming
    ``field_name`` for a token that is not a number or lies outside [0, 1]."""
    out = []
    for tok in text.replace(";", ",").split(","):
        tok = tok.strip()
        if not tok:
            continue
        try:
            v = float(tok)
        except ValueError:
            raise SettingsError(f"{field_name}: {tok!r} is not a number (write scales "
                                "between 0 and 1 separated by commas, e.g. 0.05, 0.5)") from None
        if not 0.0 <= v <= 1.0:
            raise SettingsError(f"{field_name}: scale {tok} is outside [0, 1]")
        out.append(v)
    return tuple(out)


classes = (S2AM3D_Settings, S2AM3D_Preferences)
