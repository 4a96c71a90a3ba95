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


def check_prompts(prompts: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``[(point_index, is_positive), ...]`` against ``n`` sampled points; returns
    (1, P) int64 indices and (1, P) float32 labels (1 positive, 0 negative)."""
    try:
        items = list(prompts)
    except TypeError:
        raise InvalidPromptError(
            f"prompts must be a list of (point_index, is_positive) pairs, got {prompts!r}"
        ) from None
    if not items:
        raise InvalidPromptError("no prompt given: pass at least one positive point")
    idx, lab = [], []
    for i, item in enumerate(items):
        try:
            p, positive = item
        except (TypeError, ValueError):
            raise InvalidPromptError(
                f"prompt {i} must be a (point_index, is_positive) pair, got {item!r}"
            ) from None
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise InvalidPromptError(f"prompt {i}: point index must be an integer, got {p!r}")
        if not 0 <= int(p) < n:
            raise InvalidPromptError(
                f"prompt {i}: point index {int(p)} out of range [0, {n - 1}] "
                f"(the object has {n} sampled points)"
            )
        if not isinstance(positive, (bool, np.bool_)) and positive not in (0, 1):
            raise InvalidPromptError(
                f"prompt {i}: is_positive must be True/False, got {positive!r}"
            )
        idx.append(int(p))
        lab.append(1.0 if bool(positive) else 0.0)
    if max(lab) < 1.0:
        raise InvalidPromptError("at least one prompt must be positive (True)")
    return np.asarray([idx], np.int64), np.asarray([lab], np.float32)
