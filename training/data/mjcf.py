"""MuJoCo MJCF models (``<mujoco>`` XML) as part trees, parsed with ``xml.etree``.

Supports what the packaged models use: ``<include>`` (paths relative to the main file),
``<compiler angle meshdir eulerseq>``, nested ``<default class>`` with ``childclass``,
``<mesh file scale>`` assets, bodies with ``pos``/``quat``/``euler``/``axisangle``, hinge
and slide joints (posed at random values inside their ranges) and geoms of type mesh, box,
sphere, capsule, cylinder and ellipsoid (``size`` or ``fromto``). Collision-only geoms are
left out: when a model marks visual geoms (group 1/2, or contype = conaffinity = 0), only
those are kept, otherwise geoms of groups 3-5 are dropped. Planes, height fields and
includes that name a scene/arena/floor are ignored.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import trimesh
from trimesh.transformations import euler_matrix, quaternion_matrix, rotation_matrix

from .asset_loaders import _floats, load_mesh_file
from .parts import Part, group, leaf

SCENE_INCLUDE = re.compile(r"scene|arena|floor|skybox|visual\.xml|materials\.xml", re.I)


def _read_xml(path: Path) -> ET.Element:
    text = path.read_text(errors="ignore").lstrip()
    text = re.sub(r"^<\?xml[^>]*\?>", "", text).lstrip()
    return ET.fromstring(text)


def _expand_includes(el: ET.Element, main_dir: Path, depth: int = 0) -> None:
    """Replace ``<include file>`` children (recursively) by the included elements."""
    for i, child in enumerate(list(el)):
        if child.tag == "include":
            el.remove(child)
            f = child.get("file", "")
            if SCENE_INCLUDE.search(f) or depth > 8:
                continue
            p = main_dir / f
            if not p.is_file():
                continue
            inc = _read_xml(p)
            _expand_includes(inc, main_dir, depth + 1)
            for k, sub in enumerate(list(inc)):
                el.insert(i + k, sub)
        else:
            _expand_includes(child, main_dir, depth)


def _merge_top(root: ET.Element) -> None:
    """Included files bring their own ``<asset>``/``<default>``/``<worldbody>`` wrappers;
    when a ``<mujocoinclude>`` lands inside worldbody its children are already bodies."""
    for el in list(root.iter()):
        for child in list(el):
            if child.tag == "mujocoinclude":
                idx = list(el).index(child)
                el.remove(child)
                for k, sub in enumerate(list(child)):
                    el.insert(idx + k, sub)


@dataclass
class _Ctx:
    radian: bool = False
    eulerseq: str = "xyz"
    meshdir: Path = Path(".")
    defaults: dict = field(default_factory=dict)  # class -> {tag: attrib}
    meshes: dict = field(default_factory=dict)  # name -> (path, scale)


def _collect_defaults(el: ET.Element, parent: dict, out: dict, name: str = "main") -> None:
    mine = copy.deepcopy(parent)
    for child in el:
        if child.tag != "default":
            mine.setdefault(child.tag, {}).update(child.attrib)
    out[name] = mine
    for child in el:
        if child.tag == "default":
            _collect_defaults(child, mine, out, child.get("class", name))


def _rot(el_attrib: dict, ctx: _Ctx) -> np.ndarray:
    if "quat" in el_attrib:
        return quaternion_matrix(_floats(el_attrib["quat"], 4))  # w x y z
    scale = 1.0 if ctx.radian else np.pi / 180.0
    if "euler" in el_attrib:
        e = _floats(el_attrib["euler"], 3) * scale
        seq = ctx.eulerseq
        axes = ("r" if seq.islower() else "s") + seq.lower()
        return euler_matrix(e[0], e[1], e[2], axes=axes)
    if "axisangle" in el_attrib:
        a = _floats(el_attrib["axisangle"], 4)
        return rotation_matrix(a[3] * scale, a[:3])
    if "zaxis" in el_attrib:
        z = _floats(el_attrib["zaxis"], 3)
        return trimesh.geometry.align_vectors([0, 0, 1], z)
    return np.eye(4)


def _pose(attrib: dict, ctx: _Ctx) -> np.ndarray:
    m = _rot(attrib, ctx)
    m[:3, 3] = _floats(attrib.get("pos"), 3)
    return m


def _attrs(el: ET.Element, cls: str, ctx: _Ctx) -> dict:
    d = dict(ctx.defaults.get(el.get("class", cls), ctx.defaults.get("main", {})).get(el.tag, {}))
    d.update(el.attrib)
    return d


def _geom_mesh(a: dict, ctx: _Ctx) -> trimesh.Trimesh | None:
    kind = a.get("type", "sphere")
    size = _floats(a.get("size"), 3)
    if "fromto" in a and kind in ("capsule", "cylinder", "box", "ellipsoid"):
        ft = _floats(a["fromto"], 6)
        p0, p1 = ft[:3], ft[3:]
        length = float(np.linalg.norm(p1 - p0))
        if length < 1e-9:
            return None
        r = size[0]
        m = (trimesh.creation.capsule(height=length, radius=r, count=[10, 10])
             if kind == "capsule" else trimesh.creation.cylinder(r, length, sections=16))
        tf = trimesh.geometry.align_vectors([0, 0, 1], (p1 - p0) / length)
        tf[:3, 3] = (p0 + p1) / 2
        m.apply_transform(tf)
        return m
    if kind == "mesh":
        ref = ctx.meshes.get(a.get("mesh", ""))
        if ref is None:
            return None
        path, scale = ref
        subs = load_mesh_file(path)
        if not subs:
            return None
        m = trimesh.util.concatenate([s for _, s in subs])
        m = trimesh.Trimesh(np.asarray(m.vertices) * scale, np.asarray(m.faces), process=False)
    elif kind == "box":
        m = trimesh.creation.box(extents=2 * size)
    elif kind == "sphere":
        m = trimesh.creation.icosphere(2, radius=size[0])
    elif kind == "capsule":
        m = trimesh.creation.capsule(height=2 * size[1], radius=size[0], count=[10, 10])
    elif kind == "cylinder":
        m = trimesh.creation.cylinder(size[0], 2 * size[1], sections=16)
    elif kind == "ellipsoid":
        m = trimesh.creation.icosphere(2, radius=1.0)
        m.vertices = m.vertices * size
    else:
        return None
    m.apply_transform(_pose(a, ctx))
    return m


def _is_visual(a: dict) -> bool:
    return a.get("group") in ("1", "2") or (a.get("contype") == "0" and a.get("conaffinity") == "0")


@dataclass
class MJCFBody:
    """A body of a parsed MJCF model (the ``<worldbody>`` itself included).

    Attributes:
        name: body name (``worldbody`` for the world).
        pose: 4x4 pose in the parent body's frame (identity for the world body).
        joints: ``(kind, lo, hi, axis, pos)`` of each hinge/slide joint in document order;
            ``lo``/``hi`` in radians (hinge) or model units (slide), already defaulted.
        geoms: ``(name, vertices, faces)`` of each kept visual geom, in this body's frame.
        children: child bodies.
    """

    name: str
    pose: np.ndarray
    joints: list[tuple[str, float, float, np.ndarray, np.ndarray]]
    geoms: list[tuple[str, np.ndarray, np.ndarray]]
    children: list[MJCFBody]


@dataclass
class MJCFModel:
    """An MJCF model parsed once (:func:`parse_mjcf`) and posed many times
    (:func:`pose_mjcf`)."""

    name: str
    worlds: list[MJCFBody]


def parse_mjcf(path: Path | str) -> MJCFModel:
    """Parse an MJCF file: kinematic tree, joints and visual geometry (meshes loaded).

    Raises ValueError when the model has no drawable geometry.
    """
    path = Path(path)
    root = _read_xml(path)
    _expand_includes(root, path.parent)
    _merge_top(root)
    ctx = _Ctx()
    for comp in root.iter("compiler"):
        ctx.radian = comp.get("angle", "radian" if ctx.radian else "degree") == "radian"
        ctx.eulerseq = comp.get("eulerseq", ctx.eulerseq)
        if comp.get("meshdir") or comp.get("assetdir"):
            ctx.meshdir = Path(comp.get("meshdir") or comp.get("assetdir"))
    for d in root.findall("default"):
        _collect_defaults(d, ctx.defaults.get("main", {}), ctx.defaults)
    for asset in root.iter("asset"):
        for m in asset.findall("mesh"):
            f = m.get("file")
            if not f:
                continue
            p = (path.parent / ctx.meshdir / f)
            if not p.is_file():
                continue
            mattr = dict(ctx.defaults.get(m.get("class", "main"), {}).get("mesh", {}))
            mattr.update(m.attrib)
            name = m.get("name") or Path(f).stem
            ctx.meshes[name] = (p, _floats(mattr.get("scale", "1 1 1"), 3, 1.0))
    geoms_all = []
    for wb in root.iter("worldbody"):
        geoms_all.extend(wb.iter("geom"))
    has_visual = any(_is_visual(_attrs(g, "main", ctx)) for g in geoms_all)

    def keep(a: dict) -> bool:
        if a.get("type") in ("plane", "hfield"):
            return False
        if has_visual:
            return _is_visual(a)
        return a.get("group") not in ("3", "4", "5")

    def body(el: ET.Element, cls: str) -> MJCFBody:
        cls = el.get("childclass", cls)
        pose = _pose(el.attrib, ctx) if el.tag == "body" else np.eye(4)
        joints = []
        for j in el.findall("joint"):
            ja = _attrs(j, cls, ctx)
            kind = ja.get("type", "hinge")
            if kind not in ("hinge", "slide"):
                continue
            rg = _floats(ja.get("range", "0 0"), 2)
            if kind == "hinge" and not ctx.radian:
                rg = rg * np.pi / 180
            if ja.get("limited") == "false" or rg[1] <= rg[0]:
                rg = np.array([-0.5, 0.5]) if kind == "hinge" else np.zeros(2)
            joints.append((kind, float(rg[0]), float(rg[1]), _floats(ja.get("axis", "0 0 1"), 3),
                           _floats(ja.get("pos"), 3)))
        geoms = []
        for k, g in enumerate(el.findall("geom")):
            a = _attrs(g, cls, ctx)
            if not keep(a):
                continue
            m = _geom_mesh(a, ctx)
            if m is None or len(m.faces) == 0:
                continue
            geoms.append((g.get("name") or f"{el.get('name', 'body')}_geom{k}",
                          np.asarray(m.vertices, np.float64), np.asarray(m.faces, np.int64)))
        kids = [body(b, cls) for b in el.findall("body")]
        return MJCFBody(el.get("name", el.tag), pose, joints, geoms, kids)

    def drawable(b: MJCFBody) -> bool:
        return bool(b.geoms) or any(drawable(c) for c in b.children)

    worlds = [w for w in (body(wb, "main") for wb in root.findall("worldbody")) if drawable(w)]
    if not worlds:
        raise ValueError(f"{path}: no drawable geometry")
    return MJCFModel(root.get("model", path.stem), worlds)


def pose_mjcf(model: MJCFModel, rng: np.random.Generator | None = None,
              amount: float = 1.0) -> Part:
    """Part tree of a parsed model; hinge/slide joints at random values inside their ranges
    (clipped to ±1.2, scaled by ``amount``) when ``rng``, else the rest pose. A body node
    holds its geoms (one leaf each) and its child bodies."""

    def body(b: MJCFBody, parent_tf: np.ndarray) -> Part | None:
        tf = parent_tf @ b.pose
        if rng is not None:
            for kind, lo, hi, axis, jp in b.joints:
                val = float(rng.uniform(max(lo, -1.2), min(hi, 1.2))) * amount
                if kind == "hinge":
                    tf = tf @ rotation_matrix(val, axis, point=jp)
                else:
                    t = np.eye(4)
                    t[:3, 3] = axis * val
                    tf = tf @ t
        kids: list[Part] = []
        for name, v, f in b.geoms:
            mesh = trimesh.Trimesh(v @ tf[:3, :3].T + tf[:3, 3], f, process=False)
            kids.append(leaf(name, mesh))
        for c in b.children:
            sub = body(c, tf)
            if sub is not None:
                kids.append(sub)
        return group(b.name, kids) if kids else None

    parts = [p for p in (body(w, np.eye(4)) for w in model.worlds) if p is not None]
    return group(model.name, parts)


def load_mjcf(path: Path | str, rng: np.random.Generator | None = None,
              amount: float = 1.0) -> Part:
    """Part tree of an MJCF model; joints at random values in their ranges when ``rng``
    (:func:`parse_mjcf` then :func:`pose_mjcf`; parse once and pose many times when
    drawing the same model repeatedly).

    Raises ValueError when the model has no drawable geometry.
    """
    return pose_mjcf(parse_mjcf(path), rng, amount)
