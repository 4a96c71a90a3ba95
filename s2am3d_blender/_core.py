"""Where the add-on finds ``core``: the copy vendored into the extension, else the repo's.

``build.py`` copies ``core``'s inference modules into ``_vendor/s2am3d_core`` inside the
extension package, so no top-level module named ``core`` ever lands in Blender's Python.
Running from a source checkout (tests, ``scripts/``), the repository's ``core`` is used.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_CORE: ModuleType | None = None


def core() -> ModuleType:
    """The ``core`` package (vendored copy first). Imported lazily: it loads onnxruntime."""
    global _CORE
    if _CORE is None:
        try:
            _CORE = importlib.import_module(f"{__package__}._vendor.s2am3d_core")
        except ModuleNotFoundError as exc:
            if "_vendor" not in str(exc.name or ""):
                raise
            _CORE = importlib.import_module("core")
    return _CORE


def is_vendored() -> bool:
    """True when the vendored copy (an installed extension) is in use."""
    return core().__name__.endswith("._vendor.s2am3d_core")


def errors() -> ModuleType:
    """``core.errors`` (exception classes ``S2AM3DError``, ``ModelFileError``, ...)."""
    return importlib.import_module(f"{core().__name__}.errors")
