"""The working part of the Pick Parts tool, apart from Blender's event loop.

:class:`PickSession` holds the encoded mesh, the preview colours and the snapshot for Esc;
the modal operator (``operators.py``) only converts events and calls :meth:`handle`.
Tests drive a session directly with :class:`~s2am3d_blender.pick_state.Event` tuples.
"""

from __future__ import annotations

import time

import bpy
import numpy as np

from . import corners, engine, raycast
from . import labels as lab
from . import writers as wr
from .mesh_io import check_object, evaluated_triangles, geometry_of
from .pick_state import Event, Outcome, PickState
from .snapshot import Snapshot


class PickSession:
    """One run of the Pick Parts tool on ``obj``.

    ``mode``: ``"groups"``, ``"objects"`` or ``"attribute"`` (what Enter writes);
    ``scale`` / ``use_scale``: the start scale; ``n_points``: points sampled;
    ``twins``: the panel's Matching Parts (:meth:`set_twins` while the tool runs).
    Creating a session validates the object (``ObjectRejected``), loads the model
    (``ModelFileError``) and encodes the mesh, reusing the module-level encoder cache.
    """

    def __init__(self, obj, depsgraph, model: engine.ModelOptions, mode: str = "groups",
                 prefix: str = "", scale: float = 0.2, use_scale: bool = True,
                 n_points: int = 10000, twins: bool = True):
        check_object(obj)
        self.obj_name = obj.name
        self.mode = mode
        self.prefix = prefix
        self.geom = geometry_of(obj, depsgraph)
        t0 = time.perf_counter()
        self.seg, self.cached = engine.CACHE.get(self.geom, model, n_points)
        self.encode_s = time.perf_counter() - t0
        self.ray_vertices, self.ray_triangles = evaluated_triangles(obj, depsgraph)
        self.state = PickState(scale=scale, use_scale=use_scale)
        self.twins = bool(twins)
        self.snapshot = Snapshot.take(obj)
        self.mask: np.ndarray | None = None
        self.quality: float | None = None
        self.kept_names: list[str] = []
        self.decode_ms: list[float] = []
        self._preview_made = False

    @property
    def obj(self):
        return bpy.data.objects[self.obj_name]

    # ------------------------------------------------------------ picking

    def point_from_object_ray(self, ray: raycast.Ray) -> int | None:
        """Sampled point for an object-space ray: the first surface hit (meshes) or the
        point nearest the ray (point clouds); ``None`` when the ray misses."""
        if self.geom.is_point_cloud:
            ext = np.ptp(self.geom.vertices, axis=0).max()
            return raycast.nearest_point_to_ray(ray, self.seg.points, 0.02 * ext)
        hit = raycast.intersect_triangles(ray, self.ray_vertices, self.ray_triangles)
        if hit is None:
            return None
        return int(self.seg.nearest_point(hit.point))

    def point_from_world_ray(self, origin, direction) -> int | None:
        """As :meth:`point_from_object_ray` for a world-space ray."""
        d = np.asarray(direction, np.float64)
        ray = raycast.Ray(np.asarray(origin, np.float64), d / np.linalg.norm(d))
        return self.point_from_object_ray(
            raycast.to_object_space(ray, np.array(self.obj.matrix_world))
        )

    def point_from_mouse(self, mouse_xy, region_size, perspective_matrix) -> int | None:
        """Sampled point under a pixel of a 3D view region."""
        ray = raycast.mouse_ray(mouse_xy, region_size, np.array(perspective_matrix))
        return self.point_from_object_ray(
            raycast.to_object_space(ray, np.array(self.obj.matrix_world))
        )

    # ------------------------------------------------------------ events

    def handle(self, ev: Event | tuple) -> Outcome:
        """Feed one event; performs the outcome's data changes and returns it."""
        out = self.state.handle(ev)
        if out.action == "update":
            self._update()
        elif out.action == "keep":
            self._keep(out.prompts)
        elif out.action == "finish":
            self.finish()
        elif out.action == "cancel":
            self.cancel()
        return out

    def set_scale(self, scale: float, use_scale: bool) -> Outcome:
        """Take the panel's scale while the tool runs; re-decodes the current part."""
        out = self.state.set_scale(scale, use_scale)
        if out.action == "update":
            self._update()
        return out

    def set_twins(self, twins: bool) -> None:
        """Take the panel's Matching Parts while the tool runs; re-decodes the current
        part, if any."""
        if bool(twins) != self.twins:
            self.twins = bool(twins)
            self._update()

    def _update(self) -> None:
        if not self.state.prompts:
            self.mask, self.quality = None, None
            self._show(None)
            return
        t0 = time.perf_counter()
        self.mask, self.quality = engine.predict_mask(
            self.seg, self.geom, self.state.prompts, self.state.effective_scale, self.twins
        )
        self.decode_ms.append(1000 * (time.perf_counter() - t0))
        self._show(self.mask)

    def _element_mask(self, tri_mask: np.ndarray) -> np.ndarray:
        """Per-polygon mask from a per-triangle mask (meshes): a polygon is in the part when
        at least half of its triangles are (so the clicked quad is never left out);
        per-vertex masks pass through."""
        if self.geom.is_point_cloud:
            return tri_mask
        tp = np.asarray(self.geom.tri_poly, np.int64)
        n = self.geom.n_polys
        inside = np.bincount(tp, weights=np.asarray(tri_mask, float), minlength=n)
        total = np.bincount(tp, minlength=n)
        return (total > 0) & (2 * inside >= total)

    def _show(self, mask) -> None:
        me = self.obj.data
        n = self.geom.n_polys if not self.geom.is_point_cloud else len(self.geom.vertices)
        cols = np.tile(lab.NEUTRAL, (n, 1))
        if mask is not None:
            cols[self._element_mask(mask)] = lab.HIGHLIGHT
        # the preview attribute is not tracked: it never outlives the session
        wr.write_colors(me, wr.PREVIEW_ATTR, cols, track=False)
        self._preview_made = True
        me.update()

    def _keep(self, prompts) -> None:
        if self.mask is None:
            return
        obj = self.obj
        elem = self._element_mask(self.mask)
        self._remove_preview()
        wr.set_part_in_attribute(obj.data, elem)
        name = wr.part_name(self.prefix, wr.next_part_index(obj, self.prefix))
        if self.mode == "groups":
            if self.geom.is_point_cloud:
                verts = np.flatnonzero(elem)
            else:
                verts = corners.polygon_vertices(obj.data, elem)
            self.kept_names.append(wr.add_group(obj, name, verts))
        elif self.mode == "objects":
            i = len(wr._get_list(obj, wr.PROP_OBJECTS))
            ob = wr.make_part_object(obj, wr.part_name(self.prefix, i), elem)
            self.kept_names.append(ob.name)
        self.mask = None

    def _remove_preview(self) -> None:
        me = self.obj.data
        attr = me.color_attributes.get(wr.PREVIEW_ATTR)
        if attr is not None:
            me.color_attributes.remove(attr)
        snap = self.snapshot
        if snap.active_color is not None and snap.active_color in me.color_attributes:
            me.color_attributes.active_color = me.color_attributes[snap.active_color]
        if snap.render_color_index < len(me.color_attributes):
            me.color_attributes.render_color_index = snap.render_color_index
        own = me.color_attributes.get(wr._own_name(me, wr.COLOR_ATTR))
        if own is not None and own.name in wr._get_list(me, wr.PROP_ATTRS):
            me.color_attributes.active_color = own

    def finish(self) -> None:
        """End the session keeping what was kept; the preview colours go away."""
        self._remove_preview()
        self.obj.data.update()

    def cancel(self) -> None:
        """End the session and restore the object exactly as it was at the start."""
        self._remove_preview()
        self.snapshot.restore()
        self.obj.data.update()
