"""The Blender version matrix: the built linux-x64 zip installed into the lowest Blender the
manifest admits (bpy 4.2.0, Python 3.11) and into the newest bpy tested (5.2.3, Python
3.13), each in its own virtual environment, then Segment All through the registered
operator in a process that sees only that Blender's bpy and numpy.

The environments are created on first use (``python3.X -m venv`` + pinned ``pip install``,
about 500 MB each from the package registry) under the repository root
(``.venv-bpy42``, ``.venv-bpy52``; git-ignored) and reused while their pins are unchanged.
The venv's own bpy 5.0.1 is covered by ``test_blender_extension.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_blender_extension import MODULE, REPO, install_env, linux_zips

pytestmark = [pytest.mark.blender, pytest.mark.slow]


@dataclass(frozen=True)
class BlenderTarget:
    """One Blender of the matrix. ``python``: the CPython it embeds (``"3.11"``);
    ``pins``: what its venv installs; ``zip_tag``: the zip built for that Python."""

    name: str
    python: str
    pins: tuple[str, ...]
    zip_tag: str

    @property
    def venv(self) -> Path:
        return REPO / f".venv-bpy{self.name.replace('.', '')[:2]}"

    @property
    def version(self) -> str:
        return next(p.split("==")[1] for p in self.pins if p.startswith("bpy=="))


MATRIX = (
    # the manifest's blender_version_min; bpy 4.2.0 is built against numpy 1.x
    BlenderTarget("4.2", "3.11", ("bpy==4.2.0", "numpy==1.26.4"), "py311"),
    # the newest bpy of the 5.2 series on the registry (Python 3.13, numpy 2)
    BlenderTarget("5.2", "3.13", ("bpy==5.2.3", "numpy==2.2.6"), "py313"),
)


def _runs(exe: str) -> bool:
    """True when ``exe`` really starts (a pyenv shim of a version that is not selected
    exists on PATH but exits 127)."""
    try:
        return subprocess.run([exe, "-c", "import sys"], capture_output=True,
                              timeout=60).returncode == 0
    except OSError:
        return False


def _interpreter(version: str) -> str:
    cands = [str(d / "bin" / f"python{version}") for d in
             sorted(Path("/root/.pyenv/versions").glob(f"{version}.*"), reverse=True)]
    cands += [x for x in (shutil.which(f"python{version}"),) if x]
    for exe in cands:
        if Path(exe).exists() and _runs(exe):
            return exe
    pytest.fail(f"python{version} is needed for the Blender {version} matrix entry "
                "(install it, e.g. with pyenv)")


def ensure_venv(target: BlenderTarget) -> tuple[str, Path]:
    """(python, site-packages) of ``target``'s venv, created/installed when missing or when
    its pins changed."""
    py = target.venv / "bin" / "python"
    stamp = target.venv / ".s2am3d-pins"
    want = "\n".join(target.pins)
    if not (py.exists() and stamp.exists() and stamp.read_text() == want):
        if target.venv.exists():
            shutil.rmtree(target.venv)
        subprocess.run([_interpreter(target.python), "-m", "venv", str(target.venv)],
                       check=True, timeout=300)
        proc = subprocess.run([str(py), "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", *target.pins],
                              capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-3000:]
        stamp.write_text(want)
    site = next((target.venv / "lib").glob("python3.*/site-packages"))
    return str(py), site


SEGMENT = """
import onnxruntime
ob = make_table()
ob.vertex_groups.new(name="user_vg").add([0, 1, 2], 0.5, "REPLACE")
activate(ob)
settings(scale=0.2, use_scale=True, output_mode="GROUPS")
before = state_of(ob)
RESULT["blender"] = bpy.app.version_string
RESULT["python"] = "%d.%d" % sys.version_info[:2]
RESULT["ort"] = [onnxruntime.__version__, onnxruntime.__file__]
RESULT["op"] = sorted(bpy.ops.s2am3d.segment_all())
after = state_of(ob)
RESULT["groups"] = list(ob["s2am3d_groups"])
RESULT["user_kept"] = after["groups"]["user_vg"] == before["groups"]["user_vg"]
RESULT["hash_same"] = after["hash"] == before["hash"]
RESULT["clear"] = sorted(bpy.ops.s2am3d.clear_parts())
RESULT["restored"] = state_of(ob) == before
"""


@pytest.mark.parametrize("target", MATRIX, ids=[t.name for t in MATRIX])
def test_zip_installs_and_segments_on_every_blender_the_manifest_admits(
        target, tmp_path_factory):
    py, site = ensure_venv(target)
    zips = linux_zips(tmp_path_factory.getbasetemp() / "dist")
    _, run, tmp = install_env(zips[target.zip_tag], tmp_path_factory.mktemp(target.venv.name),
                              python=py, site=site)
    r = run(SEGMENT)
    assert r["blender"].startswith(target.version) and r["python"] == target.python
    import build

    assert r["ort"][0] == build.WHEELS[0].version
    assert r["ort"][1].startswith(str(tmp)), r["ort"]  # the zip's wheel, not another copy
    assert r["op"] == ["FINISHED"] and len(r["groups"]) >= 2
    assert r["user_kept"] and r["hash_same"]
    assert r["clear"] == ["FINISHED"] and r["restored"]


@pytest.mark.parametrize("target", MATRIX, ids=[t.name for t in MATRIX])
def test_the_zip_of_the_other_python_is_refused_by_blender(target, tmp_path_factory):
    """The zip made for the other Python is never enabled: Blender refuses it, or (4.2.0)
    copies it but leaves it off as incompatible with this version, so the wrong wheels
    never run."""
    py, site = ensure_venv(target)
    zips = linux_zips(tmp_path_factory.getbasetemp() / "dist")
    other = next(t for t in MATRIX if t is not target)
    env, _, _ = install_env(zips[other.zip_tag], tmp_path_factory.mktemp(f"wrong{target.name}"),
                            python=py, site=site, must_install=False)
    res = json.loads(env["install_result"])
    assert res["blender"].startswith(target.version)
    assert MODULE not in res["addons"], res


def _dual_abi_zip(zips: dict[str, Path], out: Path) -> Path:
    """What build.py used to make: one zip carrying both Pythons' wheels, no upper bound."""
    import re
    import zipfile

    with zipfile.ZipFile(zips["py313"]) as z313:
        w313 = next(n for n in z313.namelist() if n.startswith("wheels/"))
        w313_data = z313.read(w313)
    with zipfile.ZipFile(zips["py311"]) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "blender_manifest.toml":
                text = re.sub(r"blender_version_max = .*\n", "", data.decode())
                text = text.replace('.whl"]', f'.whl", "./{w313}"]')
                data = text.encode()
            dst.writestr(item, data)
        dst.writestr(w313, w313_data)
    return out


def test_a_zip_with_both_pythons_wheels_breaks_blender_4_2_0_in_one_line(tmp_path_factory):
    """Why there is one zip per Python: Blender 4.2.0 installs both ABIs' wheels and the
    cp313 ONNX Runtime lands over the cp311 one. Segment All then says so in one line (what
    to install) instead of a traceback."""
    target = MATRIX[0]
    py, site = ensure_venv(target)
    zips = linux_zips(tmp_path_factory.getbasetemp() / "dist")
    tmp = tmp_path_factory.mktemp("dual_abi")
    dual = _dual_abi_zip(zips, tmp / "s2am3d-dual.zip")
    (tmp / "user").mkdir()
    _, run, _ = install_env(dual, tmp / "user", python=py, site=site)
    r = run("""
        ob = make_table()
        activate(ob)
        settings(scale=0.2)
        try:
            RESULT["op"] = sorted(bpy.ops.s2am3d.segment_all())
        except RuntimeError as exc:
            RESULT["op"] = str(exc).strip()
    """)
    msg = r["op"]
    assert isinstance(msg, str) and "ONNX Runtime cannot be loaded" in msg, msg
    assert "Python 3.11" in msg and "py311" in msg and "\n" not in msg
