"""Quality filter: a small PointNet that scores how plausible a part labelling is.

(Model and training added below; :func:`resolve_filter` picks the weights for a build.)
"""

from __future__ import annotations

import json
from pathlib import Path


def resolve_filter(weights: str | None, threshold: float | None) -> tuple[str | None, float]:
    """Weights path and threshold for a build.

    Returns ``(None, 0.0)`` when ``weights`` is empty or missing on disk (no filtering);
    otherwise the path and ``threshold`` or, when that is None, the threshold measured at
    training time and stored in the weights' metadata.
    """
    if not weights or not Path(weights).is_file():
        return None, 0.0
    if threshold is not None:
        return weights, float(threshold)
    from safetensors import safe_open

    with safe_open(weights, "np") as f:
        meta = f.metadata() or {}
    return weights, float(json.loads(meta.get("info", "{}")).get("threshold", 0.5))
