"""The point-consistent part encoder: PVCNN voxel branch → tri-plane transformer → features.

Pipeline for normalised points xyz (B, N, 3) in [-1, 1]:

1. point branch: MLP on xyz + Fourier features (the PVCNN point skip), plus, when
   ``ModelConfig.input_normals`` is set (our deviation; the paper feeds xyz only), the
   sign-invariant encoding n⊗n of each point's unoriented normal (:func:`normal_features`);
2. voxel branch: scatter-mean of the point features into an R³ grid, 3D convolutions,
   trilinear devoxelisation back to the points; added to the point branch;
3. scatter-mean of those features onto the xy, yz and zx planes; 2D convolutions (shared
   by the three planes); strided convolutions down to ``token_resolution``²;
4. one transformer over the tokens of all three planes in a single sequence (learned
   plane and position embeddings), upsampled back and added to the full-resolution planes;
5. per-point feature = sum of bilinear samples of the three planes at the point's
   projections, concatenated with the point/voxel feature (a skip, our addition: it keeps
   detail finer than a plane cell), MLP → D.

Every scatter is order-independent, so permuting the points permutes the features.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .layers import (
    MLP,
    TransformerBlock,
    conv_block,
    grid_index,
    sample_grid,
    scatter_mean,
    sinusoidal,
    sinusoidal_dim,
)

# (row axis, column axis) of each plane: xy, yz, zx
PLANE_AXES = ((0, 1), (1, 2), (2, 0))


#: width of :func:`normal_features`
NORMAL_FEATURES = 6


def normal_features(normals: torch.Tensor) -> torch.Tensor:
    """Sign-invariant encoding (..., 6) of unoriented normals (..., 3).

    The unique entries of n⊗n for the unit vector n = normals / |normals|: nx², ny², nz²,
    nx·ny, ny·nz, nz·nx. Identical for n and −n (double-sided meshes, inconsistent winding,
    PCA normals); zero vectors (unknown normals) give zeros. Directions are frame-free: the
    model frame is the object frame up to translation and uniform scale.
    """
    n = normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    x, y, z = n[..., 0:1], n[..., 1:2], n[..., 2:3]
    return torch.cat([x * x, y * y, z * z, x * y, y * z, z * x], dim=-1)


class PartEncoder(nn.Module):
    """Per-point part features from normalised xyz, and unoriented normals when
    ``config.input_normals`` is set (see module docstring)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = config
        self.config = config
        in_dim = sinusoidal_dim(c.input_freqs) + (NORMAL_FEATURES if c.input_normals else 0)
        self.point_mlp = MLP([in_dim, c.point_dim, c.point_dim])
        self.to_voxel = nn.Linear(c.point_dim, c.voxel_channels)
        self.voxel_convs = nn.Sequential(
            *[conv_block(c.voxel_channels, c.voxel_channels, 3) for _ in range(c.voxel_convs)]
        )
        self.from_voxel = nn.Linear(c.voxel_channels, c.point_dim)
        self.to_plane = nn.Linear(c.point_dim, c.plane_channels)
        self.plane_convs = nn.Sequential(
            *[conv_block(c.plane_channels, c.plane_channels, 2) for _ in range(c.plane_convs)]
        )
        downs: list[nn.Module] = []
        res, ch = c.plane_resolution, c.plane_channels
        while res > c.token_resolution:
            downs.append(conv_block(ch, c.token_dim, 2, stride=2))
            res, ch = res // 2, c.token_dim
        if not downs:
            downs.append(nn.Conv2d(ch, c.token_dim, 1))
        self.down = nn.Sequential(*downs)
        self.plane_embed = nn.Parameter(torch.zeros(3, 1, c.token_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, c.token_resolution**2, c.token_dim))
        nn.init.normal_(self.plane_embed, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.02)
        self.blocks = nn.Sequential(
            *[TransformerBlock(c.token_dim, c.token_heads, 4) for _ in range(c.token_layers)]
        )
        self.token_norm = nn.LayerNorm(c.token_dim)
        self.up = nn.Conv2d(c.token_dim, c.plane_channels, 1)
        self.upscale = c.plane_resolution // c.token_resolution
        self.plane_out = conv_block(c.plane_channels, c.plane_channels, 2)
        self.head = MLP([c.plane_channels + c.point_dim, c.feature_dim, c.feature_dim])

    def forward(self, xyz: torch.Tensor, normals: torch.Tensor | None = None) -> torch.Tensor:
        """Features (B, N, D) of normalised points ``xyz`` (B, N, 3) in [-1, 1].

        ``normals`` (B, N, 3): unoriented normals of the points (any length, sign ignored,
        zero = unknown); required when ``config.input_normals`` is set, ignored otherwise.
        """
        c = self.config
        b = xyz.shape[0]
        inp = sinusoidal(xyz, c.input_freqs)
        if c.input_normals:
            if normals is None:
                raise ValueError("this encoder was built with input_normals: pass normals")
            inp = torch.cat([inp, normal_features(normals.to(inp.dtype))], dim=-1)
        pt = self.point_mlp(inp)  # (B, N, Cp)

        r = c.voxel_resolution
        cell = grid_index(xyz, r)
        flat = (cell[..., 0] * r + cell[..., 1]) * r + cell[..., 2]
        vox = scatter_mean(self.to_voxel(pt), flat, r**3).reshape(b, -1, r, r, r)
        vox = self.voxel_convs(vox)
        pt = pt + self.from_voxel(sample_grid(vox, xyz))

        p = c.plane_resolution
        cell = grid_index(xyz, p)
        vals = self.to_plane(pt)
        planes = torch.cat(
            [
                scatter_mean(vals, cell[..., i] * p + cell[..., j], p * p).reshape(b, -1, p, p)
                for i, j in PLANE_AXES
            ],
            dim=0,
        )  # (3B, Cpl, P, P), plane-major
        planes = self.plane_convs(planes)

        tok = self.down(planes)  # (3B, T, t, t)
        t = c.token_resolution
        tok = tok.flatten(2).transpose(1, 2) + self.pos_embed  # (3B, t², T)
        tok = tok.reshape(3, b, t * t, c.token_dim) + self.plane_embed.unsqueeze(1)
        tok = tok.transpose(0, 1).reshape(b, 3 * t * t, c.token_dim)  # one sequence per object
        tok = self.token_norm(self.blocks(tok))
        tok = tok.reshape(b, 3, t * t, c.token_dim).transpose(0, 1).reshape(3 * b, t * t, -1)
        tok = tok.transpose(1, 2).reshape(3 * b, c.token_dim, t, t)
        up = self.up(tok)
        if self.upscale > 1:
            up = nn.functional.interpolate(up, scale_factor=float(self.upscale), mode="nearest")
        planes = self.plane_out(planes + up)

        planes = planes.reshape(3, b, *planes.shape[1:])
        tri = sum(
            sample_grid(planes[k], xyz[..., [i, j]]) for k, (i, j) in enumerate(PLANE_AXES)
        )
        return self.head(torch.cat([tri, pt], dim=-1))
