"""Real multi-part meshes from PyPI packages: fetch, licence, load, sample.

``fetch_assets`` runs ``pip download --no-deps <pkg>==<pin>`` (the packages are large and
compiled, so they are never installed) and extracts only mesh / URDF / glTF files and
licence texts into a cache folder. genesis-world's ``urdf/3763`` (a PartNet-Mobility object
that belongs to the evaluation set) is never extracted.

Loaders turn an asset into a :class:`~training.data.parts.Part` tree:

* URDF (parsed with ``xml.etree``): every link's visual geometry (meshes with origin and
  scale, boxes, cylinders, spheres, capsules) placed by the kinematic chain at a random
  joint configuration; the tree follows the kinematics (a link node holds its visuals and its
  child links); a link with several visual elements or several sub-meshes gets one leaf each.
* glTF / GLB: scene-graph nodes with geometry are the leaves, the node hierarchy is the tree.

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
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import trimesh
from trimesh.transformations import euler_matrix, rotation_matrix

from .parts import Part, group, leaf


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


# --------------------------------------------------------------------------- URDF


@dataclass
class Joint:
    """A URDF joint: ``origin`` (4x4) from parent link frame to joint frame; ``axis`` (3,)."""

    name: str
    kind: str
    parent: str
    child: str
    origin: np.ndarray
    axis: np.ndarray
    lower: float
    upper: float


@dataclass
class Articulated:
    """A parsed URDF: link visuals in link frames, joints, the root link."""

    name: str
    links: dict[str, list[tuple[str, trimesh.Trimesh]]]
    joints: list[Joint]
    root: str
    mesh_files: list[Path] = field(default_factory=list)


def _floats(text: str | None, n: int, default: float = 0.0) -> np.ndarray:
    """Parse up to ``n`` numbers from a URDF attribute (spaces or commas; a value that is
    not a number, e.g. an unexpanded ``$(arg ...)``, reads as ``default``); a single
    number is repeated (uniform scale)."""
    vals = []
    for tok in re.split(r"[\s,]+", (text or "").strip()):
        if not tok:
            continue
        try:
            vals.append(float(tok))
        except ValueError:
            vals.append(default)
    if len(vals) == 1 and n > 1:
        vals = vals * n
    vals = (vals + [default] * n)[:n]
    return np.asarray(vals, np.float64)


def _origin(el: ET.Element | None) -> np.ndarray:
    if el is None:
        return np.eye(4)
    xyz = _floats(el.get("xyz"), 3)
    rpy = _floats(el.get("rpy"), 3)
    m = euler_matrix(rpy[0], rpy[1], rpy[2], axes="sxyz")
    m[:3, 3] = xyz
    return m


def resolve_path(filename: str, base: Path) -> Path | None:
    """Find a URDF mesh ``filename`` (``package://``, ``file://`` or relative) near ``base``."""
    name = re.sub(r"^(package|file|model)://", "", filename.strip())
    cand = (base / name)
    if cand.is_file():
        return cand
    parts = Path(name).parts
    for anchor in [base, *base.parents[:4]]:
        for k in range(len(parts)):
            c = anchor.joinpath(*parts[k:])
            if c.is_file():
                return c
    return None


_MESH_CACHE: dict[Path, list[tuple[str, trimesh.Trimesh]]] = {}
MAX_FACES = 40_000  # sub-meshes above this are decimated once at load (points barely move)


def decimate(vertices: np.ndarray, faces: np.ndarray, max_faces: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Vertex-clustering decimation to at most ~``max_faces`` triangles.

    Vertices are snapped to a grid whose cell grows from 1/400 of the bounding-box diagonal
    (up to 1/8) until the face budget is met; each cell's vertices merge into their mean; collapsed and
    duplicate faces are dropped. Surface shape changes by at most one cell.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    if len(f) <= max_faces:
        return v, f
    diag = float(np.linalg.norm(v.max(0) - v.min(0))) or 1.0
    best = (v, f)
    for div in (400, 280, 200, 140, 100, 70, 50, 35, 25, 18, 12, 8):
        q = np.floor((v - v.min(0)) / (diag / div)).astype(np.int64)
        key = (q[:, 0] * (div + 2) + q[:, 1]) * (div + 2) + q[:, 2]
        _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
        nv = np.zeros((len(cnt), 3))
        np.add.at(nv, inv, v)
        nv /= cnt[:, None]
        nf = inv[f]
        ok = (nf[:, 0] != nf[:, 1]) & (nf[:, 1] != nf[:, 2]) & (nf[:, 0] != nf[:, 2])
        nf = nf[ok]
        srt = np.sort(nf, axis=1)
        fkey = (srt[:, 0] * len(cnt) + srt[:, 1]) * len(cnt) + srt[:, 2]
        _, first = np.unique(fkey, return_index=True)
        nf = nf[np.sort(first)]
        best = (nv, nf)
        if len(nf) <= max_faces:
            break
    return best


def read_msh(path: Path) -> trimesh.Trimesh:
    """MuJoCo's legacy binary ``.msh`` mesh: four int32 counts (vertices, normals, texture
    coordinates, faces), then float32 positions, normals, texcoords and int32 faces."""
    raw = path.read_bytes()
    nv, nn, nt, nf = np.frombuffer(raw[:16], np.int32)
    off = 16
    v = np.frombuffer(raw[off:off + 12 * nv], np.float32).reshape(-1, 3)
    off += 12 * nv + 12 * nn + 8 * nt
    f = np.frombuffer(raw[off:off + 12 * nf], np.int32).reshape(-1, 3)
    if off + 12 * nf != len(raw) or (len(f) and f.max() >= nv):
        raise ValueError(f"{path}: not a MuJoCo .msh file")
    return trimesh.Trimesh(v.astype(np.float64), f.astype(np.int64), process=False)


def load_mesh_file(path: Path) -> list[tuple[str, trimesh.Trimesh]]:
    """Sub-meshes (name, mesh) of a mesh file with scene transforms applied (cached;
    sub-meshes above :data:`MAX_FACES` triangles are decimated with :func:`decimate`)."""
    if path in _MESH_CACHE:
        return _MESH_CACHE[path]
    if path.suffix.lower() == ".msh":
        m = read_msh(path)
        _MESH_CACHE[path] = [(path.stem, m)] if len(m.faces) else []
        return _MESH_CACHE[path]
    scene = trimesh.load(str(path), force="scene", process=False)
    out = []
    for node in scene.graph.nodes_geometry:
        tf, gname = scene.graph[node]
        g = scene.geometry[gname]
        if not isinstance(g, trimesh.Trimesh) or len(g.faces) == 0:
            continue
        dv, df = decimate(g.vertices, g.faces, MAX_FACES)
        m = trimesh.Trimesh(dv, df, process=False)
        m.apply_transform(tf)
        out.append((str(node), m))
    _MESH_CACHE[path] = out
    return out


def _geometry(geo: ET.Element, base: Path, used: list[Path]) -> list[tuple[str, trimesh.Trimesh]]:
    g = list(geo)
    if not g:
        return []
    g = g[0]
    tag = g.tag
    if tag == "mesh":
        p = resolve_path(g.get("filename", ""), base)
        if p is None:
            return []
        used.append(p)
        scale = _floats(g.get("scale", "1 1 1"), 3, 1.0)
        out = []
        for name, m in load_mesh_file(p):
            m = m.copy()
            m.vertices = m.vertices * scale
            out.append((f"{p.stem}:{name}", m))
        return out
    if tag == "box":
        size = _floats(g.get("size", "1 1 1"), 3, 1.0)
        return [("box", trimesh.creation.box(extents=size))]
    if tag == "cylinder":
        return [("cylinder", trimesh.creation.cylinder(
            radius=float(g.get("radius", 0.1)), height=float(g.get("length", 0.1)), sections=20))]
    if tag == "sphere":
        return [("sphere", trimesh.creation.icosphere(2, radius=float(g.get("radius", 0.1))))]
    if tag == "capsule":
        return [("capsule", trimesh.creation.capsule(
            height=float(g.get("length", 0.1)), radius=float(g.get("radius", 0.05))))]
    return []


def parse_urdf(path: Path | str) -> Articulated:
    """Parse a URDF file: visual geometry of every link and the joint tree.

    Raises ValueError when the file has no link with visual geometry.
    """
    path = Path(path)
    text = path.read_text(errors="ignore").lstrip()
    text = re.sub(r"^<\?xml[^>]*\?>", "", text).lstrip()
    root = ET.fromstring(text)
    base = path.parent
    used: list[Path] = []
    links: dict[str, list[tuple[str, trimesh.Trimesh]]] = {}
    for link in root.iter("link"):
        name = link.get("name", f"link_{len(links)}")
        vis = []
        for v in link.findall("visual"):
            geo = v.find("geometry")
            if geo is None:
                continue
            tf = _origin(v.find("origin"))
            for gname, m in _geometry(geo, base, used):
                m = m.copy()
                m.apply_transform(tf)
                vis.append((gname, m))
        links[name] = vis
    joints = []
    for j in root.iter("joint"):
        par, chi = j.find("parent"), j.find("child")
        if par is None or chi is None:
            continue
        ax = j.find("axis")
        axis = _floats(ax.get("xyz", "1 0 0") if ax is not None else "1 0 0", 3)
        if np.linalg.norm(axis) < 1e-9:
            axis = np.array([1.0, 0.0, 0.0])
        lim = j.find("limit")
        lo = _floats(lim.get("lower", "-3.14159") if lim is not None else "-3.14159", 1)[0]
        hi = _floats(lim.get("upper", "3.14159") if lim is not None else "3.14159", 1)[0]
        joints.append(Joint(j.get("name", ""), j.get("type", "fixed"), par.get("link"),
                            chi.get("link"), _origin(j.find("origin")), axis, lo, hi))
    children = {j.child for j in joints}
    roots = [n for n in links if n not in children]
    if not any(links.values()):
        raise ValueError(f"{path}: no link has visual geometry")
    return Articulated(root.get("name", path.stem), links, joints, roots[0] if roots else
                       next(iter(links)), used)


def joint_configuration(art: Articulated, rng: np.random.Generator | None,
                        amount: float = 1.0) -> dict[str, float]:
    """Random joint values: revolute within limits (clipped to ±1.2 rad), continuous in
    ±π, prismatic within limits; scaled by ``amount``; zeros when ``rng`` is None."""
    q = {}
    for j in art.joints:
        if rng is None or j.kind in ("fixed", "floating", "planar"):
            q[j.name] = 0.0
            continue
        if j.kind == "continuous":
            q[j.name] = float(rng.uniform(-np.pi, np.pi))
        elif j.kind == "revolute":
            lo, hi = max(j.lower, -1.2), min(j.upper, 1.2)
            q[j.name] = float(rng.uniform(lo, hi)) * amount if hi > lo else 0.0
        elif j.kind == "prismatic":
            q[j.name] = float(rng.uniform(j.lower, j.upper)) * amount if j.upper > j.lower else 0.0
        else:
            q[j.name] = 0.0
    return q


def link_transforms(art: Articulated, q: dict[str, float]) -> dict[str, np.ndarray]:
    """World transform of every link reachable from the root at joint values ``q``."""
    by_parent: dict[str, list[Joint]] = {}
    for j in art.joints:
        by_parent.setdefault(j.parent, []).append(j)
    tf = {art.root: np.eye(4)}
    stack = [art.root]
    while stack:
        p = stack.pop()
        for j in by_parent.get(p, []):
            if j.child in tf:
                continue
            m = tf[p] @ j.origin
            val = q.get(j.name, 0.0)
            if j.kind in ("revolute", "continuous") and val:
                m = m @ rotation_matrix(val, j.axis)
            elif j.kind == "prismatic" and val:
                t = np.eye(4)
                t[:3, 3] = j.axis * val
                m = m @ t
            tf[j.child] = m
            stack.append(j.child)
    return tf


def articulated_part(art: Articulated, q: dict[str, float] | None = None) -> Part:
    """Part tree of a posed URDF: a link node = its visual leaves + its child links."""
    tf = link_transforms(art, q or {})
    by_parent: dict[str, list[str]] = {}
    for j in art.joints:
        by_parent.setdefault(j.parent, []).append(j.child)

    def node(link: str) -> Part | None:
        kids: list[Part] = []
        for k, (gname, m) in enumerate(art.links.get(link, [])):
            mm = m.copy()
            mm.apply_transform(tf[link])
            kids.append(leaf(f"{link}/{gname}#{k}", mm))
        for c in by_parent.get(link, []):
            if c in tf:
                sub = node(c)
                if sub is not None:
                    kids.append(sub)
        return group(link, kids) if kids else None

    root = node(art.root)
    if root is None:
        raise ValueError(f"{art.name}: nothing to draw from the root link")
    return root


# --------------------------------------------------------------------------- glTF


def load_scene_part(path: Path | str) -> Part:
    """Part tree of a glTF/GLB (or any multi-object mesh file) from its scene graph."""
    scene = trimesh.load(str(path), force="scene", process=False)
    g = scene.graph
    parents = dict(g.transforms.parents)
    geom_nodes = set(g.nodes_geometry)
    children: dict[str, list[str]] = {}
    for c, p in parents.items():
        children.setdefault(p, []).append(c)

    def node(n: str) -> Part | None:
        kids: list[Part] = []
        if n in geom_nodes:
            tf, gname = g[n]
            geo = scene.geometry[gname]
            if isinstance(geo, trimesh.Trimesh) and len(geo.faces):
                m = trimesh.Trimesh(np.asarray(geo.vertices, np.float64), np.asarray(geo.faces),
                                    process=False)
                m.apply_transform(tf)
                kids.append(leaf(str(n), m))
        for c in sorted(children.get(n, [])):
            sub = node(c)
            if sub is not None:
                kids.append(sub)
        return group(str(n), kids) if kids else None

    root = node(g.base_frame)
    if root is None:
        raise ValueError(f"{path}: no geometry in the scene")
    return root


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
        from .mjcf import load_mjcf

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
