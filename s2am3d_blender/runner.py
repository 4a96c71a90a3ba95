"""Segment All from Blender objects to written parts: the code shared by the operator
(threaded or synchronous) and the headless batch."""

from __future__ import annotations

import ctypes
import math
import os
import sys
from dataclasses import dataclass, field

import bpy

from . import engine
from . import writers as wr
from ._core import errors
from .mesh_io import ObjectRejected, check_object, geometry_of, resolve_sources
from .props import MODE_TO_WRITER, PrefValues, SettingsError, parse_scales


@dataclass
class RunSpec:
    """Everything one Segment All run needs besides the objects.

    ``mode``: ``"groups"``, ``"objects"`` or ``"attribute"``; ``original``: ``"HIDE"``,
    ``"REPLACE"`` or ``"KEEP"`` (objects mode only); ``prefix``: name prefix.
    """

    model: engine.ModelOptions
    opts: engine.SegmentOptions
    mode: str = "groups"
    original: str = "HIDE"
    prefix: str = ""
    warnings: list[str] = field(default_factory=list)


def _finite(value: float, field_name: str, lo: float, hi: float) -> float:
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise SettingsError(f"{field_name} is {v}; set it between {lo:g} and {hi:g}")
    return v


def spec_from_settings(settings, prefs: PrefValues) -> RunSpec:
    """Build a :class:`RunSpec` from the panel's scene settings and the preferences.
    Raises :class:`~s2am3d_blender.props.SettingsError` naming the panel field for a value
    that cannot be used (NaN scale, unreadable Extra Scales, ...)."""
    overrides = {}
    min_size = _finite(settings.min_part_size, "Min Part Size", 0.0, 0.5)
    if min_size > 0:
        overrides["min_part_fraction"] = min_size
        overrides["min_mesh_part_fraction"] = min_size
    scale = _finite(settings.scale, "Scale", 0.0, 1.0)
    count = int(settings.num_parts)  # the property's minimum is 0: 0 = by the scale
    opts = engine.SegmentOptions(
        # Parts > 0: Segment All into that many parts; the scale is then not used by it
        # (Pick Parts reads the panel's scale itself)
        scale=scale if settings.use_scale and count == 0 else None,
        num_parts=count or None,
        n_points=int(settings.n_points or prefs.default_points),
        hierarchy=parse_scales(settings.hierarchy, "Extra Scales"),
        overrides=overrides,
    )
    model = engine.ModelOptions(path=prefs.model_path or None,
                                num_threads=prefs.num_threads or None)
    return RunSpec(model, opts, MODE_TO_WRITER[settings.output_mode],
                   settings.original_mode, prefs.prefix)


_MODEL_OK: dict[tuple, dict] = {}


def _model_signature(model: engine.ModelOptions) -> tuple:
    sig = [model]
    if model.path and os.path.isdir(model.path):
        for name in sorted(os.listdir(model.path)):
            st = os.stat(os.path.join(model.path, name))
            sig.append((name, st.st_size, st.st_mtime_ns))
    return tuple(sig)


def check_model(model: engine.ModelOptions) -> dict:
    """Load the model once (memoised per folder state) so a missing or corrupt model file
    is reported before any work starts; returns its metadata. Raises ``ModelFileError``."""
    if model.path is not None and not os.path.isdir(model.path):
        raise errors().ModelFileError(f"model folder not found: {model.path}")
    sig = _model_signature(model)
    if sig not in _MODEL_OK:
        _MODEL_OK[sig] = engine.load_check(model)
    return _MODEL_OK[sig]


def prepare(objects, depsgraph=None) -> tuple[list[engine.Geometry], dict[str, str]]:
    """Geometry of each acceptable object; the rest in ``rejected[name] = reason``."""
    geoms, rejected = [], {}
    for ob in objects:
        try:
            check_object(ob)
            geoms.append(geometry_of(ob, depsgraph))
        except ObjectRejected as exc:
            rejected[getattr(ob, "name", "<none>")] = str(exc)
    return geoms, rejected


def apply_result(res: engine.ObjectResult, spec: RunSpec, geom: engine.Geometry) -> list[str]:
    """Write one object's result (main thread only). Replaces whatever the add-on wrote
    for this object before; returns the names created. Raises ObjectRejected when the
    object changed or disappeared while the model ran."""
    obj = bpy.data.objects.get(res.name)
    if obj is None:
        raise ObjectRejected(f"'{res.name}' was deleted while it was being segmented")
    me = obj.data
    if len(me.vertices) != len(geom.vertices) or len(me.polygons) != geom.n_polys:
        raise ObjectRejected(f"'{res.name}' was edited while it was being segmented; run again")
    wr.clear_parts(obj)
    main = res.levels[0]
    labels = main.vertex_labels if main.vertex_labels is not None else main.poly_labels
    wr.write_part_attribute(me, labels)
    # every mode: ``part`` (+ colours) for the main scale, ``part_1``, ... for extra scales
    for i, lv in enumerate(res.levels[1:], start=1):
        lab = lv.vertex_labels if lv.vertex_labels is not None else lv.poly_labels
        attr = wr.part_attribute(me, create=False)
        extra = me.attributes.new(f"{attr.name}_{i}", "INT", attr.domain)
        extra.data.foreach_set("value", lab.astype("int32"))
        wr._track_attr(me, extra.name)
    names = []
    if spec.mode == "objects":
        coll = wr._parts_collection(obj, f"{obj.name} parts")
        names += wr.write_level(obj, main, "objects", spec.prefix, collection=coll)
        for lv in res.levels[1:]:
            sub = wr._parts_collection(obj, f"{obj.name} parts s={lv.scale}", parent=coll)
            names += wr.write_level(obj, lv, "objects", spec.prefix, tag=f"S{lv.scale}.",
                                    collection=sub)
        if spec.original == "HIDE":
            wr.hide_original(obj)
        elif spec.original == "REPLACE":
            wr.replace_original(obj)
    else:
        names += wr.write_level(obj, main, spec.mode, spec.prefix)
        for lv in res.levels[1:]:
            if spec.mode == "groups":
                names += wr.write_level(obj, lv, "groups", spec.prefix, tag=f"S{lv.scale}.")
    return names


def run_sync(objects, spec: RunSpec, depsgraph=None,
             include_parts: bool = False) -> tuple[list[dict], dict[str, str]]:
    """Segment and write every object synchronously (tests, batch, background mode); a
    part object the add-on made stands for its source unless ``include_parts``.
    Returns per-object report rows and the failures ``{name: reason}``."""
    objects, skipped = resolve_sources(objects, include_parts)
    geoms, failed = prepare(objects, depsgraph)
    failed = {**skipped, **failed}
    if not geoms:
        return [], failed
    check_model(spec.model)
    job = engine.SegmentJob(geoms, spec.model, spec.opts)
    job.run()
    return apply_job(job, spec, failed)


def release_freed_memory() -> None:
    """Give the heap pages numpy freed back to the system (glibc's ``malloc_trim``; a
    no-op elsewhere). glibc keeps the pages of freed medium-sized arrays: after Segment All
    of a 2M-polygon mesh that is ~140 MB which Blender would carry into the writes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        pass


def apply_job(job: engine.SegmentJob, spec: RunSpec, failed: dict[str, str]):
    """Write the finished job's results; returns (report rows, failures)."""
    release_freed_memory()
    failed = dict(failed)
    failed.update(job.errors)
    rows = []
    by_name = {g.name: g for g in job.geoms}
    for res in job.results:
        try:
            names = apply_result(res, spec, by_name[res.name])
        except ObjectRejected as exc:
            failed[res.name] = str(exc)
            continue
        rows.append(report_row(res, names))
    return rows, failed


def parts_text(row: dict) -> str:
    """``5 parts``, or ``5 parts (asked for 5)`` for a Parts run (report lines)."""
    asked = row.get("num_parts_asked")
    return engine.plural(row["parts"]) + (f" (asked for {asked})" if asked else "")


def report_row(res: engine.ObjectResult, names: list[str]) -> dict:
    """JSON-ready summary of one object's result (``num_parts_asked``: the Parts count
    asked for, ``None`` when Segment All went by the scale)."""
    return {
        "object": res.name,
        "point_cloud": res.point_cloud,
        "levels": [
            {"scale": lv.scale, "num_parts_asked": lv.asked, "parts": lv.num_parts,
             "sizes": lv.sizes()} for lv in res.levels
        ],
        "parts": res.levels[0].num_parts,
        "num_parts_asked": res.levels[0].asked,
        "sizes": res.levels[0].sizes(),
        "created": names,
        "timings": {k: round(v, 4) for k, v in res.timings.items()},
        "encoder_cached": res.encoder_cached,
    }
