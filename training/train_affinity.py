"""Train the superface dissimilarity (:mod:`core.affinity`) on generated labelled meshes.

Usage::

    python -m training.train_affinity --objects 600 --heldout 150 --seed 11 \\
        --model trees --out core/weights/default/affinity.json

Data: :func:`training.data.union.labelled_meshes` — procedural objects and real PyPI
multi-part meshes, as exact boolean unions (parts meet at creases), as separate pieces, and
voxel-fused into one smooth piece (kinds ``union``, ``separate``, ``voxel``). Never the
evaluation sets. Every object goes through the product's own path (sampling, the bundled
encoder, superfaces) and each graph edge of its superfaces becomes one example: the
features of :func:`core.affinity.pair_features`, the label "the two superfaces' majority
finest parts differ", and a weight √(smaller share) normalised per object (an edge between
two specks matters less than one between two large regions, and every object counts
about the same).

Models: ``logistic`` (standardised logistic regression) or ``trees`` (gradient boosting,
scikit-learn's ``GradientBoostingClassifier``), both exported to numpy arrays in JSON so
inference needs neither scikit-learn nor pickle. The held-out objects (another seed) give
the AUC printed for the rule, the new model and the model without encoder features.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.affinity import FEATURE_NAMES, AffinityModel, pair_features, rule_dissimilarity


@dataclass
class AffinityTrainConfig:
    """One training run.

    Attributes:
        objects: training objects drawn; heldout: held-out objects (seed + 1000).
        seed: seed of the draws.
        kinds: object kinds (see :mod:`training.data.meshset`).
        model: "trees" or "logistic".
        n_points: points sampled per object (as the product samples).
        trees: boosting rounds; depth: tree depth; learning_rate: shrinkage.
        weights: model folder whose encoder gives the pooled features (None = bundled).
        workers: processes generating the meshes.
    """

    objects: int = 600
    heldout: int = 150
    seed: int = 11
    kinds: tuple[str, ...] = ("union", "separate", "voxel")
    model: str = "trees"
    n_points: int = 10000
    trees: int = 200
    depth: int = 3
    learning_rate: float = 0.1
    weights: str | None = None
    workers: int = 1
    notes: dict = field(default_factory=dict)


def edge_examples(seg, item, n_points: int, seed: int) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """Features (G, K), labels (G,) and weights (G,) of one labelled mesh's superface
    graph (finest level)."""
    seg.set_mesh(item.vertices, item.faces, n_points=n_points, seed=seed)
    sf = seg.mesh_parts().sf
    x = pair_features(sf)
    leaf = np.asarray(item.face_labels[0], np.int64)
    area = seg.mesh_structure().face_area
    # majority (by area) finest part of every superface
    key = sf.face_sf * (int(leaf.max()) + 1) + leaf
    uk, inv = np.unique(key, return_inverse=True)
    acc = np.bincount(inv.reshape(-1), weights=area)
    sfk, lk = uk // (int(leaf.max()) + 1), uk % (int(leaf.max()) + 1)
    order = np.lexsort((-acc, sfk))
    first = np.ones(len(order), bool)
    first[1:] = sfk[order][1:] != sfk[order][:-1]
    maj = np.zeros(sf.num, np.int64)
    maj[sfk[order][first]] = lk[order][first]
    y = (maj[sf.pairs[:, 0]] != maj[sf.pairs[:, 1]]).astype(np.int64)
    sh = sf.share
    w = np.sqrt(np.minimum(sh[sf.pairs[:, 0]], sh[sf.pairs[:, 1]]))
    w = w / max(w.sum(), 1e-12)
    return x, y, w


def collect(n: int, seed: int, cfg: AffinityTrainConfig, log=print
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Examples of ``n`` generated objects (features, labels, weights, kinds per row)."""
    from core import Segmenter
    from training.data.union import labelled_meshes

    seg = Segmenter.from_pretrained(path=cfg.weights, num_threads=1)
    xs, ys, ws, kinds = [], [], [], []
    t0 = time.perf_counter()
    for i, item in enumerate(labelled_meshes(n=n, seed=seed, kinds=cfg.kinds,
                                             workers=cfg.workers)):
        try:
            x, y, w = edge_examples(seg, item, cfg.n_points, seed=i)
        except Exception as exc:  # a degenerate generated mesh: counted, skipped
            log(f"  object {i} ({item.source}) skipped: {type(exc).__name__}: {exc}")
            continue
        xs.append(x)
        ys.append(y)
        ws.append(w)
        kinds += [item.kind] * len(y)
        if (i + 1) % 50 == 0:
            log(f"  {i + 1}/{n} objects, {sum(len(v) for v in ys)} edges, "
                f"{time.perf_counter() - t0:.0f} s")
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws), kinds


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, cfg: AffinityTrainConfig
        ) -> AffinityModel:
    """Fit the configured model and export it to numpy arrays."""
    if cfg.model == "logistic":
        from sklearn.linear_model import LogisticRegression

        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
        clf = LogisticRegression(max_iter=2000, C=1.0)
        clf.fit((x - mean) / std, y, sample_weight=w * len(w))
        params = {"mean": mean, "std": std, "coef": clf.coef_[0],
                  "bias": np.asarray([clf.intercept_[0]])}
        return AffinityModel("logistic", FEATURE_NAMES, params, {})
    if cfg.model == "trees":
        from sklearn.ensemble import GradientBoostingClassifier

        clf = GradientBoostingClassifier(n_estimators=cfg.trees, max_depth=cfg.depth,
                                         learning_rate=cfg.learning_rate, subsample=0.8,
                                         random_state=cfg.seed)
        clf.fit(x, y, sample_weight=w * len(w))
        feat, thr, left, right, val, roots = [], [], [], [], [], []
        off = 0
        for est in clf.estimators_[:, 0]:
            t = est.tree_
            roots.append(off)
            feat.append(np.maximum(t.feature, 0))
            thr.append(t.threshold)
            left.append(np.where(t.children_left >= 0, t.children_left + off, -1))
            right.append(np.where(t.children_right >= 0, t.children_right + off, -1))
            val.append(t.value[:, 0, 0])
            off += t.node_count
        params = {"feature": np.concatenate(feat), "threshold": np.concatenate(thr),
                  "left": np.concatenate(left), "right": np.concatenate(right),
                  "value": np.concatenate(val), "roots": np.asarray(roots),
                  "learning_rate": np.asarray([cfg.learning_rate]), "base": np.asarray([0.0])}
        model = AffinityModel("trees", FEATURE_NAMES, params, {})
        # the boosting's starting log-odds: whatever the trees do not explain
        probe = x[:64]
        raw = clf.decision_function(probe)
        model.params["base"] = np.asarray([float(np.mean(raw - model._trees(probe)))])
        return model
    raise ValueError(f"model must be 'trees' or 'logistic', got {cfg.model!r}")


def weighted_auc(score: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Area under the ROC curve with example weights (ties count one half)."""
    order = np.argsort(score, kind="stable")
    s, yy, ww = score[order], y[order], w[order]
    _, start = np.unique(s, return_index=True)
    end = np.append(start[1:], len(s))
    neg_below = 0.0
    total = 0.0
    for a, b in zip(start, end):
        wp = ww[a:b][yy[a:b] == 1].sum()
        wn = ww[a:b][yy[a:b] == 0].sum()
        total += wp * (neg_below + 0.5 * wn)
        neg_below += wn
    pos, neg = ww[yy == 1].sum(), ww[yy == 0].sum()
    return float(total / max(pos * neg, 1e-300))


def run(cfg: AffinityTrainConfig, out: Path | None, log=print, cache: Path | None = None
        ) -> dict:
    """Collect (or load from ``cache``, an .npz written by an earlier run with the same
    data settings), fit, score on held-out objects and (optionally) write the model."""
    t0 = time.perf_counter()
    if cache is not None and cache.is_file():
        z = np.load(cache)
        x, y, w, hx, hy, hw = (z[k] for k in ("x", "y", "w", "hx", "hy", "hw"))
        hk = z["hk"].tolist()
        log(f"[affinity] examples from {cache}")
    else:
        log(f"[affinity] collecting {cfg.objects} training objects (seed {cfg.seed})")
        x, y, w, _ = collect(cfg.objects, cfg.seed, cfg, log)
        log(f"[affinity] collecting {cfg.heldout} held-out objects (seed {cfg.seed + 1000})")
        hx, hy, hw, hk = collect(cfg.heldout, cfg.seed + 1000, cfg, log)
        if cache is not None:
            np.savez_compressed(cache, x=x, y=y, w=w, hx=hx, hy=hy, hw=hw, hk=np.asarray(hk))
    model = fit(x, y, w, cfg)
    no_feat = x.copy()
    hno = hx.copy()
    cols = [FEATURE_NAMES.index(n) for n in ("feature_cos", "feature_dist")]
    no_feat[:, cols] = 0.0
    hno[:, cols] = 0.0
    ablate = fit(no_feat, y, w, cfg)
    hk = np.asarray(hk)
    scores = {"rule": weighted_auc(rule_dissimilarity(hx), hy, hw),
              cfg.model: weighted_auc(model.predict(hx), hy, hw),
              f"{cfg.model} without encoder features": weighted_auc(ablate.predict(hno), hy, hw)}
    per_kind = {k: weighted_auc(model.predict(hx[hk == k]), hy[hk == k], hw[hk == k])
                for k in sorted(set(hk.tolist()))}
    report = {"config": asdict(cfg), "train_edges": int(len(y)), "heldout_edges": int(len(hy)),
              "positive_share": float(y.mean()), "heldout_auc": scores,
              "heldout_auc_per_kind": per_kind, "wall_s": time.perf_counter() - t0}
    model.metadata = {"trained_by": "python -m training.train_affinity", **report}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(model.to_json())
        log(f"[affinity] wrote {out}")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.train_affinity",
                                description=__doc__.split("\n\n")[0])
    d = AffinityTrainConfig()
    p.add_argument("--objects", type=int, default=d.objects)
    p.add_argument("--heldout", type=int, default=d.heldout)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--kinds", nargs="+", default=list(d.kinds))
    p.add_argument("--model", choices=("trees", "logistic"), default=d.model)
    p.add_argument("--points", type=int, default=d.n_points)
    p.add_argument("--trees", type=int, default=d.trees)
    p.add_argument("--depth", type=int, default=d.depth)
    p.add_argument("--weights", default=None, help="encoder weights folder (default bundled)")
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--out", default=None, help="affinity.json to write")
    p.add_argument("--cache", default=None,
                   help="examples .npz: written after collecting, read instead when it exists")
    a = p.parse_args(argv)
    if a.objects < 2 or a.heldout < 1:
        p.error("--objects must be ≥ 2 and --heldout ≥ 1")
    cfg = AffinityTrainConfig(objects=a.objects, heldout=a.heldout, seed=a.seed,
                              kinds=tuple(a.kinds), model=a.model, n_points=a.points,
                              trees=a.trees, depth=a.depth, weights=a.weights,
                              workers=a.workers)
    report = run(cfg, Path(a.out) if a.out else None,
                 log=lambda m: print(m, file=sys.stderr, flush=True),
                 cache=Path(a.cache) if a.cache else None)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
