"""Pieces shared by the two trainers: seeding, device, time budget, checkpoints, throughput,
loss curves and point-cloud augmentations.

Checkpoints are plain dicts of tensors / numbers / strings saved with ``torch.save`` and read
back with ``torch.load(weights_only=True)`` (no pickle of arbitrary objects).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.geometry import normalize_points

# ----------------------------------------------------------------------------- setup


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → cuda when available else cpu; otherwise ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was requested but CUDA is not available")
    return dev


def set_threads(n: int | None) -> None:
    """Set torch's intra-op thread count when ``n`` is given (> 0)."""
    if n is not None and n > 0:
        torch.set_num_threads(int(n))


class Budget:
    """Wall-clock budget of a run in minutes (``None`` or ≤ 0 = unlimited).

    ``elapsed_before`` carries time already spent by earlier (resumed) runs so the total
    wall time can be reported; the budget itself applies to this process only.
    """

    def __init__(self, max_minutes: float | None, elapsed_before: float = 0.0):
        self.max_s = None if not max_minutes or max_minutes <= 0 else 60.0 * float(max_minutes)
        self.start = time.monotonic()
        self.elapsed_before = float(elapsed_before)

    @property
    def elapsed(self) -> float:
        """Seconds spent in this process."""
        return time.monotonic() - self.start

    @property
    def total_elapsed(self) -> float:
        """Seconds spent in this process plus earlier resumed runs."""
        return self.elapsed_before + self.elapsed

    def exhausted(self) -> bool:
        return self.max_s is not None and self.elapsed >= self.max_s


class Throughput:
    """Running steps/s and points/s since the last :meth:`reset`."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.t0 = time.monotonic()
        self.steps = 0
        self.points = 0

    def update(self, n_points: int) -> None:
        self.steps += 1
        self.points += int(n_points)

    def rates(self) -> tuple[float, float]:
        dt = max(time.monotonic() - self.t0, 1e-9)
        return self.steps / dt, self.points / dt


# ----------------------------------------------------------------------------- checkpoints


def rng_state() -> dict[str, Any]:
    """Generator states of torch, numpy and python, storable with weights_only torch.load."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "python": json.dumps(random.getstate(), default=list),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, int(state["numpy_pos"]), 0, 0.0))
    py = json.loads(state["python"])
    random.setstate((py[0], tuple(py[1]), py[2]))


def save_training_state(path: Path | str, state: dict[str, Any]) -> None:
    """Atomically write a training checkpoint (``path`` is replaced only when complete)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_training_state(path: Path | str, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_training_state` (``weights_only=True``)."""
    return torch.load(Path(path), map_location=device, weights_only=True)


class CheckpointTimer:
    """True every ``every_minutes`` of wall time (call :meth:`due` once per step)."""

    def __init__(self, every_minutes: float):
        self.every_s = 60.0 * float(every_minutes)
        self.last = time.monotonic()

    def due(self) -> bool:
        if time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            return True
        return False


# ----------------------------------------------------------------------------- logging


class History:
    """Per-step scalar log written as JSON lines, plus a loss-curve PNG."""

    def __init__(self, out_dir: Path | str, name: str = "history"):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.out_dir / f"{name}.jsonl"
        self.png = self.out_dir / f"{name}.png"

    def append(self, row: dict[str, float]) -> None:
        with open(self.path, "a") as fh:
            fh.write(json.dumps(row) + "\n")

    def rows(self) -> list[dict[str, float]]:
        if not self.path.exists():
            return []
        with open(self.path) as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after ``step`` (used on resume, so the log matches the state)."""
        rows = [r for r in self.rows() if r.get("step", 0) <= step]
        with open(self.path, "w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")

    def plot(self, keys: Iterable[str] | None = None, smooth: int = 25) -> Path | None:
        """Write the loss curves (moving average over ``smooth`` logged rows) as PNG."""
        rows = self.rows()
        if not rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        keys = list(keys) if keys else [k for k in rows[0] if k.startswith("loss")]
        fig, ax = plt.subplots(figsize=(7, 4))
        steps = np.array([r["step"] for r in rows])
        for k in keys:
            vals = np.array([r.get(k, np.nan) for r in rows], dtype=np.float64)
            if np.all(np.isnan(vals)):
                continue
            w = max(1, min(smooth, len(vals) // 5 or 1))
            kern = np.ones(w) / w
            sm = np.convolve(np.nan_to_num(vals), kern, mode="valid")
            ax.plot(steps[w - 1 :], sm, label=k)
        ax.set_xlabel("step")
        ax.set_ylabel("loss (moving average)")
        ax.set_title(self.out_dir.name)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(self.png, dpi=100)
        plt.close(fig)
        return self.png


# ----------------------------------------------------------------------------- augmentation


@dataclass
class AugmentConfig:
    """Point-cloud augmentations applied to each training object (before normalisation).

    Attributes:
        rotation: "none", "up" (random rotation about one random axis of the object frame)
            or "so3" (uniformly random rotation).
        so3_prob: with rotation "so3", probability of a full random rotation (else "up").
        scale_range: anisotropic per-axis scale factors drawn uniformly in this range.
        jitter_sigma: std of Gaussian jitter in model units (the object spans [-1, 1]).
        jitter_clip: jitter is clipped to ±this.
        n_points_range: each step draws N uniformly in this range (inclusive) and keeps a
            random subset of N points of every object (point dropout + varying N).
    """

    rotation: str = "so3"
    so3_prob: float = 0.5
    scale_range: tuple[float, float] = (0.8, 1.25)
    jitter_sigma: float = 0.005
    jitter_clip: float = 0.02
    n_points_range: tuple[int, int] = (2048, 2048)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def random_rotation(
    rng: np.random.Generator, mode: str = "so3", so3_prob: float = 1.0
) -> np.ndarray:
    """A random 3×3 rotation matrix (float64); see :class:`AugmentConfig` for ``mode``."""
    if mode == "none":
        return np.eye(3)
    if mode == "so3" and rng.random() < so3_prob:
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, y, z = q
        return np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
    axis = int(rng.integers(3))
    a = rng.uniform(0, 2 * math.pi)
    c, s = math.cos(a), math.sin(a)
    i, j = [k for k in range(3) if k != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def augment_points(
    points: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, n_points: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Augment one object's points and return them normalised to the model frame.

    Args:
        points: (N, 3) points in the object frame.
        rng: numpy generator (the caller seeds it).
        cfg: the augmentation settings.
        n_points: how many points to keep (random subset without replacement, or with
            replacement when N is smaller); None = all.

    Returns:
        ``(xyz, keep)``: float32 (M, 3) normalised points and int64 (M,) indices of the kept
        points into the input (so labels can be gathered with ``labels[..., keep]``).
    """
    xyz, _, keep = augment_object(points, None, rng, cfg, n_points)
    return xyz, keep


def augment_object(
    points: np.ndarray,
    normals: np.ndarray | None,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    n_points: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """:func:`augment_points` that also carries the points' normals through the same
    transform (the random draws do not depend on ``normals``, so both give the same points).

    The rotation R turns the normals with the points; the anisotropic scale S maps a normal
    n to normalize(S⁻¹ n) (the normal of the scaled surface); the normalisation to the model
    frame is a translation plus a uniform scale and jitter moves points only, so neither
    changes them. Zero normals (unknown) stay zero; signs are kept (the encoder ignores them).

    Args:
        points: (N, 3) points in the object frame.
        normals: (N, 3) their unit normals in the same frame, or None.
        rng, cfg, n_points: as in :func:`augment_points`.

    Returns:
        ``(xyz, normals, keep)``: float32 (M, 3) normalised points, float32 (M, 3) unit
        normals (None when ``normals`` is None) and int64 (M,) indices of the kept points.
    """
    n = points.shape[0]
    if n_points is None:
        keep = np.arange(n)
    else:
        keep = rng.choice(n, size=n_points, replace=n_points > n)
    xyz = np.asarray(points, np.float64)[keep]
    xyz = xyz - xyz.mean(axis=0)
    rot = random_rotation(rng, cfg.rotation, cfg.so3_prob)
    xyz = xyz @ rot.T
    lo, hi = cfg.scale_range
    scale = rng.uniform(lo, hi, size=3)
    xyz = xyz * scale
    xyz = normalize_points(xyz).astype(np.float64)
    if cfg.jitter_sigma > 0:
        xyz = xyz + np.clip(
            rng.normal(scale=cfg.jitter_sigma, size=xyz.shape), -cfg.jitter_clip, cfg.jitter_clip
        )
    nrm = None
    if normals is not None:
        nrm = (np.asarray(normals, np.float64)[keep] @ rot.T) / scale
        nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
        nrm = nrm.astype(np.float32)
    return xyz.astype(np.float32), nrm, keep.astype(np.int64)


def draw_n_points(rng: np.random.Generator, cfg: AugmentConfig) -> int:
    """The point count of one step, uniform in ``cfg.n_points_range`` (inclusive)."""
    lo, hi = cfg.n_points_range
    return int(lo) if hi <= lo else int(rng.integers(lo, hi + 1))


def format_rate(steps_s: float, points_s: float) -> str:
    return f"{steps_s:.2f} steps/s, {points_s / 1000:.1f}k points/s"
