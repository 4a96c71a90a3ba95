"""Checks of user-supplied prompt values shared by the predictor and Segment All."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InvalidPromptError


def check_scale(scale: Any) -> float | None:
    """Validate a scale prompt: None, or a real number in [0, 1]; returns float or None."""
    if scale is None:
        return None
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
        raise InvalidPromptError(f"scale must be None or a number in [0, 1], got {scale!r}")
    s = float(scale)
    if math.isnan(s) or not 0.0 <= s <= 1.0:
        raise InvalidPromptError(
            f"scale must be in [0, 1] (fraction of the object the part covers), got {s}"
        )
    return s


def check_scales(scales: Any) -> list[float]:
    """Validate a hierarchy's scales: a non-empty list of numbers in [0, 1]."""
    try:
        vals = list(scales)
    except TypeError:
        raise InvalidPromptError(f"scales must be a list of numbers in [0, 1], got {scales!r}"
                                 ) from None
    if not vals:
        raise InvalidPromptError("hierarchy needs at least one scale")
    out = []
    for v in vals:
        if v is None:
            raise InvalidPromptError("hierarchy scales must be numbers in [0, 1], not None")
        out.append(check_scale(v))
    return out
