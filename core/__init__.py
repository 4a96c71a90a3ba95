"""S2AM3D core: scale-controllable part segmentation of meshes and point clouds.

No bpy, and no torch needed for inference (ONNX Runtime backend). Public names are
imported lazily, so ``import core`` is cheap and never pulls in torch::

    from core import Segmenter, SegmentAllSettings, ModelConfig
    seg = Segmenter.from_pretrained()          # bundled weights, backend "auto"
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Segmenter": ".predictor",
    "PredictSettings": ".predictor",
    "PredictResult": ".predictor",
    "SegmentAllSettings": ".automatic",
    "SegmentAllResult": ".automatic",
    "ModelConfig": ".config",
    "load_backend": ".backends",
    "Conditioning": ".backends",
    "AnchorGraph": ".anchors",
    "prepare_anchors": ".anchors",
    "load_checkpoint": ".checkpoint",
    "S2AM3DError": ".errors",
    "InvalidInputError": ".errors",
    "InvalidPromptError": ".errors",
    "ModelFileError": ".errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
