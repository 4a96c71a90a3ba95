"""The frozen encoder's features of the training objects, cached once per stage-2 run, and
the batches stage 2 draws from them (:mod:`training.train_decoder`).

The cache lives in ``OUT/cache`` as ``.npy`` files plus ``key.txt``; the key hashes the
encoder weights, the data folder and the view settings, so a changed encoder or setting
rebuilds it. Points are in the model frame ([-1, 1]), features float16.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from core.anchors import prepare_anchors
from core.config import ModelConfig

from .parts_data import InMemoryParts, object_view
from .prompts import PromptConfig, sample_clicks, sample_query
from .train_encoder import encode_object

if TYPE_CHECKING:
    from .train_decoder import DecoderTrainConfig

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
    """Embed the (train + val) objects once with the frozen encoder (with the objects'
    normals, turned with the points, when it takes them: :func:`training.train_encoder.encode`)."""
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
        xyz, nrm, keep = object_view(data, i, rng, cfg.augment, cfg.cache_points)
        feats = encode_object(encoder, xyz, nrm, device)
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


def get_cache(
    cfg: DecoderTrainConfig,
    data: InMemoryParts,
    encoder: torch.nn.Module,
    enc_state: dict,
    model_cfg: ModelConfig,
    device: torch.device,
) -> FeatureCache:
    """The cache of ``OUT/cache`` when its key matches, else a new one built and saved."""
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
    """The decoder inputs of cache rows ``rows`` as float32 / int64 tensors on ``device``."""
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


