"""Vendoring ``core`` into the extension (used by ``build.py``).

``core``'s inference modules are copied into the zip as ``_vendor/s2am3d_core``:

* absolute ``core`` imports become relative ones;
* ``"core.x"`` module-name strings become names under the vendored package;
* SciPy imports point at ``s2am3d_blender/scipy_lite.py``, a numpy stand-in copied in as
  ``_scipy_lite.py``, because Blender has no SciPy;
* modules that import torch at import time are left out, and so is everything that
  imports them.

:func:`check_vendored` then imports the copy with torch, SciPy, ``core`` and ``training``
blocked, as inside Blender, and segments a point cloud with it.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent
ADDON_SRC = REPO / "s2am3d_blender"
CORE_SRC = REPO / "core"
VENDOR_NAME = "s2am3d_core"
#: numpy stand-in for the SciPy calls of ``core`` (vendored as ``_scipy_lite.py``).
SCIPY_LITE_SRC = ADDON_SRC / "scipy_lite.py"
SCIPY_LITE_NAME = "_scipy_lite"
#: Modules ``scipy_lite`` imports (relatively), vendored beside it under their own names.
SCIPY_LITE_PARTS = (ADDON_SRC / "_sparse_lite.py",)
#: Modules of ``core`` that only export or benchmark (never used for inference): not shipped.
VENDOR_SKIP = ("export.py", "bench.py", "bench_labels.py")


def log(msg: str) -> None:
    print(f"[build] {msg}", flush=True)


def _imports_torch_at_import_time(path: Path) -> bool:
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "torch" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            return True
    return False


_ROOT_LINE = (f'_S2AM3D_ROOT = __name__[: __name__.rindex("{VENDOR_NAME}") + '
              f'{len(VENDOR_NAME)}]  # added by build.py\n')


def rewrite_core_source(text: str, depth: int) -> str:
    """Rewrite absolute ``core`` imports of a module ``depth`` packages below ``core``
    into relative ones, and ``"core.x"`` module-name strings into names under the vendored
    package. Raises SystemExit on an import form it cannot rewrite."""
    dots = "." * (depth + 1)
    text = re.sub(r"^(\s*)from core(\.[\w.]+)? import ",
                  lambda m: f"{m.group(1)}from {dots}{(m.group(2) or '')[1:]} import ",
                  text, flags=re.M)
    text = rewrite_scipy_imports(text, dots)
    if re.search(r"^\s*import core\b", text, flags=re.M):
        raise SystemExit("vendoring: 'import core...' statements are not supported; "
                         "use 'from core.x import y' or relative imports")
    if re.search(r"""["']core\.[\w.]+["']""", text):
        text = re.sub(r"""["']core(\.[\w.]+)["']""",
                      lambda m: f'(_S2AM3D_ROOT + "{m.group(1)}")', text)
        # the root name must exist before any use: insert after the __future__ import or
        # the module docstring
        lines = text.splitlines(keepends=True)
        tree = ast.parse(text)
        at = 0
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                at = node.end_lineno
            elif (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                  and isinstance(node.value.value, str) and at == 0):
                at = node.end_lineno
        lines.insert(at, _ROOT_LINE)
        text = "".join(lines)
    return text


#: SciPy imports of ``core`` and what they become in the vendored copy ({dots} = the
#: relative prefix of the vendored package root).
_SCIPY_IMPORTS = {
    r"import scipy\.sparse as (\w+)": "from {dots} import " + SCIPY_LITE_NAME + " as {0}",
    r"from scipy\.spatial import ([\w, ]+)": "from {dots}" + SCIPY_LITE_NAME + " import {0}",
    r"from scipy\.sparse\.csgraph import ([\w, ]+)": "from {dots}" + SCIPY_LITE_NAME
    + " import {0}",
    r"from scipy\.sparse import ([\w, ]+)": "from {dots}" + SCIPY_LITE_NAME + " import {0}",
    r"from scipy\.spatial\.distance import ([\w, ]+)": "from {dots}" + SCIPY_LITE_NAME
    + " import {0}",
}


def rewrite_scipy_imports(text: str, dots: str) -> str:
    """Point ``core``'s SciPy imports at the vendored ``_scipy_lite``; raises SystemExit for
    any other SciPy import (a new SciPy call must be added to ``scipy_lite`` first)."""
    for pattern, repl in _SCIPY_IMPORTS.items():
        text = re.sub(rf"^(\s*){pattern}\s*$",
                      lambda m, r=repl: m.group(1) + r.format(m.group(2), dots=dots),
                      text, flags=re.M)
    left = re.findall(r"^\s*(?:import scipy\b.*|from scipy\b.*)$", text, flags=re.M)
    if left:
        raise SystemExit(f"vendoring: unsupported SciPy import(s) {left}; add what they need "
                         "to s2am3d_blender/scipy_lite.py and to build._SCIPY_IMPORTS")
    return text


def _local_imports(path: Path) -> list[Path]:
    """Modules of ``core`` that ``path`` imports at import time (top-level statements)."""
    rel_pkg = path.parent.relative_to(CORE_SRC).parts
    out = []
    for node in ast.parse(path.read_text(), str(path)).body:
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = list(rel_pkg[: len(rel_pkg) - (node.level - 1)])
            mod = node.module.split(".") if node.module else []
        elif (node.module or "").split(".")[0] == "core":
            base, mod = [], node.module.split(".")[1:]
        else:
            continue
        targets = [base + mod] if mod else []
        targets += [base + mod + [a.name] for a in node.names]
        for t in targets:
            for cand in (CORE_SRC.joinpath(*t).with_suffix(".py"),
                         CORE_SRC.joinpath(*t, "__init__.py")):
                if t and cand.is_file():
                    out.append(cand)
        if not mod:
            init = CORE_SRC.joinpath(*base, "__init__.py")
            if init != path and init.is_file():
                out.append(init)
    return out


def select_core_modules() -> tuple[list[Path], list[Path]]:
    """(kept, left out): modules that import torch at import time (and ``VENDOR_SKIP``) are
    left out, and so is every module that imports a left-out one (to a fixed point) and
    every module of a package whose ``__init__`` is left out."""
    files = [p for p in sorted(CORE_SRC.rglob("*.py"))
             if "__pycache__" not in p.parts and "weights" not in p.relative_to(CORE_SRC).parts]
    out = {p for p in files if _imports_torch_at_import_time(p)
           or str(p.relative_to(CORE_SRC)) in VENDOR_SKIP}
    deps = {p: _local_imports(p) for p in files}
    changed = True
    while changed:
        changed = False
        for p in files:
            if p in out:
                continue
            pkg_inits = [q / "__init__.py" for q in p.parents
                         if q != CORE_SRC and CORE_SRC in q.parents]
            if any(d in out for d in deps[p]) or any(i in out for i in pkg_inits):
                out.add(p)
                changed = True
    return [p for p in files if p not in out], [p for p in files if p in out]


def vendor_core(dest: Path) -> list[str]:
    """Copy ``core``'s torch-free modules into ``dest`` (``.../_vendor/s2am3d_core``);
    returns the module paths left out (torch at import time, directly or indirectly)."""
    kept, left_out = select_core_modules()
    for src in kept:
        rel = src.relative_to(CORE_SRC)
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rewrite_core_source(src.read_text(), len(rel.parts) - 1))
    shutil.copy2(SCIPY_LITE_SRC, dest / f"{SCIPY_LITE_NAME}.py")
    for part in SCIPY_LITE_PARTS:
        shutil.copy2(part, dest / part.name)
    (dest.parent / "__init__.py").write_text('"""Third-party code vendored by build.py."""\n')
    return [str(p.relative_to(CORE_SRC)) for p in left_out]


_CHECK_VENDORED = r"""
import importlib, importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torch", "core", "training", "scipy"):
            raise ImportError(f"blocked import of {name} (not available inside Blender)")
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
pkg = sys.argv[2] + "._vendor.s2am3d_core"
core = importlib.import_module(pkg)
import pkgutil
for m in pkgutil.walk_packages(core.__path__, pkg + "."):
    importlib.import_module(m.name)
import numpy as np
seg = core.Segmenter.from_pretrained(backend="onnx", num_threads=1)
rng = np.random.default_rng(0)
pts = np.concatenate([rng.normal(size=(300, 3)) * 0.2, rng.normal(size=(300, 3)) * 0.2 + 2])
seg.set_points(pts, n_points=None, seed=0)
r = seg.predict(prompts=[(0, True)], scale=0.3)
res = seg.segment_all(scale=0.3)
assert res.num_parts >= 1 and (res.point_labels >= 0).all()
bad = [m for m in sys.modules if m.split(".")[0] in ("torch", "core", "training", "scipy")]
assert not bad, bad
print("vendored core OK (no torch, no SciPy):", len(seg.points), "points, mask",
      int(r.point_mask.sum()), "| Segment All:", res.num_parts, "parts")
"""


def check_vendored(stage_parent: Path, pkg_name: str) -> None:
    """Import every vendored module and run one prediction and one Segment All with torch,
    SciPy, ``core`` and ``training`` blocked (as inside Blender)."""
    env = dict(os.environ, PYTHONPATH="", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _CHECK_VENDORED, str(stage_parent), pkg_name],
                         capture_output=True, text=True, env=env, cwd=stage_parent)
    if out.returncode != 0:
        raise SystemExit(f"vendored core check failed:\n{out.stdout}\n{out.stderr[-3000:]}")
    log(out.stdout.strip())
