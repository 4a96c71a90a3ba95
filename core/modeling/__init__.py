"""Torch networks of S2AM3D (training and the torch backend only; import needs torch)."""

from .decoder import ScaleAwareDecoder
from .encoder import PartEncoder

__all__ = ["PartEncoder", "ScaleAwareDecoder"]
