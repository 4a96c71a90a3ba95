"""Stage 1: train the point-consistent part encoder.

    python -m training.train_encoder --data data_cache/train_v1 --out runs/enc \
        [--minutes 30] [--steps 4000] [--resume] [--distill-weight 0.5 --teacher sam \
         --sam-checkpoint sam_vit_b_01ec64.pth]

Each step draws ``--batch`` objects, augments them (random rotation, anisotropic scale,
jitter, a random subset of N points with N drawn per step), runs :class:`PartEncoder` and
applies the intra-object supervised contrastive loss of S2AM3D on ``--anchors`` random
points per object, averaged over the object's real hierarchy levels (``--levels multi``) or
at one random level (``--levels sample``). An optional 2D distillation term renders the
features into random views and matches a teacher's feature map (see
:mod:`training.distill`). ``--input-normals`` also feeds every point's normal from the
shards (``ModelConfig.input_normals``; turned and scaled with the points, see
:func:`training.common.augment_object`).

The run directory holds ``last.pt`` (full training state; ``--resume`` continues from it),
``best.pt`` (the encoder with the lowest validation loss so far), ``history.jsonl`` and
``history.png`` (loss curves). Every random draw depends only on ``--seed`` and the step,
so a resumed run repeats the batches an uninterrupted run would have drawn.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.config import ModelConfig

from .common import AugmentConfig, draw_n_points
from .loop import (
    LoopConfig,
    StepOutput,
    TrainLoop,
    Validation,
    add_loop_arguments,
    load_run_module,
    loop_kwargs,
    run_main,
    setup_run,
)
from .losses import distillation_loss, multilevel_contrastive_loss, supervised_contrastive_loss
from .parts_data import InMemoryParts, make_batch


@dataclass
class EncoderTrainConfig(LoopConfig):
    """Every setting of a stage-1 run (saved in the checkpoints); the loop's own settings
    (steps, budget, AdamW, checkpoints, seed, device, bf16) are :class:`LoopConfig`'s.

    Attributes:
        data: shard folder (see :mod:`training.data.shards`).
        model: model sizes (:class:`core.config.ModelConfig` fields; decoder fields unused).
        batch: objects per step.
        anchors: points per object entering the contrastive loss (A×A similarities).
        tau: contrastive temperature τ.
        levels: "multi" = mean over every real level; "sample" = one random level per object;
            "finest" = the finest level only (the leaf parts; coarser grouping is left to
            the scale-aware decoder).
        augment: point augmentations.
        distill_weight: weight of the 2D distillation term (0 = off).
        teacher: "random" (a small random CNN, only a stand-in) or "sam".
        sam_checkpoint, sam_type: SAM checkpoint path and model type for ``teacher="sam"``.
        views, view_res: rendered views per object and their resolution for distillation.
        init: start the encoder from these weights (a stage-1 ``.pt``, an
            ``encoder.safetensors`` or a weights folder; see :func:`load_encoder`) with a
            fresh optimiser and the usual warm-up; ignored when ``--resume`` finds
            ``last.pt``. "" = random initialisation.
    """

    out: str = "runs/enc"
    steps: int = 4000
    data: str = "data_cache/train_v1"
    model: dict[str, Any] = field(default_factory=dict)
    batch: int = 4
    anchors: int = 512
    tau: float = 0.07
    levels: str = "multi"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    distill_weight: float = 0.0
    teacher: str = "random"
    sam_checkpoint: str = ""
    sam_type: str = "vit_b"
    views: int = 2
    view_res: int = 64
    init: str = ""


# ----------------------------------------------------------------------------- model


def build_encoder(model_cfg: ModelConfig) -> torch.nn.Module:
    """The stage-1 network: :class:`core.modeling.encoder.PartEncoder` from the config."""
    from core.modeling.encoder import PartEncoder

    return PartEncoder(model_cfg)


def encode(
    encoder: torch.nn.Module, xyz: torch.Tensor, normals: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-point features (B, N, D) of normalised points ``xyz`` (B, N, 3), model frame.

    The one place training gives an encoder its inputs (stage 1, the stage-2 feature
    cache, the overfit scorer): ``normals`` (B, N, 3) (unoriented, zero = unknown; moved
    to ``xyz``'s device) go in exactly when the encoder's config has ``input_normals``,
    which then requires them (load the data with ``InMemoryParts(..., normals=True)``).
    """
    if encoder.config.input_normals:
        if normals is None:
            raise ValueError("the encoder takes normals (input_normals) but none were given")
        return encoder(xyz, normals.to(device=xyz.device, dtype=xyz.dtype))
    return encoder(xyz)


def encode_object(encoder: torch.nn.Module, xyz: np.ndarray, normals: np.ndarray | None,
                  device: torch.device | str = "cpu") -> np.ndarray:
    """:func:`encode` of one object given as numpy arrays: ``xyz`` (N, 3) model frame and
    its ``normals`` (N, 3) or None; returns float32 (N, D) features on the CPU."""
    t_nrm = None if normals is None else torch.from_numpy(normals)[None]
    feats = encode(encoder, torch.from_numpy(xyz)[None].to(device), t_nrm)
    return feats[0].float().cpu().numpy()


def contrastive_batch_loss(
    feats: torch.Tensor,
    labels: torch.Tensor,
    num_levels: torch.Tensor,
    cfg: EncoderTrainConfig,
    rng: np.random.Generator,
) -> torch.Tensor:
    """Mean over the batch of the (multi-level) contrastive loss on random anchors."""
    b, n, _ = feats.shape
    total = feats.sum() * 0.0
    for j in range(b):
        a = rng.choice(n, size=min(cfg.anchors, n), replace=False)
        a_t = torch.from_numpy(a).to(feats.device)
        f = feats[j, a_t]
        lab = labels[j][:, a_t]
        if cfg.levels == "multi":
            total = total + multilevel_contrastive_loss(f, lab, int(num_levels[j]), cfg.tau)
        elif cfg.levels == "finest":
            total = total + supervised_contrastive_loss(f, lab[0], cfg.tau)
        else:
            lev = int(rng.integers(max(1, int(num_levels[j]))))
            total = total + supervised_contrastive_loss(f, lab[lev], cfg.tau)
    return total / b


def distill_batch_loss(
    net: Stage1,
    teacher: torch.nn.Module,
    xyz: torch.Tensor,
    feats: torch.Tensor,
    cfg: EncoderTrainConfig,
    rng: np.random.Generator,
) -> torch.Tensor:
    """Mean over the batch of the 2D distillation term (:mod:`training.distill`): the
    features rendered into ``cfg.views`` random views against the teacher's maps."""
    from .distill import distill_targets, render_features

    parts = []
    for j in range(xyz.shape[0]):
        index, valid, target = distill_targets(teacher, xyz[j], cfg.views, cfg.view_res, rng)
        student = net.head(render_features(feats[j], index))
        parts.append(distillation_loss(student, target.to(xyz.device), valid.to(xyz.device)))
    return torch.stack(parts).mean()


class Stage1(torch.nn.Module):
    """Encoder plus the optional distillation head (trained together)."""

    def __init__(self, model_cfg: ModelConfig, teacher_dim: int | None):
        super().__init__()
        self.encoder = build_encoder(model_cfg)
        self.head = None
        if teacher_dim:
            from .distill import DistillHead

            self.head = DistillHead(model_cfg.feature_dim, teacher_dim)


# ----------------------------------------------------------------------------- training


@torch.no_grad()
def validation_loss(
    net: Stage1, data: InMemoryParts, cfg: EncoderTrainConfig, device: torch.device
) -> float:
    """Mean multi-level contrastive loss on held-out objects (fixed augmentation seed)."""
    ids = data.val_ids[: cfg.val_objects]
    if len(ids) == 0:
        return float("nan")
    net.eval()
    rng = np.random.default_rng([cfg.seed, 10**9])
    n = int(np.mean(cfg.augment.n_points_range))
    losses = []
    for chunk in np.array_split(ids, max(1, len(ids) // max(1, cfg.batch))):
        xyz, nrm, lab, nl = make_batch(data, chunk, n, rng, cfg.augment)
        feats = encode(net.encoder, xyz.to(device), nrm)
        vcfg = replace(cfg, levels="multi")
        losses.append(float(contrastive_batch_loss(feats, lab.to(device), nl, vcfg, rng)))
    net.train()
    return float(np.mean(losses))


def load_encoder(path: str | Path, device: torch.device | str = "cpu"):
    """Encoder module (eval mode), its ModelConfig and the checkpoint dict from a checkpoint file
    or a run folder (``best.pt`` if present, else ``last.pt``), or from safetensors weights
    (an ``encoder.safetensors`` file or its folder, or a product weights folder such as
    ``core/weights/default``; see :mod:`training.encoder_weights`)."""
    from .encoder_weights import is_weights_path, read_encoder_state

    if is_weights_path(path):
        state = read_encoder_state(path, device)
        model_cfg = ModelConfig.from_dict(json.loads(state["model_config"]), str(path))
        enc = build_encoder(model_cfg)
        enc.load_state_dict(state["encoder"])
        return enc.to(device).eval(), model_cfg, state
    return load_run_module(path, "encoder", build_encoder, device)


def train(cfg: EncoderTrainConfig, resume: bool = False) -> Path:
    """Run stage 1 with ``cfg``; returns the run folder."""
    out, device = setup_run(cfg)
    model_cfg = ModelConfig.from_dict(dict(cfg.model), "--model")
    data = InMemoryParts(cfg.data, cfg.val_fraction, normals=model_cfg.input_normals)
    print(
        f"[enc] {len(data)} objects ({len(data.train_ids)} train, {len(data.val_ids)} val), "
        f"{data.points.shape[1]} points each, {data.labels.shape[1]} levels; device {device}, "
        f"{torch.get_num_threads()} threads",
        flush=True,
    )
    teacher = None
    if cfg.distill_weight > 0:
        from .distill import build_teacher

        teacher = build_teacher(cfg.teacher, cfg.sam_checkpoint, cfg.sam_type, cfg.seed).to(device)
    net = Stage1(model_cfg, teacher.out_dim if teacher is not None else None).to(device)
    n_params = sum(p.numel() for p in net.encoder.parameters())
    print(f"[enc] PartEncoder {n_params / 1e6:.3f} M parameters", flush=True)
    loop = TrainLoop(
        cfg,
        tag="enc",
        kind="encoder",
        modules={"encoder": net.encoder, "head": net.head},
        model_cfg=model_cfg,
        device=device,
        maximize=False,
        plot_keys=["loss", "loss_con", "loss_distill"],
    )
    if cfg.init and not (resume and (out / "last.pt").exists()):
        from .train_decoder import ENCODER_FIELDS

        start, init_cfg, init_state = load_encoder(cfg.init, device)
        bad = [k for k in ENCODER_FIELDS if getattr(init_cfg, k) != getattr(model_cfg, k)]
        if bad:
            raise ValueError(f"--init {cfg.init}: encoder sizes differ from this run's: {bad}")
        net.encoder.load_state_dict(start.state_dict())
        print(f"[enc] encoder initialised from {cfg.init} (its step {init_state['step']}); "
              "fresh optimiser", flush=True)
    loop.restore(resume)
    net.train()

    def step_fn(step: int, rng: np.random.Generator) -> StepOutput:
        n = draw_n_points(rng, cfg.augment)
        ids = rng.choice(data.train_ids, size=cfg.batch, replace=len(data.train_ids) < cfg.batch)
        xyz, nrm, lab, nl = make_batch(data, ids, n, rng, cfg.augment)
        xyz, lab = xyz.to(device), lab.to(device)
        feats = encode(net.encoder, xyz, nrm)
        loss_con = contrastive_batch_loss(feats, lab, nl, cfg, rng)
        loss_distill = torch.zeros(())
        if teacher is not None:
            loss_distill = distill_batch_loss(net, teacher, xyz, feats, cfg, rng)
        loss = loss_con if teacher is None else loss_con + cfg.distill_weight * loss_distill
        scalars = {"loss_con": loss_con, "loss_distill": loss_distill, "n_points": n}
        return StepOutput(loss, xyz.shape[0] * xyz.shape[1], scalars)

    def validate() -> Validation:
        val = validation_loss(net, data, cfg, device)
        return Validation(val, {"val_loss": val}, f"val loss {val:.4f}")

    loop.run(step_fn, validate, desc="stage1")
    return out


# ----------------------------------------------------------------------------- CLI


def _model_fields(model_json: str, input_normals: bool) -> dict[str, Any]:
    """ModelConfig overrides of the command line (``--model-json``, ``--input-normals``)."""
    fields = json.loads(model_json) if model_json else {}
    if input_normals:
        fields["input_normals"] = True
    return fields


def parse_args(argv: list[str] | None = None) -> tuple[EncoderTrainConfig, bool]:
    """The run's config and whether to resume, from command-line arguments."""
    d = EncoderTrainConfig()
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_loop_arguments(p, d)
    p.add_argument("--data", default=d.data, help="shard folder")
    p.add_argument("--model-json", default="", help="JSON object of ModelConfig fields to override")
    p.add_argument("--input-normals", action="store_true",
                   help="feed the shards' normals to the encoder (ModelConfig.input_normals: "
                   "sign-invariant n⊗n next to xyz; a deviation from the paper)")
    p.add_argument("--batch", type=int, default=d.batch, help="objects per step")
    p.add_argument("--anchors", type=int, default=d.anchors, help="contrastive anchors per object")
    p.add_argument("--tau", type=float, default=d.tau, help="contrastive temperature")
    p.add_argument("--levels", choices=["multi", "sample", "finest"], default=d.levels)
    p.add_argument(
        "--points",
        type=int,
        nargs=2,
        default=list(d.augment.n_points_range),
        metavar=("MIN", "MAX"),
        help="points per object, drawn per step in [MIN, MAX]",
    )
    p.add_argument("--rotation", choices=["none", "up", "so3"], default=d.augment.rotation)
    p.add_argument("--so3-prob", type=float, default=d.augment.so3_prob)
    p.add_argument("--scale-range", type=float, nargs=2, default=list(d.augment.scale_range))
    p.add_argument("--jitter", type=float, default=d.augment.jitter_sigma)
    p.add_argument(
        "--distill-weight",
        type=float,
        default=d.distill_weight,
        help="weight of the 2D distillation term (0 = off)",
    )
    p.add_argument("--teacher", choices=["random", "sam"], default=d.teacher)
    p.add_argument("--sam-checkpoint", default=d.sam_checkpoint)
    p.add_argument("--sam-type", default=d.sam_type, choices=["vit_b", "vit_l", "vit_h"])
    p.add_argument("--views", type=int, default=d.views)
    p.add_argument("--view-res", type=int, default=d.view_res)
    p.add_argument("--init", default=d.init,
                   help="start from these encoder weights (.pt, .safetensors or a weights "
                   "folder) with a fresh optimiser; ignored when --resume finds last.pt")
    a = p.parse_args(argv)
    aug = AugmentConfig(
        rotation=a.rotation,
        so3_prob=a.so3_prob,
        scale_range=tuple(a.scale_range),
        jitter_sigma=a.jitter,
        n_points_range=(int(a.points[0]), int(a.points[1])),
    )
    cfg = EncoderTrainConfig(
        **loop_kwargs(a),
        data=a.data,
        model=_model_fields(a.model_json, a.input_normals),
        batch=a.batch,
        anchors=a.anchors,
        tau=a.tau,
        levels=a.levels,
        augment=aug,
        distill_weight=a.distill_weight,
        teacher=a.teacher,
        sam_checkpoint=a.sam_checkpoint,
        sam_type=a.sam_type,
        views=a.views,
        view_res=a.view_res,
        init=a.init,
    )
    return cfg, a.resume


def main(argv: list[str] | None = None) -> None:
    run_main("enc", parse_args, train, argv)


if __name__ == "__main__":
    main()
