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


def twin_order(order: np.ndarray, cum: np.ndarray, natural_share: float,
               cut_of_face: np.ndarray, face_centroid: np.ndarray, face_area: np.ndarray,
               settings: TwinSettings) -> tuple[np.ndarray, np.ndarray] | None:
    """The growth ``order`` with twin blocks, or None when the clicked part has no twin.

    Args:
        order: (n,) face indices in the plain growth order from one click.
        cum: (n,) cumulative area share along ``order``.
        natural_share: area share of the click's natural node (the clicked part).
        cut_of_face: (F,) part of the tree's natural cut holding each face.
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
    total = float(face_area.sum())
    part = order[:int(np.searchsorted(cum, natural_share)) + 1]
    mine = np.zeros(len(face_area), bool)
    mine[part] = True
    share = float(face_area[part].sum()) / total
    _, ext = shape_descriptor(face_centroid[part], face_area[part])
    mu0 = face_area[part] @ face_centroid[part] / max(float(face_area[part].sum()), 1e-300)
    twins = []
    cut_area = np.bincount(cut_of_face, weights=face_area)
    inside = np.bincount(cut_of_face[part], weights=face_area[part], minlength=len(cut_area))
    by_part = np.argsort(cut_of_face, kind="stable")
    starts = np.searchsorted(cut_of_face[by_part], np.arange(len(cut_area) + 1))
    for c in np.flatnonzero(cut_area > 0):
        if inside[c] > settings.max_overlap * cut_area[c]:
            continue
        faces = by_part[starts[c]:starts[c + 1]]
        mu, e = shape_descriptor(face_centroid[faces], face_area[faces])
        if descriptor_distance(float(cut_area[c]) / total, e, share, ext) < settings.tolerance:
            twins.append((float(np.linalg.norm(mu - mu0)), faces, mu))
    if not twins:
        return None
    head = order[:int(np.searchsorted(cum, natural_share * (1 + settings.margin))) + 1]
    taken = np.zeros(len(face_area), bool)
    taken[head] = True
    blocks = [head]
    for _, faces, mu in sorted(twins, key=lambda t: t[0]):
        faces = faces[~taken[faces]]
        if not len(faces):
            continue
        blocks.append(faces[np.argsort(np.linalg.norm(face_centroid[faces] - mu, axis=1),
                                       kind="stable")])
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
