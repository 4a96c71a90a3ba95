"""Your own multi-part meshes as a training source (``python -m training.data add-meshes``).

Every GLB/glTF, URDF, MJCF (``.xml``) or OBJ file under a folder becomes one real-mesh
asset of the cache that ``build --assets`` draws from: its parts are the file's own
structure (glTF/OBJ scene nodes and sub-meshes, URDF/MJCF links and visuals), coarser levels
come from the paper's area-ratio merging, exactly like the PyPI assets. The files are not
copied: the manifest row stores the absolute path, so keep the folder where it is.

Rules, enforced here: a file must load into at least ``MIN_LEAVES`` leaf meshes; folders laid
out like PartNet-Mobility objects (``mobility.urdf``, ``textured_objs/`` ...) and the
evaluation object are refused, because the evaluation set is built from PartNet-Mobility.
The licence you name is recorded in every row (you are responsible for it).
"""

from __future__ import annotations

import json
from pathlib import Path

from .assets import EVAL_EXCLUDE, _is_mjcf, _signature, load_any, partnet_mobility_dirs

USER_TAG = "user"
MIN_LEAVES = 3
MESH_SUFFIXES = (".glb", ".gltf", ".urdf", ".obj", ".xml")


def scan(folder: Path, licence: str) -> list[dict]:
    """Manifest rows (see :func:`training.data.assets.catalogue`) for the files of
    ``folder``; unusable files get ``usable: False`` and a ``why``."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    rel_names = [str(p.relative_to(folder)) for p in files]
    banned = tuple(partnet_mobility_dirs(rel_names))
    rows, seen = [], {}
    for f, rel in zip(files, rel_names):
        if f.suffix.lower() not in MESH_SUFFIXES:
            continue
        if f.suffix.lower() == ".xml" and not _is_mjcf(f):
            continue
        row = {"id": f"{USER_TAG}:{rel}", "package": f"user folder {folder}", "tag": USER_TAG,
               "path": str(f), "kind": "mjcf" if f.suffix.lower() == ".xml" else
               f.suffix.lower()[1:], "licence": licence, "licence_file": None,
               "usable": False}
        try:
            if (banned and rel.startswith(banned)) or EVAL_EXCLUDE.search(rel):
                raise ValueError("laid out like a PartNet-Mobility object (not allowed: the "
                                 "evaluation set is built from PartNet-Mobility)")
            part = load_any(f)
            leaves = part.leaves()
            row["leaves"] = len(leaves)
            row["faces"] = int(sum(len(lf.mesh.faces) for lf in leaves))
            if len(leaves) < MIN_LEAVES:
                raise ValueError(f"only {len(leaves)} part meshes (need {MIN_LEAVES})")
            key = _signature(part)
            if key in seen:
                raise ValueError(f"duplicate geometry of {seen[key]}")
            seen[key] = row["id"]
            row["usable"] = True
        except Exception as e:  # noqa: BLE001 - recorded in the manifest and printed
            row["why"] = f"{type(e).__name__}: {e}"[:200]
        rows.append(row)
    return rows


def add_user_meshes(folder: Path | str, cache: Path | str, licence: str) -> list[dict]:
    """Add (or refresh) the meshes of ``folder`` in ``cache/manifest.json``.

    Rows of an earlier call for the same folder are replaced; PyPI rows and other folders'
    rows are kept. Returns the new rows of this folder.
    """
    folder, cache = Path(folder).resolve(), Path(cache)
    rows = scan(folder, licence)
    manifest = cache / "manifest.json"
    old = json.loads(manifest.read_text()) if manifest.exists() else []
    keep = [r for r in old if r.get("package") != f"user folder {folder}"]
    cache.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(keep + rows, indent=1) + "\n")
    return rows
