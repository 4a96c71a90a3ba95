"""Writing parts into Blender data, and removing exactly what this add-on wrote.

Everything the add-on creates is recorded in custom properties, so re-running or Clear
Parts removes only that and never a user's own groups, attributes or objects:

* ``obj["s2am3d_groups"]``: names of the vertex groups made by the add-on;
* ``obj.data["s2am3d_attributes"]``: names of the attributes it made on the mesh;
* ``obj.data["s2am3d_prev_active_color"]``: the colour attribute that was active before;
* ``obj["s2am3d_objects"]`` / ``obj["s2am3d_collections"]``: part objects / collections;
* ``obj["s2am3d_hidden"]``: the original was hidden by "Separate Objects";
* ``obj["s2am3d_replaced"]``: the original was taken out of the scene by "Replace" (the
  names of the collections it was in; it stays in the file so re-running on its parts and
  Clear Parts find it);
* part objects carry ``["s2am3d_part_of"] = <original name>``.

Geometry (positions, faces, edges) of the original is never modified here.
"""

from __future__ import annotations

import bmesh
import bpy
import numpy as np

from . import labels as lab
from .corners import corner_rows, corner_values, part_vertices

PROP_GROUPS = "s2am3d_groups"
PROP_ATTRS = "s2am3d_attributes"
PROP_PREV_COLOR = "s2am3d_prev_active_color"
PROP_OBJECTS = "s2am3d_objects"
PROP_COLLECTIONS = "s2am3d_collections"
PROP_HIDDEN = "s2am3d_hidden"
PROP_PART_OF = "s2am3d_part_of"
PROP_REPLACED = "s2am3d_replaced"

PART_ATTR = "part"
#: vertex indices handed to ``VertexGroup.add`` per call (each call takes a Python list).
GROUP_CHUNK = 1 << 16
COLOR_ATTR = "part_color"
PREVIEW_ATTR = "s2am3d_preview"


def _get_list(idblock, prop: str) -> list[str]:
    return [str(x) for x in idblock.get(prop, [])]


def _set_list(idblock, prop: str, names: list[str]) -> None:
    if names:
        idblock[prop] = list(names)
    elif prop in idblock:
        del idblock[prop]


def tracked_groups(obj) -> list[str]:
    """Names of the vertex groups this add-on made on ``obj`` (that still exist)."""
    return [n for n in _get_list(obj, PROP_GROUPS) if n in obj.vertex_groups]


# ---------------------------------------------------------------- vertex groups


def part_name(prefix: str, index: int, level: str = "") -> str:
    """``<prefix><level>Part.001`` for index 0, …"""
    return f"{prefix}{level}Part.{index + 1:03d}"


def add_group(obj, name: str, vertex_indices: np.ndarray) -> str:
    """Create a vertex group with weight 1 on the given vertices and track it; returns
    the actual name (Blender appends ``.001`` if a user group already has ``name``)."""
    vg = obj.vertex_groups.new(name=name)
    idx = np.asarray(vertex_indices)
    for s in range(0, len(idx), GROUP_CHUNK):  # bounded Python lists on huge meshes
        vg.add(idx[s:s + GROUP_CHUNK].tolist(), 1.0, "REPLACE")
    _set_list(obj, PROP_GROUPS, _get_list(obj, PROP_GROUPS) + [vg.name])
    return vg.name


def next_part_index(obj, prefix: str) -> int:
    """Smallest part index whose default name is not in use on ``obj``."""
    i = 0
    while part_name(prefix, i) in obj.vertex_groups:
        i += 1
    return i


def remove_groups(obj) -> int:
    """Remove the vertex groups this add-on made (tracked by name); returns the count."""
    names = _get_list(obj, PROP_GROUPS)
    n = 0
    for name in names:
        vg = obj.vertex_groups.get(name)
        if vg is not None:
            obj.vertex_groups.remove(vg)
            n += 1
    _set_list(obj, PROP_GROUPS, [])
    return n


# ---------------------------------------------------------------- attributes


def _track_attr(me, name: str) -> None:
    names = _get_list(me, PROP_ATTRS)
    if name not in names:
        _set_list(me, PROP_ATTRS, names + [name])


def _own_name(me, wanted: str) -> str:
    """``wanted`` unless a user attribute (not made by us) already has that name, in which
    case ``s2am3d_<wanted>`` is used so the user's attribute stays untouched."""
    if wanted in me.attributes and wanted not in _get_list(me, PROP_ATTRS):
        return f"s2am3d_{wanted}"
    return wanted


def _face_or_point(me) -> str:
    return "FACE" if len(me.polygons) else "POINT"


def part_attribute(me, create: bool = True):
    """The add-on's integer part attribute (faces; points for point clouds), created
    filled with -1 when missing and ``create``."""
    name = _own_name(me, PART_ATTR)
    attr = me.attributes.get(name)
    if attr is None and create:
        attr = me.attributes.new(name, "INT", _face_or_point(me))
        attr.data.foreach_set("value", np.full(len(attr.data), -1, np.int32))
        _track_attr(me, name)
    return attr


def read_part_labels(me) -> np.ndarray | None:
    """The stored part labels (per face or per point), or ``None``."""
    attr = part_attribute(me, create=False)
    if attr is None:
        return None
    out = np.empty(len(attr.data), np.int32)
    attr.data.foreach_get("value", out)
    return out


def write_colors(me, name: str, element_colors: np.ndarray, track: bool = True,
                 corners: bool = False) -> None:
    """Set a byte colour attribute from one sRGB RGBA colour per face (meshes; per face
    corner when ``corners``) or per vertex (point clouds), make it the active and render
    colour; the previously active colour attribute is remembered for
    :func:`remove_attributes`."""
    name = _own_name(me, name) if track else name
    attr = me.color_attributes.get(name)
    domain = "CORNER" if len(me.polygons) else "POINT"
    if attr is None:
        if PROP_PREV_COLOR not in me and track:
            prev = me.color_attributes.active_color
            me[PROP_PREV_COLOR] = prev.name if prev is not None else ""
        attr = me.color_attributes.new(name, "BYTE_COLOR", domain)
        if track:
            _track_attr(me, name)
    cols = np.asarray(element_colors, np.float32)
    if domain == "CORNER" and not corners:
        cols = corner_values(me, cols)
    attr.data.foreach_set("color_srgb", cols.ravel())
    me.color_attributes.active_color = attr
    me.color_attributes.render_color_index = me.color_attributes.active_color_index


def label_colors(labels: np.ndarray) -> np.ndarray:
    """RGBA per element from part labels (-1 = neutral grey)."""
    labels = np.asarray(labels, np.int64)
    pal = lab.part_colors(int(labels.max(initial=-1)) + 1)
    out = np.tile(lab.NEUTRAL, (len(labels), 1))
    ok = labels >= 0
    out[ok] = pal[labels[ok]]
    return out


def _corner_label_colors(me, labels: np.ndarray) -> np.ndarray:
    """:func:`label_colors` of the polygons, repeated per face corner (float32 (L, 4)),
    looked up per corner: no per-polygon colour copies (2M polygons: 8M corners)."""
    labels = np.asarray(labels, np.int64)
    k = int(labels.max(initial=-1)) + 1
    table = np.concatenate([lab.part_colors(k), lab.NEUTRAL[None]]).astype(np.float32)
    return corner_rows(me, table, np.where(labels >= 0, labels, k))


def write_part_attribute(me, labels: np.ndarray) -> None:
    """Write the integer ``part`` attribute (faces, or points for point clouds) and its
    colours (``part_color``)."""
    attr = part_attribute(me)
    attr.data.foreach_set("value", np.asarray(labels, np.int32))
    if len(me.polygons):
        write_colors(me, COLOR_ATTR, _corner_label_colors(me, labels), corners=True)
    else:
        write_colors(me, COLOR_ATTR, label_colors(labels))


def set_part_in_attribute(me, mask: np.ndarray) -> int:
    """Give the masked faces (or points) a new part id in the ``part`` attribute (one more
    than the largest present) and refresh the colours; returns the id."""
    cur = read_part_labels(me)
    if cur is None:
        part_attribute(me)
        cur = read_part_labels(me)
    new_id = int(cur.max(initial=-1)) + 1
    cur[np.asarray(mask, bool)] = new_id
    write_part_attribute(me, cur)
    return new_id


def _restore_active_color(me) -> None:
    prev = me.get(PROP_PREV_COLOR)
    if prev is not None:
        attr = me.color_attributes.get(prev) if prev else None
        if attr is not None:
            me.color_attributes.active_color = attr
            me.color_attributes.render_color_index = me.color_attributes.active_color_index
        del me[PROP_PREV_COLOR]


def remove_attributes(me) -> int:
    """Remove the attributes this add-on made and restore the active colour attribute."""
    n = 0
    for name in _get_list(me, PROP_ATTRS):
        attr = me.attributes.get(name)
        if attr is not None:
            me.attributes.remove(attr)
            n += 1
    _set_list(me, PROP_ATTRS, [])
    _restore_active_color(me)
    return n


# ---------------------------------------------------------------- separate objects


def _parts_collection(obj, name: str, parent=None):
    coll = bpy.data.collections.new(name)
    if parent is None:
        parent = obj.users_collection[0] if obj.users_collection else bpy.context.scene.collection
    parent.children.link(coll)
    _set_list(obj, PROP_COLLECTIONS, _get_list(obj, PROP_COLLECTIONS) + [coll.name])
    return coll


def make_part_object(obj, name: str, keep_mask: np.ndarray, collection=None):
    """A copy of ``obj`` that keeps only the masked faces (meshes) or vertices (point
    clouds), with the same materials, UVs, normals, attributes, modifiers, parent and
    transform. Linked into ``collection`` (default: the original's collections)."""
    me = obj.data.copy()
    me.name = f"{obj.data.name}.{name}"
    bm = bmesh.new()
    try:
        bm.from_mesh(me)
        keep = np.asarray(keep_mask, bool)
        if len(me.polygons):
            bm.faces.ensure_lookup_table()
            geom = [bm.faces[i] for i in np.flatnonzero(~keep)]
            bmesh.ops.delete(bm, geom=geom, context="FACES")
            loose = [v for v in bm.verts if not v.link_faces]
            if loose:
                bmesh.ops.delete(bm, geom=loose, context="VERTS")
        else:
            bm.verts.ensure_lookup_table()
            geom = [bm.verts[i] for i in np.flatnonzero(~keep)]
            bmesh.ops.delete(bm, geom=geom, context="VERTS")
        bm.to_mesh(me)
    finally:
        bm.free()
    for prop in (PROP_ATTRS, PROP_PREV_COLOR):
        if prop in me:
            del me[prop]
    ob = obj.copy()
    ob.data = me
    ob.name = f"{obj.name}.{name}"
    for prop in (PROP_GROUPS, PROP_OBJECTS, PROP_COLLECTIONS, PROP_HIDDEN, PROP_REPLACED):
        if prop in ob:
            del ob[prop]
    ob[PROP_PART_OF] = obj.name
    ob.matrix_world = obj.matrix_world.copy()
    colls = [collection] if collection is not None else list(obj.users_collection)
    if not colls:
        colls = [bpy.context.scene.collection]
    for c in colls:
        c.objects.link(ob)
    try:  # a copy starts selected like its original: an output must never be a next input
        ob.select_set(False)
    except RuntimeError:  # not in the current view layer
        pass
    _set_list(obj, PROP_OBJECTS, _get_list(obj, PROP_OBJECTS) + [ob.name])
    return ob


def _remove_object(ob) -> None:
    me = ob.data
    bpy.data.objects.remove(ob)
    if me is not None and me.users == 0:
        bpy.data.meshes.remove(me)


def remove_part_objects(obj) -> int:
    """Delete the part objects (and their meshes) and collections this add-on made for
    ``obj`` (tracked, or marked as cut from it; parts cut from those parts too); show the
    original again if the add-on hid or replaced it. Returns the number of objects."""
    n = 0
    names = set(_get_list(obj, PROP_OBJECTS))
    names |= {o.name for o in bpy.data.objects if o.get(PROP_PART_OF) == obj.name}
    for name in sorted(names):
        ob = bpy.data.objects.get(name)
        if ob is not None and ob.get(PROP_PART_OF) == obj.name and ob != obj:
            n += remove_part_objects(ob)  # outputs of earlier runs on this part
            _remove_object(ob)
            n += 1
    _set_list(obj, PROP_OBJECTS, [])
    for name in reversed(_get_list(obj, PROP_COLLECTIONS)):
        coll = bpy.data.collections.get(name)
        if coll is not None and not coll.objects and not coll.children:
            bpy.data.collections.remove(coll)
    _set_list(obj, PROP_COLLECTIONS, [])
    if obj.get(PROP_HIDDEN):
        obj.hide_set(False)
        obj.hide_render = False
        del obj[PROP_HIDDEN]
    restore_replaced(obj)
    return n


def replace_original(obj) -> None:
    """"Replace Original": take ``obj`` out of every collection of the scene. It stays in the
    file (fake user) with the names of its collections, so that re-running Segment All on
    its parts replaces them and Clear Parts puts it back; undo also restores it."""
    obj[PROP_REPLACED] = [c.name for c in obj.users_collection]
    for c in list(obj.users_collection):
        c.objects.unlink(obj)
    obj.use_fake_user = True


def restore_replaced(obj) -> None:
    """Put an original taken out by :func:`replace_original` back into its collections
    (the scene's own collection when they are gone)."""
    if PROP_REPLACED not in obj:
        return
    names = [str(n) for n in obj[PROP_REPLACED]]
    del obj[PROP_REPLACED]
    obj.use_fake_user = False
    if obj.users_collection:
        return
    scene_coll = bpy.context.scene.collection
    colls = [scene_coll if n == scene_coll.name else bpy.data.collections.get(n) for n in names]
    for c in [c for c in colls if c is not None] or [scene_coll]:
        c.objects.link(obj)


def hide_original(obj) -> None:
    """Hide the original (viewport and render) and remember that the add-on did it."""
    obj.hide_set(True)
    obj.hide_render = True
    obj[PROP_HIDDEN] = True


def clear_parts(obj) -> dict[str, int]:
    """Remove everything this add-on wrote for ``obj`` (groups, attributes, part objects)."""
    return {
        "groups": remove_groups(obj),
        "attributes": remove_attributes(obj.data),
        "objects": remove_part_objects(obj),
    }


# ---------------------------------------------------------------- whole results


def write_level(obj, level, mode: str, prefix: str, tag: str = "", collection=None) -> list[str]:
    """Write one segmentation level of ``obj`` per ``mode`` (``"groups"``,
    ``"objects"`` or ``"attribute"``); returns the names created (groups or objects).

    ``level`` is an :class:`~s2am3d_blender.engine.Level`; ``tag`` distinguishes extra
    hierarchy levels in names (e.g. ``"S0.50."``).
    """
    names: list[str] = []
    if mode == "attribute":
        return names
    me = obj.data
    pc = level.vertex_labels is not None
    if mode == "groups" and not pc:
        vertices_of = part_vertices(me)
    for k in range(level.num_parts):
        name = part_name(prefix, k, tag)
        if pc:
            mask = level.vertex_labels == k
        else:
            mask = level.poly_labels == k
        if not mask.any():
            continue
        if mode == "groups":
            if pc:
                verts = np.flatnonzero(mask)
            else:
                verts = vertices_of(mask)
            names.append(add_group(obj, name, verts))
        elif mode == "objects":
            names.append(make_part_object(obj, name, mask, collection).name)
        else:
            raise ValueError(f"unknown output mode {mode!r}")
    return names
