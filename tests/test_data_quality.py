"""Quality filter: corrupted annotations score below clean ones on held-out objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from training.data.quality import CORRUPTIONS, QualityFilter, corrupt, make_examples

WEIGHTS = Path(__file__).resolve().parents[1] / "training/data/weights/quality.safetensors"


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_each_corruption_changes_the_labelling(kind):
    rng = np.random.default_rng(0)
    pts = rng.uniform(size=(2000, 3))
    clean = (pts[:, 0] * 4).astype(int)  # four slabs
    bad, name = corrupt(pts, clean, rng, kind)
    assert name == kind and bad.shape == clean.shape
    # the partition differs from the clean one (not just renamed)
    pairs = np.unique(np.stack([clean, bad], 1), axis=0)
    assert len(pairs) != len(np.unique(clean)) or len(np.unique(bad)) != len(np.unique(clean))


@pytest.mark.slow
def test_filter_ranks_corrupted_below_clean_on_held_out_objects():
    filt = QualityFilter(WEIGHTS)
    assert 0.0 < filt.threshold < 1.0
    # seeds 1-3 made the training/validation/test objects; 12345 is new
    x, y, kinds = make_examples(16, seed=12345, n_sub=filt.info.n_sub, per_object=1)
    import torch

    with torch.no_grad():
        p = torch.sigmoid(filt.model(torch.from_numpy(x))).numpy()
    auc = roc_auc_score(y, p)
    assert auc > 0.75, f"held-out AUC {auc:.3f}"
    assert p[y == 1].mean() > p[y == 0].mean()
    assert set(kinds) - {"clean"} <= set(CORRUPTIONS)


def test_filter_score_is_deterministic_and_prefers_true_parts():
    from training.data.build import sample_labeled
    from training.data.parts import flatten, tree_levels
    from training.data.procedural import make_object

    filt = QualityFilter(WEIGHTS)
    flat = flatten(make_object("chair", 4242))
    pts, _, lab = sample_labeled(flat.vertices, flat.faces, flat.face_leaf, tree_levels(flat),
                                 4096, 0)
    s1 = filt.score(pts, lab[0], seed=3)
    assert s1 == filt.score(pts, lab[0], seed=3)
    noisy, _ = corrupt(pts, lab[0], np.random.default_rng(1), "label_noise")
    assert filt.score(pts, noisy, seed=3) < s1
