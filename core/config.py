"""Model hyper-parameters in one dataclass (:class:`ModelConfig`).

The defaults are sized for a 2-core laptop CPU (see the README's design section); the
paper's sizes are reachable by setting the fields (e.g. ``feature_dim=448``,
``plane_resolution=512``, ``decoder_dim=384``, ``modulator_layers=2``, ``decoder_layers=4``).
Every size the networks use comes from here; modules never hard-code their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import ModelFileError


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the part encoder and the scale-aware prompt decoder.

    Encoder (:class:`core.modeling.encoder.PartEncoder`):

    Attributes:
        input_freqs: sinusoidal frequencies per axis fed to the point MLP with raw xyz.
        point_dim: width of the per-point MLP branch (channels).
        voxel_resolution: R, cells per axis of the PVCNN voxel grid over [-1, 1]³.
        voxel_channels: channels of the 3D convolutions (24: torch 2.13 runs 16-channel 3D
            convolutions on a slow path, ~2.5x slower to train than 24 here).
        voxel_convs: number of 3×3×3 convolutions on the voxel grid.
        plane_resolution: cells per side of each of the three feature planes (xy, yz, zx).
        plane_channels: channels of the 2D plane convolutions.
        plane_convs: number of 3×3 convolutions per plane before tokenisation.
        token_resolution: tokens per side of each plane for the tri-plane transformer; the
            planes are downsampled by strided convolutions from ``plane_resolution`` to this
            (must divide it by a power of two).
        token_dim: width of the tri-plane transformer.
        token_layers: transformer blocks over the 3 × token_resolution² plane tokens.
        token_heads: attention heads of the tri-plane transformer.
        feature_dim: D, the per-point feature width the encoder outputs.
        input_normals: also feed each point's unoriented unit normal n to the point MLP, as
            the 6 unique entries of n⊗n (nx², ny², nz², nx·ny, ny·nz, nz·nx): the same
            for n and −n, since real meshes are double-sided or inconsistently wound and
            point clouds only have PCA normals (zero normals = unknown, encoded as zeros).
            A deviation from the paper's xyz-only input, off by default; weights saved
            before this field existed load with False. At inference meshes use the normal
            of the face each sample lies on, point clouds PCA normals of their
            :data:`core.normals.PCA_NEIGHBOURS` nearest neighbours (:mod:`core.normals`).

    Decoder (:class:`core.modeling.decoder.ScaleAwareDecoder`):

    Attributes:
        decoder_dim: C, width of the conditioned point features and prompt tokens.
        pos_freqs: sinusoidal frequencies per axis of the 3D positional encoding.
        num_anchors: K, farthest-point anchor tokens the scale modulator attends over.
        knn_k: anchors each point interpolates its update from (inverse-distance weights).
        modulator_layers: L_m, FiLM + transformer blocks over the anchor tokens.
        decoder_layers: L_d, bi-directional cross-attention layers (prompt tokens ↔ points).
        num_heads: attention heads of every decoder attention.
        mlp_ratio: hidden width of transformer MLPs as a multiple of their input width.
        scale_freqs: M, learnable (ω, φ) frequency pairs of the scale embedding.
        scale_dropout: probability (training only) that a sample's scale embedding is
            zeroed, so the no-scale path stays trained.
        film_gate_init: initial value of the learnable FiLM gate α.
        scale_prior: κ, strength in logits of the fixed geometric scale prior added to the
            mask logits when a scale is given (:mod:`core.prior`: the ``round(s·N)`` points
            nearest the positive clicks lean positive, the rest negative); 0 = off. The
            weights must have been trained with the same value.
    """

    # encoder
    input_freqs: int = 4
    point_dim: int = 64
    voxel_resolution: int = 32
    voxel_channels: int = 24
    voxel_convs: int = 2
    plane_resolution: int = 64
    plane_channels: int = 64
    plane_convs: int = 1
    token_resolution: int = 16
    token_dim: int = 128
    token_layers: int = 1
    token_heads: int = 4
    feature_dim: int = 128
    input_normals: bool = False
    # decoder
    decoder_dim: int = 128
    pos_freqs: int = 6
    num_anchors: int = 512
    knn_k: int = 3
    modulator_layers: int = 2
    decoder_layers: int = 2
    num_heads: int = 8
    mlp_ratio: int = 2
    scale_freqs: int = 64
    scale_dropout: float = 0.1
    film_gate_init: float = 0.1
    scale_prior: float = 0.0

    def __post_init__(self) -> None:
        ratio = self.plane_resolution // max(self.token_resolution, 1)
        if (
            self.token_resolution < 1
            or self.plane_resolution % self.token_resolution
            or ratio & (ratio - 1)
        ):
            raise ValueError(
                f"token_resolution {self.token_resolution} must divide plane_resolution "
                f"{self.plane_resolution} by a power of two"
            )
        for name, heads, dim in (
            ("token_dim", self.token_heads, self.token_dim),
            ("decoder_dim", self.num_heads, self.decoder_dim),
        ):
            if dim % heads:
                raise ValueError(f"{name} {dim} is not divisible by its {heads} heads")
        if not 0.0 <= self.scale_dropout < 1.0:
            raise ValueError(f"scale_dropout must be in [0, 1), got {self.scale_dropout}")
        if not 0.0 <= self.scale_prior <= 50.0:
            raise ValueError(f"scale_prior must be in [0, 50], got {self.scale_prior}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> ModelConfig:
        """Build from :meth:`to_dict` output; unknown or ill-typed keys raise ModelFileError.

        Missing keys take their defaults (older files), unknown keys are refused so a
        config written by a different model version is never silently misread.
        """
        if not isinstance(data, dict):
            raise ModelFileError(f"{source}: model config must be a JSON object")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ModelFileError(f"{source}: unknown model config keys {unknown}")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            want = known[key].type
            if want == "bool" and not isinstance(value, bool):
                raise ModelFileError(f"{source}: config key {key!r} must be true or false, got {value!r}")
            if want == "int" and (not isinstance(value, int) or isinstance(value, bool)):
                raise ModelFileError(f"{source}: config key {key!r} must be an int, got {value!r}")
            if want == "float" and not isinstance(value, int | float):
                raise ModelFileError(f"{source}: config key {key!r} must be a number, got {value!r}")
            kwargs[key] = float(value) if want == "float" else value
        try:
            return cls(**kwargs)
        except ValueError as exc:
            raise ModelFileError(f"{source}: invalid model config: {exc}") from exc
