"""How far the bundled merge tree is from the part trees of an evaluation set, and why.

    python -m training.tree_ceiling --data ../shared/data/partnet-mobility-dev [--limit N]
        [--json] [--per-object]

A diagnosis, never a training signal: every number here reads the ground truth, and
nothing it computes flows back into a setting or a model. It runs the product's mesh path
(``Segmenter.set_mesh`` on the welded faces, as ``make eval`` does), takes the merge tree
of each object and scores Segment All's leaf mIoU exactly as the evaluator does (every GT
leaf region takes its best IoU with a predicted part over the evaluation points, averaged
per object, then over objects), for:

* ``natural``: the shipped natural cut (``MergeTree.cut(None)``, before the smallest-part
  absorption, which changes nothing measurable on the dev sets);
* ``threshold[t]``: the plain cut of every merge higher than t, one t for every object;
* ``best_threshold``: each object's own best t from that grid (an oracle of how well a
  per-object threshold could do);
* ``best_node``: each GT leaf region's best tree node, whatever the other regions take (an
  upper bound of any cut of this tree);
* ``oracle_merge``: each superface given its majority GT leaf (an upper bound of any merge
  of these superfaces);
* ``oracle_proximity`` / ``oracle_welded`` / ``oracle_edges``: the tree rebuilt with the
  dissimilarity of the proximity edges (separate pieces) / the welded edges / both
  replaced by the truth (0.95 between different leaves, 0.05 within one), natural cut.

For the click without a scale (one click per GT region of every level, at the region's
most interior point as the evaluator places it), node-level IoUs: ``click_natural``, the
natural node on the clicked superface's path (``MergeTree.node_for``; the shipped click
grows to that node's share instead, which scores within about a point of it), and
``click_best_threshold``, the node holding the click in the object's own best threshold
cut for all its clicks (a per-object oracle, as ``best_threshold``), and
``click_best_on_path``, the best node on that path (an oracle of how well a per-click
choice of node could do). It also gives the ROC AUC of the learned dissimilarity against
"different leaves" on the welded and the proximity edges. Use it before changing the tree: a rule that cannot move
``best_threshold`` or the edge oracles cannot move Segment All either.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_auc_score

from core import Segmenter
from core.merge_tree import MergeTree
from core.mesh_parts import tree_of
from core.mesh_regions import face_vote

from .devset import list_objects, load_object, make_sample
from .metrics import compact_labels, iou_matrix
from .selectors import interior_point

#: thresholds of the ``threshold[t]`` rows and of the per-object oracle.
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))
#: dissimilarity given to an edge by the edge oracles: between different GT leaves / within one.
TRUE_CUT, TRUE_KEEP = 0.95, 0.05


@dataclass
class ObjectCeiling:
    """The scores of one object (percent) and its edges for the AUCs."""

    object_id: str
    category: str
    scores: dict[str, float] = field(default_factory=dict)
    thresholds: list[float] = field(default_factory=list)
    edge_truth: np.ndarray | None = None  # (G,) bool, different leaves; known edges only
    edge_learned: np.ndarray | None = None  # (G,) learned dissimilarity
    edge_welded: np.ndarray | None = None  # (G,) bool, welded (shares mesh edges)


def threshold_cut(tree: MergeTree, t: float) -> np.ndarray:
    """Nodes of the cut that splits every merge higher than ``t`` (top-down)."""
    out, stack = [], [tree.root]
    while stack:
        n = stack.pop()
        if tree.children[n, 0] >= 0 and tree.height[n] > t:
            stack.extend(int(c) for c in tree.children[n])
        else:
            out.append(n)
    return np.asarray(sorted(out), np.int64)


def node_ious(tree: MergeTree, point_sf: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """(R, 2S−1) IoU (percent) of every region of ``regions`` (R, N) bool with every tree
    node, the points' superfaces being ``point_sf`` (N,)."""
    n, s = len(tree.parent), tree.num_leaves
    inter = np.zeros((len(regions), n))
    size = np.zeros(n)
    size[:s] = np.bincount(point_sf, minlength=s)
    for r, mask in enumerate(regions):
        inter[r, :s] = np.bincount(point_sf[mask], minlength=s)
    for m in range(s, n):  # children are numbered before their parents
        a, b = tree.children[m]
        inter[:, m] = inter[:, a] + inter[:, b]
        size[m] = size[a] + size[b]
    union = regions.sum(axis=1)[:, None] + size[None] - inter
    return 100.0 * inter / np.maximum(union, 1)


def best_node_score(tree: MergeTree, point_sf: np.ndarray, regions: np.ndarray) -> float:
    """Mean over ``regions`` of the best IoU (percent) of any tree node (:func:`node_ious`)."""
    return float(node_ious(tree, point_sf, regions).max(axis=1).mean())


def click_scores(tree: MergeTree, point_sf: np.ndarray, regions: np.ndarray,
                 clicks: np.ndarray) -> tuple[float, float, float]:
    """Mean IoU (percent) over ``regions`` (R, N) of three answers to each region's click
    (``clicks`` (R,) point indices): the natural node on the clicked superface's path, the
    node of the best single threshold cut for all of the object's clicks
    (:data:`THRESHOLDS`), and the best node on the path."""
    iou = node_ious(tree, point_sf, regions)
    leaves = point_sf[clicks]
    natural = [iou[r, tree.node_for([int(leaf)], [], None)] for r, leaf in enumerate(leaves)]
    best = [iou[r, tree.path(int(leaf))].max() for r, leaf in enumerate(leaves)]
    per_t = []
    for t in THRESHOLDS:
        nodes = threshold_cut(tree, t)
        node_of_leaf = nodes[tree.labels_of_cut(nodes)]
        per_t.append(np.mean([iou[r, node_of_leaf[leaf]] for r, leaf in enumerate(leaves)]))
    return float(np.mean(natural)), float(max(per_t)), float(np.mean(best))


def object_ceiling(seg: Segmenter, npz, n_points: int = 10_000, seed: int = 0
                   ) -> ObjectCeiling | None:
    """Every score of the module docstring for one evaluation object (an ``.npz`` of
    :mod:`training.devset`); None for a point cloud, which has no superfaces."""
    obj = load_object(npz)
    if not obj.is_mesh:
        return None
    sample = make_sample(obj, n_points, seed)
    seg.set_mesh(obj.vertices, sample.faces_welded, n_points=n_points, seed=seed)
    mp = seg.mesh_parts()
    sf, tree = mp.sf, mp.tree
    regions = sample.region_masks[sample.region_is_leaf]
    point_sf = sf.face_sf[sample.point_faces]

    def score(sf_labels: np.ndarray) -> float:
        lab = compact_labels(np.asarray(sf_labels)[point_sf])
        return float(iou_matrix(regions, lab).max(axis=1).mean())

    def cut_score(t: MergeTree, nodes: np.ndarray) -> float:
        return score(t.labels_of_cut(nodes))

    out = ObjectCeiling(obj.object_id, obj.category)
    out.thresholds = [cut_score(tree, threshold_cut(tree, t)) for t in THRESHOLDS]
    maj = face_vote(regions.argmax(axis=0), point_sf, sf.num)  # majority leaf per superface
    a, b = sf.pairs[:, 0], sf.pairs[:, 1]
    known = (maj[a] >= 0) & (maj[b] >= 0)
    truth = maj[a] != maj[b]
    welded = sf.boundary > 0
    out.scores = {"natural": cut_score(tree, tree.cut(None)),
                  "best_threshold": max(out.thresholds),
                  "best_node": best_node_score(tree, point_sf, regions),
                  "oracle_merge": score(np.where(maj >= 0, maj, 0))}
    clicks = np.array([interior_point(sample.points, m) for m in sample.region_masks])
    (out.scores["click_natural"], out.scores["click_best_threshold"],
     out.scores["click_best_on_path"]) = click_scores(tree, point_sf, sample.region_masks,
                                                      clicks)
    for name, sel in (("oracle_proximity", ~welded), ("oracle_welded", welded),
                      ("oracle_edges", np.ones(len(a), bool))):
        d = mp.edge_dissimilarity.copy()
        pick = sel & known
        d[pick] = np.where(truth[pick], TRUE_CUT, TRUE_KEEP)
        t = tree_of(sf, d, tree.settings)
        out.scores[name] = cut_score(t, t.cut(None))
    out.edge_truth, out.edge_learned = truth[known], mp.dissimilarity[known]
    out.edge_welded = welded[known]
    return out


def _auc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC of ``score`` for ``truth``; None when one class is missing."""
    if truth.all() or not truth.any():
        return None
    return float(roc_auc_score(truth, score))


def summarise(objects: list[ObjectCeiling]) -> dict:
    """Means over objects, the global threshold curve and the edge AUCs."""
    keys = list(objects[0].scores) if objects else []
    curve = np.mean([o.thresholds for o in objects], axis=0) if objects else []
    truth = np.concatenate([o.edge_truth for o in objects]) if objects else np.zeros(0, bool)
    learned = np.concatenate([o.edge_learned for o in objects]) if objects else np.zeros(0)
    welded = np.concatenate([o.edge_welded for o in objects]) if objects else np.zeros(0, bool)
    return {"objects": len(objects),
            "scores": {k: round(float(np.mean([o.scores[k] for o in objects])), 2)
                       for k in keys},
            "threshold_curve": {str(t): round(float(v), 2) for t, v in zip(THRESHOLDS, curve)},
            "best_threshold_spread": [float(THRESHOLDS[int(np.argmax(o.thresholds))])
                                      for o in objects],
            "auc": {"welded": _auc(truth[welded], learned[welded]),
                    "proximity": _auc(truth[~welded], learned[~welded])},
            "edges": {"welded": int(welded.sum()), "proximity": int((~welded).sum()),
                      "welded_boundary_share": float(truth[welded].mean()) if welded.any()
                      else None,
                      "proximity_boundary_share": float(truth[~welded].mean())
                      if (~welded).any() else None}}


def markdown(summary: dict) -> str:
    """The summary as a short markdown report."""
    s = summary["scores"]
    lines = [f"{summary['objects']} objects, Segment All leaf mIoU and clicks without a "
             "scale (node level), IoU in %:", "", "| answer | IoU |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in s.items()]
    curve = summary["threshold_curve"]
    lines += ["", "One threshold for every object: "
              + ", ".join(f"{t}: {v:.1f}" for t, v in curve.items())]
    spread = np.asarray(summary["best_threshold_spread"])
    if len(spread):
        lines.append(f"Each object's best threshold: median {np.median(spread):.2f}, "
                     f"quartiles {np.quantile(spread, 0.25):.2f}–{np.quantile(spread, 0.75):.2f}")
    auc = {k: "—" if v is None else f"{v:.3f}" for k, v in summary["auc"].items()}
    lines.append(f"Learned dissimilarity, ROC AUC for different leaves: welded edges "
                 f"{auc['welded']}, proximity edges {auc['proximity']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a folder of mesh objects with part trees")
    ap.add_argument("--limit", type=int, default=None, help="first N objects only")
    ap.add_argument("--points", type=int, default=10_000, help="evaluation points per object")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--per-object", action="store_true", help="print each object's scores")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    seg = Segmenter.from_pretrained(num_threads=args.threads)
    objects = []
    for npz in list_objects(args.data, limit=args.limit):
        o = object_ceiling(seg, npz, args.points)
        if o is None:
            continue
        objects.append(o)
        if args.per_object:
            print(o.object_id, o.category,
                  " ".join(f"{k}={v:.1f}" for k, v in o.scores.items()), flush=True)
    summary = summarise(objects)
    print(json.dumps(summary) if args.json else markdown(summary))


if __name__ == "__main__":
    main()
