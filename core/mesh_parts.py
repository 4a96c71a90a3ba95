"""Every mesh answer from one merge tree: clicks, Segment All, hierarchies, part counts.

:class:`MeshParts` is built once per mesh (superfaces → dissimilarity of every graph edge →
merge tree) and then answers each query in well under a millisecond to a few milliseconds:
a click or a scale change is a walk along one path of the tree, Segment All is one tree
cut, a hierarchy is nested cuts of the same tree. Object frame; shares are fractions of
the surface area.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace

import numpy as np

from .affinity import AffinityModel, dissimilarity
from .agglomerate import build_merge_tree
from .automatic import SegmentAllResult
from .boundaries import refine_mesh_parts
from .consensus import ConsensusSettings, consensus_dissimilarity
from .geometry import Normalization, face_centroid_axis
from .merge_tree import DISCONNECTED, MergeTree, TreeSettings
from .mesh_regions import MeshStructure
from .part_absorb import absorb_parts
from .part_count import CountSettings, count_cut_min_share, spectral_embedding, ward_tree
from .superfaces import Superfaces, SuperfaceSettings, build_superfaces
from .twins import CutParts, twin_order


def is_one_piece(sf: Superfaces, settings: TreeSettings) -> bool:
    """True when one crease region covers more than ``settings.smooth_surface_share`` of
    the area: a mesh that is mostly one smooth surface (sculpts, scans, AI-made meshes)."""
    return bool(np.bincount(sf.crease_region, weights=sf.share).max()
                > settings.smooth_surface_share) if sf.num else False


def tree_dissimilarity(sf: Superfaces, dissimilarity: np.ndarray, settings: TreeSettings,
                       consensus: ConsensusSettings | None = None) -> np.ndarray:
    """(G,) what the merge tree and a click's growth read on every superface edge: the
    learned ``dissimilarity`` (G,) in [0, 1], and on a one-piece mesh
    (:func:`is_one_piece`) the larger of it and the randomized-cuts consensus
    (:func:`core.consensus.consensus_dissimilarity`, default :class:`ConsensusSettings`)."""
    if not is_one_piece(sf, settings):
        return dissimilarity
    agree = consensus_dissimilarity(sf.num, sf.pairs, _edge_weight(sf), dissimilarity,
                                    sf.share, _unit_centroids(sf),
                                    consensus or ConsensusSettings(), sf.fold)
    return np.maximum(dissimilarity, agree)


def _edge_weight(sf: Superfaces) -> np.ndarray:
    return sf.boundary + np.sqrt(sf.contact)


def _unit_centroids(sf: Superfaces) -> np.ndarray:
    return sf.centroid / np.sqrt(max(sf.total_area, 1e-300))


def tree_of(sf: Superfaces, edge_dissimilarity: np.ndarray, settings: TreeSettings
            ) -> MergeTree:
    """The merge tree of one mesh's superfaces on ``edge_dissimilarity`` (G,) (from
    :func:`tree_dissimilarity`): edges weighted by their boundary length plus √(contact
    area); a one-piece mesh's tree is marked :attr:`MergeTree.one_piece`."""
    return build_merge_tree(sf.num, sf.share, sf.pairs, _edge_weight(sf), edge_dissimilarity,
                            _unit_centroids(sf), settings, is_one_piece(sf, settings))


@dataclass
class MeshAnswer:
    """A click's answer: ``face_mask`` (F,) bool, ``point_mask`` (N,) bool, the tree
    ``node`` and its ``quality`` in [0, 1]."""

    face_mask: np.ndarray
    point_mask: np.ndarray
    node: int
    quality: float


class MeshParts:
    """Superfaces, their dissimilarities and the merge tree of one mesh.

    Args:
        mesh: the welded structure of the mesh.
        point_faces: (N,) face of every sampled point.
        points_norm: (N, 3) sampled points in the model frame.
        features: (N, D) encoder features of the points, or None.
        face_groups: (F,) material ids, or None.
        affinity: a trained :class:`core.affinity.AffinityModel`, or None for the rule.
        superface_settings, tree_settings: see their classes.
        norm: the object → model frame map of ``points_norm``.
        seed: chunking seed.
        consensus: the one-piece consensus's draws (:class:`ConsensusSettings`; None =
            the defaults).
    """

    def __init__(self, mesh: MeshStructure, point_faces: np.ndarray, points_norm: np.ndarray,
                 features: np.ndarray | None, face_groups: np.ndarray | None,
                 affinity: AffinityModel | None, superface_settings: SuperfaceSettings,
                 tree_settings: TreeSettings, norm: Normalization, seed: int = 0,
                 consensus: ConsensusSettings | None = None) -> None:
        self.sf: Superfaces = build_superfaces(mesh, point_faces, points_norm, features,
                                               face_groups, superface_settings, seed)
        sf = self.sf
        self.dissimilarity = dissimilarity(sf, affinity)  # learned; part counts
        # the tree's and the click growth's (with the consensus on one-piece meshes)
        self.edge_dissimilarity = tree_dissimilarity(sf, self.dissimilarity, tree_settings,
                                                     consensus)
        self.tree: MergeTree = tree_of(sf, self.edge_dissimilarity, tree_settings)
        self._cuts: dict = {}
        self._count_tree: tuple[CountSettings, MergeTree] | None = None
        self._adj: list | None = None
        self._grow_cache: tuple | None = None
        self._face_cen: np.ndarray | None = None
        self._natural: CutParts | None = None
        self.points_norm = np.asarray(points_norm, np.float64)
        self.point_faces = np.asarray(point_faces, np.int64)
        self.face_area = mesh.face_area
        self._mesh, self._norm = mesh, norm

    # ------------------------------------------------------------------ clicks
    def answer(self, idx: np.ndarray, lab: np.ndarray, scale: float | None,
               twins: bool = True) -> MeshAnswer:
        """The part under positive clicks ``idx[lab == 1]`` (point indices), avoiding the
        negative ones, at ``scale`` (None = the natural part); ``twins``: the growth may
        take the clicked part's look-alikes (:mod:`core.twins`).

        Growth mode (default): the faces nearest the clicks in the growth order of
        :meth:`_grow`, up to ``scale``'s area share; without a scale, up to the share of
        the natural node (:meth:`MergeTree.node_for`) on the clicked leaf's path. Path
        mode: the tree node itself."""
        leaf = self.sf.point_sf
        pos = [int(x) for x in leaf[idx[lab == 1]]]
        neg = [int(x) for x in leaf[idx[lab == 0]] if int(x) not in pos]
        st = self.tree.settings
        if st.click_mode not in ("growth", "path"):
            raise ValueError(f"TreeSettings.click_mode must be 'growth' or 'path', "
                             f"got {st.click_mode!r}")
        node = self.tree.node_for(pos, neg, scale)
        quality = self.tree.quality(np.asarray([node]))[0]
        if st.click_mode == "growth":
            # without a scale the growth stops at the share of the natural node
            target = float(self.tree.share[node]) if scale is None else scale
            face = self._grow(idx[lab == 1], pos, neg, target, twins)
            return MeshAnswer(face_mask=face, point_mask=face[self.point_faces], node=node,
                              quality=quality)
        keep = self.tree.leaf_mask([node])
        return MeshAnswer(face_mask=keep[self.sf.face_sf], point_mask=keep[leaf], node=node,
                          quality=quality)

    def _grow(self, idx_pos: np.ndarray, pos: list[int], neg: list[int],
              scale: float, twins: bool = True) -> np.ndarray:
        """(F,) bool faces: the faces in order of d + B, the prefix whose area share is
        closest to ``scale``. d is the distance (model frame) from the face's centroid to
        the nearest positive click; B is the cheapest sum of edge costs on a superface graph
        path from a clicked superface, an edge costing its dissimilarity (the tree's:
        with the consensus on a one-piece mesh, :func:`tree_dissimilarity`) × ``growth_penalty``
        (× ``growth_penalty_smooth`` between chunks of one smooth surface); on a one-piece
        mesh B counts in proportion to d up to ``one_piece_growth_ramp``. Faces of what a
        negative click excludes (:meth:`MergeTree.excluded_by`) are never taken; the
        clicked faces always are. On a one-piece mesh one positive click's order takes the
        clicked part's look-alikes as whole blocks before the rest (:mod:`core.twins`,
        ``TreeSettings.twins``; ``twins`` False = never). The order is cached per set of clicks, so a scale change
        is one binary search: monotone in the scale and nested."""
        ck = (tuple(int(i) for i in idx_pos), tuple(pos), tuple(neg), bool(twins))
        if self._grow_cache is None or self._grow_cache[0] != ck:
            self._grow_cache = (ck, *self._growth_order(idx_pos, pos, neg, twins))
        _, order, cum, ends = self._grow_cache
        face = np.zeros(len(self.sf.face_sf), bool)
        if len(order):
            shares = cum if ends is None else cum[ends - 1]
            k = int(np.searchsorted(shares, scale, side="left"))
            if k < len(shares) and (k == 0 or abs(shares[k] - scale)
                                    < abs(shares[k - 1] - scale)):
                k += 1  # shares[k] is the closer one: take prefix k + 1 too
            k = max(k, 1)
            face[order[:k if ends is None else int(ends[k - 1])]] = True
        face[self.point_faces[idx_pos]] = True  # never an empty answer: the clicked faces
        return face

    def _growth_order(self, idx_pos: np.ndarray, pos: list[int], neg: list[int],
                      twins: bool = True
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Faces in growth order (see :meth:`_grow`), their cumulative area shares, and
        the prefix lengths an answer may take (None = any; with twin blocks,
        :func:`core.twins.twin_order`, only whole blocks)."""
        sf, st = self.sf, self.tree.settings
        if self._adj is None:
            a, b = sf.pairs[:, 0], sf.pairs[:, 1]
            smooth = sf.crease_region[a] == sf.crease_region[b]
            cost = self.edge_dissimilarity * np.where(smooth, st.growth_penalty_smooth,
                                                 st.growth_penalty)
            self._adj = [[] for _ in range(sf.num)]
            for (x, y), c in zip(sf.pairs.tolist(), cost.tolist()):
                self._adj[x].append((y, c))
                self._adj[y].append((x, c))
        blocked: set[int] = set()
        for x in neg:
            blocked.update(int(y) for y in self.tree.excluded_by(x, pos))
        bar = np.full(sf.num, np.inf)
        heap = [(0.0, int(x)) for x in pos]
        while heap:
            c, n = heapq.heappop(heap)
            if bar[n] <= c:
                continue
            bar[n] = c
            for m, p in self._adj[n]:
                if m not in blocked and not np.isfinite(bar[m]):
                    heapq.heappush(heap, (c + p, m))
        # pieces the graph does not reach (far apart) come after, as if one more
        # certain boundary lay between; negative superfaces are never entered
        lost = ~np.isfinite(bar)
        bar[lost] = (bar[~lost].max() if (~lost).any() else 0.0) + DISCONNECTED
        bar[list(blocked)] = np.inf
        d = self._face_click_distance(idx_pos)
        cost = bar.astype(np.float32)[sf.face_sf]
        ramp = float(st.one_piece_growth_ramp) if self.tree.one_piece else 0.0
        if ramp > 0:  # chunk borders near the click are arbitrary: let distance lead there
            cost = cost * np.minimum(d / np.float32(ramp), np.float32(1.0))
        key = d + cost
        order = np.argsort(key, kind="stable")
        order = order[np.isfinite(key[order])]
        cum = np.cumsum(self.face_area[order]) / max(sf.total_area, 1e-300)
        if twins and self.tree.one_piece and len(pos) == 1 and not neg:
            node = self.tree.node_for(pos, [], None)
            found = twin_order(order, cum, float(self.tree.share[node]), self._natural_parts(),
                               self._face_cen, self.face_area, st.twins)
            if found is not None:
                order, ends = found
                cum = np.cumsum(self.face_area[order]) / max(sf.total_area, 1e-300)
                return order, cum, ends
        return order, cum, None

    def _natural_parts(self) -> CutParts:
        """The natural cut's parts with their shape descriptors (model frame), where a
        click's twins are looked for; built on the first one-piece click, then cached."""
        if self._natural is None:
            labels = self.tree.labels_of_cut(self.tree.cut(None))
            self._natural = CutParts.build(np.asarray(labels, np.int64)[self.sf.face_sf],
                                           self._face_cen, self.face_area)
        return self._natural

    def _face_click_distance(self, idx_pos: np.ndarray) -> np.ndarray:
        """(F,) float32 distance (model frame) from every face centroid to the nearest
        positive click; the centroids are computed once per mesh (float32, per axis)."""
        if self._face_cen is None:
            m, nz = self._mesh, self._norm
            cen = np.empty((len(m.faces), 3), np.float32)
            for k in range(3):
                cen[:, k] = (face_centroid_axis(m.vertices, m.faces, k) - nz.center[k]
                             ) / nz.half_extent
            self._face_cen = cen
        d = np.full(len(self._face_cen), np.inf, np.float32)
        for c in self.points_norm[idx_pos].astype(np.float32):
            np.minimum(d, np.linalg.norm(self._face_cen - c, axis=1), out=d)
        return d

    # ------------------------------------------------------------------ Segment All
    def cut_nodes(self, scale: float | None, min_part_fraction: float) -> list[np.ndarray]:
        """Parts of Segment All at ``scale``: a list of node arrays (a part may be several
        tree nodes once tiny parts are absorbed by their neighbours). Cached."""
        key = (scale, float(min_part_fraction))
        if key not in self._cuts:
            nodes = self.tree.cut(scale)
            self._cuts[key] = self._absorb(nodes, min_part_fraction, group=None)
        return self._cuts[key]

    def count(self, scale: float | None, min_part_fraction: float) -> int:
        """How many parts Segment All gives at ``scale``."""
        return len(self.cut_nodes(scale, min_part_fraction))

    def segment(self, scale: float | None, min_part_fraction: float) -> SegmentAllResult:
        """Segment All at one (validated) scale; on a one-piece mesh the parts' borders
        are refined face by face (:meth:`_refined`)."""
        res = self._result(self.cut_nodes(scale, min_part_fraction), scale)
        return self._relabel(res, self._refined(res.face_labels))

    def hierarchy(self, scales: list[float], min_part_fraction: float
                  ) -> list[SegmentAllResult]:
        """Nested Segment All results, one per (validated) scale, in the given order."""
        cuts = self.tree.nested_cuts(scales)
        order = np.argsort(-np.asarray(scales, float), kind="stable")
        groups: dict[int, list[np.ndarray]] = {}
        prev_lab = None
        leaf_labels = {}
        for i in order:
            parts = self._absorb(cuts[i], min_part_fraction, group=prev_lab)
            groups[int(i)] = parts
            prev_lab = leaf_labels[int(i)] = self._leaf_labels(parts)
        out = [self._result(groups[i], scales[i]) for i in range(len(scales))]
        if not len(order):
            return out
        # the finest level's refined borders, and every coarser level as unions of its
        # parts: the levels stay nested face by face
        fine = int(order[-1])
        face = self._refined(out[fine].face_labels)
        if face is out[fine].face_labels:  # not refined: the levels are nested already
            return out
        for i in range(len(scales)):
            up = np.zeros(len(groups[fine]), np.int64)
            up[leaf_labels[fine]] = leaf_labels[i]
            out[i] = self._relabel(out[i], up[face])
        return out

    # ------------------------------------------------------------------ part counts
    def count_tree(self, settings: CountSettings) -> MergeTree:
        """The tree a part count reads (:mod:`core.part_count`; cached per settings). A
        mesh that is mostly one smooth surface (a crease region above
        ``TreeSettings.smooth_surface_share`` of the area: sculpts, scans, AI-made meshes)
        gets the spectral Ward tree; any other mesh the superface tree itself, whose merge
        order already separates its pieces and creases (README design item 15)."""
        if self._count_tree is None or self._count_tree[0] != settings:
            sf, tree = self.sf, self.tree
            if tree.one_piece:
                emb = spectral_embedding(sf.num, sf.pairs, _edge_weight(sf),
                                         self.dissimilarity, settings)
                tree = ward_tree(emb, sf.share, sf.pairs, sf.centroid, tree.settings)
            self._count_tree = (settings, tree)
        return self._count_tree[1]

    def segment_count(self, num_parts: int, settings: CountSettings,
                      min_part_fraction: float = 0.0) -> SegmentAllResult:
        """Segment All into ``num_parts`` (validated, ≥ 1) parts, or one per superface
        when the mesh has fewer; the superfaces' parts are nested in ``num_parts`` (k + 1
        parts split one of k) when ``min_part_fraction`` is 0, and on a one-piece mesh
        their borders are then refined face by face (:meth:`_refined`). Above 0 only parts with at least that share of
        the surface count (:func:`core.part_count.count_cut_min_share`); the smaller ones
        are absorbed (:meth:`_absorb`), so none stays below that size and at most
        ``num_parts`` remain. When no cut of the tree has ``num_parts`` parts that large,
        the absorption also starts from the single superfaces, and the answer with more
        parts wins."""
        tree = self.count_tree(settings)
        nodes, reached = count_cut_min_share(tree, num_parts, min_part_fraction)
        parts = self._absorb(nodes, min_part_fraction, None, tree, num_parts)
        if not reached:  # no cut has k parts that large: also merge up from the superfaces
            alt = self._absorb(np.arange(tree.num_leaves), min_part_fraction, None, tree,
                               num_parts)
            parts = alt if len(alt) > len(parts) else parts
        res = self._result(parts, None, tree)
        return self._relabel(res, self._refined(res.face_labels))

    def _leaf_labels(self, parts: list[np.ndarray], tree: MergeTree | None = None
                     ) -> np.ndarray:
        tree = self.tree if tree is None else tree
        lab = np.full(tree.num_leaves, -1, np.int64)
        for i, nodes in enumerate(parts):
            lab[tree.leaf_mask(nodes)] = i
        return lab

    def _result(self, parts: list[np.ndarray], scale: float | None,
                tree: MergeTree | None = None) -> SegmentAllResult:
        """Parts (node arrays of ``tree``, default the superface tree) → result."""
        tree = self.tree if tree is None else tree
        face = self._leaf_labels(parts, tree)[self.sf.face_sf]
        scores = np.zeros(len(parts), np.float32)
        for i, nodes in enumerate(parts):
            q = tree.quality(np.asarray(nodes))
            w = tree.share[np.asarray(nodes)]
            scores[i] = float((q * w).sum() / max(w.sum(), 1e-12))
        return SegmentAllResult(point_labels=face[self.point_faces], face_labels=face,
                                num_parts=len(parts), scores=scores, scale=scale)

    def _refined(self, face: np.ndarray) -> np.ndarray:
        """Face labels (F,) with part borders moved into nearby concave valleys on a
        one-piece mesh (:func:`core.boundaries.refine_mesh_parts`,
        ``TreeSettings.boundaries``); other meshes keep their superface borders (the same
        array comes back)."""
        if not self.tree.one_piece:
            return face
        return refine_mesh_parts(face, self.sf, self._mesh, self.tree.settings.boundaries)

    def _relabel(self, res: SegmentAllResult, face: np.ndarray) -> SegmentAllResult:
        """``res`` with new face labels (same parts, same scores)."""
        if face is res.face_labels:
            return res
        return replace(res, face_labels=face, point_labels=face[self.point_faces])

    def _absorb(self, nodes: np.ndarray, min_share: float, group: np.ndarray | None,
                tree: MergeTree | None = None, max_parts: int | None = None
                ) -> list[np.ndarray]:
        """:func:`core.part_absorb.absorb_parts` on ``tree`` (default the superface tree)."""
        return absorb_parts(self.tree if tree is None else tree, self.sf, nodes, min_share,
                            group, max_parts)
