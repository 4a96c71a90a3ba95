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
validation IoU with scale), ``history.jsonl`` and ``history.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from core.anchors import prepare_anchors
from core.config import ModelConfig

from .common import (
    AugmentConfig,
    Budget,
    CheckpointTimer,
    History,
    Throughput,
    augment_points,
    format_rate,
    load_training_state,
    resolve_device,
    save_training_state,
    seed_everything,
    set_threads,
)
from .losses import dice_loss, dynamic_bce_loss, mask_iou, quality_loss
from .prompts import PromptConfig, sample_clicks, sample_query
from .train_encoder import InMemoryParts, load_encoder, lr_factor, step_rng


@dataclass
class DecoderTrainConfig:
    """Every setting of a stage-2 run (saved in the checkpoints).

    Attributes:
        data: shard folder.
        encoder: stage-1 checkpoint (file, or run folder → its best.pt / last.pt).
        out: run folder.
        decoder_model: ModelConfig decoder-field overrides (encoder fields must not change).
        steps: schedule length and maximum steps.
        minutes: wall-clock budget of this process (≤ 0 = none).
        objects: objects (= conditionings) per step.
        prompts: click sets decoded per conditioning.
        cache_points: points per object fed to the encoder when caching features.
        decoder_points: points per object kept for decoder training (≤ cache_points).
        cache_objects: at most this many objects are cached (0 = all).
        no_scale: train with the scale input always absent (ablation).
        lr, weight_decay, warmup: AdamW settings.
        w_bce, w_dice, w_quality: loss weights.
        prompt: query / click sampling.
        augment: augmentation of the cached view (n_points_range is ignored).
        val_fraction, val_objects: held-out objects and how many are scored per checkpoint.
        checkpoint_minutes, log_every, seed, device, threads: as in stage 1.
    """

    data: str = "data_cache/train_v1"
    encoder: str = "runs/enc"
    out: str = "runs/dec"
    decoder_model: dict[str, Any] = field(default_factory=dict)
    steps: int = 3000
    minutes: float = 0.0
    objects: int = 6
    prompts: int = 2
    cache_points: int = 10000
    decoder_points: int = 4096
    cache_objects: int = 0
    no_scale: bool = False
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: int = 100
    w_bce: float = 1.0
    w_dice: float = 1.0
    w_quality: float = 1.0
    prompt: PromptConfig = field(default_factory=PromptConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    val_fraction: float = 0.03
    val_objects: int = 48
    checkpoint_minutes: float = 5.0
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    threads: int = 0


ENCODER_FIELDS = (
    "input_freqs point_dim voxel_resolution voxel_channels voxel_convs plane_resolution "
    "plane_channels plane_convs token_resolution token_dim token_layers token_heads feature_dim"
).split()


# ----------------------------------------------------------------------------- cache


class FeatureCache:
    """Frozen-encoder features of every cached object, in memory (saved as .npy files).

    Arrays (M objects, n = decoder_points): ``xyz`` (M, n, 3) float32 normalised points,
    ``feats`` (M, n, D) float16, ``labels`` (M, L, n) int16, ``num_levels`` (M,),
    ``anchor_idx`` (M, K) int64, ``knn_idx`` (M, n, k) int16, ``knn_w`` (M, n, k) float16,
    ``source_id`` (M,) index of the object in the shard folder.
    """

    KEYS = ("xyz", "feats", "labels", "num_levels", "anchor_idx", "knn_idx", "knn_w", "source_id")

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.a = arrays

    def __len__(self) -> int:
        return int(self.a["xyz"].shape[0])

    @classmethod
    def load(cls, folder: Path) -> FeatureCache:
        return cls({k: np.load(folder / f"{k}.npy") for k in cls.KEYS})

    def save(self, folder: Path, key: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for k in self.KEYS:
            np.save(folder / f"{k}.npy", self.a[k])
        (folder / "key.txt").write_text(key)


def cache_key(cfg: DecoderTrainConfig, enc_state: dict) -> str:
    """Identifies a cache: encoder weights + data + view settings."""
    h = hashlib.sha256()
    for name in sorted(enc_state["encoder"]):
        h.update(name.encode())
        h.update(enc_state["encoder"][name].detach().cpu().numpy().tobytes())
    desc = {
        "data": str(Path(cfg.data).resolve()),
        "cache_points": cfg.cache_points,
        "decoder_points": cfg.decoder_points,
        "cache_objects": cfg.cache_objects,
        "augment": asdict(cfg.augment),
        "seed": cfg.seed,
    }
    h.update(json.dumps(desc, sort_keys=True).encode())
    return h.hexdigest()


@torch.no_grad()
def build_cache(
    cfg: DecoderTrainConfig,
    data: InMemoryParts,
    encoder: torch.nn.Module,
    model_cfg: ModelConfig,
    device: torch.device,
) -> FeatureCache:
    """Embed the (train + val) objects once with the frozen encoder."""
    ids = np.arange(len(data))
    if cfg.cache_objects and cfg.cache_objects < len(ids):
        keep = np.random.default_rng([cfg.seed, 7]).choice(
            len(ids), cfg.cache_objects, replace=False
        )
        if len(data.val_ids) and not np.isin(keep, data.val_ids).any():
            # a small cache drew no validation object: swap a few in, or every checkpoint
            # would score nan (larger caches keep their random draw unchanged)
            n_val = min(len(data.val_ids), max(1, cfg.val_objects), max(1, len(keep) // 8))
            keep[:n_val] = np.sort(data.val_ids)[:n_val]
        ids = np.sort(keep)
    n_dec = min(cfg.decoder_points, cfg.cache_points)
    m, lv = len(ids), data.labels.shape[1]
    k = min(model_cfg.knn_k, model_cfg.num_anchors)
    kk = min(model_cfg.num_anchors, n_dec)
    out = {
        "xyz": np.zeros((m, n_dec, 3), np.float32),
        "feats": np.zeros((m, n_dec, model_cfg.feature_dim), np.float16),
        "labels": np.zeros((m, lv, n_dec), np.int16),
        "num_levels": data.num_levels[ids].astype(np.int64),
        "anchor_idx": np.zeros((m, kk), np.int64),
        "knn_idx": np.zeros((m, n_dec, k), np.int16),
        "knn_w": np.zeros((m, n_dec, k), np.float16),
        "source_id": ids.astype(np.int64),
    }
    t0 = time.time()
    for row, i in enumerate(tqdm(ids, desc="cache features", mininterval=10, file=sys.stdout)):
        rng = np.random.default_rng([cfg.seed, 11, int(i)])
        xyz, keep = augment_points(data.points[i], rng, cfg.augment, cfg.cache_points)
        feats = encoder(torch.from_numpy(xyz)[None].to(device))[0].float().cpu().numpy()
        sub = rng.permutation(len(xyz))[:n_dec]
        g = prepare_anchors(xyz[sub], model_cfg.num_anchors, model_cfg.knn_k, seed=int(i))
        out["xyz"][row] = xyz[sub]
        out["feats"][row] = feats[sub].astype(np.float16)
        out["labels"][row] = data.labels[i][:, keep[sub]]
        out["anchor_idx"][row] = g.anchor_idx
        out["knn_idx"][row] = g.knn_idx.astype(np.int16)
        out["knn_w"][row] = g.knn_w.astype(np.float16)
    print(f"[dec] cached {m} objects in {time.time() - t0:.0f} s", flush=True)
    return FeatureCache(out)


def get_cache(cfg, data, encoder, enc_state, model_cfg, device) -> FeatureCache:
    folder = Path(cfg.out) / "cache"
    key = cache_key(cfg, enc_state)
    if (folder / "key.txt").exists() and (folder / "key.txt").read_text() == key:
        print(f"[dec] using cached features in {folder}", flush=True)
        return FeatureCache.load(folder)
    cache = build_cache(cfg, data, encoder, model_cfg, device)
    cache.save(folder, key)
    return cache


# ----------------------------------------------------------------------------- batches


def tensors_of(
    cache: FeatureCache, rows: np.ndarray, device: torch.device
) -> dict[str, torch.Tensor]:
    a = cache.a
    return {
        "feats": torch.from_numpy(a["feats"][rows].astype(np.float32)).to(device),
        "xyz": torch.from_numpy(a["xyz"][rows]).to(device),
        "anchor_idx": torch.from_numpy(a["anchor_idx"][rows]).to(device),
        "knn_idx": torch.from_numpy(a["knn_idx"][rows].astype(np.int64)).to(device),
        "knn_w": torch.from_numpy(a["knn_w"][rows].astype(np.float32)).to(device),
    }


def make_queries(
    cache: FeatureCache,
    rows: np.ndarray,
    n_prompts: int,
    rng: np.random.Generator,
    pcfg: PromptConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per object: scale (G,); per click set (row p·G + g uses object g): clicks (G·P, C),
    labels (G·P, C) and target masks (G·P, n)."""
    g_count = len(rows)
    scales = np.zeros(g_count, np.float32)
    masks = []
    for g, r in enumerate(rows):
        _, _, mask, scale = sample_query(
            cache.a["labels"][r], int(cache.a["num_levels"][r]), rng, pcfg
        )
        scales[g] = scale
        masks.append(mask)
    idx = np.zeros((n_prompts * g_count, pcfg.max_clicks), np.int64)
    lab = np.zeros((n_prompts * g_count, pcfg.max_clicks), np.float32)
    tgt = np.zeros((n_prompts * g_count, masks[0].shape[0]), np.float32)
    for p in range(n_prompts):
        for g, r in enumerate(rows):
            i, lb = sample_clicks(cache.a["xyz"][r], masks[g], rng, pcfg)
            idx[p * g_count + g], lab[p * g_count + g], tgt[p * g_count + g] = i, lb, masks[g]
    return scales, idx, lab, tgt


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


def save_state(path, decoder, opt, step, cfg, model_cfg, enc_path, elapsed, best) -> None:
    save_training_state(
        path,
        {
            "kind": "decoder",
            "step": step,
            "decoder": decoder.state_dict(),
            "optimizer": opt.state_dict(),
            "train_config": json.dumps(asdict(cfg)),
            "model_config": json.dumps(model_cfg.to_dict()),
            "encoder_checkpoint": str(enc_path),
            "elapsed_s": float(elapsed),
            "best_val": float(best),
        },
    )


def load_decoder(path: str | Path, device: torch.device | str = "cpu"):
    """Decoder (eval mode), its ModelConfig and the checkpoint dict from a stage-2 file or
    run folder (``best.pt`` if present, else ``last.pt``)."""
    p = Path(path)
    if p.is_dir():
        p = p / "best.pt" if (p / "best.pt").exists() else p / "last.pt"
    state = load_training_state(p, device)
    model_cfg = ModelConfig.from_dict(json.loads(state["model_config"]), str(p))
    dec = build_decoder(model_cfg)
    dec.load_state_dict(state["decoder"])
    return dec.to(device).eval(), model_cfg, state


def train(cfg: DecoderTrainConfig, resume: bool = False) -> Path:
    """Run stage 2 with ``cfg``; returns the run folder."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    encoder, enc_cfg, enc_state = load_encoder(cfg.encoder, device)
    encoder.requires_grad_(False)
    bad = [k for k in cfg.decoder_model if k in ENCODER_FIELDS]
    if bad:
        raise ValueError(f"--decoder-model may not change encoder fields {bad}")
    model_cfg = ModelConfig.from_dict({**enc_cfg.to_dict(), **cfg.decoder_model}, "--decoder-model")
    enc_path = Path(cfg.encoder)

    data = InMemoryParts(cfg.data, cfg.val_fraction)
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
    opt = torch.optim.AdamW(decoder.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    history = History(out)
    start, elapsed_before, best = 0, 0.0, -1.0
    last = out / "last.pt"
    if resume and last.exists():
        state = load_training_state(last, device)
        saved = ModelConfig.from_dict(json.loads(state["model_config"]), str(last))
        if saved != model_cfg:  # fields added since take their defaults (older checkpoints)
            raise ValueError(f"{last} was trained with a different model config")
        decoder.load_state_dict(state["decoder"])
        opt.load_state_dict(state["optimizer"])
        start, elapsed_before = int(state["step"]), float(state["elapsed_s"])
        best = float(state["best_val"])
        history.truncate_after(start)
        print(f"[dec] resumed from {last} at step {start}", flush=True)
    elif resume:
        print(f"[dec] --resume: no {last} yet, starting from scratch", flush=True)
    else:
        history.path.unlink(missing_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")

    budget = Budget(cfg.minutes, elapsed_before)
    timer = CheckpointTimer(cfg.checkpoint_minutes)
    meter = Throughput()
    step = start
    bar = tqdm(total=cfg.steps, initial=start, desc="stage2", mininterval=10, file=sys.stdout)

    def checkpoint(step: int) -> None:
        nonlocal best
        val = validate(decoder, cache, val_rows, cfg, device)
        score = val["val_iou_noscale" if cfg.no_scale else "val_iou_scale"]
        if score > best:
            best = score
            save_state(
                out / "best.pt",
                decoder,
                opt,
                step,
                cfg,
                model_cfg,
                enc_path,
                budget.total_elapsed,
                best,
            )
        save_state(last, decoder, opt, step, cfg, model_cfg, enc_path, budget.total_elapsed, best)
        history.append({"step": step, **val, "time_s": budget.total_elapsed})
        history.plot(keys=["loss", "loss_bce", "loss_dice", "loss_quality"])
        prior = f", prior alone {val['val_iou_prior']:.3f}" if "val_iou_prior" in val else ""
        print(
            f"\n[dec] step {step}: val IoU scale {val['val_iou_scale']:.3f} no-scale "
            f"{val['val_iou_noscale']:.3f}{prior} (best {best:.3f}), checkpoint saved",
            flush=True,
        )

    while step < cfg.steps and not budget.exhausted():
        rng = step_rng(cfg.seed, step)
        torch.manual_seed(cfg.seed * 1_000_003 + step)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * lr_factor(step, cfg.steps, cfg.warmup)
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
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), 1.0)
        opt.step()
        step += 1
        meter.update(tgt.shape[0] * tgt.shape[1])
        bar.update(1)
        if step % cfg.log_every == 0 or step == start + 1:
            sps, pps = meter.rates()
            with torch.no_grad():
                iou = float(mask_iou(logits > 0, tgt_t > 0.5).mean())
            history.append(
                {
                    "step": step,
                    "loss": float(loss.detach()),
                    "loss_bce": float(l_bce.detach()),
                    "loss_dice": float(l_dice.detach()),
                    "loss_quality": float(l_q.detach()),
                    "train_iou": iou,
                    "lr": opt.param_groups[0]["lr"],
                    "steps_per_s": sps,
                    "points_per_s": pps,
                    "time_s": budget.total_elapsed,
                }
            )
            bar.set_postfix_str(f"loss {float(loss):.3f} iou {iou:.2f} | {format_rate(sps, pps)}")
        if timer.due():
            checkpoint(step)
            meter.reset()
    bar.close()
    checkpoint(step)
    sps, pps = meter.rates()
    print(
        f"[dec] stopped at step {step}/{cfg.steps} after {budget.elapsed / 60:.1f} min "
        f"(total {budget.total_elapsed / 60:.1f} min); last rate {format_rate(sps, pps)}",
        flush=True,
    )
    return out


# ----------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> tuple[DecoderTrainConfig, bool]:
    d = DecoderTrainConfig()
    pd = d.prompt
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", default=d.data, help="shard folder")
    p.add_argument("--encoder", default=d.encoder, help="stage-1 checkpoint or run folder")
    p.add_argument("--out", default=d.out, help="run folder")
    p.add_argument("--decoder-model-json", default="", help="JSON of decoder ModelConfig overrides")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--minutes", "--max-minutes", dest="minutes", type=float, default=d.minutes)
    p.add_argument("--objects", type=int, default=d.objects, help="conditionings per step")
    p.add_argument("--prompts", type=int, default=d.prompts, help="click sets per conditioning")
    p.add_argument("--cache-points", type=int, default=d.cache_points)
    p.add_argument("--decoder-points", type=int, default=d.decoder_points)
    p.add_argument("--cache-objects", type=int, default=d.cache_objects, help="0 = all")
    p.add_argument("--no-scale", action="store_true", help="never give the scale (ablation)")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup", type=int, default=d.warmup)
    p.add_argument("--w-bce", type=float, default=d.w_bce)
    p.add_argument("--w-dice", type=float, default=d.w_dice)
    p.add_argument("--w-quality", type=float, default=d.w_quality)
    p.add_argument("--min-fraction", type=float, default=pd.min_fraction)
    p.add_argument("--interior-prob", type=float, default=pd.interior_prob)
    p.add_argument("--multi-prob", type=float, default=pd.multi_prob)
    p.add_argument("--rotation", choices=["none", "up", "so3"], default=d.augment.rotation)
    p.add_argument("--so3-prob", type=float, default=d.augment.so3_prob)
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--val-objects", type=int, default=d.val_objects)
    p.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes)
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--resume", action="store_true")
    a = p.parse_args(argv)
    cfg = DecoderTrainConfig(
        data=a.data,
        encoder=a.encoder,
        out=a.out,
        decoder_model=json.loads(a.decoder_model_json) if a.decoder_model_json else {},
        steps=a.steps,
        minutes=a.minutes,
        objects=a.objects,
        prompts=a.prompts,
        cache_points=a.cache_points,
        decoder_points=a.decoder_points,
        cache_objects=a.cache_objects,
        no_scale=a.no_scale,
        lr=a.lr,
        weight_decay=a.weight_decay,
        warmup=a.warmup,
        w_bce=a.w_bce,
        w_dice=a.w_dice,
        w_quality=a.w_quality,
        prompt=PromptConfig(
            min_fraction=a.min_fraction, interior_prob=a.interior_prob, multi_prob=a.multi_prob
        ),
        augment=AugmentConfig(rotation=a.rotation, so3_prob=a.so3_prob),
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
    print(f"[dec] done in {(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
