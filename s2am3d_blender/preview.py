"""The ``--preview`` image of the headless batch: the segmented objects coloured by part,
rendered from a temporary camera with Workbench or Cycles (CPU). Everything the render
needs (camera, materials, point-cloud proxies) is temporary and removed afterwards; the
scene's render settings are put back."""

from __future__ import annotations

import os

import bpy
import numpy as np


class PreviewError(RuntimeError):
    """The preview could not be rendered; the message is one line."""


def _octahedra(points, colors, radius):
    off = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
                   np.float64) * radius
    faces = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4],
                      [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    n = len(points)
    verts = (points[:, None, :] + off[None]).reshape(-1, 3)
    tris = (faces[None] + 6 * np.arange(n)[:, None, None]).reshape(-1, 3)
    face_cols = np.repeat(colors, 8, axis=0)
    return verts, tris, face_cols


def _point_cloud_proxy(ob):
    """A temporary mesh of small octahedra at the points, coloured by part, for rendering
    a vertex-only object (Workbench draws no loose vertices)."""
    from . import writers as wr

    me = ob.data
    pts = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", pts)
    pts = pts.reshape(-1, 3).astype(np.float64)
    labels = wr.read_part_labels(me)
    cols = wr.label_colors(labels if labels is not None else np.full(len(pts), -1))
    radius = 0.006 * float(np.ptp(pts, axis=0).max() or 1.0)
    v, t, fc = _octahedra(pts, cols, radius)
    pm = bpy.data.meshes.new(f"{ob.name}.preview")
    pm.from_pydata(v.tolist(), [], t.tolist())
    wr.write_colors(pm, wr.COLOR_ATTR, fc, track=False)
    proxy = bpy.data.objects.new(pm.name, pm)
    proxy.matrix_world = ob.matrix_world.copy()
    bpy.context.scene.collection.objects.link(proxy)
    return proxy


def _cycles_setup(scene):
    """Cycles (CPU, 16 samples): every object drawn with a temporary material showing its
    render colour attribute (the part colours), lit by a grey world. Returns an undo
    function that puts the scene back."""
    vl = bpy.context.view_layer
    mat = bpy.data.materials.new("s2am3d_preview")
    mat.use_nodes = True
    nt = mat.node_tree
    bsdf = next(n for n in nt.nodes if n.type == "BSDF_PRINCIPLED")
    col = nt.nodes.new("ShaderNodeVertexColor")  # empty layer name: the render colours
    nt.links.new(col.outputs["Color"], bsdf.inputs["Base Color"])
    world = bpy.data.worlds.new("s2am3d_preview")
    world.use_nodes = True
    bg = next(n for n in world.node_tree.nodes if n.type == "BACKGROUND")
    bg.inputs["Color"].default_value = (0.8, 0.8, 0.8, 1.0)
    old = (vl.material_override, scene.world, scene.cycles.samples, scene.cycles.device,
           scene.cycles.use_denoising)
    vl.material_override, scene.world = mat, world
    scene.cycles.samples, scene.cycles.device, scene.cycles.use_denoising = 16, "CPU", False

    def undo():
        (vl.material_override, scene.world, scene.cycles.samples, scene.cycles.device,
         scene.cycles.use_denoising) = old
        bpy.data.materials.remove(mat)
        bpy.data.worlds.remove(world)

    return undo


def render_preview(path: str, objects: list, size=(800, 600), engine: str = "workbench"
                   ) -> None:
    """Render ``objects`` coloured by their active colour attribute (the part colours),
    from a temporary camera looking at their bounding box, with Workbench (flat studio
    light) or Cycles (``engine="cycles"``, CPU)."""
    from mathutils import Vector

    scene = bpy.context.scene
    temp = []
    shown = []
    for ob in objects:
        if ob.name not in bpy.data.objects or ob.type != "MESH":
            continue
        if len(ob.data.polygons) == 0 and len(ob.data.vertices):
            temp.append(_point_cloud_proxy(ob))
            shown.append(temp[-1])
        elif not ob.hide_render:
            shown.append(ob)
        for part in bpy.data.objects:
            if part.get("s2am3d_part_of") == ob.name and part not in shown:
                shown.append(part)
    if not shown:
        raise PreviewError("nothing to render")
    corners = [ob.matrix_world @ Vector(c) for ob in shown for c in ob.bound_box]
    lo = Vector([min(c[i] for c in corners) for i in range(3)])
    hi = Vector([max(c[i] for c in corners) for i in range(3)])
    centre, radius = (lo + hi) / 2, max((hi - lo).length / 2, 1e-6)
    cam_data = bpy.data.cameras.new("s2am3d_preview_cam")
    cam = bpy.data.objects.new("s2am3d_preview_cam", cam_data)
    scene.collection.objects.link(cam)
    temp.append(cam)
    direction = Vector((1.0, -1.4, 0.9)).normalized()
    cam.location = centre + direction * radius * 3.1
    cam.rotation_euler = (centre - cam.location).to_track_quat("-Z", "Y").to_euler()
    cam_data.clip_end = radius * 10
    old = (scene.camera, scene.render.engine, scene.render.filepath,
           scene.render.resolution_x, scene.render.resolution_y,
           scene.render.resolution_percentage, scene.render.image_settings.file_format)
    hidden = [ob for ob in scene.objects if ob not in shown and ob is not cam
              and not ob.hide_render]
    undo_cycles = None
    try:
        for ob in hidden:
            ob.hide_render = True
        scene.camera = cam
        if engine == "cycles":
            scene.render.engine = "CYCLES"
            undo_cycles = _cycles_setup(scene)
        else:
            scene.render.engine = "BLENDER_WORKBENCH"
            scene.display.shading.light = "STUDIO"
            scene.display.shading.color_type = "VERTEX"
        scene.render.resolution_x, scene.render.resolution_y = size
        scene.render.resolution_percentage = 100
        scene.render.image_settings.file_format = "PNG"
        scene.render.filepath = os.path.abspath(path)
        bpy.ops.render.render(write_still=True)
    finally:
        if undo_cycles is not None:
            undo_cycles()
        for ob in hidden:
            ob.hide_render = False
        (scene.camera, scene.render.engine, scene.render.filepath,
         scene.render.resolution_x, scene.render.resolution_y,
         scene.render.resolution_percentage, scene.render.image_settings.file_format) = old
        for ob in temp:
            data = ob.data
            bpy.data.objects.remove(ob)
            if isinstance(data, bpy.types.Mesh):
                bpy.data.meshes.remove(data)
            elif isinstance(data, bpy.types.Camera):
                bpy.data.cameras.remove(data)
    if not os.path.isfile(path):
        raise PreviewError(f"{path} was not written")
