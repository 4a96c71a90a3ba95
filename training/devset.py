"""Evaluation objects with ground-truth part trees: loading, sampling, GT regions and levels.

Two on-disk formats are read (see ``../shared/data/README.md``):

* **mesh** (``partnet-mobility-dev``, ``psb-dev``): ``ID.npz`` with ``vertices`` (V,3),
  ``faces`` (F,3), ``leaf`` (F,) and ``ID.json`` with the part tree (``nodes``: ``node_id``,
  ``name``, ``parent``, ``leaves``); ``psb-dev`` also has ``human_segs`` (H,F), every human
  segmentation of the mesh (for :mod:`training.psb_metrics`).
* **point cloud** (``shapenet-part-cap``): ``ID.npz`` with ``points`` (N,3), ``normals``,
  ``labels`` (N,) and no json. Each distinct label is a leaf under a flat root (a two-level
  tree: root + leaves).

Definitions used by every metric (:mod:`training.metrics`):

* **region**: the points of one GT node other than the root. Nodes whose leaf set equals
  another node's (a node with a single child) are the same region and counted once; a node
  with the root's leaf set is the root again and skipped. Regions that receive no sampled
  point (parts far smaller than 1/N of the surface) are dropped and counted in
  ``EvalSample.dropped_regions``.
* **depth** of a region: the depth of the shallowest node with that leaf set (children of
  the root have depth 1).
* **level d**: the partition of the object into, for every leaf, its ancestor at depth
  ``min(d, depth(leaf))`` (so a level is always a full partition; the deepest level is the
  leaf partition). Levels with a single part are skipped (they are the root).
* **scale of a level**: the median point fraction of that level's parts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from core.errors import InvalidInputError
from core.geometry import sample_surface, weld_vertices

#: Relative welding tolerance (× bounding-box diagonal) of the mesh protocol.
WELD_REL_TOL = 1e-5


@dataclass
class PartTree:
    """A GT part tree: node ``i`` has ``parents[i]`` (-1 for the root) and ``leaves[i]``."""

    parents: np.ndarray
    leaves: list[np.ndarray]
    names: list[str]

    @property
    def n_leaves(self) -> int:
        return int(len(self.leaves[self.root]))

    @property
    def root(self) -> int:
        return int(np.flatnonzero(self.parents < 0)[0])

    def depths(self) -> np.ndarray:
        """Depth of every node (root 0, its children 1, ...)."""
        d = np.full(len(self.parents), -1, dtype=np.int64)

        def depth_of(i: int) -> int:
            chain = []
            while d[i] < 0:
                if self.parents[i] < 0:
                    d[i] = 0
                    break
                chain.append(i)
                i = int(self.parents[i])
            for k in reversed(chain):
                d[k] = d[i] + 1
                i = k
            return int(d[i])

        for i in range(len(d)):
            depth_of(i)
        return d

    @staticmethod
    def flat(n_leaves: int, name: str = "object") -> PartTree:
        """Root plus ``n_leaves`` leaves (the point-cloud format's tree)."""
        parents = np.array([-1] + [0] * n_leaves, dtype=np.int64)
        leaves = [np.arange(n_leaves)] + [np.array([i]) for i in range(n_leaves)]
        return PartTree(parents, leaves, [name] + [f"part{i}" for i in range(n_leaves)])


@dataclass
class DevObject:
    """One evaluation object as stored on disk (object frame, not normalised).

    Mesh objects have ``vertices``, ``faces`` and ``face_leaf`` (leaf index per face), and
    ``human_segs`` (H, F) integers as stored (one human segmentation per row, the annotators' own segment
    ids; None when the data have none); point objects have ``points`` and ``point_leaf``.
    """

    object_id: str
    category: str
    tree: PartTree
    vertices: np.ndarray | None = None
    faces: np.ndarray | None = None
    face_leaf: np.ndarray | None = None
    points: np.ndarray | None = None
    point_leaf: np.ndarray | None = None
    human_segs: np.ndarray | None = None

    @property
    def is_mesh(self) -> bool:
        return self.faces is not None


@dataclass
class EvalSample:
    """The shared per-object evaluation state every method sees.

    Attributes:
        points: (N,3) float32 sampled points in the object frame.
        point_faces: (N,) int64 face of each point, or None for point clouds.
        faces_welded: (F,3) faces re-indexed after welding (mesh objects only).
        region_masks: (R,N) bool, one row per GT region (see module docstring).
        region_depth: (R,) depth of each region; region_is_leaf: (R,) bool.
        region_names: names of the regions (the shallowest node's name).
        levels: depth d -> (N,) int labels of level d's partition (values index regions).
        level_scales: depth d -> scale of level d (median point fraction of its parts).
    """

    obj: DevObject
    points: np.ndarray
    point_faces: np.ndarray | None
    faces_welded: np.ndarray | None
    region_masks: np.ndarray
    region_depth: np.ndarray
    region_is_leaf: np.ndarray
    region_names: list[str]
    levels: dict[int, np.ndarray]
    level_scales: dict[int, float]
    dropped_regions: int = 0
    cache: dict = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        return int(len(self.points))

    @property
    def region_fraction(self) -> np.ndarray:
        return self.region_masks.mean(axis=1)


def _load_mesh_object(npz: Path, meta: Path) -> DevObject:
    with np.load(npz) as z:
        v, f, leaf = z["vertices"], z["faces"], z["leaf"]
        humans = np.asarray(z["human_segs"]) if "human_segs" in z.files else None
    info = json.loads(meta.read_text())
    nodes = sorted(info["nodes"], key=lambda n: n["node_id"])
    if [n["node_id"] for n in nodes] != list(range(len(nodes))):
        raise InvalidInputError(f"{meta}: node ids are not 0..n-1")
    parents = np.array([-1 if n["parent"] is None else n["parent"] for n in nodes], np.int64)
    leaves = [np.asarray(sorted(n["leaves"]), np.int64) for n in nodes]
    tree = PartTree(parents, leaves, [str(n.get("name", n["node_id"])) for n in nodes])
    if int(leaf.max()) >= tree.n_leaves or int(leaf.min()) < 0:
        raise InvalidInputError(f"{npz}: face leaf index outside the tree's {tree.n_leaves}")
    if humans is not None and (humans.ndim != 2 or humans.shape[1] != len(f)):
        raise InvalidInputError(f"{npz}: human_segs {humans.shape} do not match {len(f)} faces")
    return DevObject(
        object_id=str(info.get("id", npz.stem)),
        category=str(info.get("category", "unknown")),
        tree=tree,
        vertices=np.asarray(v, np.float64),
        faces=np.asarray(f, np.int64),
        face_leaf=np.asarray(leaf, np.int64),
        human_segs=humans,
    )


def _load_point_object(npz: Path, category: str) -> DevObject:
    with np.load(npz) as z:
        pts, lab = z["points"], z["labels"]
    uniq, inv = np.unique(np.asarray(lab), return_inverse=True)
    return DevObject(
        object_id=npz.stem,
        category=category,
        tree=PartTree.flat(len(uniq)),
        points=np.asarray(pts, np.float32),
        point_leaf=inv.astype(np.int64),
    )


def load_object(npz: str | Path) -> DevObject:
    """Load one object from ``ID.npz`` (mesh format when ``ID.json`` exists beside it)."""
    npz = Path(npz)
    meta = npz.with_suffix(".json")
    if meta.exists():
        return _load_mesh_object(npz, meta)
    with np.load(npz) as z:
        keys = set(z.files)
    if {"points", "labels"} <= keys:
        return _load_point_object(npz, category=npz.parent.name)
    raise InvalidInputError(
        f"{npz}: neither the mesh format (ID.npz + ID.json) nor the point format "
        f"(points + labels); keys are {sorted(keys)}"
    )


def has_human_segs(npz: str | Path) -> bool:
    """Whether the object file holds ``human_segs`` (read from the npz index, no arrays)."""
    with np.load(npz) as z:
        return "human_segs" in z.files


def face_nearest_point(sample: EvalSample) -> np.ndarray:
    """(F,) index of the sampled point nearest (Euclidean) to each original face's centroid.

    How point labels become face labels for the benchmark metrics (cached in
    ``sample.cache``). Mesh objects only.
    """
    if "face_point" not in sample.cache:
        obj = sample.obj
        if obj.faces is None:
            raise InvalidInputError(f"{obj.object_id}: a point-cloud object has no faces")
        centroids = obj.vertices[obj.faces].mean(axis=1)
        sample.cache["face_point"] = cKDTree(sample.points).query(centroids, k=1)[1]
    return sample.cache["face_point"]


def list_objects(data_dir: str | Path, limit: int | None = None) -> list[Path]:
    """The ``*.npz`` object files of ``data_dir``, sorted by name, at most ``limit``."""
    d = Path(data_dir)
    if not d.is_dir():
        raise InvalidInputError(f"evaluation data folder not found: {d}")
    files = sorted(d.glob("*.npz"))
    if not files:
        raise InvalidInputError(f"no *.npz objects in {d}")
    return files[:limit] if limit else files


def _regions_and_levels(tree: PartTree, leaf_of_point: np.ndarray):
    """Regions (unique non-root leaf sets) and level partitions over the leaves."""
    depth = tree.depths()
    root = tree.root
    root_set = tuple(tree.leaves[root].tolist())
    key_to_region: dict[tuple, int] = {}
    region_leaves, region_depth, region_names = [], [], []
    order = np.argsort(depth, kind="stable")  # shallowest node first names the region
    for i in order:
        if i == root:
            continue
        key = tuple(tree.leaves[i].tolist())
        if key == root_set or key in key_to_region:
            continue
        key_to_region[key] = len(region_leaves)
        region_leaves.append(np.asarray(key))
        region_depth.append(int(depth[i]))
        region_names.append(tree.names[i])
    # ancestor chain of every leaf node, to build level partitions
    n_leaves = tree.n_leaves
    leaf_node = np.full(n_leaves, -1, np.int64)
    for i, lv in enumerate(tree.leaves):
        if len(lv) == 1 and (leaf_node[lv[0]] < 0 or depth[i] > depth[leaf_node[lv[0]]]):
            leaf_node[lv[0]] = i
    if (leaf_node < 0).any():
        raise InvalidInputError("part tree has a leaf index without a leaf node")
    max_depth = int(depth[leaf_node].max())
    levels_leaf: dict[int, np.ndarray] = {}
    for d in range(1, max_depth + 1):
        lab = np.empty(n_leaves, np.int64)
        for leaf in range(n_leaves):
            j = int(leaf_node[leaf])
            while depth[j] > d:
                j = int(tree.parents[j])
            key = tuple(tree.leaves[j].tolist())
            lab[leaf] = key_to_region.get(key, -1)
        if len(np.unique(lab)) > 1 and (lab >= 0).all():
            levels_leaf[d] = lab
    is_leaf = np.array([len(r) == 1 for r in region_leaves], bool)
    # masks over points
    n = len(leaf_of_point)
    leaf_onehot = np.zeros((n_leaves, n), bool)
    leaf_onehot[leaf_of_point, np.arange(n)] = True
    masks = np.stack([leaf_onehot[r].any(axis=0) for r in region_leaves])
    return masks, np.asarray(region_depth), is_leaf, region_names, levels_leaf


def make_sample(obj: DevObject, n_points: int = 10000, seed: int = 0) -> EvalSample:
    """Sample an object once for every method (area-weighted for meshes, seeded).

    Point-cloud objects keep their own points; when they have more than ``n_points``, a
    seeded random subset of ``n_points`` is used.
    """
    if obj.is_mesh:
        pts, pf = sample_surface(obj.vertices, obj.faces, n_points, seed=seed)
        leaf_of_point = obj.face_leaf[pf]
        faces_welded, _ = weld_vertices(obj.vertices, obj.faces, rel_tol=WELD_REL_TOL)
    else:
        pts, leaf_of_point, pf, faces_welded = obj.points, obj.point_leaf, None, None
        if len(pts) > n_points:
            keep = np.sort(np.random.default_rng(seed).choice(len(pts), n_points, replace=False))
            pts, leaf_of_point = pts[keep], leaf_of_point[keep]
    masks, rdepth, is_leaf, names, levels_leaf = _regions_and_levels(obj.tree, leaf_of_point)
    keep = masks.any(axis=1)
    new_index = np.cumsum(keep) - 1
    levels, scales = {}, {}
    for d, lab in levels_leaf.items():
        point_region = lab[leaf_of_point]
        if not keep[point_region].all():  # cannot happen: regions present are sampled
            raise AssertionError("a sampled point belongs to an unsampled region")
        point_lab = new_index[point_region]
        levels[d] = point_lab
        fracs = np.bincount(point_lab, minlength=int(keep.sum()))
        fracs = fracs[np.unique(point_lab)] / len(point_lab)
        scales[d] = float(np.median(fracs))
    return EvalSample(
        obj=obj,
        points=np.asarray(pts, np.float32),
        point_faces=pf,
        faces_welded=faces_welded,
        region_masks=masks[keep],
        region_depth=rdepth[keep],
        region_is_leaf=is_leaf[keep],
        region_names=[nm for nm, k in zip(names, keep) if k],
        levels=levels,
        level_scales=scales,
        dropped_regions=int((~keep).sum()),
    )
