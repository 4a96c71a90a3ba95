"""Quality filter: a small PointNet that scores how plausible a part labelling is.

The paper filters unreliable annotations with a PointNet binary classifier. We train ours
on labellings we know are right (procedural part trees and their area-ratio levels) against
corrupted copies we synthesise (:func:`corrupt`: random planar splits, merges of parts
that do not touch, label noise, random Voronoi partitions), then pick the score threshold
on held-out objects so that a chosen share of clean labellings passes.

Input of the network, per sampled point of one labelling (one hierarchy level):
normalised xyz (3), offset to its part's centroid (3), its part's point fraction (1), its
part's spread per axis (3), the fraction of its 8 nearest neighbours with another label
(1), and log of the number of parts (1). A shared MLP, max-pooling and an MLP head give one
logit (higher = cleaner). Torch is needed for training and scoring; it is imported here.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from core.geometry import normalize_points

N_FEATURES = 12
CORRUPTIONS = ("plane_split", "merge_far", "label_noise", "blob_swap", "voronoi")


def resolve_filter(weights: str | None, threshold: float | None) -> tuple[str | None, float]:
    """Weights path and threshold for a build.

    Returns ``(None, 0.0)`` when ``weights`` is empty or missing on disk (no filtering);
    otherwise the path and ``threshold`` or, when that is None, the threshold measured at
    training time and stored in the weights' metadata.
    """
    if not weights or not Path(weights).is_file():
        return None, 0.0
    if threshold is not None:
        return weights, float(threshold)
    from safetensors import safe_open

    with safe_open(weights, "np") as f:
        meta = f.metadata() or {}
    return weights, float(json.loads(meta.get("info", "{}")).get("threshold", 0.5))


def labeling_features(points: np.ndarray, labels: np.ndarray, n_sub: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Per-point features (n_sub, 12) float32 of one labelling (see module doc)."""
    p = normalize_points(points).astype(np.float64)
    lab = np.unique(np.asarray(labels), return_inverse=True)[1]
    n, k = len(p), int(lab.max()) + 1
    cnt = np.bincount(lab, minlength=k).astype(np.float64)
    cen = np.zeros((k, 3))
    np.add.at(cen, lab, p)
    cen /= cnt[:, None]
    sq = np.zeros((k, 3))
    np.add.at(sq, lab, p**2)
    std = np.sqrt(np.maximum(sq / cnt[:, None] - cen**2, 0))
    sub = rng.choice(n, size=min(n_sub, n), replace=False)
    if len(sub) < n_sub:
        sub = np.concatenate([sub, rng.choice(n, n_sub - len(sub))])
    _, nn = cKDTree(p).query(p[sub], k=9)
    disagree = (lab[nn[:, 1:]] != lab[sub][:, None]).mean(1)
    ls = lab[sub]
    f = np.concatenate([p[sub], p[sub] - cen[ls], (cnt[ls] / n)[:, None], std[ls],
                        disagree[:, None], np.full((len(sub), 1), np.log(k))], 1)
    return f.astype(np.float32)


# --------------------------------------------------------------------------- corruptions


def corrupt(points: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
            kind: str | None = None) -> tuple[np.ndarray, str]:
    """A corrupted copy of a clean labelling (N,) and the corruption's name.

    Kinds: ``plane_split`` (1-3 random planes cut large parts), ``merge_far`` (parts that do
    not touch merged), ``label_noise`` (5-30 % of points relabelled at random),
    ``blob_swap`` (balls of points take another part's label), ``voronoi`` (a random
    partition into as many cells as there were parts).
    """
    p = np.asarray(points, np.float64)
    lab = np.unique(np.asarray(labels), return_inverse=True)[1].astype(np.int64)
    k = int(lab.max()) + 1
    kind = kind or CORRUPTIONS[int(rng.integers(len(CORRUPTIONS)))]
    if kind == "merge_far" and k < 3:
        kind = "plane_split"
    diag = float(np.linalg.norm(p.max(0) - p.min(0)))
    out = lab.copy()
    if kind == "plane_split":
        for _ in range(int(rng.integers(1, 4))):
            sizes = np.bincount(out)
            part = int(rng.choice(len(sizes), p=sizes / sizes.sum()))
            idx = np.flatnonzero(out == part)
            normal = rng.normal(size=3)
            normal /= np.linalg.norm(normal)
            origin = p[idx].mean(0) + rng.normal(size=3) * p[idx].std(0) * 0.3
            side = (p[idx] - origin) @ normal > 0
            out[idx[side]] = out.max() + 1
    elif kind == "merge_far":
        cen = np.stack([p[lab == i].mean(0) for i in range(k)])
        for _ in range(int(rng.integers(1, 3))):
            parts = np.unique(out)
            if len(parts) < 3:
                break
            a = int(rng.choice(parts))
            pa = p[out == a]
            tree = cKDTree(pa)
            far = [b for b in parts if b != a and
                   tree.query(p[out == b][:: max(1, int((out == b).sum()) // 200)])[0].min()
                   > 0.05 * diag]
            b = int(rng.choice(far)) if far else int(rng.choice([x for x in parts if x != a]))
            out[out == b] = a
        del cen
    elif kind == "label_noise":
        m = rng.random(len(out)) < rng.uniform(0.05, 0.3)
        out[m] = rng.integers(0, k + 1, int(m.sum()))
    elif kind == "blob_swap":
        for _ in range(int(rng.integers(2, 8))):
            c = p[rng.integers(len(p))]
            r = rng.uniform(0.05, 0.2) * diag
            m = np.linalg.norm(p - c, axis=1) < r
            out[m] = int(rng.integers(0, k + 1))
    elif kind == "voronoi":
        seeds = p[rng.choice(len(p), size=max(2, k), replace=False)]
        _, out = cKDTree(seeds).query(p)
    else:
        raise ValueError(f"unknown corruption {kind!r}; known: {CORRUPTIONS}")
    return np.unique(out, return_inverse=True)[1], kind


# --------------------------------------------------------------------------- model


def _torch():
    import torch

    return torch


def make_model(hidden: int = 128):
    """PointNet classifier: shared MLP 12→64→128→hidden, max-pool, MLP → 1 logit."""
    torch = _torch()
    nn = torch.nn

    class PointNetQuality(nn.Module):
        def __init__(self):
            super().__init__()
            self.point = nn.Sequential(nn.Linear(N_FEATURES, 64), nn.ReLU(), nn.Linear(64, 128),
                                       nn.ReLU(), nn.Linear(128, hidden))
            self.head = nn.Sequential(nn.ReLU(), nn.Linear(2 * hidden, 64), nn.ReLU(),
                                      nn.Linear(64, 1))

        def forward(self, x):  # x (B, n, 12) -> (B,) logits
            h = self.point(x)
            g = torch.cat([h.max(1).values, h.mean(1)], 1)
            return self.head(g).squeeze(1)

    return PointNetQuality()


@dataclass
class QualityInfo:
    """What is stored with the weights (safetensors metadata ``info``)."""

    n_sub: int = 512
    hidden: int = 128
    threshold: float = 0.5
    clean_pass_target: float = 0.95
    val_auc: float = 0.0
    test_auc: float = 0.0
    test_accuracy: float = 0.0
    test_clean_pass: float = 0.0
    test_corrupt_reject: dict | None = None
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0
    train_seconds: float = 0.0
    seed: int = 0


class QualityFilter:
    """Scores labellings with trained weights: ``score(points, labels) -> float`` in (0, 1)."""

    def __init__(self, weights: Path | str, threshold: float | None = None):
        from safetensors import safe_open
        from safetensors.torch import load_file

        torch = _torch()
        torch.set_num_threads(1)  # build workers are processes; one thread each
        with safe_open(str(weights), "np") as f:
            self.info = QualityInfo(**json.loads((f.metadata() or {})["info"]))
        self.model = make_model(self.info.hidden)
        self.model.load_state_dict(load_file(str(weights)))
        self.model.eval()
        self.threshold = self.info.threshold if threshold is None else float(threshold)
        self._torch = torch

    def score(self, points: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
        """Probability that ``labels`` (N,) is a clean part labelling of ``points`` (N, 3)."""
        x = labeling_features(points, labels, self.info.n_sub, np.random.default_rng(seed))
        with self._torch.no_grad():
            logit = self.model(self._torch.from_numpy(x)[None])
        return float(self._torch.sigmoid(logit)[0])

    def passes(self, points: np.ndarray, labels: np.ndarray, seed: int = 0) -> bool:
        return self.score(points, labels, seed) >= self.threshold


# --------------------------------------------------------------------------- training data


def make_examples(n_objects: int, seed: int, n_points: int = 4096, n_sub: int = 512,
                  per_object: int = 2) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Balanced examples from fresh procedural objects (seeds never used by builds).

    Each object gives ``per_object`` clean labellings (tree levels or area-ratio levels) and
    as many corrupted ones. Returns features (M, n_sub, 12), targets (M,) in {0, 1} and the
    kind of each example ("clean" or a corruption name).
    """
    from .build import sample_labeled
    from .fuse import fuse_mesh
    from .parts import flatten, tree_levels
    from .pipeline import area_ratio_levels
    from .procedural import FAMILIES, make_object

    fams = sorted(FAMILIES)
    rng = np.random.default_rng([seed, 77])
    xs, ys, kinds = [], [], []
    for i in range(n_objects):
        fam = fams[i % len(fams)]
        flat = flatten(make_object(fam, int(rng.integers(2**62))))
        lv = tree_levels(flat)
        v, f, fl = flat.vertices, flat.faces, flat.face_leaf
        if rng.random() < 0.2:
            v, f, fl = fuse_mesh(v, f, fl, seed=int(rng.integers(2**31)))
        pts, _, lab = sample_labeled(v, f, fl, lv, n_points, int(rng.integers(2**31)))
        if rng.random() < 0.5:
            lab = area_ratio_levels(pts, lab[0], rng=rng)
        for _ in range(per_object):
            clean = lab[int(rng.integers(lab.shape[0]))]
            if clean.max() < 1:
                clean = lab[0]
            xs.append(labeling_features(pts, clean, n_sub, rng))
            ys.append(1.0)
            kinds.append("clean")
            bad, kind = corrupt(pts, clean, rng)
            xs.append(labeling_features(pts, bad, n_sub, rng))
            ys.append(0.0)
            kinds.append(kind)
    return np.stack(xs), np.asarray(ys, np.float32), kinds


def train_quality(out: Path | str, n_train: int = 400, n_val: int = 100, n_test: int = 100,
                  epochs: int = 15, seed: int = 0, clean_pass: float = 0.95,
                  n_sub: int = 512, threads: int = 1, per_object: int = 3,
                  log=print) -> QualityInfo:
    """Train the filter, measure its threshold on validation objects, report on test objects.

    Args:
        out: safetensors path for the weights (metadata ``info`` = :class:`QualityInfo`).
        n_train, n_val, n_test: procedural objects per split (disjoint seeds;
            ``per_object`` clean and as many corrupted examples each).
        epochs: passes over the training examples (Adam, batch 32).
        seed: seeds objects, corruptions and initialisation.
        clean_pass: the threshold keeps this share of clean validation labellings.
        n_sub: points per labelling seen by the network.
        threads: torch CPU threads.
    """
    from safetensors.torch import save_file
    from sklearn.metrics import roc_auc_score

    torch = _torch()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    t0 = time.time()
    xtr, ytr, _ = make_examples(n_train, seed * 3 + 1, n_sub=n_sub, per_object=per_object)
    xva, yva, _ = make_examples(n_val, seed * 3 + 2, n_sub=n_sub, per_object=per_object)
    xte, yte, kte = make_examples(n_test, seed * 3 + 3, n_sub=n_sub, per_object=per_object)
    log(f"examples: train {len(ytr)} val {len(yva)} test {len(yte)} "
        f"({time.time() - t0:.0f} s)")
    info = QualityInfo(n_sub=n_sub, seed=seed, clean_pass_target=clean_pass,
                       n_train=len(ytr), n_val=len(yva), n_test=len(yte))
    model = make_model(info.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    g = torch.Generator().manual_seed(seed)

    def predict(x):
        model.eval()
        with torch.no_grad():
            return torch.sigmoid(torch.cat([model(torch.from_numpy(x[i:i + 256]))
                                            for i in range(0, len(x), 256)])).numpy()

    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(yt), generator=g)
        tot = 0.0
        for i in range(0, len(perm), 32):
            b = perm[i:i + 32]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(b)
        sched.step()
        auc = roc_auc_score(yva, predict(xva))
        log(f"epoch {ep + 1}/{epochs}: loss {tot / len(yt):.4f}  val AUC {auc:.4f}")
    pva, pte = predict(xva), predict(xte)
    thr = float(np.quantile(pva[yva == 1], 1 - clean_pass))
    info.threshold = thr
    info.val_auc = float(roc_auc_score(yva, pva))
    info.test_auc = float(roc_auc_score(yte, pte))
    info.test_accuracy = float(((pte >= thr) == (yte == 1)).mean())
    info.test_clean_pass = float((pte[yte == 1] >= thr).mean())
    kte = np.asarray(kte)
    info.test_corrupt_reject = {k: float((pte[kte == k] < thr).mean()) for k in CORRUPTIONS
                                if (kte == k).any()}
    info.train_seconds = round(time.time() - t0, 1)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out),
              metadata={"info": json.dumps(asdict(info))})
    log(json.dumps(asdict(info), indent=1))
    return info
