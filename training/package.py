"""Turn a stage-1 and a stage-2 run into the product's weights folder (and its ONNX files).

    python -m training.package --encoder runs/enc/best.pt --decoder runs/dec \
        --out core/weights/default [--data data_cache/train_mix] [--notes "..."]

Writes ``model.safetensors`` + ``config.json`` (metadata: ``trained: true``, steps, wall
times, both training configurations, hardware, the data folder and this command) with
:func:`training.train_all.package_weights`, then exports the ONNX files with
:func:`core.export.export_onnx` so ``Segmenter.from_pretrained(OUT)`` works with both
backends and ``build.py`` can ship them (``--no-onnx`` skips the export:
``python -m core.export --weights OUT --out OUT`` makes the ONNX files later).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--encoder", required=True, help="stage-1 checkpoint (.pt) or run folder")
    p.add_argument("--decoder", required=True, help="stage-2 checkpoint (.pt) or run folder")
    p.add_argument("--out", required=True, help="weights folder to (over)write")
    p.add_argument("--data", default="", help="training data folder, recorded in the metadata")
    p.add_argument("--notes", default="", help="free text recorded in the metadata")
    p.add_argument(
        "--no-onnx",
        action="store_true",
        help="write model.safetensors + config.json only (export later with core.export)",
    )
    a = p.parse_args(argv)

    from core.export import export_onnx

    from .train_all import package_weights

    args = sys.argv[1:] if argv is None else argv
    extra = {"package_command": "python -m training.package " + shlex.join(args)}
    if a.data:
        extra["data"] = a.data
    if a.notes:
        extra["notes"] = a.notes
    out = package_weights(a.encoder, a.decoder, a.out, extra)
    if a.no_onnx:
        print(f"[package] weights in {out} (no ONNX files: --no-onnx)", flush=True)
        return Path(out)
    export_onnx(out, out)
    print(f"[package] weights and ONNX files in {out}", flush=True)
    return Path(out)


if __name__ == "__main__":
    main()
