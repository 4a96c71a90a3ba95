"""Headless batch segmentation from a source checkout (see s2am3d_blender/batch.py).

    blender -b [scene.blend] --python scripts/s2am3d_batch.py -- --input mesh.glb --scale 0.2 \
        --output groups --save out.blend --report out.json --preview out.png
    .venv/bin/python scripts/s2am3d_batch.py -- --input mesh.glb ...
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from s2am3d_blender.batch import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
