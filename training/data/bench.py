"""Build-cost benchmark: CPU seconds per object for each kind of object.

CPU time (``time.process_time``) rather than wall time, because the machine's two cores are
shared: the CPU cost per object and the worker count give the build time on idle cores.
``python -m training.data bench --objects 30`` prints medians.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from .build import BuildConfig, make_sample, procedural_sample, real_library


def bench(cfg: BuildConfig, n: int = 30, seed: int = 123) -> dict[str, float]:
    """Median CPU seconds per object for procedural / voxel-fused / union procedural and
    real / voxel-fused / union real objects (real ones only when ``cfg.asset_cache`` is set). Asset parsing is warmed up
    first (each worker parses every asset once per build)."""
    sep, vox, uni = (dict(fused_fraction=0.0, union_fraction=0.0),
                     dict(fused_fraction=1.0, union_fraction=0.0),
                     dict(fused_fraction=0.0, union_fraction=1.0))
    kinds = {"procedural": replace(cfg, **sep), "procedural_fused": replace(cfg, **vox),
             "procedural_union": replace(cfg, **uni)}
    if cfg.asset_cache:
        kinds["real"] = replace(cfg, real_fraction=1.0, **sep)
        kinds["real_fused"] = replace(cfg, real_fraction=1.0, **vox)
        kinds["real_union"] = replace(cfg, real_fraction=1.0, **uni)
        lib = real_library(kinds["real"])
        for row in lib.rows:  # warm-up: parse and load every asset once
            lib.posed_part(row, np.random.default_rng(0))
    out = {}
    for name, c in kinds.items():
        times = []
        for i in range(n):
            t = time.process_time()
            if name.startswith("real"):
                make_sample(i, seed, c)
            else:
                procedural_sample(i, seed, c)
            times.append(time.process_time() - t)
        out[name] = float(np.median(times))
        print(f"{name:18s} median {out[name]:.3f} CPU s/object  (mean {np.mean(times):.3f}, n={n})")
    return out
