"""Headless batch segmentation (see s2am3d_blender/batch.py for every argument).

    blender -b [scene.blend] --python scripts/s2am3d_batch.py -- --input mesh.glb --scale 0.2 \
        --output groups --save out.blend --report out.json --preview out.png
    .venv/bin/python scripts/s2am3d_batch.py -- --input mesh.glb ...

Inside a Blender binary with the S2AM3D extension installed and enabled, the extension's own
copy runs (its bundled ONNX Runtime and vendored ``core``: Blender's Python has neither this
repository's ``core`` nor SciPy). Otherwise (the ``bpy`` module in this repository's
environment) the checkout's ``s2am3d_blender`` and ``core`` run.
"""

import importlib
import importlib.util
import os
import sys


def _batch_module():
    for name in sorted(sys.modules):
        if name.startswith("bl_ext.") and name.endswith(".s2am3d"):  # the enabled extension
            return importlib.import_module(name + ".batch")
    missing = [m for m in ("onnxruntime", "scipy") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"s2am3d-batch: this Python lacks {', '.join(missing)}: install and enable the "
              "S2AM3D extension in this Blender, or run the script with the repository's "
              ".venv/bin/python", file=sys.stderr)
        return None
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return importlib.import_module("s2am3d_blender.batch")


if __name__ == "__main__":
    mod = _batch_module()
    sys.exit(1 if mod is None else mod.main())
