"""Twin parts: a click's growth on a one-piece mesh takes the clicked part's look-alikes
(the other arm, the other three legs) before it crosses into the body.

Characters, animals and furniture carry their limbs in sets, and a part label usually
names the set ("leg" for all four legs). A click grows outwards from the click
(:meth:`core.mesh_parts.MeshParts._growth_order`); past the clicked part it would
otherwise take the body around it. With twins, the order becomes: the clicked part's own
growth up to ``(1 + margin)`` × its natural share, then each twin part as one block
(nearest twin first, each block's faces ordered from its centre outwards), then the rest
of the plain growth. The order is still one order of faces computed once per click, so
the slider stays monotone and nested; a block is atomic (the answer takes all of a twin
or none of it), so a scale between the clicked part's and the set's share snaps to the
closer one.

Twins are parts of the tree's natural cut whose shape descriptor matches the clicked
part's: the larger of |log(share ratio)| and the three |log(extent ratio)|, the extents
being the square roots of the area-weighted principal variances of face centroids
(model frame), sorted. Rigid motions (a posed arm) keep them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mesh_graph import Groups


@dataclass
class TwinSettings:
    """When and how a click's growth takes twin parts (one-piece meshes only).

    Attributes:
        tolerance: the largest descriptor distance (the larger of |log(share ratio)| and
            the |log(extent ratio)|s, see the module docstring) of a twin; 0 = no twins.
        margin: the clicked part's growth continues to ``(1 + margin)`` × the share of
            its natural node before the twins come (the natural node is often a little
            smaller than the part a user means).
        max_share: no twins for a clicked part whose natural share is above this.
        max_overlap: a natural-cut part with more than this fraction of its area inside
            the clicked part is the clicked part itself, not a twin.
    """

    tolerance: float = 0.2
    margin: float = 0.25
    max_share: float = 0.5
    max_overlap: float = 0.2


def shape_descriptor(centroids: np.ndarray, area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted centroid (3,) and sorted extents (3,) (square roots of the principal
    variances, descending) of faces with ``centroids`` (n, 3) and ``area`` (n,)."""
    w = area / max(float(area.sum()), 1e-300)
    mu = w @ centroids
    c = centroids - mu
    cov = (c * w[:, None]).T @ c
    ev = np.linalg.eigvalsh(cov)[::-1]
    return mu, np.sqrt(np.maximum(ev, 1e-12))


def descriptor_distance(share_a: float, ext_a: np.ndarray, share_b: float,
                        ext_b: np.ndarray) -> float:
    """The larger of |log(share_a / share_b)| and the |log(extent ratio)|s."""
    return float(max(abs(np.log(share_a / share_b)), np.abs(np.log(ext_a / ext_b)).max()))


@dataclass
class CutParts:
    """The parts of one cut (the tree's natural cut) with their shape descriptors, built
    once per mesh so a click only compares them (:func:`twin_order`).

    Attributes:
        groups: the faces grouped by part (:class:`core.mesh_graph.Groups`).
        area: (P,) area of each part; share: (P,) its share of the total.
        centroid: (P, 3) area-weighted centroids; extents: (P, 3) sorted extents
            (:func:`shape_descriptor`), model frame.
        of_face: (F,) part of every face.
    """

    groups: Groups
    area: np.ndarray
    share: np.ndarray
    centroid: np.ndarray
    extents: np.ndarray
    of_face: np.ndarray

    @classmethod
    def build(cls, of_face: np.ndarray, face_centroid: np.ndarray,
              face_area: np.ndarray) -> CutParts:
        """From the part of every face (F,), face centroids (F, 3) and areas (F,)."""
        area = np.bincount(of_face, weights=face_area)
        groups = Groups(of_face, len(area))
        cen, ext = np.zeros((len(area), 3)), np.ones((len(area), 3))
        for c in np.flatnonzero(area > 0):
            faces = groups.of(c)
            cen[c], ext[c] = shape_descriptor(face_centroid[faces], face_area[faces])
        return cls(groups, area, area / max(float(area.sum()), 1e-300), cen, ext, of_face)


def twin_order(order: np.ndarray, cum: np.ndarray, natural_share: float, parts: CutParts,
               face_centroid: np.ndarray, face_area: np.ndarray,
               settings: TwinSettings) -> tuple[np.ndarray, np.ndarray] | None:
    """The growth ``order`` with twin blocks, or None when the clicked part has no twin.

    Args:
        order: (n,) face indices in the plain growth order from one click.
        cum: (n,) cumulative area share along ``order``.
        natural_share: area share of the click's natural node (the clicked part).
        parts: the tree's natural cut (:class:`CutParts`), where twins are looked for.
        face_centroid: (F, 3) face centroids (model frame).
        face_area: (F,) face areas.
        settings: see :class:`TwinSettings`.

    Returns:
        ``(order, ends)``: the new (n,) order and the sorted prefix lengths an answer may
        take (every length inside the clicked part's growth and the rest, only whole
        blocks for the twins).
    """
    if settings.tolerance <= 0 or natural_share > settings.max_share or not len(order):
        return None
    part = order[:int(np.searchsorted(cum, natural_share)) + 1]
    share = float(face_area[part].sum()) / float(face_area.sum())
    mu0, ext = shape_descriptor(face_centroid[part], face_area[part])
    inside = np.bincount(parts.of_face[part], weights=face_area[part],
                         minlength=len(parts.area))
    twins = [(float(np.linalg.norm(parts.centroid[c] - mu0)), c)
             for c in np.flatnonzero(parts.area > 0)
             if inside[c] <= settings.max_overlap * parts.area[c]
             and descriptor_distance(float(parts.share[c]), parts.extents[c], share, ext)
             < settings.tolerance]
    if not twins:
        return None
    head = order[:int(np.searchsorted(cum, natural_share * (1 + settings.margin))) + 1]
    taken = np.zeros(len(face_area), bool)
    taken[head] = True
    blocks = [head]
    for _, c in sorted(twins):
        faces = parts.groups.of(c)
        faces = faces[~taken[faces]]
        if not len(faces):
            continue
        dist = np.linalg.norm(face_centroid[faces] - parts.centroid[c], axis=1)
        blocks.append(faces[np.argsort(dist, kind="stable")])
        taken[faces] = True
    rest = order[~taken[order]]
    new = np.concatenate(blocks + [rest])
    ends = [np.arange(1, len(head) + 1)]
    at = len(head)
    for b in blocks[1:]:
        at += len(b)
        ends.append(np.array([at]))
    ends.append(np.arange(at + 1, len(new) + 1))
    return new, np.concatenate(ends)
