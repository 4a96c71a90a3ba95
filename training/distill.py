"""Optional 2D-prior distillation of stage 1: render point features into random views and
match a 2D teacher's feature map at the same pixels.

* :func:`splat_views` — orthographic point splatting with a z-buffer: for each of V random
  views, every pixel takes the nearest (front-most) point; returns per-pixel point indices.
* :func:`shade_views` — a grey shaded image of the same splats (what the teacher sees).
* Teachers: :class:`RandomCNNTeacher` (a small randomly initialised CNN, fixed by a seed —
  only a stand-in that exercises the code path; it carries no 2D prior) and
  :class:`SamTeacher` (SAM's image encoder from the ``segment-anything`` package, loaded
  from a user-supplied checkpoint with ``torch.load(weights_only=True)``; no SAM weights can
  be downloaded on the machine this project is built on).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import random_rotation


def splat_views(
    xyz: torch.Tensor, n_views: int, res: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render the points of one object into ``n_views`` random orthographic views.

    Args:
        xyz: (N, 3) points in the model frame ([-1, 1]³).
        n_views: number of random views V.
        res: image side in pixels.
        rng: numpy generator choosing the view rotations.

    Returns:
        ``index`` int64 (V, res, res): the point seen at each pixel (0 where empty),
        ``valid`` bool (V, res, res): the pixel sees a point, and
        ``rot`` float32 (V, 3, 3): the view rotations (camera looks along −z of rotated frame).
    """
    n = xyz.shape[0]
    rots = torch.tensor(
        np.stack([random_rotation(rng, "so3") for _ in range(n_views)]), dtype=torch.float32
    )
    p = torch.einsum("vij,nj->vni", rots, xyz.float().cpu())  # (V, N, 3)
    half = 3**0.5  # a rotated [-1,1]³ box fits in a sphere of radius √3
    uv = ((p[..., :2] / half + 1) * 0.5 * res).long().clamp_(0, res - 1)
    pix = uv[..., 1] * res + uv[..., 0]  # (V, N)
    depth = -p[..., 2]  # smaller = closer to the camera
    flat = pix + torch.arange(n_views)[:, None] * res * res
    big = torch.full((n_views * res * res,), float("inf"))
    zmin = big.scatter_reduce(0, flat.reshape(-1), depth.reshape(-1), reduce="amin")
    front = depth.reshape(-1) <= zmin[flat.reshape(-1)]
    ids = torch.arange(n).repeat(n_views)
    cand = torch.where(front, ids, torch.full_like(ids, n))
    best = torch.full((n_views * res * res,), n, dtype=torch.long)
    best = best.scatter_reduce(0, flat.reshape(-1), cand, reduce="amin")
    valid = best < n
    index = torch.where(valid, best, torch.zeros_like(best))
    return index.view(n_views, res, res), valid.view(n_views, res, res), rots


def shade_views(
    xyz: torch.Tensor, index: torch.Tensor, valid: torch.Tensor, rots: torch.Tensor
) -> torch.Tensor:
    """Grey images (V, 3, res, res) in [0, 1] of the splats, white background.

    Shading is Lambertian with normals estimated from the depth map's finite differences
    (a headlight at the camera), so no per-point normals are needed and augmentations that
    deform the points stay consistent with the image.
    """
    v, res, _ = index.shape
    z = torch.einsum("vj,vnj->vn", rots[:, 2], xyz.float().cpu()[None].expand(v, -1, -1))
    depth = torch.gather(-z, 1, index.view(v, -1)).view_as(index)
    depth = torch.where(valid, depth, torch.zeros_like(depth))
    step = 2 * 3**0.5 / res
    du = torch.zeros_like(depth)
    dv = torch.zeros_like(depth)
    du[:, :, 1:-1] = (depth[:, :, 2:] - depth[:, :, :-2]) / (2 * step)
    dv[:, 1:-1, :] = (depth[:, 2:, :] - depth[:, :-2, :]) / (2 * step)
    both_u = valid[:, :, 2:] & valid[:, :, :-2]
    both_v = valid[:, 2:, :] & valid[:, :-2, :]
    du[:, :, 1:-1] = torch.where(both_u, du[:, :, 1:-1], torch.zeros_like(du[:, :, 1:-1]))
    dv[:, 1:-1, :] = torch.where(both_v, dv[:, 1:-1, :], torch.zeros_like(dv[:, 1:-1, :]))
    nz = 1.0 / torch.sqrt(1.0 + du.clamp(-20, 20) ** 2 + dv.clamp(-20, 20) ** 2)
    img = 0.2 + 0.75 * nz
    img = torch.where(valid, img, torch.ones_like(img))
    return img[:, None].expand(-1, 3, -1, -1).contiguous()


def render_features(features: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Per-point features (N, D) → per-pixel features (V, D, res, res) (gather by index)."""
    v, h, w = index.shape
    out = features[index.reshape(-1).to(features.device)]  # (V*h*w, D)
    return out.view(v, h, w, -1).permute(0, 3, 1, 2)


class RandomCNNTeacher(nn.Module):
    """A frozen, randomly initialised 3-layer CNN (stand-in teacher for tests and demos).

    Args:
        out_dim: channels of the feature map (at 1/4 of the input resolution).
        seed: initialisation seed (the same seed gives the same teacher).
    """

    def __init__(self, out_dim: int = 64, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(64, out_dim, 3, padding=1),
        )
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * (0.5 / max(1, p[0].numel()) ** 0.5))
        self.out_dim = out_dim
        self.requires_grad_(False)
        self.eval()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) in [0, 1] → features (B, out_dim, H/4, W/4)."""
        return self.net(images)


class SamTeacher(nn.Module):
    """SAM's image encoder as a frozen teacher (needs ``pip install segment-anything``).

    Args:
        checkpoint: path of an official SAM checkpoint (e.g. ``sam_vit_b_01ec64.pth``);
            read with ``torch.load(weights_only=True)``.
        model_type: "vit_b", "vit_l" or "vit_h" (must match the checkpoint).
    """

    PIXEL_MEAN = (123.675, 116.28, 103.53)
    PIXEL_STD = (58.395, 57.12, 57.375)

    def __init__(self, checkpoint: str | Path, model_type: str = "vit_b"):
        super().__init__()
        try:
            from segment_anything import sam_model_registry
        except ImportError as exc:  # pragma: no cover - depends on the user's install
            raise ImportError(
                "the SAM teacher needs the segment-anything package: "
                "pip install segment-anything==1.0"
            ) from exc
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"SAM checkpoint not found: {path}")
        sam = sam_model_registry[model_type](checkpoint=None)
        sam.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.encoder = sam.image_encoder
        self.img_size = int(self.encoder.img_size)
        self.out_dim = 256
        self.register_buffer("mean", torch.tensor(self.PIXEL_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(self.PIXEL_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) in [0, 1] → SAM embeddings (B, 256, 64, 64)."""
        x = F.interpolate(images * 255.0, size=(self.img_size, self.img_size), mode="bilinear")
        return self.encoder((x - self.mean) / self.std)


def build_teacher(kind: str, checkpoint: str | None = None, sam_type: str = "vit_b", seed: int = 0):
    """``kind`` "random" → :class:`RandomCNNTeacher`; "sam" → :class:`SamTeacher`."""
    if kind == "random":
        return RandomCNNTeacher(seed=seed)
    if kind == "sam":
        if not checkpoint:
            raise ValueError("--teacher sam needs --sam-checkpoint PATH")
        return SamTeacher(checkpoint, sam_type)
    raise ValueError(f"unknown teacher {kind!r} (expected 'random' or 'sam')")


class DistillHead(nn.Module):
    """1×1 projection of rendered point features (D) onto the teacher's channels (C)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_dim, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def distill_targets(
    teacher: nn.Module, xyz: torch.Tensor, n_views: int, res: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Views of one object and the teacher's features resized to the view grid.

    Returns ``index`` (V, res, res), ``valid`` (V, res, res) and ``target`` (V, C, res, res).
    """
    index, valid, rots = splat_views(xyz, n_views, res, rng)
    images = shade_views(xyz, index, valid, rots)
    dev = next(iter(teacher.buffers()), next(iter(teacher.parameters()))).device
    feats = teacher(images.to(dev))
    target = F.interpolate(feats.float(), size=(res, res), mode="bilinear", align_corners=False)
    return index, valid, target
