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
import os
import sys


def _batch_module():
    for name in sorted(sys.modules):
        if name.startswith("bl_ext.") and name.endswith(".s2am3d"):  # the enabled extension
            return importlib.import_module(name + ".batch")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return importlib.import_module("s2am3d_blender.batch")


if __name__ == "__main__":
    sys.exit(_batch_module().main())
