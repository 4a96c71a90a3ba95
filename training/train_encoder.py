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
:mod:`training.distill`).

The run directory holds ``last.pt`` (full training state; ``--resume`` continues from it),
``best.pt`` (the encoder with the lowest validation loss so far), ``history.jsonl`` and
``history.png`` (loss curves). Every random draw depends only on ``--seed`` and the step,
so a resumed run repeats the batches an uninterrupted run would have drawn.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from core.config import ModelConfig

from .common import (
    AugmentConfig,
    Budget,
    CheckpointTimer,
    History,
    Throughput,
    augment_points,
    draw_n_points,
    format_rate,
    load_training_state,
    resolve_device,
    save_training_state,
    seed_everything,
    set_threads,
)
from .losses import distillation_loss, multilevel_contrastive_loss, supervised_contrastive_loss


@dataclass
class EncoderTrainConfig:
    """Every setting of a stage-1 run (saved in the checkpoints).

    Attributes:
        data: shard folder (see :mod:`training.data.shards`).
        out: run folder.
        model: model sizes (:class:`core.config.ModelConfig` fields; decoder fields unused).
        steps: length of the learning-rate schedule (warm-up then cosine to 10 %) and the
            maximum number of steps.
        minutes: wall-clock budget of this process (≤ 0 = none); the run stops cleanly.
        batch: objects per step.
        anchors: points per object entering the contrastive loss (A×A similarities).
        tau: contrastive temperature τ.
        levels: "multi" = mean over every real level; "sample" = one random level per object;
            "finest" = the finest level only (the leaf parts; coarser grouping is left to
            the scale-aware decoder).
        lr, weight_decay, warmup: AdamW settings; warm-up in steps.
        augment: point augmentations.
        distill_weight: weight of the 2D distillation term (0 = off).
        teacher: "random" (a small random CNN, only a stand-in) or "sam".
        sam_checkpoint, sam_type: SAM checkpoint path and model type for ``teacher="sam"``.
        views, view_res: rendered views per object and their resolution for distillation.
        val_fraction: fraction of objects held out for the validation loss.
        val_objects: at most this many held-out objects are scored at each checkpoint.
        checkpoint_minutes: wall time between checkpoints.
        log_every: steps between logged rows.
        seed: seed of every random draw.
        device: "auto" (cuda when available), "cpu" or "cuda".
        threads: torch intra-op threads (0 = torch's default).
    """

    data: str = "data_cache/train_v1"
    out: str = "runs/enc"
    model: dict[str, Any] = field(default_factory=dict)
    steps: int = 4000
    minutes: float = 0.0
    batch: int = 4
    anchors: int = 512
    tau: float = 0.07
    levels: str = "multi"
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    distill_weight: float = 0.0
    teacher: str = "random"
    sam_checkpoint: str = ""
    sam_type: str = "vit_b"
    views: int = 2
    view_res: int = 64
    val_fraction: float = 0.03
    val_objects: int = 48
    checkpoint_minutes: float = 5.0
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    threads: int = 0


# ----------------------------------------------------------------------------- data


class InMemoryParts:
    """Every object of a shard folder held in memory (points, labels, level counts).

    Args:
        directory: shard folder.
        val_fraction: fraction of objects (every k-th, deterministic) held out.
    """

    def __init__(self, directory: str | Path, val_fraction: float = 0.03):
        from training.data.shards import ShardDataset

        ds = ShardDataset(directory)
        pts, labs, nl, fam = [], [], [], []
        n_levels = None
        for shard in ds.iter_shards():
            lab = shard["labels"]
            if n_levels is None:
                n_levels = lab.shape[1]
            if lab.shape[1] != n_levels:  # pad or trim to a common level count
                reps = [lab] + [lab[:, -1:]] * max(0, n_levels - lab.shape[1])
                lab = np.concatenate(reps, axis=1)[:, :n_levels]
            pts.append(shard["points"].astype(np.float32))
            labs.append(lab.astype(np.int16))
            nl.append(np.minimum(shard["num_levels"].astype(np.int64), n_levels))
            fam.append(shard["family"].astype(str))
        npts = {p.shape[1] for p in pts}
        if len(npts) > 1:  # shards at different N: keep the smallest common count
            n = min(npts)
            pts = [p[:, :n] for p in pts]
            labs = [lab[:, :, :n] for lab in labs]
        self.points = np.concatenate(pts)
        self.labels = np.concatenate(labs)
        self.num_levels = np.concatenate(nl)
        self.family = np.concatenate(fam)
        self.meta = ds.meta
        m = len(self.points)
        stride = max(2, int(round(1.0 / val_fraction))) if val_fraction > 0 else m + 1
        is_val = (np.arange(m) % stride) == stride - 1
        self.train_ids = np.flatnonzero(~is_val)
        self.val_ids = np.flatnonzero(is_val)

    def __len__(self) -> int:
        return len(self.points)


def make_batch(
    data: InMemoryParts,
    ids: np.ndarray,
    n_points: int,
    rng: np.random.Generator,
    aug: AugmentConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented points (B, n, 3), labels (B, L, n) int64 and level counts (B,)."""
    xyz, labels = [], []
    for i in ids:
        x, keep = augment_points(data.points[i], rng, aug, n_points)
        xyz.append(x)
        labels.append(data.labels[i][:, keep].astype(np.int64))
    return (
        torch.from_numpy(np.stack(xyz)),
        torch.from_numpy(np.stack(labels)),
        torch.from_numpy(data.num_levels[ids]),
    )


# ----------------------------------------------------------------------------- model


def build_encoder(model_cfg: ModelConfig) -> torch.nn.Module:
    """The stage-1 network: :class:`core.modeling.encoder.PartEncoder` from the config."""
    from core.modeling.encoder import PartEncoder

    return PartEncoder(model_cfg)


def encode(encoder: torch.nn.Module, xyz: torch.Tensor) -> torch.Tensor:
    """Per-point features (B, N, D) of normalised points (B, N, 3)."""
    return encoder(xyz)


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up then cosine decay to 10 % at ``total`` steps."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * t))


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


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The generator of one step: depends only on (seed, step), so resuming is exact."""
    return np.random.default_rng([seed, step])


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
        xyz, lab, nl = make_batch(data, chunk, n, rng, cfg.augment)
        feats = encode(net.encoder, xyz.to(device))
        vcfg = replace(cfg, levels="multi")
        losses.append(float(contrastive_batch_loss(feats, lab.to(device), nl, vcfg, rng)))
    net.train()
    return float(np.mean(losses))


def save_state(
    path: Path,
    net: Stage1,
    opt,
    step: int,
    cfg: EncoderTrainConfig,
    model_cfg: ModelConfig,
    elapsed: float,
    best_val: float,
) -> None:
    save_training_state(
        path,
        {
            "kind": "encoder",
            "step": step,
            "encoder": net.encoder.state_dict(),
            "head": net.head.state_dict() if net.head is not None else {},
            "optimizer": opt.state_dict(),
            "train_config": json.dumps(asdict(cfg)),
            "model_config": json.dumps(model_cfg.to_dict()),
            "elapsed_s": float(elapsed),
            "best_val": float(best_val),
        },
    )


def load_encoder(path: str | Path, device: torch.device | str = "cpu"):
    """Encoder module (eval mode), its ModelConfig and the checkpoint dict from a stage-1
    checkpoint file, or from a run folder (``best.pt`` if present, else ``last.pt``)."""
    p = Path(path)
    if p.is_dir():
        p = p / "best.pt" if (p / "best.pt").exists() else p / "last.pt"
    state = load_training_state(p, device)
    model_cfg = ModelConfig.from_dict(json.loads(state["model_config"]), str(p))
    enc = build_encoder(model_cfg)
    enc.load_state_dict(state["encoder"])
    return enc.to(device).eval(), model_cfg, state


def train(cfg: EncoderTrainConfig, resume: bool = False) -> Path:
    """Run stage 1 with ``cfg``; returns the run folder."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    model_cfg = ModelConfig.from_dict(dict(cfg.model), "--model")

    data = InMemoryParts(cfg.data, cfg.val_fraction)
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
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    history = History(out)
    start, elapsed_before, best_val = 0, 0.0, float("inf")
    last = out / "last.pt"
    if resume and last.exists():
        state = load_training_state(last, device)
        saved = ModelConfig.from_dict(json.loads(state["model_config"]), str(last))
        if saved != model_cfg:  # fields added since take their defaults (older checkpoints)
            raise ValueError(f"{last} was trained with a different model config")
        net.encoder.load_state_dict(state["encoder"])
        if net.head is not None and state["head"]:
            net.head.load_state_dict(state["head"])
        opt.load_state_dict(state["optimizer"])
        start, elapsed_before = int(state["step"]), float(state["elapsed_s"])
        best_val = float(state["best_val"])
        history.truncate_after(start)
        print(f"[enc] resumed from {last} at step {start}", flush=True)
    elif resume:
        print(f"[enc] --resume: no {last} yet, starting from scratch", flush=True)
    else:
        history.path.unlink(missing_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")

    budget = Budget(cfg.minutes, elapsed_before)
    timer = CheckpointTimer(cfg.checkpoint_minutes)
    meter = Throughput()
    net.train()
    step = start
    bar = tqdm(total=cfg.steps, initial=start, desc="stage1", mininterval=10, file=sys.stdout)

    def checkpoint(step: int) -> None:
        nonlocal best_val
        val = validation_loss(net, data, cfg, device)
        if val < best_val:
            best_val = val
            save_state(
                out / "best.pt", net, opt, step, cfg, model_cfg, budget.total_elapsed, best_val
            )
        save_state(last, net, opt, step, cfg, model_cfg, budget.total_elapsed, best_val)
        history.append({"step": step, "val_loss": val, "time_s": budget.total_elapsed})
        history.plot(keys=["loss", "loss_con", "loss_distill"])
        print(
            f"\n[enc] step {step}: val loss {val:.4f} (best {best_val:.4f}), checkpoint saved",
            flush=True,
        )

    while step < cfg.steps and not budget.exhausted():
        rng = step_rng(cfg.seed, step)
        torch.manual_seed(cfg.seed * 1_000_003 + step)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * lr_factor(step, cfg.steps, cfg.warmup)
        n = draw_n_points(rng, cfg.augment)
        ids = rng.choice(data.train_ids, size=cfg.batch, replace=len(data.train_ids) < cfg.batch)
        xyz, lab, nl = make_batch(data, ids, n, rng, cfg.augment)
        xyz, lab = xyz.to(device), lab.to(device)
        feats = encode(net.encoder, xyz)
        loss_con = contrastive_batch_loss(feats, lab, nl, cfg, rng)
        loss = loss_con
        loss_distill = torch.zeros(())
        if teacher is not None:
            from .distill import distill_targets, render_features

            parts = []
            for j in range(xyz.shape[0]):
                index, valid, target = distill_targets(
                    teacher, xyz[j], cfg.views, cfg.view_res, rng
                )
                student = net.head(render_features(feats[j], index))
                parts.append(distillation_loss(student, target.to(device), valid.to(device)))
            loss_distill = torch.stack(parts).mean()
            loss = loss + cfg.distill_weight * loss_distill
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        meter.update(xyz.shape[0] * xyz.shape[1])
        bar.update(1)
        if step % cfg.log_every == 0 or step == start + 1:
            sps, pps = meter.rates()
            history.append(
                {
                    "step": step,
                    "loss": float(loss.detach()),
                    "loss_con": float(loss_con.detach()),
                    "loss_distill": float(loss_distill.detach()),
                    "lr": opt.param_groups[0]["lr"],
                    "n_points": n,
                    "steps_per_s": sps,
                    "points_per_s": pps,
                    "time_s": budget.total_elapsed,
                }
            )
            bar.set_postfix_str(f"loss {float(loss):.3f} | {format_rate(sps, pps)}")
        if timer.due():
            checkpoint(step)
            meter.reset()
    bar.close()
    checkpoint(step)
    sps, pps = meter.rates()
    print(
        f"[enc] stopped at step {step}/{cfg.steps} after {budget.elapsed / 60:.1f} min "
        f"(total {budget.total_elapsed / 60:.1f} min); last rate {format_rate(sps, pps)}",
        flush=True,
    )
    return out


# ----------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> tuple[EncoderTrainConfig, bool]:
    d = EncoderTrainConfig()
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", default=d.data, help="shard folder")
    p.add_argument("--out", default=d.out, help="run folder")
    p.add_argument("--model-json", default="", help="JSON object of ModelConfig fields to override")
    p.add_argument("--steps", type=int, default=d.steps, help="schedule length / max steps")
    p.add_argument(
        "--minutes",
        "--max-minutes",
        dest="minutes",
        type=float,
        default=d.minutes,
        help="wall-clock budget of this process in minutes (0 = none)",
    )
    p.add_argument("--batch", type=int, default=d.batch, help="objects per step")
    p.add_argument("--anchors", type=int, default=d.anchors, help="contrastive anchors per object")
    p.add_argument("--tau", type=float, default=d.tau, help="contrastive temperature")
    p.add_argument("--levels", choices=["multi", "sample", "finest"], default=d.levels)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup", type=int, default=d.warmup)
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
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--val-objects", type=int, default=d.val_objects)
    p.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes)
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="auto (cuda when available), cpu, cuda")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads (0 = default)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    a = p.parse_args(argv)
    aug = AugmentConfig(
        rotation=a.rotation,
        so3_prob=a.so3_prob,
        scale_range=tuple(a.scale_range),
        jitter_sigma=a.jitter,
        n_points_range=(int(a.points[0]), int(a.points[1])),
    )
    cfg = EncoderTrainConfig(
        data=a.data,
        out=a.out,
        model=json.loads(a.model_json) if a.model_json else {},
        steps=a.steps,
        minutes=a.minutes,
        batch=a.batch,
        anchors=a.anchors,
        tau=a.tau,
        levels=a.levels,
        lr=a.lr,
        weight_decay=a.weight_decay,
        warmup=a.warmup,
        augment=aug,
        distill_weight=a.distill_weight,
        teacher=a.teacher,
        sam_checkpoint=a.sam_checkpoint,
        sam_type=a.sam_type,
        views=a.views,
        view_res=a.view_res,
        val_fraction=a.val_fraction,
        val_objects=a.val_objects,
        checkpoint_minutes=a.checkpoint_minutes,
        log_every=a.log_every,
        seed=a.seed,
        device=a.device,
        threads=a.threads,
    )
    return cfg, a.resume


def main(argv: list[str] | None = None) -> None:
    cfg, resume = parse_args(argv)
    t0 = time.time()
    train(cfg, resume)
    print(f"[enc] done in {(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
