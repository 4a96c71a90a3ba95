"""Part trees: an object as nested assemblies whose leaves carry triangle meshes.

A :class:`Part` is either a leaf (``mesh`` set, no children) or an assembly (children, no
mesh). Coordinates are in the object's own frame (arbitrary units; procedural objects use
roughly metres). :func:`flatten` turns a tree into one mesh with a leaf id per face and the
node table; :func:`tree_levels` cuts the tree into nested labelings of the leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import trimesh


@dataclass
class Part:
    """A node of a part tree.

    Attributes:
        name: human-readable part name ("leg", "drawer_2", ...); not required to be unique.
        mesh: the leaf's triangle mesh, or None for an assembly.
        children: sub-parts of an assembly (empty for a leaf).
    """

    name: str
    mesh: trimesh.Trimesh | None = None
    children: list[Part] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return self.mesh is not None

    def leaves(self) -> list[Part]:
        """All leaves below (or equal to) this node, depth-first."""
        if self.is_leaf:
            return [self]
        out: list[Part] = []
        for c in self.children:
            out.extend(c.leaves())
        return out

    def apply_transform(self, matrix: np.ndarray) -> Part:
        """Transform every leaf mesh in place by a 4x4 matrix; returns self."""
        for leaf in self.leaves():
            leaf.mesh.apply_transform(matrix)
        return self

    def translate(self, offset) -> Part:
        """Move every leaf by ``offset`` (3,) in place; returns self."""
        m = np.eye(4)
        m[:3, 3] = offset
        return self.apply_transform(m)

    def copy(self) -> Part:
        """Deep copy (meshes copied too)."""
        if self.is_leaf:
            return Part(self.name, self.mesh.copy())
        return Part(self.name, None, [c.copy() for c in self.children])

    def depth(self) -> int:
        """Number of edges on the longest root-to-leaf path (a lone leaf has depth 0)."""
        if self.is_leaf:
            return 0
        return 1 + max(c.depth() for c in self.children)


def leaf(name: str, mesh: trimesh.Trimesh) -> Part:
    """A leaf part holding ``mesh``."""
    return Part(name, mesh)


def group(name: str, *children: Part | list[Part]) -> Part:
    """An assembly of ``children`` (Parts or lists of Parts; empty entries are dropped).

    A group with a single child collapses into that child renamed, so trees never contain
    chains of one-child nodes (which would create duplicate levels).
    """
    flat: list[Part] = []
    for c in children:
        if isinstance(c, list):
            flat.extend(c)
        elif c is not None:
            flat.append(c)
    if not flat:
        raise ValueError(f"group {name!r} has no children")
    if len(flat) == 1:
        only = flat[0]
        return Part(name, only.mesh, only.children)
    return Part(name, None, flat)


@dataclass
class FlatObject:
    """A part tree flattened to arrays.

    Attributes:
        vertices: float64 (V, 3) all leaf vertices, object frame.
        faces: int64 (F, 3).
        face_leaf: int64 (F,) leaf index of each face (leaves numbered depth-first).
        parent: int64 (M,) parent node of each node, -1 for the root (node 0).
        node_depth: int64 (M,) depth of each node (root 0).
        leaf_node: int64 (n_leaves,) node index of each leaf.
        names: node names (M,).
    """

    vertices: np.ndarray
    faces: np.ndarray
    face_leaf: np.ndarray
    parent: np.ndarray
    node_depth: np.ndarray
    leaf_node: np.ndarray
    names: list[str]

    @property
    def n_leaves(self) -> int:
        return len(self.leaf_node)


def flatten(root: Part) -> FlatObject:
    """Flatten a part tree into one mesh plus its node table (see :class:`FlatObject`)."""
    verts, faces, face_leaf = [], [], []
    parent, depth, names, leaf_node = [], [], [], []
    offset = 0

    def visit(node: Part, par: int, d: int) -> None:
        nonlocal offset
        idx = len(parent)
        parent.append(par)
        depth.append(d)
        names.append(node.name)
        if node.is_leaf:
            m = node.mesh
            v = np.asarray(m.vertices, np.float64)
            f = np.asarray(m.faces, np.int64)
            verts.append(v)
            faces.append(f + offset)
            face_leaf.append(np.full(len(f), len(leaf_node), np.int64))
            leaf_node.append(idx)
            offset += len(v)
        else:
            for c in node.children:
                visit(c, idx, d + 1)

    visit(root, -1, 0)
    return FlatObject(
        vertices=np.concatenate(verts),
        faces=np.concatenate(faces),
        face_leaf=np.concatenate(face_leaf),
        parent=np.asarray(parent, np.int64),
        node_depth=np.asarray(depth, np.int64),
        leaf_node=np.asarray(leaf_node, np.int64),
        names=names,
    )


def tree_levels(flat: FlatObject) -> np.ndarray:
    """Nested labelings of the leaves cut from the tree, finest first.

    Level ``k`` maps each leaf to its ancestor at depth ``D - k`` (``D`` = tree depth), or
    to the leaf itself when the leaf is shallower. The last level is the cut at depth 1 (the
    coarsest non-root split). Identical consecutive levels are dropped. Labels are
    renumbered 0..P-1 per level.

    Returns:
        int64 (L, n_leaves) part id of each leaf per level; levels nest by construction.
    """
    n_nodes = len(flat.parent)
    max_depth = int(flat.node_depth[flat.leaf_node].max())
    # ancestor table: anc[d][node] = ancestor of node at depth min(d, depth(node))
    levels = []
    for d in range(max_depth, 0, -1):
        lab = np.empty(flat.n_leaves, np.int64)
        for i, node in enumerate(flat.leaf_node):
            n = int(node)
            while flat.node_depth[n] > d:
                n = int(flat.parent[n])
            lab[i] = n
        _, lab = np.unique(lab, return_inverse=True)
        if not levels or not np.array_equal(levels[-1], lab):
            levels.append(lab)
    if not levels:  # a lone leaf: one level with one part
        levels.append(np.zeros(flat.n_leaves, np.int64))
    del n_nodes
    return np.stack(levels)


def nest_levels(labels: np.ndarray) -> np.ndarray:
    """Make point labelings (L, N) nest, finest first, by intersecting each level with all
    coarser ones (a finer part that straddles two coarser parts is split). Renumbers ids.
    """
    out = np.asarray(labels, np.int64).copy()
    for lvl in range(out.shape[0] - 2, -1, -1):
        pair = out[lvl] * (int(out[lvl + 1].max()) + 1) + out[lvl + 1]
        _, out[lvl] = np.unique(pair, return_inverse=True)
    for lvl in range(out.shape[0]):
        _, out[lvl] = np.unique(out[lvl], return_inverse=True)
    return out


def levels_nest(labels: np.ndarray) -> bool:
    """True when every part of each level lies inside exactly one part of the next level."""
    lab = np.asarray(labels)
    for lvl in range(lab.shape[0] - 1):
        fine, coarse = lab[lvl], lab[lvl + 1]
        pairs = np.unique(np.stack([fine, coarse], 1), axis=0)
        if len(np.unique(pairs[:, 0])) != len(pairs):
            return False
    return True
