"""Training losses of both stages.

Stage 1 (encoder): :func:`supervised_contrastive_loss` and :func:`multilevel_contrastive_loss`
— the intra-object supervised contrastive loss of S2AM3D (one object per item; positives are
points of the same part; cosine similarity over a temperature τ), plus
:func:`distillation_loss` for the optional 2D-teacher term.

Stage 2 (decoder): :func:`dynamic_bce_loss` (BCE whose positive weight is
β = (1 − π)/(π + ε), π = the positive ratio of each sample), :func:`dice_loss` and
:func:`quality_loss` (the quality head regresses the IoU of the predicted mask).

All functions take torch tensors and return a scalar tensor (mean over the batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_anchor_indices(
    n_points: int, n_anchors: int, generator: torch.Generator | None = None, device=None
) -> torch.Tensor:
    """Indices (A,) of ``min(n_anchors, n_points)`` distinct points drawn uniformly."""
    a = min(int(n_anchors), int(n_points))
    perm = torch.randperm(n_points, generator=generator)
    return perm[:a].to(device) if device is not None else perm[:a]


def supervised_contrastive_loss(
    features: torch.Tensor, labels: torch.Tensor, tau: float = 0.07
) -> torch.Tensor:
    """Supervised contrastive loss (SupCon "out" form) inside one object.

    For every anchor ``i`` with at least one positive,
    ``ℓ_i = −1/|P(i)| Σ_{p∈P(i)} log( exp(s_ip) / Σ_{a≠i} exp(s_ia) )`` with
    ``s_ij = cos(f_i, f_j) / τ`` and ``P(i) = {j ≠ i : y_j = y_i}``; the loss is the mean of
    ``ℓ_i`` over anchors that have positives (0 when none has).

    Args:
        features: (A, D) features of the anchor points of ONE object (any scale; they are
            L2-normalised here).
        labels: (A,) integer part id of each anchor (the same id = the same part).
        tau: temperature τ > 0.
    """
    if features.ndim != 2 or labels.ndim != 1 or features.shape[0] != labels.shape[0]:
        raise ValueError(
            f"features (A, D) and labels (A,) expected, got {tuple(features.shape)} and "
            f"{tuple(labels.shape)}"
        )
    f = F.normalize(features.float(), dim=-1)
    sim = f @ f.t() / tau
    a = sim.shape[0]
    eye = torch.eye(a, dtype=torch.bool, device=sim.device)
    sim = sim.masked_fill(eye, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~eye
    n_pos = pos.sum(dim=1)
    valid = n_pos > 0
    if not bool(valid.any()):
        return features.sum() * 0.0
    # log_prob is -inf on the diagonal only, which pos excludes.
    pos_log = torch.where(pos, log_prob, torch.zeros_like(log_prob)).sum(dim=1)
    per_anchor = -pos_log[valid] / n_pos[valid]
    return per_anchor.mean()


def multilevel_contrastive_loss(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_levels: torch.Tensor | int,
    tau: float = 0.07,
    level_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Contrastive loss summed over several hierarchy levels of one object.

    Args:
        features: (A, D) anchor features of one object.
        labels: (L, A) part id of each anchor at each level (level 0 = finest).
        num_levels: how many of the L levels are real (the rest repeat the coarsest).
        tau: temperature.
        level_weights: optional (L,) weights; default = uniform over the real levels.

    Returns the weighted mean of :func:`supervised_contrastive_loss` over the real levels.
    """
    n = int(num_levels)
    n = max(1, min(n, labels.shape[0]))
    if level_weights is None:
        w = torch.full((n,), 1.0 / n)
    else:
        w = level_weights[:n].float()
        w = w / w.sum().clamp_min(1e-12)
    total = features.sum() * 0.0
    for lev in range(n):
        total = total + float(w[lev]) * supervised_contrastive_loss(features, labels[lev], tau)
    return total


def positive_weight(target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """β = (1 − π)/(π + ε) per sample, π = the positive ratio of each row of ``target`` (B, N)."""
    pi = target.float().mean(dim=-1)
    return (1.0 - pi) / (pi + eps)


def dynamic_bce_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Dynamically weighted BCE of S2AM3D.

    ``loss_b = mean_n[ −β_b·y log σ(x) − (1 − y) log(1 − σ(x)) ]`` with
    ``β_b = (1 − π_b)/(π_b + ε)`` (see :func:`positive_weight`); returns the mean over b.

    Args:
        logits: (B, N) mask logits (before the sigmoid).
        target: (B, N) {0, 1} ground-truth masks.
    """
    target = target.float()
    beta = positive_weight(target, eps).detach()
    per_point = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")
    weight = torch.where(target > 0.5, beta[:, None].expand_as(target), torch.ones_like(target))
    return (weight * per_point).mean(dim=-1).mean()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft Dice loss ``1 − (2Σpy + s)/(Σp + Σy + s)`` per sample (B, N), mean over B."""
    p = torch.sigmoid(logits.float())
    t = target.float()
    inter = (p * t).sum(-1)
    return (1.0 - (2.0 * inter + smooth) / (p.sum(-1) + t.sum(-1) + smooth)).mean()


def mask_iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU (B,) of boolean masks (B, N); 1 when both are empty."""
    pred, target = pred.bool(), target.bool()
    inter = (pred & target).sum(-1).float()
    union = (pred | target).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


def quality_loss(
    quality: torch.Tensor, logits: torch.Tensor, target: torch.Tensor, threshold: float = 0.5
) -> torch.Tensor:
    """MSE between the predicted quality (B,) and the IoU of the thresholded mask with the target.

    The IoU target is computed from ``sigmoid(logits) > threshold`` and detached, so this
    term trains the quality head only.
    """
    with torch.no_grad():
        iou = mask_iou(torch.sigmoid(logits.float()) > threshold, target > 0.5)
    return F.mse_loss(quality.float().reshape(-1), iou.reshape(-1))


def distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """1 − cosine similarity between student and teacher features at valid pixels.

    Args:
        student: (B, C, H, W) features rendered from the 3D points (after a projection head).
        teacher: (B, C, H, W) teacher feature map resized to the same grid.
        valid: (B, H, W) bool, pixels covered by at least one point.
    """
    cos = F.cosine_similarity(student.float(), teacher.float().detach(), dim=1)
    v = valid.float()
    return ((1.0 - cos) * v).sum() / v.sum().clamp_min(1.0)
