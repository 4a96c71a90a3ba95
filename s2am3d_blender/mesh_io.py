"""Reading Blender meshes into numpy, and the checks that keep the user's data safe.

The model sees the object's *own* mesh data (the data vertex groups and attributes belong
to) in the object frame. When the modifier stack only deforms (same vertex and polygon
counts, e.g. Armature, Shrinkwrap), the evaluated positions are used so the parts follow
the pose the user sees; when modifiers add or remove geometry (Subdivision, Mirror, ...),
the original cage is segmented, because labels must land on the original vertices.
The Pick tool casts rays against the evaluated mesh the user sees and maps the hit to the
nearest sampled point.
"""

from __future__ import annotations

import numpy as np

from .engine import Geometry


class ObjectRejected(Exception):
    """The object cannot be processed; the message says why (shown to the user)."""


def check_object(obj) -> None:
    """Raise :class:`ObjectRejected` unless ``obj`` is a local, non-empty mesh in Object
    Mode.

    Edit Mode is refused rather than switched: the add-on writes vertex groups and
    attributes to the object's mesh data, which Blender only accepts in Object Mode, and
    toggling modes behind the user's back would flush or drop an edit session they did
    not ask to end.
    """
    if obj is None:
        raise ObjectRejected("No active object: select a mesh first")
    if obj.type != "MESH":
        raise ObjectRejected(f"'{obj.name}' is a {obj.type.lower()} object, not a mesh")
    if obj.override_library is not None or obj.data.override_library is not None:
        raise ObjectRejected(
            f"'{obj.name}' is a library override; make it local (Object > Library Override) first"
        )
    if obj.library is not None or obj.data.library is not None:
        raise ObjectRejected(
            f"'{obj.name}' is linked from a library; make it local (Object > Relations) first"
        )
    if obj.mode == "EDIT" or obj.data.is_editmode:
        raise ObjectRejected(
            f"'{obj.name}' is in Edit Mode; switch to Object Mode (Tab) so no edit is lost"
        )
    if len(obj.data.vertices) == 0:
        raise ObjectRejected(f"'{obj.name}' has an empty mesh: nothing to segment")
    if not np.isfinite(np.array(obj.matrix_world)).all():
        raise ObjectRejected(
            f"'{obj.name}' has a NaN or infinite location, rotation or scale; fix it in "
            "Object Properties > Transform first"
        )


def _positions(me) -> np.ndarray:
    """Vertex positions (V, 3) float32, as Blender stores them (no float64 copy: ``core``
    makes the one it needs; on a 2M-face mesh each extra copy is ~50 MB)."""
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def _triangles(me) -> tuple[np.ndarray, np.ndarray]:
    """Loop triangles (T, 3) and their polygon (T,), int32 as Blender stores them. The
    triangles are read-only, so ``core`` uses them without a copy of its own."""
    me.calc_loop_triangles()
    n = len(me.loop_triangles)
    tri = np.empty(n * 3, np.int32)
    me.loop_triangles.foreach_get("vertices", tri)
    tri.flags.writeable = False
    poly = np.empty(n, np.int32)
    me.loop_triangles.foreach_get("polygon_index", poly)
    return tri.reshape(-1, 3), poly


def geometry_of(obj, depsgraph=None) -> Geometry:
    """The object's mesh as a :class:`~s2am3d_blender.engine.Geometry` (object frame).

    Reads only; the mesh is not modified (``calc_loop_triangles`` fills a runtime cache).
    """
    me = obj.data
    verts = _positions(me)
    # an object out of the scene (a replaced original) is not in the depsgraph
    if depsgraph is not None and obj.modifiers and obj.users_scene:
        ev = obj.evaluated_get(depsgraph)
        em = ev.to_mesh()
        try:
            if len(em.vertices) == len(me.vertices) and len(em.polygons) == len(me.polygons):
                verts = _positions(em)
        finally:
            ev.to_mesh_clear()
    tri, poly = _triangles(me)
    groups = None
    if len(me.polygons) and len(me.materials) > 1:
        mat = np.empty(len(me.polygons), np.int32)
        me.polygons.foreach_get("material_index", mat)
        if len(np.unique(mat)) > 1:
            groups = mat[poly]
    return Geometry(obj.name, verts, tri, poly, len(me.polygons), groups)


def evaluated_triangles(obj, depsgraph) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and triangles (T, 3) of the evaluated mesh the user sees (object
    frame), for ray casting."""
    ev = obj.evaluated_get(depsgraph)
    em = ev.to_mesh()
    try:
        return _positions(em).astype(np.float64), _triangles(em)[0]
    finally:
        ev.to_mesh_clear()


def geometry_hash(obj) -> str:
    """Hash of the object's mesh positions, polygon corners and edges (tests use it to
    prove geometry was not changed)."""
    import hashlib

    me = obj.data
    h = hashlib.blake2b(digest_size=16)
    h.update(_positions(me).tobytes())
    corners = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", corners)
    h.update(corners.tobytes())
    starts = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_start", starts)
    h.update(starts.tobytes())
    edges = np.empty(len(me.edges) * 2, np.int32)
    me.edges.foreach_get("vertices", edges)
    h.update(edges.tobytes())
    return h.hexdigest()


def target_objects(context, include_selected: bool = True) -> list:
    """The active object followed by the other selected meshes (no duplicates); with no
    active object, the selected meshes."""
    out = []
    act = context.view_layer.objects.active if context.view_layer else None
    if act is not None:
        out.append(act)
    if include_selected:
        for ob in context.selected_objects:
            if ob is not act and ob.type == "MESH":
                out.append(ob)
    return out


def resolve_sources(objects, include_parts: bool = False) -> tuple[list, dict[str, str]]:
    """Objects to segment from the user's picks: a part object the add-on made stands for
    the object it was cut from (so re-running replaces that object's parts instead of
    cutting the parts again), unless ``include_parts``. Returns ``(objects, skipped)``
    with ``skipped[name] = reason`` (a part whose source no longer exists)."""
    import bpy

    from .writers import PROP_PART_OF

    out, skipped, seen = [], {}, set()
    for ob in objects:
        src = ob.get(PROP_PART_OF) if (ob is not None and not include_parts) else None
        if src is not None:
            source = bpy.data.objects.get(str(src))
            if source is None:
                skipped[ob.name] = (f"'{ob.name}' is a part S2AM3D cut from '{src}', which no "
                                    "longer exists; turn on Segment Part Objects to split it")
                continue
            ob = source
        key = ob.name if ob is not None else None
        if key not in seen:
            seen.add(key)
            out.append(ob)
    return out, skipped
