"""S2AM3D Parts: scale-controllable part segmentation of meshes (Blender extension).

Thin glue over ``core`` (vendored into ``_vendor/s2am3d_core`` by ``build.py``): the Parts
panel, Pick Parts, Segment All, Clear Parts and the headless batch (``batch.py``).
Importing the package needs no bpy (the pure modules ``pick_state``, ``raycast``,
``labels`` and ``engine`` are tested without Blender); nothing heavy is imported at
registration, the model loads on first use.
"""

from __future__ import annotations


def _classes():
    from . import operators, panel, props

    return (*props.classes, *operators.classes, *panel.classes)


def register() -> None:
    import bpy

    from . import props

    for cls in _classes():
        bpy.utils.register_class(cls)
    bpy.types.Scene.s2am3d = bpy.props.PointerProperty(type=props.S2AM3D_Settings)


def unregister() -> None:
    import bpy

    del bpy.types.Scene.s2am3d
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
