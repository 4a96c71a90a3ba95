"""Headless Segment All for pipelines.

Runs inside Blender or with the ``bpy`` module::

    blender -b [scene.blend] --python batch.py -- [ARGS]
    python batch.py -- [ARGS]            (with the bpy module installed)

Inputs: ``--input`` (OBJ, PLY, GLB/GLTF, STL or .blend; repeatable), or, without
``--input``, every mesh of the open .blend file. Each input is imported into its own
collection; ``--join`` joins the meshes of each input into one object first (a glTF file
with one node per part is then segmented as one object). Vertex-only meshes (PLY point
clouds) are segmented as point clouds and get vertex groups / a point attribute.

``--parts K`` splits each object into exactly K parts instead of going by a part size
(``--scale``, default 0.2, or ``--no-scale``; neither may be given with it).

``--preview`` renders with Workbench, or with Cycles (CPU) given ``--preview-engine cycles``.

Exit status 0 when every input and object was segmented; 1 when anything failed (each
failure is one line on stderr starting with ``s2am3d-batch:``; the other inputs are still
processed and the outputs written); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

if __name__ == "__main__" and not __package__:  # run as a script: import as a package
    import importlib

    _here = os.path.dirname(os.path.abspath(__file__))
    _parent, _pkg = os.path.split(_here)
    _mod = None
    if os.path.basename(os.path.dirname(_parent)) == "extensions":  # installed extension
        try:
            _mod = importlib.import_module(f"bl_ext.{os.path.basename(_parent)}.{_pkg}.batch")
        except ImportError:
            _mod = None
    if _mod is None:
        sys.path.insert(0, _parent)
        _mod = importlib.import_module(f"{_pkg}.batch")
    sys.exit(_mod.main())

import bpy  # noqa: E402

from . import engine, input_check, runner  # noqa: E402
from .preview import PreviewError, render_preview  # noqa: E402
from .props import SettingsError, parse_scales  # noqa: E402

IMPORTERS = {
    ".obj": lambda p: bpy.ops.wm.obj_import(filepath=p),
    ".ply": lambda p: bpy.ops.wm.ply_import(filepath=p),
    ".stl": lambda p: bpy.ops.wm.stl_import(filepath=p),
    ".glb": lambda p: bpy.ops.import_scene.gltf(filepath=p),
    ".gltf": lambda p: bpy.ops.import_scene.gltf(filepath=p),
}


#: Part size used without --scale, --no-scale or --parts.
DEFAULT_SCALE = 0.2

#: Points sampled per object: the range the add-on's panel and preferences allow.
MIN_POINTS, MAX_POINTS = 64, 200_000


class BatchError(Exception):
    """A failure of one input or object; the message is one line."""


def _min_size_overrides(size: float) -> dict:
    """Segment All settings for ``--min-part-size`` (the panel's Min Part Size)."""
    if size <= 0:
        return {}
    return {"min_part_fraction": size, "min_mesh_part_fraction": size}


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="s2am3d-batch",
        description="Segment meshes into parts headlessly (S2AM3D). Arguments go after '--'.",
    )
    ap.add_argument("--input", action="append", default=[], metavar="FILE",
                    help="OBJ/PLY/GLB/GLTF/STL/blend file (repeatable); default: the open "
                    "file's meshes")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--scale", type=float, default=None,
                   help=f"part size as a fraction of the object, 0-1 (default {DEFAULT_SCALE})")
    g.add_argument("--no-scale", action="store_true", help="the model's no-scale mode")
    ap.add_argument("--parts", type=int, default=None, metavar="K",
                    help="split each object into exactly K parts (fewer only when it "
                    "cannot be cut finer); not with --scale / --no-scale")
    ap.add_argument("--hierarchy", default="", metavar="S1,S2",
                    help="extra scales segmented too (nested levels)")
    ap.add_argument("--output", choices=["groups", "objects", "attribute"], default="groups")
    ap.add_argument("--original", choices=["hide", "replace", "keep"], default="hide",
                    help="objects mode: what happens to the original object")
    ap.add_argument("--join", action="store_true",
                    help="join each input's meshes into one object before segmenting")
    ap.add_argument("--points", type=int, default=10000, help="points sampled per object")
    ap.add_argument("--min-part-size", type=float, default=0.0, metavar="F",
                    help="smallest part kept, as a fraction of the object (0-0.5; 0 = the "
                    "model's default); with --parts only parts this large count")
    ap.add_argument("--prefix", default="", help="name prefix of groups / objects")
    ap.add_argument("--model", default=None, metavar="DIR",
                    help="weights folder (default: the bundled model)")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    ap.add_argument("--save", metavar="OUT.blend", help="save the result as a .blend file")
    ap.add_argument("--report", metavar="OUT.json", help="write a JSON report")
    ap.add_argument("--preview", metavar="OUT.png",
                    help="render an image coloured by part")
    ap.add_argument("--preview-engine", choices=["workbench", "cycles"], default="workbench",
                    help="renderer of --preview (default workbench; cycles: CPU, 16 samples)")
    ap.add_argument("--preview-size", default="800x600", metavar="WxH",
                    help="pixel size of --preview (default 800x600)")
    args = ap.parse_args(argv)
    if args.parts is not None:
        given = "--scale" if args.scale is not None else "--no-scale" if args.no_scale else ""
        if given:
            ap.error(f"--parts and {given} cannot be used together: --parts K splits each "
                     f"object into K parts whatever their size; drop {given} (or --parts)")
        if args.parts < 1:
            ap.error(f"--parts must be a whole number of parts, 1 or more, got {args.parts}")
    elif args.scale is None and not args.no_scale:
        args.scale = DEFAULT_SCALE
    if args.scale is not None and not 0.0 <= args.scale <= 1.0:
        ap.error(f"--scale must be in [0, 1], got {args.scale}")
    try:
        args.hierarchy_scales = parse_scales(args.hierarchy, "--hierarchy")
    except SettingsError as exc:
        ap.error(str(exc))
    if not 0.0 <= args.min_part_size <= 0.5:  # also refuses NaN
        ap.error(f"--min-part-size must be between 0 and 0.5, got {args.min_part_size}")
    if not MIN_POINTS <= args.points <= MAX_POINTS:
        ap.error(f"--points must be between {MIN_POINTS} and {MAX_POINTS}, got {args.points}")
    try:
        w, h = (int(v) for v in args.preview_size.lower().split("x"))
    except ValueError:
        w = h = 0
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        ap.error(f"--preview-size must be WxH with 16-8192 pixels each, got {args.preview_size!r}")
    args.preview_wh = (w, h)
    return args


def _script_argv() -> list[str]:
    return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__


def _make_parent(path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def fail(msg: str) -> None:
    print(f"s2am3d-batch: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ inputs


def clear_startup_scene() -> None:
    """Remove the default scene's objects (cube, camera, light) before importing inputs.

    (Not ``read_factory_settings``: that resets the preferences too, which disables the
    installed extension and drops its bundled wheels from ``sys.path``.)
    """
    for ob in list(bpy.data.objects):
        bpy.data.objects.remove(ob)
    for coll in (bpy.data.meshes, bpy.data.cameras, bpy.data.lights, bpy.data.materials):
        for block in list(coll):
            if block.users == 0:
                coll.remove(block)


def import_input(path: str, join: bool, warnings: list[str] | None = None) -> list:
    """Import one file into its own collection; returns its mesh objects. Signs that the
    importer read less than the file declares (a truncated file) are appended to
    ``warnings``."""
    if not os.path.isfile(path):
        raise BatchError(f"{path}: file not found")
    ext = os.path.splitext(path)[1].lower()
    before = set(bpy.data.objects)
    name = os.path.splitext(os.path.basename(path))[0]
    coll = bpy.data.collections.new(name)
    bpy.context.scene.collection.children.link(coll)
    layer_coll = bpy.context.view_layer.layer_collection.children[coll.name]
    bpy.context.view_layer.active_layer_collection = layer_coll
    try:
        if ext == ".blend":
            with bpy.data.libraries.load(path, link=False) as (src, dst):
                dst.objects = list(src.objects)
            for ob in dst.objects:
                if ob is not None:
                    coll.objects.link(ob)
        elif ext in IMPORTERS:
            res = IMPORTERS[ext](os.path.abspath(path))
            if "FINISHED" not in res:
                raise BatchError(f"{path}: the importer failed")
        else:
            raise BatchError(f"{path}: unsupported file type {ext!r} "
                             f"(use {', '.join(sorted([*IMPORTERS, '.blend']))})")
    except BatchError:
        raise
    except Exception as exc:  # importers raise RuntimeError with Blender's report
        raise BatchError(f"{path}: cannot import: {_one_line(exc)}") from exc
    finally:
        bpy.context.view_layer.active_layer_collection = bpy.context.view_layer.layer_collection
    new = [ob for ob in bpy.data.objects if ob not in before]
    meshes = [ob for ob in new if ob.type == "MESH"]
    if not meshes:
        raise BatchError(f"{path}: contains no mesh")
    if warnings is not None:
        faces = sum(len(ob.data.polygons) for ob in meshes)
        verts = sum(len(ob.data.vertices) for ob in meshes)
        warnings += input_check.import_warnings(path, faces, verts)
    if join and len(meshes) > 1:
        meshes = [join_meshes(meshes, name)]
    return meshes


def join_meshes(meshes: list, name: str):
    """Join meshes into the first one (world transforms applied by Blender's join)."""
    for ob in bpy.context.view_layer.objects:
        ob.select_set(False)
    for ob in meshes:
        ob.select_set(True)
    target = meshes[0]
    with bpy.context.temp_override(active_object=target, selected_objects=meshes,
                                   selected_editable_objects=meshes, object=target):
        bpy.ops.object.join()
    target.name = name
    target.select_set(False)
    return target


# ------------------------------------------------------------------ main


def run(args: argparse.Namespace) -> tuple[dict, list[str]]:
    """Import, segment, write; returns (report dict, failure lines)."""
    t0 = time.perf_counter()
    failures: list[str] = []
    warnings: list[str] = []
    objects = []
    if args.input:
        if not bpy.data.filepath:
            clear_startup_scene()
        for path in args.input:
            try:
                objects += import_input(path, args.join, warnings)
            except BatchError as exc:
                failures.append(str(exc))
    else:
        objects = [ob for ob in bpy.context.scene.objects if ob.type == "MESH"]
        if not objects:
            failures.append("no --input given and the open file has no mesh")
    spec = runner.RunSpec(
        model=engine.ModelOptions(path=args.model, num_threads=args.threads),
        opts=engine.SegmentOptions(scale=args.scale, num_parts=args.parts,
                                   n_points=args.points, hierarchy=args.hierarchy_scales,
                                   overrides=_min_size_overrides(args.min_part_size)),
        mode=args.output, original=args.original.upper(), prefix=args.prefix,
    )
    rows, meta = [], {}
    if objects:
        try:
            meta = runner.check_model(spec.model)
        except Exception as exc:
            failures.append(f"model: {exc}")
            objects = []
    if objects:
        names = [ob.name for ob in objects]
        rows, failed = runner.run_sync(objects, spec, bpy.context.evaluated_depsgraph_get())
        failures += [f"{name}: {why}" for name, why in failed.items()]
        objects = [bpy.data.objects[n] for n in names if n in bpy.data.objects]
    if args.save and (rows or not failures):
        try:
            _make_parent(args.save)
            bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(args.save))
        except (OSError, RuntimeError) as exc:
            failures.append(f"save: {_one_line(exc)}")
    if args.preview and rows:
        try:
            _make_parent(args.preview)
            render_preview(args.preview, objects, size=args.preview_wh,
                           engine=args.preview_engine)
        except (PreviewError, OSError, RuntimeError) as exc:
            failures.append(f"preview: {_one_line(exc)}")
    report = {
        "tool": "s2am3d-batch",
        "package": __package__,  # the installed extension (bl_ext....) or the checkout's
        "blender": bpy.app.version_string,
        "model": {"trained": bool(meta.get("trained", False)),
                  "path": args.model or "bundled",
                  **{k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool))}},
        "settings": {"scale": args.scale, "num_parts": args.parts,
                     "hierarchy": list(args.hierarchy_scales), "output": args.output,
                     "points": args.points, "join": args.join,
                     "min_part_size": args.min_part_size},
        "objects": rows,
        "failures": failures,
        "warnings": warnings,
        "total_s": round(time.perf_counter() - t0, 3),
    }
    if args.report:
        _make_parent(args.report)
        with open(args.report, "w") as fh:
            json.dump(report, fh, indent=2)
    return report, failures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(_script_argv() if argv is None else argv)
    report, failures = run(args)
    for line in report["warnings"]:
        fail(f"warning: {line}")
    for line in failures:
        fail(line)
    for row in report["objects"]:
        print(f"s2am3d-batch: {row['object']}: {runner.parts_text(row)} "
              f"(encode {row['timings']['encode_s']:.2f} s, "
              f"segment {row['timings']['segment_s']:.2f} s)", flush=True)
    if failures:
        fail(f"{len(failures)} failure(s); {len(report['objects'])} object(s) segmented")
        return 1
    return 0

