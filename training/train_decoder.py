"""Stage 2: train the scale-aware prompt decoder on a frozen encoder.

    python -m training.train_decoder --data data_cache/train_v1 --encoder runs/enc \
        --out runs/dec [--minutes 30] [--steps 3000] [--resume] [--no-scale]

First the frozen encoder embeds every training object once (one augmented view per object:
random rotation, anisotropic scale, jitter, ``--cache-points`` points) and the features,
points, labels and anchor graphs are cached under ``OUT/cache`` (``--decoder-points`` of
the cached points are kept per object; the decoder's cost grows with N). Then each step
draws ``--objects`` objects; for each it samples a query (a level, a part at that level,
scale = the part's point fraction; see :mod:`training.prompts`), runs
``decoder.condition`` once per (object, scale) and ``decoder.decode`` for ``--prompts``
click sets per object (interior-favoured or random positives, sometimes extra positives and
negatives near the part). Loss = dynamic BCE + Dice + quality-head IoU regression.
Scale dropout (``ModelConfig.scale_dropout``) is applied inside the model; ``--no-scale``
trains with the scale always absent (ablation).

The run folder holds ``last.pt`` (``--resume`` continues from it), ``best.pt`` (best mean
validation IoU *without* a scale: the only answer the product asks of the decoder; with a
scale the k-NN growth answers on point clouds and the merge tree on meshes),
``history.jsonl`` and ``history.png``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.config import ModelConfig

from .common import AugmentConfig
from .feature_cache import FeatureCache, get_cache, make_queries, tensors_of
from .loop import (
    LoopConfig,
    StepOutput,
    TrainLoop,
    Validation,
    add_loop_arguments,
    autocast,
    load_run_module,
    loop_kwargs,
    run_main,
    setup_run,
)
from .losses import dice_loss, dynamic_bce_loss, mask_iou, quality_loss
from .parts_data import InMemoryParts
from .prompts import PromptConfig
from .train_encoder import load_encoder


@dataclass
class DecoderTrainConfig(LoopConfig):
    """Every setting of a stage-2 run (saved in the checkpoints); the loop's own settings
    (steps, budget, AdamW, checkpoints, seed, device, bf16) are :class:`LoopConfig`'s.

    Attributes:
        data: shard folder.
        encoder: stage-1 checkpoint (file, or run folder → its best.pt / last.pt).
        decoder_model: ModelConfig decoder-field overrides (encoder fields must not change).
        objects: objects (= conditionings) per step.
        prompts: click sets decoded per conditioning.
        cache_points: points per object fed to the encoder when caching features.
        decoder_points: points per object kept for decoder training (≤ cache_points).
        cache_objects: at most this many objects are cached (0 = all).
        no_scale: train with the scale input always absent (ablation).
        w_bce, w_dice, w_quality: loss weights.
        prompt: query / click sampling.
        augment: augmentation of the cached view (n_points_range is ignored).
    """

    out: str = "runs/dec"
    steps: int = 3000
    lr: float = 5e-4
    data: str = "data_cache/train_v1"
    encoder: str = "runs/enc"
    decoder_model: dict[str, Any] = field(default_factory=dict)
    objects: int = 6
    prompts: int = 2
    cache_points: int = 10000
    decoder_points: int = 4096
    cache_objects: int = 0
    no_scale: bool = False
    w_bce: float = 1.0
    w_dice: float = 1.0
    w_quality: float = 1.0
    prompt: PromptConfig = field(default_factory=PromptConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


ENCODER_FIELDS = (
    "input_freqs point_dim voxel_resolution voxel_channels voxel_convs plane_resolution "
    "plane_channels plane_convs token_resolution token_dim token_layers token_heads feature_dim "
    "input_normals"
).split()


def scale_prior_torch(
    xyz: torch.Tensor,
    idx: torch.Tensor,
    lab: torch.Tensor,
    scales: torch.Tensor,
    has_scale: torch.Tensor,
    strength: float,
) -> torch.Tensor:
    """Torch twin of :func:`core.prior.scale_prior_logits`, one object per row.

    Args:
        xyz: (B, N, 3) normalised points of each row's object.
        idx, lab: (B, P) click indices and labels (1 positive, 0 negative, -1 padding).
        scales: (B,) part scale of each row; has_scale: (B,) 1 where the scale is given.
        strength: κ (``ModelConfig.scale_prior``).

    Returns:
        (B, N) prior logits, zero for rows without scale or without a positive click.
    """
    from core.prior import MIN_RADIUS

    b, n, _ = xyz.shape
    clicked = torch.gather(xyz, 1, idx.clamp(min=0).unsqueeze(-1).expand(b, idx.shape[1], 3))
    dist = torch.cdist(clicked, xyz, compute_mode="donot_use_mm_for_euclid_dist")  # (B, P, N)
    dist = dist.masked_fill((lab <= 0.5).unsqueeze(-1), float("inf"))
    d = dist.min(dim=1).values  # (B, N)
    k = torch.clamp(torch.round(scales * n), 1, n).long() - 1
    r = torch.sort(d, dim=1).values.gather(1, k.unsqueeze(1)).clamp(min=MIN_RADIUS)
    prior = strength * torch.clamp(1.0 - d / r, -1.0, 1.0)
    use = (has_scale > 0.5) & (lab > 0.5).any(dim=1)
    return torch.where(use.unsqueeze(1), prior, torch.zeros_like(prior))


def run_decoder(
    decoder: torch.nn.Module,
    t: dict[str, torch.Tensor],
    scales: torch.Tensor,
    has_scale: torch.Tensor,
    idx: torch.Tensor,
    lab: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """condition once per object, decode every click set (row r uses object r mod G).

    The mask logits include the scale prior (``ModelConfig.scale_prior``, :mod:`core.prior`)
    exactly as :class:`core.Segmenter` adds it at inference.
    """
    cond = decoder.condition(
        t["feats"], t["xyz"], t["anchor_idx"], t["knn_idx"], t["knn_w"], scales, has_scale
    )
    g = cond.shape[0]
    sel = torch.arange(idx.shape[0], device=cond.device) % g
    if g == 1:
        logits, quality = decoder.decode(cond, t["anchor_idx"], t["knn_idx"], t["knn_w"], idx, lab)
    else:
        logits, quality = decoder.decode(
            cond[sel], t["anchor_idx"][sel], t["knn_idx"][sel], t["knn_w"][sel], idx, lab
        )
    strength = float(decoder.config.scale_prior)
    if strength > 0:
        logits = logits + scale_prior_torch(
            t["xyz"][sel], idx, lab, scales[sel], has_scale[sel], strength
        )
    return logits, quality


@torch.no_grad()
def validate(
    decoder: torch.nn.Module,
    cache: FeatureCache,
    val_rows: np.ndarray,
    cfg: DecoderTrainConfig,
    device: torch.device,
) -> dict[str, float]:
    """Mean IoU (threshold 0.5) of one interior click per held-out query, with / without scale;
    with a scale prior also ``val_iou_prior``, the prior alone (the ball the network refines)."""
    if len(val_rows) == 0:
        return {"val_iou_scale": float("nan"), "val_iou_noscale": float("nan")}
    decoder.eval()
    rng = np.random.default_rng([cfg.seed, 99])
    pcfg = PromptConfig(
        **{**asdict(cfg.prompt), "interior_prob": 1.0, "interior_top": 0.0, "multi_prob": 0.0}
    )
    strength = float(decoder.config.scale_prior)
    res: dict[str, list[float]] = {"val_iou_scale": [], "val_iou_noscale": []}
    if strength > 0:
        res["val_iou_prior"] = []  # the scale prior alone (the `ball` baseline): the bar
    for chunk in np.array_split(val_rows, max(1, len(val_rows) // 8)):
        t = tensors_of(cache, chunk, device)
        scales, idx, lab, tgt = (torch.from_numpy(x).to(device)
                                 for x in make_queries(cache, chunk, 1, rng, pcfg))
        tgt_t = tgt > 0.5
        if strength > 0:
            prior = scale_prior_torch(
                t["xyz"], idx, lab, scales, torch.ones(len(chunk), device=device), strength
            )
            res["val_iou_prior"].extend(mask_iou(prior > 0, tgt_t).cpu().tolist())
        for key, has in (("val_iou_scale", 1.0), ("val_iou_noscale", 0.0)):
            logits, _ = run_decoder(
                decoder, t, scales, torch.full((len(chunk),), has, device=device), idx, lab
            )
            res[key].extend(mask_iou(logits > 0, tgt_t).cpu().tolist())
    decoder.train()
    return {k: float(np.mean(v)) for k, v in res.items()}


# ----------------------------------------------------------------------------- training


def build_decoder(model_cfg: ModelConfig) -> torch.nn.Module:
    from core.modeling.decoder import ScaleAwareDecoder

    return ScaleAwareDecoder(model_cfg)


def load_decoder(path: str | Path, device: torch.device | str = "cpu"):
    """Decoder (eval mode), its ModelConfig and the checkpoint dict from a checkpoint file
    or a run folder (``best.pt`` if present, else ``last.pt``)."""
    return load_run_module(path, "decoder", build_decoder, device)


def train(cfg: DecoderTrainConfig, resume: bool = False) -> Path:
    """Run stage 2 with ``cfg``; returns the run folder."""
    out, device = setup_run(cfg)
    encoder, enc_cfg, enc_state = load_encoder(cfg.encoder, device)
    encoder.requires_grad_(False)
    bad = [k for k in cfg.decoder_model if k in ENCODER_FIELDS]
    if bad:
        raise ValueError(f"--decoder-model may not change encoder fields {bad}")
    model_cfg = ModelConfig.from_dict({**enc_cfg.to_dict(), **cfg.decoder_model}, "--decoder-model")

    data = InMemoryParts(cfg.data, cfg.val_fraction, normals=enc_cfg.input_normals)
    with autocast(device, cfg.bf16):
        cache = get_cache(cfg, data, encoder, enc_state, model_cfg, device)
    del encoder
    val_set = set(data.val_ids.tolist())
    is_val = np.array([int(s) in val_set for s in cache.a["source_id"]])
    train_rows, val_rows = np.flatnonzero(~is_val), np.flatnonzero(is_val)[: cfg.val_objects]
    print(
        f"[dec] {len(train_rows)} train / {len(val_rows)} val objects at "
        f"{cache.a['xyz'].shape[1]} points; device {device}, {torch.get_num_threads()} threads",
        flush=True,
    )
    decoder = build_decoder(model_cfg).to(device).train()
    print(
        f"[dec] ScaleAwareDecoder {sum(p.numel() for p in decoder.parameters()) / 1e6:.3f} M "
        f"parameters",
        flush=True,
    )
    loop = TrainLoop(
        cfg,
        tag="dec",
        kind="decoder",
        modules={"decoder": decoder},
        model_cfg=model_cfg,
        device=device,
        maximize=True,
        plot_keys=["loss", "loss_bce", "loss_dice", "loss_quality"],
        show=["train_iou"],
        extra_state={"encoder_checkpoint": str(Path(cfg.encoder))},
    )
    loop.restore(resume)

    def step_fn(step: int, rng: np.random.Generator) -> StepOutput:
        rows = rng.choice(train_rows, size=cfg.objects, replace=len(train_rows) < cfg.objects)
        scales, idx, lab, tgt = make_queries(cache, rows, cfg.prompts, rng, cfg.prompt)
        t = tensors_of(cache, rows, device)
        has = torch.full((len(rows),), 0.0 if cfg.no_scale else 1.0, device=device)
        if model_cfg.scale_prior > 0 and model_cfg.scale_dropout > 0:
            # drop the prior together with the scale so the no-scale path is trained as it
            # runs at inference (no scale → no prior); the model's own dropout stays too
            has = has * (torch.rand(len(rows), device=device) >= model_cfg.scale_dropout)
        logits, quality = run_decoder(
            decoder,
            t,
            torch.from_numpy(scales).to(device),
            has,
            torch.from_numpy(idx).to(device),
            torch.from_numpy(lab).to(device),
        )
        tgt_t = torch.from_numpy(tgt).to(device)
        l_bce = dynamic_bce_loss(logits, tgt_t)
        l_dice = dice_loss(logits, tgt_t)
        l_q = quality_loss(quality, logits, tgt_t)
        loss = cfg.w_bce * l_bce + cfg.w_dice * l_dice + cfg.w_quality * l_q
        with torch.no_grad():
            iou = mask_iou(logits > 0, tgt_t > 0.5).mean()
        scalars = {"loss_bce": l_bce, "loss_dice": l_dice, "loss_quality": l_q, "train_iou": iou}
        return StepOutput(loss, tgt.shape[0] * tgt.shape[1], scalars)

    def validation() -> Validation:
        val = validate(decoder, cache, val_rows, cfg, device)
        # the product asks the decoder only for clicks without a scale (a scale is answered
        # by the k-NN growth / the merge tree), so that IoU picks best.pt
        score = val["val_iou_noscale"]
        prior = f", prior alone {val['val_iou_prior']:.3f}" if "val_iou_prior" in val else ""
        message = (
            f"val IoU scale {val['val_iou_scale']:.3f} no-scale {val['val_iou_noscale']:.3f}"
            f"{prior}"
        )
        return Validation(score, val, message)

    loop.run(step_fn, validation, desc="stage2")
    return out


# ----------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> tuple[DecoderTrainConfig, bool]:
    """The run's config and whether to resume, from command-line arguments."""
    d = DecoderTrainConfig()
    pd = d.prompt
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_loop_arguments(p, d)
    p.add_argument("--data", default=d.data, help="shard folder")
    p.add_argument("--encoder", default=d.encoder, help="stage-1 checkpoint or run folder")
    p.add_argument("--decoder-model-json", default="", help="JSON of decoder ModelConfig overrides")
    p.add_argument("--objects", type=int, default=d.objects, help="conditionings per step")
    p.add_argument("--prompts", type=int, default=d.prompts, help="click sets per conditioning")
    p.add_argument("--cache-points", type=int, default=d.cache_points)
    p.add_argument("--decoder-points", type=int, default=d.decoder_points)
    p.add_argument("--cache-objects", type=int, default=d.cache_objects, help="0 = all")
    p.add_argument("--no-scale", action="store_true", help="never give the scale (ablation)")
    p.add_argument("--w-bce", type=float, default=d.w_bce)
    p.add_argument("--w-dice", type=float, default=d.w_dice)
    p.add_argument("--w-quality", type=float, default=d.w_quality)
    p.add_argument("--min-fraction", type=float, default=pd.min_fraction)
    p.add_argument("--interior-prob", type=float, default=pd.interior_prob)
    p.add_argument("--multi-prob", type=float, default=pd.multi_prob)
    p.add_argument("--rotation", choices=["none", "up", "so3"], default=d.augment.rotation)
    p.add_argument("--so3-prob", type=float, default=d.augment.so3_prob)
    a = p.parse_args(argv)
    cfg = DecoderTrainConfig(
        **loop_kwargs(a),
        data=a.data,
        encoder=a.encoder,
        decoder_model=json.loads(a.decoder_model_json) if a.decoder_model_json else {},
        objects=a.objects,
        prompts=a.prompts,
        cache_points=a.cache_points,
        decoder_points=a.decoder_points,
        cache_objects=a.cache_objects,
        no_scale=a.no_scale,
        w_bce=a.w_bce,
        w_dice=a.w_dice,
        w_quality=a.w_quality,
        prompt=PromptConfig(
            min_fraction=a.min_fraction, interior_prob=a.interior_prob, multi_prob=a.multi_prob
        ),
        augment=AugmentConfig(rotation=a.rotation, so3_prob=a.so3_prob),
    )
    return cfg, a.resume


def main(argv: list[str] | None = None) -> None:
    run_main("dec", parse_args, train, argv)


if __name__ == "__main__":
    main()
