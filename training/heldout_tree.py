"""Segment All without a scale on held-out generated meshes (never the dev set): compare
values of one merge-tree setting.

    python -m training.heldout_tree --objects 120 --seed 1011 --kinds voxel \
        --vary cut_threshold=0.4,0.5 [--vary ...] [--set consensus.samples=40] [--json]

Generated objects of the given kinds (``voxel``: fused into one smooth piece; ``union``:
parts joined by exact boolean union; ``separate``: parts left apart; see
:func:`training.data.union.labelled_meshes`) go through the product's own mesh path
(``Segmenter.set_mesh`` → superfaces → the bundled dissimilarity). The merge tree is then
rebuilt once per value of ``--vary`` (:func:`core.mesh_parts.tree_of` on
:func:`core.mesh_parts.tree_dissimilarity`, whose consensus is drawn once per distinct
consensus setting; several ``--vary`` give every combination of their values), and its
natural cut is scored against every level of the object's part tree. NAME is a
``TreeSettings`` field, or ``consensus.FIELD`` for a number of the one-piece consensus
(:class:`core.consensus.ConsensusSettings`: ``samples``, ``max_parts``,
``superfaces_per_part``, ``jitter``, ``concave_scale``, ``seed``). The score is the
leaf mIoU at superface level and area-weighted: each GT part takes its best-overlapping
predicted part, averaged over parts, then over objects. It is reported for the finest
level and as the mean over all levels. Used to choose ``TreeSettings`` values without
looking at ``../shared/data``; the seeds must differ from the training data's.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields

import numpy as np

from core import Segmenter
from core.consensus import ConsensusSettings
from core.merge_tree import TreeSettings
from core.mesh_parts import tree_dissimilarity, tree_of

from .data.union import labelled_meshes


def area_miou(part_area: np.ndarray, labels: np.ndarray) -> float:
    """Mean over GT parts of the best IoU with a predicted part, by area.

    Args:
        part_area: (S, L) area of GT part l inside superface s.
        labels: (S,) predicted part of every superface (ids from 0).
    """
    pred = np.zeros((int(labels.max()) + 1, part_area.shape[1]))
    np.add.at(pred, labels, part_area)
    gt, size = part_area.sum(axis=0), pred.sum(axis=1)
    iou = pred / np.maximum(gt[None, :] + size[:, None] - pred, 1e-300)
    return float(iou.max(axis=0)[gt > 0].mean())


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


#: the numeric fields of :class:`ConsensusSettings` (its ranges are not varied here)
_CONSENSUS = tuple(f.name for f in fields(ConsensusSettings)
                   if isinstance(getattr(ConsensusSettings(), f.name), (int, float)))


def _setting(spec: str) -> tuple[str, list]:
    name, _, values = spec.partition("=")
    known = {f.name for f in fields(TreeSettings)} | {f"consensus.{n}" for n in _CONSENSUS}
    if name not in known or not values:
        raise SystemExit(f"expected NAME=V[,V...] with NAME one of {sorted(known)}, got {spec!r}")
    return name, [_value(v) for v in values.split(",")]


def _settings(values: dict) -> tuple[TreeSettings, ConsensusSettings]:
    """The tree's and the consensus's settings from ``{NAME: value}`` (see ``_setting``)."""
    tree = {k: v for k, v in values.items() if not k.startswith("consensus.")}
    agree = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("consensus.")}
    return TreeSettings(**tree), ConsensusSettings(**agree)


def _grid(vary: list[tuple[str, list]]) -> dict[str, dict]:
    """``{label: {NAME: value}}`` for every combination of the varied settings' values;
    the label is the value alone for one setting, else ``NAME=value, NAME=value``."""
    combos = [{}]
    for name, values in vary:
        combos = [{**c, name: v} for c in combos for v in values]
    if len(vary) == 1:
        return {str(c[vary[0][0]]): c for c in combos}
    return {", ".join(f"{k}={v}" for k, v in c.items()): c for c in combos}


def run(objects: int, seed: int, kinds: tuple[str, ...], vary: list[tuple[str, list]],
        fixed: dict, n_points: int = 10_000) -> dict:
    """Scores per combination of the ``vary`` values (``{label: {"finest": %, "levels":
    %}}``, labels from :func:`_grid`) and counts."""
    seg = Segmenter.from_pretrained(num_threads=1)
    grid = _grid(vary)
    scores: dict = {k: {"finest": [], "levels": []} for k in grid}
    t0, done = time.perf_counter(), 0
    for i, item in enumerate(labelled_meshes(n=objects, seed=seed, kinds=kinds, workers=1)):
        seg.set_mesh(item.vertices, item.faces, n_points=n_points, seed=i)
        mp = seg.mesh_parts()
        sf, area = mp.sf, seg.mesh_structure().face_area
        levels = []
        for lab in np.asarray(item.face_labels, np.int64):
            m = np.zeros((sf.num, int(lab.max()) + 1))
            np.add.at(m, (sf.face_sf, lab), area)
            levels.append(m)
        edge: dict[tuple, np.ndarray] = {}  # per consensus setting: drawn once
        for v, combo in grid.items():
            tree_st, agree_st = _settings({**fixed, **combo})
            key = (tree_st.smooth_surface_share, *sorted(vars(agree_st).items()))
            if key not in edge:
                edge[key] = tree_dissimilarity(sf, mp.dissimilarity, tree_st, agree_st)
            tree = tree_of(sf, edge[key], tree_st)
            cut = tree.labels_of_cut(tree.cut(None))
            per = [area_miou(m, cut) for m in levels]
            scores[v]["finest"].append(per[0])
            scores[v]["levels"].append(float(np.mean(per)))
        done += 1
    return {"setting": " × ".join(n for n, _ in vary), "fixed": fixed, "objects": done, "kinds": list(kinds),
            "seed": seed, "wall_s": round(time.perf_counter() - t0, 1),
            "scores": {v: {k: round(100 * float(np.mean(x)), 2) for k, x in s.items()}
                       for v, s in scores.items()}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=120, help="generated objects")
    ap.add_argument("--seed", type=int, default=1011,
                    help="object seed (must differ from every training set's)")
    ap.add_argument("--kinds", default="voxel", help="comma-separated: voxel, union, separate")
    ap.add_argument("--vary", required=True, action="append",
                    help="NAME=V1,V2,...: a TreeSettings field or consensus.FIELD "
                         "(repeatable: every combination)")
    ap.add_argument("--set", action="append", default=[],
                    help="NAME=V: another TreeSettings field held fixed (repeatable)")
    ap.add_argument("--json", action="store_true", help="print JSON")
    a = ap.parse_args(argv)
    if a.objects < 1:
        ap.error("--objects must be ≥ 1")
    fixed = {}
    for spec in a.set:
        n, vals = _setting(spec)
        if len(vals) != 1:
            ap.error(f"--set takes one value, got {spec!r}")
        fixed[n] = vals[0]
    vary = [_setting(v) for v in a.vary]
    if len({n for n, _ in vary}) < len(vary) or {n for n, _ in vary} & set(fixed):
        ap.error("each setting may be varied once and not also fixed with --set")
    out = run(a.objects, a.seed, tuple(k for k in a.kinds.split(",") if k), vary, fixed)
    if a.json:
        print(json.dumps(out))
        return
    print(f"{out['objects']} objects ({','.join(out['kinds'])}, seed {out['seed']}), "
          f"{out['wall_s']} s; natural cut leaf mIoU, finest level / mean over levels:")
    for v, s in out["scores"].items():
        label = f"{out['setting']} = {v}" if "=" not in v else v
        print(f"  {label}: {s['finest']:.1f} / {s['levels']:.1f}")


if __name__ == "__main__":
    main()
