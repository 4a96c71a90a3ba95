"""Loaders of real multi-part assets into :class:`~training.data.parts.Part` trees.

* URDF (parsed with ``xml.etree``): every link's visual geometry (meshes with origin and
  scale, boxes, cylinders, spheres, capsules) placed by the kinematic chain at a given
  joint configuration; the tree follows the kinematics (a link node holds its visuals and
  its child links); a link with several visual elements or several sub-meshes gets one
  leaf each.
* Mesh files (OBJ, STL, glTF, Collada, Gmsh ``.msh``): sub-meshes above ``MAX_FACES`` are
  decimated once at load.
* glTF / GLB: scene-graph nodes with geometry are the leaves, the node hierarchy is the tree.

Fetching the packages and cataloguing their assets is :mod:`training.data.assets`; MJCF
files are :mod:`training.data.mjcf`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import trimesh
from trimesh.transformations import euler_matrix, rotation_matrix

from .parts import Part, group, leaf

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
