"""Behaviour of the training losses on tiny cases whose answer is known by hand."""

from __future__ import annotations

import math

import numpy as np
import torch

from training.common import AugmentConfig, augment_points
from training.losses import (
    dice_loss,
    dynamic_bce_loss,
    mask_iou,
    multilevel_contrastive_loss,
    positive_weight,
    quality_loss,
    supervised_contrastive_loss,
)


def _clustered(n_per: int = 20, k: int = 4, d: int = 8, noise: float = 0.05, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.nn.functional.normalize(torch.randn(k, d, generator=g), dim=-1)
    labels = torch.arange(k).repeat_interleave(n_per)
    feats = centres[labels] + noise * torch.randn(k * n_per, d, generator=g)
    return feats, labels


def test_contrastive_prefers_features_clustered_by_part():
    feats, labels = _clustered()
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))]
    good = supervised_contrastive_loss(feats, labels, tau=0.1)
    bad = supervised_contrastive_loss(feats, shuffled, tau=0.1)
    assert good < bad - 1.0


def test_contrastive_matches_hand_computation():
    # Two parts, two points each, orthogonal directions: each anchor has one positive
    # (cosine 1) and two negatives (cosine 0), so loss = -log(e^{1/τ} / (e^{1/τ} + 2)).
    feats = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    labels = torch.tensor([0, 0, 1, 1])
    tau = 0.5
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2.0))
    got = supervised_contrastive_loss(feats, labels, tau=tau)
    assert abs(float(got) - expected) < 1e-5


def test_contrastive_without_positives_is_zero_and_differentiable():
    feats = torch.randn(5, 4, requires_grad=True)
    loss = supervised_contrastive_loss(feats, torch.arange(5), tau=0.1)
    loss.backward()
    assert float(loss.detach()) == 0.0


def test_multilevel_loss_is_mean_of_real_levels():
    feats, labels = _clustered(k=4)
    coarse = labels // 2
    stacked = torch.stack([labels, coarse, coarse])
    got = multilevel_contrastive_loss(feats, stacked, num_levels=2, tau=0.1)
    want = 0.5 * (
        supervised_contrastive_loss(feats, labels, 0.1)
        + supervised_contrastive_loss(feats, coarse, 0.1)
    )
    assert torch.allclose(got, want)


def test_dynamic_bce_weight_matches_formula():
    target = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    logits = torch.tensor([[0.3, -0.2, 0.5, 1.0]])
    beta = (1 - 0.25) / (0.25 + 1e-6)
    assert abs(float(positive_weight(target)[0]) - beta) < 1e-4
    p = torch.sigmoid(logits)[0]
    by_hand = (
        -beta * math.log(p[0]) - math.log(1 - p[1]) - math.log(1 - p[2]) - math.log(1 - p[3])
    ) / 4
    assert abs(float(dynamic_bce_loss(logits, target)) - by_hand) < 1e-4


def test_dynamic_bce_balances_a_small_part():
    # Predicting "all background" for a 2 % part must cost about as much as predicting
    # "all foreground" costs on the background: the weighting removes the imbalance.
    target = torch.zeros(1, 100)
    target[0, :2] = 1
    all_bg = dynamic_bce_loss(torch.full((1, 100), -4.0), target)
    all_fg = dynamic_bce_loss(torch.full((1, 100), 4.0), target)
    assert 0.8 < float(all_bg / all_fg) < 1.25


def test_dice_is_zero_for_perfect_and_near_one_for_disjoint():
    target = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    perfect = dice_loss(torch.tensor([[20.0, 20.0, -20.0, -20.0]]), target, smooth=1e-6)
    disjoint = dice_loss(torch.tensor([[-20.0, -20.0, 20.0, 20.0]]), target, smooth=1e-6)
    assert float(perfect) < 1e-4
    assert float(disjoint) > 0.99


def test_quality_loss_targets_the_iou_of_the_prediction():
    target = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    logits = torch.tensor([[5.0, -5.0, 5.0, -5.0]])  # predicted {0, 2}: IoU = 1/3
    assert abs(float(mask_iou(logits > 0, target > 0)[0]) - 1 / 3) < 1e-6
    assert float(quality_loss(torch.tensor([1 / 3]), logits, target)) < 1e-10
    assert abs(float(quality_loss(torch.tensor([1.0]), logits, target)) - (2 / 3) ** 2) < 1e-6


def test_augmentation_normalises_and_keeps_label_alignment():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(500, 3)) * [5.0, 1.0, 0.2] + 10.0
    cfg = AugmentConfig(n_points_range=(300, 300))
    xyz, keep = augment_points(pts, np.random.default_rng(1), cfg, n_points=300)
    assert xyz.shape == (300, 3) and keep.shape == (300,)
    assert len(np.unique(keep)) == 300
    assert np.abs(xyz).max() <= 1.0 + cfg.jitter_clip + 1e-6
    # Same seed → same augmentation.
    xyz2, keep2 = augment_points(pts, np.random.default_rng(1), cfg, n_points=300)
    assert np.array_equal(keep, keep2) and np.allclose(xyz, xyz2)
