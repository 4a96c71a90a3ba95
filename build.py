"""Build the installable Blender extension zips.

    python build.py [--platform linux-x64|windows-x64|macos-arm64|macos-x64|all]

For each platform this stages, in ``build_staging/<platform>/``:

* the add-on (``s2am3d_blender/*.py``) as the extension's root package;
* ``core``'s inference modules vendored as ``_vendor/s2am3d_core`` (absolute ``core``
  imports rewritten to relative ones; modules that import torch at import time, such as
  ``core/modeling`` and ``core/export.py``, are left out), so no top-level ``core`` or
  ``training`` module ever lands in Blender's Python (``build_vendor.py`` does this);
* the ONNX model files + ``config.json`` + ``onnx.json`` from ``core/weights/default``
  (re-exported first with ``python -m core.export`` when that module and the safetensors
  exist, so the ONNX files always match the bundled weights);
* ``core``'s few SciPy calls served by ``s2am3d_blender/scipy_lite.py`` (numpy only, copied
  in as ``_vendor/s2am3d_core/_scipy_lite.py``; the vendored modules' ``scipy`` imports are
  rewritten to it), because Blender has no SciPy and SciPy's wheels (20–37 MB per platform
  and Python version) would break the 60 MB budget;
* unmodified wheels from PyPI, downloaded once into ``.cache/wheels`` with
  ``pip download --only-binary=:all: --no-deps``;

then checks that the vendored package imports and segments a point cloud without torch or
SciPy, and writes **one zip per Python ABI** (``PYTHON_TARGETS``): the manifest
(``blender_manifest.toml`` + ``platforms`` + ``wheels`` + the Blender range of that ABI) and
only that ABI's wheels, built and validated by Blender's own tools (``blender_ext.py build``
/ ``validate``) into ``dist/s2am3d-<version>-<platform>-<py311|py313>.zip``; each zip's size
is printed (the build fails above ``MAX_ZIP_MB``).

Why one zip per ABI: Blender 4.2.0's installer does not filter an extension's wheels by
Python tag, so a zip carrying cp311 and cp313 wheels of onnxruntime ends with the cp313
files over the cp311 ones and ONNX Runtime cannot be imported there (later releases filter
them). A zip with one ABI's wheels and that ABI's ``blender_version_min``/``max`` installs
on every Blender it admits, and Blender itself refuses it, with a message naming the
version range, on the others.

Wheels bundled (``WheelSpec`` below) and why: ``onnxruntime`` runs the model, pinned to
1.23.2 on every platform: it is the last release with macOS x86-64 wheels (so all four zips
run the same runtime the Linux install test checks), and its Linux wheel is 17.4 MB against
27.8 MB for 1.32 (measured), which keeps the Linux zip under 60 MB with two Python
versions; it reads the exported graphs (opset 20, IR 9). Blender ships numpy, so numpy is
not bundled. onnxruntime's other declared dependencies (``coloredlogs``, ``flatbuffers``,
``protobuf``, ``packaging``, ``sympy``) are only used by its model-conversion and
quantisation tools, never by ``InferenceSession``; they are not bundled (Blender installs
every extension's wheels into one shared site-packages, so extra copies of such common
packages only risk version clashes with other add-ons). The install test runs the
installed extension in a process whose only third-party modules are Blender's own.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from build_vendor import (
    ADDON_SRC,
    CORE_SRC,
    REPO,
    SCIPY_LITE_PARTS,
    SCIPY_LITE_SRC,
    VENDOR_NAME,
    check_vendored,
    log,
    vendor_core,
)
from core.affinity import AFFINITY_FILE
from core.backends import ONNX_FILES, ONNX_MANIFEST
from core.checkpoint import CONFIG_FILE

WEIGHTS_SRC = CORE_SRC / "weights" / "default"
MANIFEST_TEMPLATE = REPO / "blender_manifest.toml"
WHEEL_CACHE = REPO / ".cache" / "wheels"
STAGING = REPO / "build_staging"
DIST = REPO / "dist"
#: Largest zip accepted per platform (MB = 10^6 bytes).
MAX_ZIP_MB = 60.0



@dataclass(frozen=True)
class PythonTarget:
    """One CPython ABI and the Blender releases that embed it.

    ``python``: ``"3.11"``; ``blender_min``: first Blender release with it (manifest
    ``blender_version_min``); ``blender_max``: first release without it (manifest
    ``blender_version_max``, exclusive), ``None`` = no upper bound.
    """

    python: str
    blender_min: str
    blender_max: str | None = None

    @property
    def tag(self) -> str:
        """``py311`` for 3.11: the suffix of the zip's name."""
        return "py" + self.python.replace(".", "")

    def blender_range(self) -> str:
        """``Blender 5.1.0 or newer`` / ``Blender 4.2.0 up to (not including) 5.1.0``."""
        if self.blender_max is None:
            return f"Blender {self.blender_min} or newer"
        return f"Blender {self.blender_min} up to (not including) {self.blender_max}"


#: Python ABIs of the Blender releases supported (one zip each): 3.11 in 4.2-5.0, 3.13 from
#: 5.1 on. The first ``blender_min`` must equal the template's ``blender_version_min``.
PYTHON_TARGETS = (PythonTarget("3.11", "4.2.0", "5.1.0"), PythonTarget("3.13", "5.1.0"))
PYTHON_VERSIONS = tuple(t.python for t in PYTHON_TARGETS)
#: Model files shipped (model.safetensors is torch-only and stays out of the zip).
#: Taken from core's own list so a new ONNX file can never be left out of the zip.
MODEL_FILES = (CONFIG_FILE, *ONNX_FILES, ONNX_MANIFEST, AFFINITY_FILE)


@dataclass(frozen=True)
class Platform:
    """A Blender platform and the pip platform tags its wheels may carry (best first)."""

    name: str
    pip_platforms: tuple[str, ...]
    #: version overrides per package, e.g. macOS x86-64 where onnxruntime stopped at 1.23
    pins: dict = field(default_factory=dict)


PLATFORMS = {
    "linux-x64": Platform("linux-x64", ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64",
                                        "manylinux_2_17_x86_64", "manylinux2014_x86_64")),
    "windows-x64": Platform("windows-x64", ("win_amd64",)),
    "macos-arm64": Platform("macos-arm64", ("macosx_14_0_arm64", "macosx_13_0_arm64",
                                            "macosx_12_0_arm64", "macosx_11_0_arm64")),
    "macos-x64": Platform("macos-x64", ("macosx_14_0_x86_64", "macosx_13_0_x86_64",
                                        "macosx_12_0_x86_64", "macosx_10_15_x86_64",
                                        "macosx_10_14_x86_64")),
}


@dataclass(frozen=True)
class WheelSpec:
    """A PyPI package bundled as wheels; ``version`` None = the version in this venv."""

    name: str
    version: str | None = None


#: 1.23.2: the last onnxruntime with macOS x86-64 wheels; 17.4 MB on Linux (1.32: 27.8 MB).
WHEELS = (WheelSpec("onnxruntime", "1.23.2"),)


# ------------------------------------------------------------------ wheels


def _venv_version(pkg: str) -> str:
    from importlib.metadata import version

    return version(pkg)


def _wheel_matches(path: Path, pkg: str, version: str, py: str, plat: Platform) -> bool:
    m = re.match(r"^(.+?)-(.+?)-(cp\d+)-(cp\d+|abi3|none)-(.+)\.whl$", path.name)
    if not m:
        return False
    name, ver, pytag, _, ptag = m.groups()
    return (name.lower().replace("-", "_") == pkg.replace("-", "_") and ver == version
            and pytag == "cp" + py.replace(".", "")
            and any(p in ptag.split(".") for p in plat.pip_platforms))


def fetch_wheel(spec: WheelSpec, py: str, plat: Platform) -> Path:
    """The cached wheel of ``spec`` for CPython ``py`` on ``plat`` (downloaded if missing)."""
    version = plat.pins.get(spec.name) or spec.version or _venv_version(spec.name)
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    found = [p for p in WHEEL_CACHE.glob("*.whl") if _wheel_matches(p, spec.name, version, py, plat)]
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", f"{spec.name}=={version}",
               "--only-binary=:all:", "--no-deps", "--python-version", py,
               "--dest", str(WHEEL_CACHE), "--quiet", "--disable-pip-version-check"]
        for p in plat.pip_platforms:
            cmd += ["--platform", p]
        log(f"downloading {spec.name}=={version} for cp{py} {plat.name}")
        subprocess.run(cmd, check=True)
        found = [p for p in WHEEL_CACHE.glob("*.whl")
                 if _wheel_matches(p, spec.name, version, py, plat)]
    if not found:
        raise SystemExit(f"no {spec.name}=={version} wheel for cp{py} on {plat.name}")
    # prefer the tag listed first in pip_platforms
    def rank(p: Path) -> int:
        tags = p.name[:-4].split("-")[-1].split(".")
        return min(plat.pip_platforms.index(t) for t in tags if t in plat.pip_platforms)

    return sorted(found, key=rank)[0]


def export_models(no_export: bool) -> Path:
    """The folder to take the model files from.

    With ``core/export.py`` and ``model.safetensors`` present (and not ``no_export``), the
    ONNX files are re-exported from the safetensors into ``build_staging/_export`` with
    ``python -m core.export`` so the shipped graphs always match the bundled weights (the
    repository's files are never rewritten); otherwise ``core/weights/default`` as is.
    """
    if no_export:
        return WEIGHTS_SRC
    if not (CORE_SRC / "export.py").is_file() or not (WEIGHTS_SRC / "model.safetensors").is_file():
        log("core.export or model.safetensors missing: using the ONNX files as they are")
        return WEIGHTS_SRC
    out = STAGING / "_export"
    if out.exists():
        shutil.rmtree(out)
    log("re-exporting the ONNX files from model.safetensors with python -m core.export")
    subprocess.run([sys.executable, "-m", "core.export", "--weights", str(WEIGHTS_SRC),
                    "--out", str(out)], check=True, cwd=REPO,
                   env=dict(os.environ, OMP_NUM_THREADS="2"))
    if (WEIGHTS_SRC / AFFINITY_FILE).is_file():  # not an export product: ship it as is
        shutil.copy2(WEIGHTS_SRC / AFFINITY_FILE, out / AFFINITY_FILE)
    return out


def copy_models(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        f = src / name
        if not f.is_file():
            raise SystemExit(f"model file missing: {f} (run python -m core.export)")
        shutil.copy2(f, dest / name)


# ------------------------------------------------------------------ manifest + build


def _toml_value(v) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def write_manifest(dest: Path, platform: str, wheels: list[str],
                   target: PythonTarget | None = None) -> dict:
    """Write ``dest/blender_manifest.toml`` from the template for ``platform`` with the
    given wheel file names; ``target`` sets the Blender range of its Python ABI."""
    data = tomllib.loads(MANIFEST_TEMPLATE.read_text())
    if target is not None:
        if target is PYTHON_TARGETS[0] and target.blender_min != data["blender_version_min"]:
            raise SystemExit(f"blender_manifest.toml says blender_version_min = "
                             f"{data['blender_version_min']!r} but build.PYTHON_TARGETS starts "
                             f"at {target.blender_min!r}: keep them equal")
        data["blender_version_min"] = target.blender_min
        if target.blender_max is not None:
            data["blender_version_max"] = target.blender_max
    data["platforms"] = [platform]
    data["wheels"] = [f"./wheels/{w}" for w in wheels]
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in tables.items():
        lines.append(f"\n[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    (dest / "blender_manifest.toml").write_text("\n".join(lines) + "\n")
    return data


def blender_ext_tool() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        raise SystemExit("the bpy module is needed for Blender's extension builder")
    base = Path(spec.origin).parent
    found = sorted(base.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise SystemExit(f"blender_ext.py not found under {base}")
    return found[-1]


def zip_name(manifest: dict, platform: str, target: PythonTarget) -> str:
    """``s2am3d-0.1.0-linux-x64-py311.zip``."""
    return f"{manifest['id']}-{manifest['version']}-{platform}-{target.tag}.zip"


def build_platform(plat: Platform, out_dir: Path, models: Path,
                   targets: tuple[PythonTarget, ...] = PYTHON_TARGETS) -> list[Path]:
    """Stage and check the add-on of one platform once, then build and validate one zip
    per Python ABI in ``targets``; returns their paths."""
    stage_parent = STAGING / plat.name
    pkg_name = "s2am3d"
    stage = stage_parent / pkg_name
    if stage_parent.exists():
        shutil.rmtree(stage_parent)
    stage.mkdir(parents=True)
    for src in sorted(ADDON_SRC.glob("*.py")):
        if src != SCIPY_LITE_SRC and src not in SCIPY_LITE_PARTS:  # vendored core only
            shutil.copy2(src, stage / src.name)
    vendored = stage / "_vendor" / VENDOR_NAME
    skipped = vendor_core(vendored)
    log(f"vendored core ({len(list(vendored.rglob('*.py')))} modules; left out (torch, "
        f"export/benchmarks): "
        f"{', '.join(skipped) or 'none'})")
    copy_models(models, vendored / "weights" / "default")
    check_vendored(stage_parent, pkg_name)
    for p in stage.rglob("__pycache__"):
        shutil.rmtree(p)
    out_dir.mkdir(parents=True, exist_ok=True)
    tool = blender_ext_tool()
    built = []
    for target in targets:
        wheel_dir = stage / "wheels"
        if wheel_dir.exists():
            shutil.rmtree(wheel_dir)
        wheel_dir.mkdir()
        wheels = []
        for spec in WHEELS:
            w = fetch_wheel(spec, target.python, plat)
            shutil.copy2(w, wheel_dir / w.name)
            wheels.append(w.name)
        manifest = write_manifest(stage, plat.name, wheels, target)
        zip_path = out_dir / zip_name(manifest, plat.name, target)
        if zip_path.exists():
            zip_path.unlink()
        subprocess.run([sys.executable, str(tool), "build", "--source-dir", str(stage),
                        "--output-filepath", str(zip_path)], check=True)
        subprocess.run([sys.executable, str(tool), "validate", str(zip_path)], check=True)
        size = zip_path.stat().st_size
        wheel_mb = sum((wheel_dir / w).stat().st_size for w in wheels) / 1e6
        shown = zip_path.relative_to(REPO) if zip_path.is_relative_to(REPO) else zip_path
        log(f"{shown}: {size / 1e6:.1f} MB (wheels {wheel_mb:.1f} MB), "
            f"{target.blender_range()}")
        if size / 1e6 > MAX_ZIP_MB:
            raise SystemExit(f"{zip_path.name} is {size / 1e6:.1f} MB, over {MAX_ZIP_MB:.0f} MB")
        built.append(zip_path)
    return built


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--platform", default="linux-x64", choices=[*PLATFORMS, "all"],
                    help="platform to build (default linux-x64), or all")
    ap.add_argument("--out", default=str(DIST), help="output folder (default dist/)")
    ap.add_argument("--no-export", action="store_true",
                    help="ship the ONNX files as they are (skip python -m core.export)")
    args = ap.parse_args(argv)
    models = export_models(args.no_export)
    names = list(PLATFORMS) if args.platform == "all" else [args.platform]
    built = [z for name in names for z in build_platform(PLATFORMS[name], Path(args.out), models)]
    for path in built:
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
