"""Real multi-part meshes from PyPI packages: fetch, licence, catalogue.

``fetch_assets`` runs ``pip download --no-deps <pkg>==<pin>`` (the packages are large and
compiled, so they are never installed) and extracts only mesh / URDF / glTF files and
licence texts into a cache folder. genesis-world's ``urdf/3763`` (a PartNet-Mobility object
that belongs to the evaluation set) is never extracted. ``catalogue`` lists every asset
that loads (:func:`load_any`: URDF and glTF through :mod:`training.data.asset_loaders`,
MJCF through :mod:`training.data.mjcf`) into at least three leaves under a permissive
licence.

Levels for training come from :mod:`training.data.pipeline` (area-ratio merging of leaves,
connectivity refinement, quality filter), not from the raw tree.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .asset_loaders import articulated_part, joint_configuration, load_scene_part, parse_urdf
from .mjcf import load_mjcf
from .parts import Part


@dataclass(frozen=True)
class PackageSpec:
    """A PyPI package that ships multi-part meshes.

    Attributes:
        name, version: the exact pin passed to ``pip download``.
        tag: short source name used in ``source`` strings ("pybullet", "genesis").
        root: path prefix of the asset folder inside the archive.
        licence: the package's licence, applied where an asset has no licence file.
        exclude: path prefixes (relative to ``root``) never extracted.
        include: when set, only these path prefixes (relative to ``root``) are extracted.
    """

    name: str
    version: str
    tag: str
    root: str
    licence: str
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()


PACKAGES: dict[str, PackageSpec] = {
    "pybullet": PackageSpec("pybullet", "3.2.7", "pybullet", "pybullet_data/", "zlib",
                            exclude=("random_urdfs/",)),
    "genesis-world": PackageSpec("genesis-world", "1.4.5", "genesis", "genesis/assets/",
                                 "Apache-2.0", exclude=("urdf/3763/",)),
    # MuJoCo (MJCF) models shipped inside pure-Python wheels
    "metaworld": PackageSpec("metaworld", "3.1.1", "metaworld", "metaworld/assets/", "MIT",
                             include=("objects/",)),
    "dm_control": PackageSpec("dm_control", "1.0.50", "dm_control", "dm_control/",
                              "Apache-2.0", include=("suite/", "third_party/",
                                                     "locomotion/walkers/assets/")),
    "gymnasium": PackageSpec("gymnasium", "1.4.0", "gymnasium", "gymnasium/envs/mujoco/assets/",
                             "MIT"),
    "robosuite": PackageSpec("robosuite", "1.5.2", "robosuite", "robosuite/models/assets/",
                             "MIT", include=("robots/", "grippers/")),
}
EVAL_EXCLUDE = re.compile(r"(^|/)3763(/|$)")  # genesis' PartNet-Mobility object: evaluation data
ASSET_EXT = {".urdf", ".obj", ".stl", ".glb", ".gltf", ".dae", ".mtl", ".bin", ".xml", ".msh"}
LICENCE_NAME = re.compile(r"licen[cs]e|copying", re.IGNORECASE)
ALLOWED_LICENCES = ("zlib", "Apache-2.0", "BSD", "MIT", "CC-BY-4.0", "CC0")
SKIP_NAME = re.compile(r"plane|terrain|stadium|cloth|heightfield|samurai|_coll|ground|floor|^scene",
                       re.I)


def classify_licence(text: str, default: str) -> str:
    """Name the licence of a licence file's ``text`` (``default`` when it only asks for a
    citation or names none)."""
    t = text.lower()
    if "creative commons" in t and "share" in t:
        return "CC-BY-SA-3.0"
    if "creative commons" in t:
        return "CC-BY-4.0" if "4.0" in t else "CC-BY"
    if "permission of" in t or "used by permission" in t:
        return "used-by-permission"
    if "apache license" in t:
        return "Apache-2.0"
    if "redistribution and use in source and binary forms" in t:
        return "BSD"
    if "permission is hereby granted, free of charge" in t:
        return "MIT"
    return default


def _extract_member(name: str, spec: PackageSpec) -> str | None:
    """Relative output path for an archive member, or None when it is not wanted."""
    idx = name.find(spec.root)
    if idx < 0:
        return None
    rel = name[idx + len(spec.root):]
    if not rel or rel.endswith("/") or any(rel.startswith(x) for x in spec.exclude):
        return None
    if spec.include and not any(rel.startswith(x) for x in spec.include):
        return None
    if EVAL_EXCLUDE.search(rel):
        return None
    base = rel.rsplit("/", 1)[-1]
    if Path(base).suffix.lower() in ASSET_EXT or LICENCE_NAME.search(base):
        return rel
    return None


def download(spec: PackageSpec, dest: Path) -> Path:
    """``pip download --no-deps name==version`` into ``dest`` (skipped when present)."""
    dest.mkdir(parents=True, exist_ok=True)
    prefix = f"{spec.name}_{spec.version}".replace("-", "_").lower()

    def archives() -> list[Path]:
        return [p for p in dest.iterdir()
                if p.name.lower().replace("-", "_").startswith(prefix)]

    have = archives()
    if have:
        return have[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           f"{spec.name}=={spec.version}", "-d", str(dest)]
    subprocess.run(cmd, check=True)
    have = archives()
    if not have:
        raise FileNotFoundError(f"pip download of {spec.name}=={spec.version} left no archive")
    return have[0]


PARTNET_MOBILITY_MARK = re.compile(r"(^|/)(mobility(_v2)?\.(urdf|json)|textured_objs|"
                                   r"semantics\.txt|meta\.json|result(_after_merging)?\.json)"
                                   r"(/|$)")


def partnet_mobility_dirs(names: list[str]) -> set[str]:
    """Folders of archive members laid out like a PartNet-Mobility object (a folder with
    ``mobility.urdf`` / ``mobility_v2.json`` / ``textured_objs/`` ...): never extracted,
    whatever their name, because the house rules forbid PartNet-Mobility data and the
    evaluation set is built from it. ``mobility*`` or ``textured_objs`` alone marks a
    folder; the generic names (``meta.json``, ``result.json``, ``semantics.txt``) need a
    second mark in the same folder."""
    marks: dict[str, set[str]] = {}
    for name in names:
        m = PARTNET_MOBILITY_MARK.search(name)
        if m:
            marks.setdefault(name[: m.start(2)], set()).add(m.group(2).split(".")[0])
    return {d for d, kinds in marks.items()
            if len(kinds) >= 2 or kinds & {"mobility", "mobility_v2", "textured_objs"}}


def extract(archive: Path, spec: PackageSpec, out: Path) -> int:
    """Extract the wanted asset files of ``archive`` (wheel/zip or sdist tar) into ``out``
    (never the evaluation object, never anything laid out like a PartNet-Mobility object)."""
    n = 0
    out.mkdir(parents=True, exist_ok=True)
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z:
            banned = tuple(partnet_mobility_dirs(z.namelist()))
            for info in z.infolist():
                rel = _extract_member(info.filename, spec)
                if rel is None or (banned and info.filename.startswith(banned)):
                    continue
                target = out / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(z.read(info))
                n += 1
    else:
        with tarfile.open(archive) as t:
            members = t.getmembers()
            banned = tuple(partnet_mobility_dirs([m.name for m in members]))
            for m in members:
                rel = _extract_member(m.name, spec) if m.isfile() else None
                if rel is None or (banned and m.name.startswith(banned)):
                    continue
                target = out / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(t.extractfile(m).read())
                n += 1
    return n


# --------------------------------------------------------------------------- catalogue


def _licence_of(path: Path, pkg_root: Path, default: str) -> tuple[str, str | None]:
    for d in [path.parent, *path.parent.parents]:
        for f in sorted(d.glob("*")) if d.is_dir() else []:
            if f.is_file() and LICENCE_NAME.search(f.name):
                text = f.read_text(errors="ignore")[:4000]
                return classify_licence(text, default), str(f.relative_to(pkg_root))
        if d == pkg_root:
            break
    return default, None


def _signature(part: Part) -> str:
    """Geometry signature for de-duplication: leaf count, total area, extents."""
    leaves = part.leaves()
    area = sum(float(lf.mesh.area) for lf in leaves)
    allv = np.concatenate([lf.mesh.vertices for lf in leaves])
    ext = allv.max(0) - allv.min(0)
    return f"{len(leaves)}:{area:.4g}:" + ",".join(f"{x:.3g}" for x in ext)


def _is_mjcf(path: Path) -> bool:
    head = path.read_text(errors="ignore")[:2000]
    return "<mujoco" in head and "<mujocoinclude" not in head and "<worldbody" in \
        path.read_text(errors="ignore")


def load_any(path: Path, rng: np.random.Generator | None = None, amount: float = 1.0) -> Part:
    """Part tree of a URDF, MJCF or glTF/GLB asset (posed at random when ``rng``)."""
    if path.suffix == ".urdf":
        art = parse_urdf(path)
        return articulated_part(art, joint_configuration(art, rng, amount))
    if path.suffix == ".xml":
        return load_mjcf(path, rng, amount)
    return load_scene_part(path)


def catalogue(cache: Path) -> list[dict]:
    """Scan an asset cache: every URDF, MJCF and GLB that loads into ≥ 3 leaves under a
    permissive licence; duplicates (same leaf count, area and extents) are listed once.

    Returns manifest rows: id, package, tag, path (relative to cache), kind, licence,
    licence_file, leaves, faces, usable (bool) and why (when not usable).
    """
    rows, seen = [], {}
    for spec in PACKAGES.values():
        pkg_root = cache / spec.tag
        if not pkg_root.is_dir():
            continue
        files = sorted(list(pkg_root.rglob("*.urdf")) + list(pkg_root.rglob("*.glb"))
                       + [x for x in pkg_root.rglob("*.xml") if _is_mjcf(x)])
        for f in files:
            rel = str(f.relative_to(cache))
            assert not EVAL_EXCLUDE.search(rel), "evaluation object in the asset cache"
            row = {"id": f"{spec.tag}:{f.relative_to(pkg_root).with_suffix('')}", "package":
                   f"{spec.name}=={spec.version}", "tag": spec.tag, "path": rel,
                   "kind": "mjcf" if f.suffix == ".xml" else f.suffix[1:], "usable": False}
            lic, lic_file = _licence_of(f, pkg_root, spec.licence)
            row["licence"], row["licence_file"] = lic, lic_file
            try:
                if SKIP_NAME.search(f.name):
                    raise ValueError("environment / collision / ground asset")
                part = load_any(f)
                key = _signature(part)
                leaves = part.leaves()
                row["leaves"] = len(leaves)
                row["faces"] = int(sum(len(lf.mesh.faces) for lf in leaves))
                if len(leaves) < 3:
                    raise ValueError(f"only {len(leaves)} leaf meshes")
                if lic not in ALLOWED_LICENCES:
                    raise ValueError(f"licence {lic} not in the allowed list")
                if key in seen:
                    raise ValueError(f"duplicate geometry of {seen[key]}")
                seen[key] = row["id"]
                row["usable"] = True
            except Exception as e:  # noqa: BLE001 - recorded in the manifest
                row["why"] = f"{type(e).__name__}: {e}"[:200]
            rows.append(row)
    return rows


def fetch_assets(cache: Path | str, packages: tuple[str, ...] | None = None) -> list[dict]:
    """Download the pinned packages, extract their assets, write ``manifest.json``.

    Args:
        cache: cache folder (``<cache>/downloads`` holds the archives,
            ``<cache>/<tag>/`` the extracted assets).
        packages: subset of :data:`PACKAGES` keys (None = all).

    Returns the manifest rows (see :func:`catalogue`).
    """
    cache = Path(cache)
    for key in packages or tuple(PACKAGES):
        spec = PACKAGES[key]
        archive = download(spec, cache / "downloads")
        n = extract(archive, spec, cache / spec.tag)
        print(f"{spec.name}=={spec.version}: {n} asset files from {archive.name}")
    rows = catalogue(cache)
    manifest = cache / "manifest.json"
    if manifest.exists():  # keep the user's own meshes (training.data add-meshes)
        rows += [r for r in json.loads(manifest.read_text()) if r.get("tag") == "user"]
    (cache / "manifest.json").write_text(json.dumps(rows, indent=1) + "\n")
    ok = [r for r in rows if r["usable"]]
    print(f"{len(ok)} usable assets of {len(rows)} scanned -> {cache / 'manifest.json'}")
    return rows
