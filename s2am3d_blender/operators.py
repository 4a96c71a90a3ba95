"""Operators: Pick Parts (modal), Segment All (worker thread + timer), Clear Parts.

Every operator is undoable (``bl_options`` has ``UNDO``) and returns ``CANCELLED`` with a
one-line report naming the problem for: nothing active or selected, a non-mesh object, an
empty mesh, linked or library-override data, Edit Mode, a NaN transform, a mesh ``core``
refuses (NaN/huge coordinates, no area), a setting that is not usable (the field named),
a missing or corrupt model file, and an ONNX Runtime that cannot be imported. Part objects
the add-on made stand for their source object unless Segment Part Objects is on.
"""

from __future__ import annotations

import bpy

from . import engine, raycast, runner
from . import writers as wr
from ._core import errors
from .mesh_io import ObjectRejected, check_object, resolve_sources, target_objects
from .pick_state import Event
from .props import MODE_TO_WRITER, SettingsError, prefs_of


def _user_error_types():
    return (ObjectRejected, errors().S2AM3DError, ValueError, OSError,
            engine.RuntimeUnavailable)


def _nothing_to_do(context) -> str | None:
    """The reason when there is no object at all to work on (no active, none selected)."""
    if context.view_layer.objects.active is None and not context.selected_objects:
        return "No active or selected object: select a mesh first"
    return None


def _reasons(failed: dict[str, str]) -> str:
    """``'a': why; 'b': why`` (reasons already starting with the object's name stay)."""
    return "; ".join(why if why.startswith(f"'{name}'") else f"'{name}': {why}"
                     for name, why in failed.items())


class S2AM3D_OT_segment_all(bpy.types.Operator):
    """Split the active mesh and every selected mesh into parts at the panel's scale, or
    into the panel's number of Parts when that is above 0"""

    bl_idname = "s2am3d.segment_all"
    bl_label = "Segment All"
    bl_options = {"REGISTER", "UNDO"}

    _job: engine.SegmentJob | None = None
    _timer = None

    def _prepare(self, context):
        """Common start of both paths: checks, geometry, model; returns (job, spec,
        failures) or None after reporting why nothing can run."""
        why = _nothing_to_do(context)
        if why:
            self.report({"ERROR"}, why)
            return None
        settings = context.scene.s2am3d
        try:
            spec = runner.spec_from_settings(settings, prefs_of(context))
        except SettingsError as exc:
            self.report({"ERROR"}, f"Settings: {exc}")
            return None
        objects, skipped = resolve_sources(target_objects(context), settings.include_parts)
        geoms, failed = runner.prepare(objects, context.evaluated_depsgraph_get())
        failed = {**skipped, **failed}
        if not geoms:
            self.report({"ERROR"}, _reasons(failed) or "Nothing to segment")
            return None
        try:
            runner.check_model(spec.model)
        except _user_error_types() as exc:
            self.report({"ERROR"}, f"Model problem: {exc}")
            return None
        return engine.SegmentJob(geoms, spec.model, spec.opts), spec, failed

    def _finish(self, context, job, spec, failed):
        rows, failed = runner.apply_job(job, spec, failed)
        if not rows:
            self.report({"ERROR"}, f"Nothing was segmented: {_reasons(failed)}")
            return {"CANCELLED"}
        if failed:
            self.report({"WARNING"}, f"Not segmented: {_reasons(failed)}")
        parts = ", ".join(f"{r['object']}: {runner.parts_text(r)}" for r in rows)
        self.report({"INFO"}, f"Segment All: {parts}")
        return {"FINISHED"}

    def execute(self, context):
        """Synchronous path (scripts, background mode): the same job, run inline."""
        prep = self._prepare(context)
        if prep is None:
            return {"CANCELLED"}
        job, spec, failed = prep
        job.run()
        return self._finish(context, job, spec, failed)

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        prep = self._prepare(context)
        if prep is None:
            return {"CANCELLED"}
        self._job, self._spec, self._failed = prep
        self._job.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, 100)
        wm.modal_handler_add(self)
        self._status(context)
        return {"RUNNING_MODAL"}

    def _status(self, context):
        job = self._job
        text = (f"Segment All: {job.current} ({len(job.results) + len(job.errors)}"
                f"/{len(job.geoms)} objects) — Esc to cancel")
        context.workspace.status_text_set(text)
        context.window_manager.progress_update(int(100 * job.progress))

    def _cleanup(self, context):
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        context.workspace.status_text_set(None)

    def modal(self, context, event):
        if event.type == "ESC":
            self._job.cancel()
            self._cleanup(context)
            self.report({"WARNING"}, "Segment All cancelled; nothing was changed")
            return {"CANCELLED"}
        if event.type == "TIMER":
            if self._job.done.is_set():
                self._cleanup(context)
                return self._finish(context, self._job, self._spec, self._failed)
            self._status(context)
        return {"PASS_THROUGH"}


class S2AM3D_OT_clear_parts(bpy.types.Operator):
    """Remove the vertex groups, attributes and part objects this add-on made (the user's
    own data stays)"""

    bl_idname = "s2am3d.clear_parts"
    bl_label = "Clear Parts"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        why = _nothing_to_do(context)
        if why:
            self.report({"ERROR"}, why)
            return {"CANCELLED"}
        # a selected part object stands for its original
        objects, _ = resolve_sources(target_objects(context))
        refused = {}
        for ob in objects:
            try:
                check_object(ob)
            except ObjectRejected as exc:
                refused[ob.name] = str(exc)
        if len(refused) == len(objects):
            self.report({"ERROR"}, _reasons(refused) or "Nothing to clear")
            return {"CANCELLED"}
        total = {"groups": 0, "attributes": 0, "objects": 0}
        for ob in objects:
            if ob.name in refused or bpy.data.objects.get(ob.name) is None:
                continue  # refused, or removed by an earlier clear
            for k, v in wr.clear_parts(ob).items():
                total[k] += v
        self.report({"INFO"}, "Cleared {groups} groups, {attributes} attributes, "
                    "{objects} objects".format(**total))
        return {"FINISHED"}


def _same_scale(a: tuple[float, bool], b: tuple[float, bool]) -> bool:
    """Equal (scale, use_scale) pairs; scales compared to float32 precision (the panel's)."""
    return a[1] == b[1] and abs(float(a[0]) - float(b[0])) < 1e-6


#: How often (seconds) Pick Parts looks at the panel's Scale slider while it runs.
PANEL_POLL_S = 0.05


class S2AM3D_OT_pick_parts(bpy.types.Operator):
    """Click on the mesh to pick a part; wheel changes the scale; Enter keeps it"""

    bl_idname = "s2am3d.pick_parts"
    bl_label = "Pick Parts"
    bl_options = {"REGISTER", "UNDO"}

    _session = None
    _shading = None
    _area = None
    _timer = None
    _panel = _panel_at_start = (0.2, True)

    def execute(self, context):
        self.report({"ERROR"}, "Pick Parts is interactive: start it from the 3D Viewport "
                    "(scripts can drive pick_session.PickSession)")
        return {"CANCELLED"}

    def invoke(self, context, event):
        from .pick_session import PickSession

        if context.area is None or context.area.type != "VIEW_3D":
            self.report({"ERROR"}, "Pick Parts runs in a 3D Viewport")
            return {"CANCELLED"}
        settings = context.scene.s2am3d
        prefs = prefs_of(context)
        try:
            spec = runner.spec_from_settings(settings, prefs)
            check_object(context.view_layer.objects.active)
            runner.check_model(spec.model)
            context.workspace.status_text_set("Pick Parts: encoding the mesh…")
            self._session = PickSession(
                context.view_layer.objects.active, context.evaluated_depsgraph_get(),
                spec.model, MODE_TO_WRITER[settings.output_mode], prefs.prefix,
                settings.scale, settings.use_scale, spec.opts.n_points,
                settings.matching_parts,
            )
        except _user_error_types() as exc:
            context.workspace.status_text_set(None)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        context.workspace.status_text_set(None)
        self._area = context.area
        self._panel = self._panel_at_start = (settings.scale, settings.use_scale)
        shading = context.space_data.shading
        self._shading = (shading.type, shading.color_type)
        if shading.type in {"SOLID", "WIREFRAME"}:
            shading.type = "SOLID"
            shading.color_type = "VERTEX"
        wm = context.window_manager
        # timer events let modal() follow the panel's slider even while the mouse rests
        self._timer = wm.event_timer_add(PANEL_POLL_S, window=context.window)
        wm.modal_handler_add(self)
        context.area.header_text_set(self._session.state.header_text())
        return {"RUNNING_MODAL"}

    def _end(self, context):
        if getattr(self, "_timer", None) is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        self._area.header_text_set(None)
        shading = self._area.spaces.active.shading
        shading.type, shading.color_type = self._shading

    def _view_under_mouse(self, event):
        """(local mouse xy, region) of the 3D view region under the mouse, or None (the
        mouse is over the sidebar, a header or another area)."""
        regions = [r for r in self._area.regions if r.type == "WINDOW"]
        found = raycast.region_under((event.mouse_x, event.mouse_y),
                                     [(r.x, r.y, r.width, r.height) for r in regions])
        if found is None:
            return None
        return found[1], regions[found[0]]

    def modal(self, context, event):
        s = self._session
        settings = context.scene.s2am3d
        try:
            if not _same_scale((settings.scale, settings.use_scale), self._panel):
                # the panel slider moved while the tool runs
                self._panel = (settings.scale, settings.use_scale)
                s.set_scale(settings.scale, settings.use_scale)
                self._header(context, "update")
            if settings.matching_parts != s.twins:  # the panel's Matching Parts toggled
                s.set_twins(settings.matching_parts)
                self._header(context, "update")
            point = None
            if event.type in {"LEFTMOUSE", "WHEELUPMOUSE", "WHEELDOWNMOUSE"}:
                under = self._view_under_mouse(event)
                if under is None:
                    return {"PASS_THROUGH"}  # panel buttons and sliders keep working
                if event.type == "LEFTMOUSE" and event.value == "PRESS":
                    (mx, my), region = under
                    point = s.point_from_mouse((mx, my), (region.width, region.height),
                                               region.data.perspective_matrix)
            ev = Event(event.type, event.value, event.shift, event.ctrl, event.alt, point)
            out = s.handle(ev)
        except _user_error_types() as exc:
            s.cancel()
            self._end(context)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if out.action == "pass":
            return {"PASS_THROUGH"}
        if out.action == "cancel":
            self._end(context)
            settings.scale, settings.use_scale = self._panel_at_start
            return {"CANCELLED"}
        if out.action == "finish":
            self._end(context)
            if not s.kept_names and s.state.kept == 0:
                return {"CANCELLED"}
            self.report({"INFO"}, f"Kept {engine.plural(s.state.kept)}")
            return {"FINISHED"}
        if not _same_scale((s.state.scale, s.state.use_scale), self._panel):
            # wheel / N changed the scale: show it on the panel slider
            settings.scale, settings.use_scale = s.state.scale, s.state.use_scale
            self._panel = (settings.scale, settings.use_scale)
        self._header(context, out.action)
        return {"RUNNING_MODAL"}

    def _header(self, context, action: str) -> None:
        s = self._session
        text = s.state.header_text()
        if s.quality is not None and action == "update":
            text += f" | quality {s.quality:.2f}"
        self._area.header_text_set(text)
        self._area.tag_redraw()


classes = (S2AM3D_OT_segment_all, S2AM3D_OT_clear_parts, S2AM3D_OT_pick_parts)
