"""Exception types raised by :mod:`core` for bad input or bad model files.

Every error a user can trigger with their own data is one of these, with a message that
names the problem (and the file, for model files), so callers such as the Blender add-on
can show it verbatim and leave the scene untouched.
"""

from __future__ import annotations


class S2AM3DError(Exception):
    """Base class of every error raised on purpose by this package."""


class InvalidInputError(S2AM3DError, ValueError):
    """Geometry (points, vertices, faces) that cannot be segmented, with the reason."""


class InvalidPromptError(S2AM3DError, ValueError):
    """A prompt (point index, label or scale) outside what the model accepts."""


class ModelFileError(S2AM3DError, OSError):
    """A model file that is missing, truncated, corrupt or does not match the config."""
