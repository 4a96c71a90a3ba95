"""A snapshot of what the add-on may touch on one object, to restore it exactly (Esc).

Covers: vertex group names (groups added later are removed; existing ones are never
modified by the add-on), mesh attributes (added ones removed; the values of the add-on's
own ``part`` / colour attributes restored), the active and render colour attribute, the
add-on's custom properties on object and mesh, part objects / collections created later,
and the object's visibility.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from . import writers as wr

_PROPS_OBJ = (wr.PROP_GROUPS, wr.PROP_OBJECTS, wr.PROP_COLLECTIONS, wr.PROP_HIDDEN)
_PROPS_ME = (wr.PROP_ATTRS, wr.PROP_PREV_COLOR)


def _prop_value(idblock, name):
    v = idblock.get(name)
    if v is None:
        return None
    return v.to_list() if hasattr(v, "to_list") else v


def _attr_values(attr) -> np.ndarray:
    if attr.data_type in {"INT"}:
        out = np.empty(len(attr.data), np.int32)
        attr.data.foreach_get("value", out)
    elif attr.data_type in {"BYTE_COLOR", "FLOAT_COLOR"}:
        out = np.empty(len(attr.data) * 4, np.float32)
        attr.data.foreach_get(_color_key(attr), out)
    else:
        return None
    return out


def _color_key(attr) -> str:
    # bytes round-trip exactly through their sRGB view
    return "color_srgb" if attr.data_type == "BYTE_COLOR" else "color"


def _set_attr_values(attr, values) -> None:
    key = "value" if attr.data_type == "INT" else _color_key(attr)
    attr.data.foreach_set(key, values)


@dataclass
class Snapshot:
    """State of ``obj`` (by name) before a tool ran; :meth:`restore` puts it back."""

    obj_name: str
    mesh_name: str
    groups: list[str]
    attributes: set[str]
    own_values: dict[str, np.ndarray]
    active_color: str | None
    render_color_index: int
    props_obj: dict = field(default_factory=dict)
    props_me: dict = field(default_factory=dict)
    objects: set[str] = field(default_factory=set)
    collections: set[str] = field(default_factory=set)
    hidden: bool = False
    hide_render: bool = False

    @classmethod
    def take(cls, obj) -> Snapshot:
        me = obj.data
        own = set(wr._get_list(me, wr.PROP_ATTRS))
        vals = {}
        for name in own:
            attr = me.attributes.get(name)
            if attr is not None:
                v = _attr_values(attr)
                if v is not None:
                    vals[name] = v
        active = me.color_attributes.active_color
        return cls(
            obj_name=obj.name,
            mesh_name=me.name,
            groups=[vg.name for vg in obj.vertex_groups],
            attributes={a.name for a in me.attributes},
            own_values=vals,
            active_color=active.name if active is not None else None,
            render_color_index=me.color_attributes.render_color_index,
            props_obj={k: _prop_value(obj, k) for k in _PROPS_OBJ},
            props_me={k: _prop_value(me, k) for k in _PROPS_ME},
            objects=set(bpy.data.objects.keys()),
            collections=set(bpy.data.collections.keys()),
            hidden=obj.hide_get(),
            hide_render=obj.hide_render,
        )

    def restore(self) -> None:
        """Undo everything done to the object since :meth:`take` by this add-on."""
        obj = bpy.data.objects[self.obj_name]
        me = obj.data
        for name in [ob for ob in bpy.data.objects.keys() if ob not in self.objects]:
            ob = bpy.data.objects[name]
            if ob.get(wr.PROP_PART_OF) == self.obj_name:
                data = ob.data
                bpy.data.objects.remove(ob)
                if data is not None and data.users == 0:
                    bpy.data.meshes.remove(data)
        for name in [c for c in bpy.data.collections.keys() if c not in self.collections]:
            coll = bpy.data.collections[name]
            if name in wr._get_list(obj, wr.PROP_COLLECTIONS) and not coll.objects:
                bpy.data.collections.remove(coll)
        for vg in [vg for vg in obj.vertex_groups if vg.name not in self.groups]:
            obj.vertex_groups.remove(vg)
        for name in [a.name for a in me.attributes if a.name not in self.attributes]:
            # only attributes the add-on made can have appeared during the tool
            me.attributes.remove(me.attributes[name])
        for name, vals in self.own_values.items():
            attr = me.attributes.get(name)
            if attr is not None:
                _set_attr_values(attr, vals)
        if self.active_color is not None and self.active_color in me.color_attributes:
            me.color_attributes.active_color = me.color_attributes[self.active_color]
        if self.render_color_index < len(me.color_attributes):
            me.color_attributes.render_color_index = self.render_color_index
        for block, props in ((obj, self.props_obj), (me, self.props_me)):
            for k, v in props.items():
                if v is None:
                    if k in block:
                        del block[k]
                else:
                    block[k] = v
        obj.hide_set(self.hidden)
        obj.hide_render = self.hide_render
