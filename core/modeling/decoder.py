"""The scale-aware prompt decoder, split into a scale stage and a prompt stage.

:meth:`ScaleAwareDecoder.condition` (once per mesh and scale) turns encoder features into
scale-conditioned point features ``cond``; :meth:`ScaleAwareDecoder.decode` (once per click)
turns ``cond`` and a set of prompt points into a mask and a predicted IoU. A scale change
re-runs ``condition`` + ``decode``; a new click re-runs ``decode`` only.

Deviations from the paper, all for CPU cost (full self-attention over N = 10k points took
~29 s for 32 prompts on 2 cores in a prototype):

* The L_m FiLM + transformer blocks run over K farthest-point **anchor** tokens only; each
  point receives the anchors' accumulated update by inverse-distance interpolation from
  its k nearest anchors (precomputed, :mod:`core.anchors`), plus its own residual, and one
  last point-wise FiLM so every point sees the scale directly.
* The prompt stage follows segment-anything's two-way transformer, but its point side is
  the K anchors, not all N points: learned IoU and mask output tokens plus one token per
  click (the conditioned feature at the clicked point + a learned positive / negative
  embedding; padding is masked out of every attention). Each layer: token self-attention,
  tokens → anchors, token MLP, anchors → tokens (pre-norm residual on the anchors). A final
  tokens → anchors attention, then SAM's hypernetwork product: w = MLP(mask token) and
  logit_i = cond_i · w + Σ_j knn_w_ij (Δa_j · w), where Δa_j is anchor j's accumulated
  update; i.e. the anchors' prompt-dependent refinement reaches every point through the
  same inverse-distance interpolation as in the scale stage. The mask token aggregates
  all clicks. IoU head = MLP(IoU token) → sigmoid. Per click this costs one pass over
  the N × C conditioning instead of several (measured here: element-wise passes over
  10k × 128 floats cost ~1 ms each on this CPU), which is what keeps Segment All's
  batched decoding within budget.
* The attentions between tokens and anchors are computed in "folded" form: projecting
  the anchors (K·C² work per prompt set) is replaced by projecting the few token vectors
  through the same weight matrices (K·C·heads·tokens work). The result is the usual
  multi-head attention with the same parameters, and the first layer's anchors are
  shared (not copied) across a batch of prompt sets.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import ModelConfig
from .layers import (
    MLP,
    Attention,
    TransformerBlock,
    batched_gather,
    gather_rows,
    sinusoidal,
    sinusoidal_dim,
)

NEG = -1.0e9  # additive attention bias of padding keys


class ScaleEmbedding(nn.Module):
    """e(s) = Linear([sin(2π ω_k s + φ_k), cos(2π ω_k s + φ_k)]) with learnable ω, φ."""

    def __init__(self, num_freqs: int, dim: int) -> None:
        super().__init__()
        self.omega = nn.Parameter(torch.logspace(-1.0, 5.0, num_freqs, base=2.0))
        self.phi = nn.Parameter(torch.zeros(num_freqs))
        self.proj = nn.Linear(2 * num_freqs, dim)

    def forward(self, scale: torch.Tensor) -> torch.Tensor:
        """(B,) scale in [0, 1] → (B, dim)."""
        ang = 2.0 * math.pi * scale.unsqueeze(-1) * self.omega + self.phi
        return self.proj(torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1))


class FiLM(nn.Module):
    """X ← X ⊙ (1 + α·γ(e)) + α·β(e); projection zero-initialised and bias-free.

    Without bias a zero embedding (no scale) gives γ = β = 0, so FiLM is exactly the
    identity on the no-scale path.
    """

    def __init__(self, embed_dim: int, dim: int, gate_init: float) -> None:
        super().__init__()
        self.proj = nn.Linear(embed_dim, 2 * dim, bias=False)
        nn.init.zeros_(self.proj.weight)
        self.alpha = nn.Parameter(torch.tensor(float(gate_init)))

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(e).unsqueeze(1).chunk(2, dim=-1)  # (B, 1, C) each
        return x * (1.0 + self.alpha * gamma) + self.alpha * beta


def _split_weight(linear: nn.Linear, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight (H, d, C) and bias (H, d) of a C → H·d projection, per head."""
    out_dim, in_dim = linear.weight.shape
    return linear.weight.reshape(heads, out_dim // heads, in_dim), linear.bias.reshape(heads, -1)


class TokensToPoints(nn.Module):
    """Few query tokens attend over all N points (folded multi-head attention)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attn = Attention(dim, heads)

    def forward(self, tokens: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """tokens (B, T, C), points (B or 1, N, C) → update of the tokens (B, T, C)."""
        a = self.attn
        h, d = a.heads, a.head_dim
        b, t, c = tokens.shape
        q = a._split(a.q(tokens)) * (1.0 / math.sqrt(d))  # (B, H, T, d)
        wk, _ = _split_weight(a.k, h)  # the key bias shifts each row by a constant: no effect
        g = torch.einsum("bhtd,hdc->bhtc", q, wk).reshape(b, h * t, c)
        scores = torch.matmul(g, points.transpose(1, 2))  # (B, H·T, N)
        pooled = torch.matmul(torch.softmax(scores, dim=-1), points).reshape(b, h, t, c)
        wv, bv = _split_weight(a.v, h)
        vals = torch.einsum("bhtc,hdc->bhtd", pooled, wv) + bv.unsqueeze(1)  # weights sum to 1
        return a.out(vals.transpose(1, 2).reshape(b, t, h * d))


class PointsToTokens(nn.Module):
    """Every point attends over the few tokens (folded multi-head attention)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attn = Attention(dim, heads)

    def forward(
        self, points: torch.Tensor, tokens: torch.Tensor, key_bias: torch.Tensor
    ) -> torch.Tensor:
        """points (B or 1, N, C), tokens (B, T, C), key_bias (B, T) → point update (B, N, C)."""
        a = self.attn
        h, d = a.heads, a.head_dim
        b, t, c = tokens.shape
        k = a._split(a.k(tokens)) * (1.0 / math.sqrt(d))  # (B, H, T, d)
        v = a._split(a.v(tokens))
        wq, bq = _split_weight(a.q, h)
        m = torch.einsum("hdc,bhtd->bhtc", wq, k).reshape(b, h * t, c)
        bias = torch.einsum("hd,bhtd->bht", bq, k) + key_bias.unsqueeze(1)  # (B, H, T)
        scores = torch.matmul(points, m.transpose(1, 2)) + bias.reshape(b, 1, h * t)
        n = scores.shape[1]
        attn = torch.softmax(scores.reshape(b, n, h, t), dim=-1).reshape(b, n, h * t)
        wo = a.out.weight.reshape(c, h, d)
        u = torch.einsum("chd,bhtd->bhtc", wo, v).reshape(b, h * t, c)
        return torch.matmul(attn, u) + a.out.bias


class TwoWayLayer(nn.Module):
    """One bi-directional layer: token self-attn, tokens→anchors, token MLP, anchors→tokens."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.norm0 = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.t2p = TokensToPoints(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP([dim, dim * mlp_ratio, dim])
        self.norm3 = nn.LayerNorm(dim)
        self.p2t = PointsToTokens(dim, heads)
        self.norm4 = nn.LayerNorm(dim)

    def forward(
        self, tokens: torch.Tensor, anchors: torch.Tensor, key_bias: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, T, C), anchors (B or 1, K, C), key_bias (B, T) → updated both."""
        tokens = self.norm1(tokens + self.self_attn(tokens, tokens, key_bias[:, None, None, :]))
        tokens = self.norm2(tokens + self.t2p(tokens, self.norm0(anchors)))
        tokens = self.norm3(tokens + self.mlp(tokens))
        anchors = anchors + self.p2t(self.norm4(anchors), tokens, key_bias)
        return tokens, anchors


class ScaleAwareDecoder(nn.Module):
    """Scale-conditioned, multi-click prompt decoder (see module docstring)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.config = config
        dim = c.decoder_dim
        self.feat_proj = nn.Linear(c.feature_dim, dim)
        self.pos_proj = nn.Linear(sinusoidal_dim(c.pos_freqs), dim)
        self.scale_embed = ScaleEmbedding(c.scale_freqs, dim)
        self.films = nn.ModuleList(
            [FiLM(dim, dim, c.film_gate_init) for _ in range(c.modulator_layers)]
        )
        self.blocks = nn.ModuleList(
            [TransformerBlock(dim, c.num_heads, c.mlp_ratio) for _ in range(c.modulator_layers)]
        )
        self.point_film = FiLM(dim, dim, c.film_gate_init)
        self.cond_norm = nn.LayerNorm(dim)

        self.output_tokens = nn.Parameter(torch.randn(2, dim) * 0.02)  # IoU, mask
        self.label_embed = nn.Parameter(torch.randn(2, dim) * 0.02)  # negative, positive
        self.layers = nn.ModuleList(
            [TwoWayLayer(dim, c.num_heads, c.mlp_ratio) for _ in range(c.decoder_layers)]
        )
        self.final_t2p = TokensToPoints(dim, c.num_heads)
        self.anchor_norm = nn.LayerNorm(dim)
        self.final_norm = nn.LayerNorm(dim)
        self.hyper = MLP([dim, dim, dim])
        if c.scale_prior > 0:
            # residual start: with a scale prior the untrained network adds exactly zero to
            # it (the mask starts as the prior's ball) and learns only the correction
            last = self.hyper.net[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.iou_head = MLP([dim, dim, 1])

    def condition(
        self,
        features: torch.Tensor,
        xyz: torch.Tensor,
        anchor_idx: torch.Tensor,
        knn_idx: torch.Tensor,
        knn_w: torch.Tensor,
        scale: torch.Tensor,
        has_scale: torch.Tensor,
    ) -> torch.Tensor:
        """Scale-conditioned point features.

        Args:
            features: (B, N, D) encoder features.
            xyz: (B, N, 3) normalised points in [-1, 1].
            anchor_idx: (B, K) int64 indices of the anchor points.
            knn_idx: (B, N, k) int64 indices *into the anchors* (0..K-1) of each point's
                nearest anchors.
            knn_w: (B, N, k) interpolation weights (rows sum to 1).
            scale: (B,) part scale in [0, 1] (fraction of the object's points).
            has_scale: (B,) 1.0 where ``scale`` is given, 0.0 for the no-scale mode (the
                value of ``scale`` is then ignored exactly).

        Returns:
            cond (B, N, C).
        """
        return self.modulate(self.base(features, xyz), anchor_idx, knn_idx, knn_w, scale, has_scale)

    def base(self, features: torch.Tensor, xyz: torch.Tensor) -> torch.Tensor:
        """X0 = Linear(F) + projected 3D sinusoidal encoding (B, N, C); scale-independent.

        Split from :meth:`modulate` so a scale change can reuse it (it is ~30% of the
        conditioning cost at N = 10k).
        """
        return self.feat_proj(features) + self.pos_proj(sinusoidal(xyz, self.config.pos_freqs))

    def modulate(
        self,
        x0: torch.Tensor,
        anchor_idx: torch.Tensor,
        knn_idx: torch.Tensor,
        knn_w: torch.Tensor,
        scale: torch.Tensor,
        has_scale: torch.Tensor,
    ) -> torch.Tensor:
        """The scale-dependent part of :meth:`condition`, from X0 = :meth:`base` output."""
        c = self.config
        keep = has_scale
        if self.training and c.scale_dropout > 0:
            keep = keep * (torch.rand_like(keep) >= c.scale_dropout).to(keep.dtype)
        e = self.scale_embed(scale * keep) * keep.unsqueeze(-1)
        anchors0 = batched_gather(x0, anchor_idx)  # (B, K, C)
        a = anchors0
        for film, block in zip(self.films, self.blocks):
            a = block(film(a, e))
        x = x0 + gather_rows(a - anchors0, knn_idx, knn_w)
        return self.cond_norm(self.point_film(x, e))

    def decode(
        self,
        cond: torch.Tensor,
        anchor_idx: torch.Tensor,
        knn_idx: torch.Tensor,
        knn_w: torch.Tensor,
        prompt_idx: torch.Tensor,
        prompt_label: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask logits and predicted IoU for B prompt sets.

        Args:
            cond: (Bc, N, C) from :meth:`condition`, with Bc = B, or Bc = 1 shared by all B
                prompt sets (Segment All decodes many prompts over one conditioning).
            anchor_idx, knn_idx, knn_w: (Bc, K), (Bc, N, k), (Bc, N, k): the anchor graph
                that was given to :meth:`condition`.
            prompt_idx: (B, P) int64 point indices of the clicks (any value for padding).
            prompt_label: (B, P) 1.0 positive click, 0.0 negative click, -1.0 padding.
                Every row needs at least one real click for a meaningful mask.

        Returns:
            logits (B, N) of the mask (sigmoid → probability) and quality (B,) in [0, 1],
            the predicted IoU of the mask thresholded at probability 0.5.
        """
        b, p = prompt_idx.shape
        bc, n, dim = cond.shape
        rows = torch.remainder(torch.arange(b, device=cond.device), bc) * n  # 0 when shared
        flat = (prompt_idx.clamp(min=0) + rows.unsqueeze(1)).reshape(-1)
        prompt = cond.reshape(bc * n, dim).index_select(0, flat).reshape(b, p, dim)
        valid = (prompt_label >= 0).to(cond.dtype)
        positive = (prompt_label > 0.5).to(cond.dtype).unsqueeze(-1)
        prompt = prompt + positive * self.label_embed[1] + (1.0 - positive) * self.label_embed[0]
        tokens = torch.cat([self.output_tokens.unsqueeze(0).expand(b, 2, dim), prompt], dim=1)
        key_bias = torch.cat([valid.new_zeros(b, 2), (1.0 - valid) * NEG], dim=1)  # (B, T)

        anchors0 = batched_gather(cond, anchor_idx)  # (Bc, K, C)
        anchors = anchors0
        for layer in self.layers:
            tokens, anchors = layer(tokens, anchors, key_bias)
        tokens = self.final_norm(tokens + self.final_t2p(tokens, self.anchor_norm(anchors)))

        weight = self.hyper(tokens[:, 1])  # (B, C)
        logits = torch.matmul(cond, weight.unsqueeze(-1)).squeeze(-1)  # (B, N)
        delta = ((anchors - anchors0) * weight.unsqueeze(1)).sum(-1)  # (B, K)
        k = knn_idx.shape[-1]
        near = torch.gather(delta, 1, knn_idx.reshape(bc, n * k).expand(b, n * k))
        logits = logits + (near * knn_w.reshape(bc, n * k)).reshape(b, n, k).sum(-1)
        quality = torch.sigmoid(self.iou_head(tokens[:, 0]).squeeze(-1))
        return logits, quality
