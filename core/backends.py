"""Inference backends: the same three calls on torch or on ONNX Runtime.

A backend runs the networks on one object at a time, in the model frame:

* ``encode(xyz_norm (N, 3), normals (N, 3) | None) -> features (N, D)`` — once per object
  (``normals`` only reach the network when ``ModelConfig.input_normals`` is set);
* ``condition(features, xyz_norm, anchors, scale) -> Conditioning`` — once per scale
  (``scale=None`` is the no-scale mode); its scale-independent part is cached for the
  last (features, xyz_norm) arrays, so later scales cost less than the first;
* ``decode(conditioning, prompt_idx (B, P), prompt_label (B, P)) -> (probs (B, N), quality (B,))``
  — once per click (or per batch of Segment All prompts).

:func:`load_backend` picks one. ONNX Runtime needs only numpy + onnxruntime (this module
never imports torch at import time); torch is the training/reference backend and runs on
CUDA when available.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .anchors import AnchorGraph
from .checkpoint import CONFIG_FILE, WEIGHTS_FILE, _resolve, load_checkpoint, load_config
from .config import ModelConfig
from .errors import InvalidInputError, InvalidPromptError, ModelFileError
from .normals import check_normals, pca_normals

ENCODER_ONNX = "encoder.onnx"
BASE_ONNX = "decoder_base.onnx"
CONDITION_ONNX = "decoder_condition.onnx"
PROMPT_ONNX = "decoder_prompt.onnx"
ONNX_FILES = (ENCODER_ONNX, BASE_ONNX, CONDITION_ONNX, PROMPT_ONNX)
ONNX_MANIFEST = "onnx.json"


@dataclass(frozen=True)
class Conditioning:
    """Scale-conditioned point features of one object, ready for :meth:`Backend.decode`.

    Attributes:
        cond: (N, C) float32 conditioned features.
        anchors: the anchor graph they were computed with (decode needs it too).
        scale: the scale in [0, 1], or None for the no-scale mode.
    """

    cond: np.ndarray
    anchors: AnchorGraph
    scale: float | None


class Backend(Protocol):
    """What :class:`core.predictor.Segmenter` needs from a model runtime."""

    config: ModelConfig
    metadata: dict[str, Any]
    name: str

    def encode(self, xyz_norm: np.ndarray, normals: np.ndarray | None = None) -> np.ndarray:
        """Features (N, D) float32 of points (N, 3) in the model frame [-1, 1].

        ``normals`` (N, 3): unoriented unit normals of the points (zero = unknown), used
        only when ``config.input_normals`` is set; None there = PCA normals of the points
        (:func:`core.normals.pca_normals`).
        """
        ...

    def condition(
        self, features: np.ndarray, xyz_norm: np.ndarray, anchors: AnchorGraph,
        scale: float | None,
    ) -> Conditioning:
        """Scale-conditioned features; ``scale`` None = no-scale mode."""
        ...

    def decode(
        self, conditioning: Conditioning, prompt_idx: np.ndarray, prompt_label: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mask probabilities (B, N) in [0, 1] and predicted IoU (B,) of B prompt sets.

        ``prompt_idx`` (B, P) int64 point indices; ``prompt_label`` (B, P) float32: 1
        positive, 0 negative, -1 padding (each row needs one real click).
        """
        ...


# ----------------------------------------------------------------------------- checks
def _check_xyz(xyz_norm: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(xyz_norm, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != 3 or len(x) == 0:
        raise InvalidInputError(f"xyz_norm must be a non-empty (N, 3) array, got {x.shape}")
    if not np.isfinite(x).all():
        raise InvalidInputError("xyz_norm contains NaN or inf")
    return x


def _encoder_normals(x: np.ndarray, normals: np.ndarray | None) -> np.ndarray:
    """The (N, 3) float32 normals an ``input_normals`` encoder gets for points ``x``."""
    return pca_normals(x) if normals is None else check_normals(normals, len(x))


def _scale_inputs(scale: float | None) -> tuple[np.ndarray, np.ndarray]:
    if scale is None:
        return np.zeros(1, np.float32), np.zeros(1, np.float32)
    s = float(scale)
    if not 0.0 <= s <= 1.0:
        raise InvalidPromptError(f"scale must be in [0, 1] or None, got {scale!r}")
    return np.array([s], np.float32), np.ones(1, np.float32)


def _check_prompts(
    prompt_idx: np.ndarray, prompt_label: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    idx = np.asarray(prompt_idx, np.int64)
    lab = np.asarray(prompt_label, np.float32)
    if idx.ndim != 2 or idx.shape != lab.shape or idx.shape[1] == 0:
        raise InvalidPromptError(
            f"prompt_idx and prompt_label must both be (B, P) with P >= 1, got "
            f"{idx.shape} and {lab.shape}"
        )
    real = lab >= 0
    if (~real.any(axis=1)).any():
        raise InvalidPromptError("every prompt row needs at least one real (non-padding) click")
    if real.any() and (idx[real].min() < 0 or idx[real].max() >= n):
        raise InvalidPromptError(f"prompt point index out of range [0, {n})")
    return np.where(real, idx, 0), lab


def _anchor_arrays(anchors: AnchorGraph, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if anchors.knn_idx.shape[0] != n:
        raise InvalidInputError(f"anchor graph is for {anchors.knn_idx.shape[0]} points, not {n}")
    return (
        np.ascontiguousarray(anchors.anchor_idx, np.int64)[None],
        np.ascontiguousarray(anchors.knn_idx, np.int64)[None],
        np.ascontiguousarray(anchors.knn_w, np.float32)[None],
    )


class _BaseCache:
    """The scale-independent decoder input X0 of the last (features, xyz) pair.

    Keyed by array identity (the predictor passes the same cached arrays for every scale),
    so a scale change skips the N × D projections. Arrays modified in place after a call
    are not detected: pass new arrays instead.
    """

    def __init__(self) -> None:
        self._key: tuple[np.ndarray, np.ndarray] | None = None
        self._value: Any = None

    def get(self, features: np.ndarray, xyz: np.ndarray, compute: Any) -> Any:
        key = self._key
        if key is None or key[0] is not features or key[1] is not xyz:
            self._value = compute()
            self._key = (features, xyz)  # references keep the ids from being reused
        return self._value


# ----------------------------------------------------------------------------- torch
class TorchBackend:
    """Reference backend on torch (CPU, or CUDA when present); torch imported lazily."""

    name = "torch"

    def __init__(
        self, path: str | Path | None = None, device: str | None = None,
        num_threads: int | None = None,
    ) -> None:
        import torch

        from .checkpoint import build_modules

        ckpt = load_checkpoint(path)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if num_threads is not None:
            torch.set_num_threads(int(num_threads))  # process-wide: torch has no per-model knob
        self.encoder, self.decoder = build_modules(ckpt, self.device)
        self.config = ckpt.config
        self.metadata = dict(ckpt.metadata, backend=self.name)
        self.path = ckpt.path
        self._torch = torch
        self._base = _BaseCache()

    def _t(self, a: np.ndarray) -> Any:
        return self._torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

    def encode(self, xyz_norm: np.ndarray, normals: np.ndarray | None = None) -> np.ndarray:
        x = _check_xyz(xyz_norm)
        with self._torch.inference_mode():
            if self.config.input_normals:
                nrm = self._t(_encoder_normals(x, normals))[None]
                return self.encoder(self._t(x)[None], nrm)[0].float().cpu().numpy()
            return self.encoder(self._t(x)[None])[0].float().cpu().numpy()

    def condition(
        self, features: np.ndarray, xyz_norm: np.ndarray, anchors: AnchorGraph,
        scale: float | None,
    ) -> Conditioning:
        x = _check_xyz(xyz_norm)
        s, has = _scale_inputs(scale)
        a, ki, kw = _anchor_arrays(anchors, len(x))
        f = np.ascontiguousarray(features, np.float32)[None]
        with self._torch.inference_mode():
            x0 = self._base.get(
                features, xyz_norm, lambda: self.decoder.base(self._t(f), self._t(x)[None])
            )
            cond = self.decoder.modulate(
                x0, self._t(a), self._t(ki), self._t(kw), self._t(s), self._t(has)
            )
        return Conditioning(cond[0].float().cpu().numpy(), anchors, scale)

    def decode(
        self, conditioning: Conditioning, prompt_idx: np.ndarray, prompt_label: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        cond = conditioning.cond
        idx, lab = _check_prompts(prompt_idx, prompt_label, len(cond))
        a, ki, kw = _anchor_arrays(conditioning.anchors, len(cond))
        with self._torch.inference_mode():
            logits, quality = self.decoder.decode(
                self._t(cond)[None], self._t(a), self._t(ki), self._t(kw), self._t(idx),
                self._t(lab),
            )
            probs = self._torch.sigmoid(logits)
        return probs.float().cpu().numpy(), quality.float().cpu().numpy()


# ----------------------------------------------------------------------------- onnx
def weights_digest(path: str | Path) -> str:
    """sha256 of a weights file (recorded by the exporter to detect stale ONNX files)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class OnnxBackend:
    """ONNX Runtime backend (CPU); needs numpy + onnxruntime only.

    Args:
        path: weights directory with ``config.json`` and the four ONNX files (None =
            bundled default).
        num_threads: intra-op threads of each session (None = onnxruntime's default).
        allow_spinning: let idle worker threads busy-wait for the next operator. Off by
            default: inside Blender (or on a shared 2-core machine) spinning threads take
            CPU from everything else; measured here under load it saved no wall time and
            cost ~40% more CPU time.
    """

    name = "onnx"

    def __init__(
        self, path: str | Path | None = None, num_threads: int | None = None,
        allow_spinning: bool = False,
    ) -> None:
        import onnxruntime as ort

        d = _resolve(path)
        self.config, meta = load_config(d)
        self.metadata = dict(meta, backend=self.name)
        self.path = d
        manifest = d / ONNX_MANIFEST
        for name in (*ONNX_FILES, ONNX_MANIFEST):
            if not (d / name).is_file():
                raise ModelFileError(
                    f"{d / name}: ONNX model file is missing (run python -m core.export "
                    f"--weights {d} --out {d})"
                )
        try:
            info = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{manifest}: not valid JSON ({exc})") from exc
        weights = d / WEIGHTS_FILE
        if weights.is_file() and info.get("weights_sha256") != weights_digest(weights):
            raise ModelFileError(
                f"{d}: ONNX files are stale: {WEIGHTS_FILE} changed after they were exported; "
                f"run python -m core.export --weights {d} --out {d}"
            )
        exported = info.get("config")
        if not isinstance(exported, dict) or ModelConfig.from_dict(
            exported, str(manifest)
        ) != self.config:  # keys added later with their defaults compare equal
            raise ModelFileError(f"{manifest}: exported with a different config than {CONFIG_FILE}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.inter_op_num_threads = 1
        if num_threads is not None:
            opts.intra_op_num_threads = int(num_threads)
        opts.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if allow_spinning else "0"
        )
        self._base = _BaseCache()
        self.sessions = {}
        for name in ONNX_FILES:
            try:
                self.sessions[name] = ort.InferenceSession(
                    str(d / name), opts, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
                raise ModelFileError(f"{d / name}: cannot load ONNX model: {exc}") from exc

    def encode(self, xyz_norm: np.ndarray, normals: np.ndarray | None = None) -> np.ndarray:
        x = _check_xyz(xyz_norm)
        feed = {"xyz": x[None]}
        if self.config.input_normals:  # the exported encoder then has a second input
            feed["normals"] = _encoder_normals(x, normals)[None]
        (feat,) = self.sessions[ENCODER_ONNX].run(None, feed)
        return feat[0]

    def condition(
        self, features: np.ndarray, xyz_norm: np.ndarray, anchors: AnchorGraph,
        scale: float | None,
    ) -> Conditioning:
        x = _check_xyz(xyz_norm)
        s, has = _scale_inputs(scale)
        a, ki, kw = _anchor_arrays(anchors, len(x))
        base_feed = {"features": np.ascontiguousarray(features, np.float32)[None], "xyz": x[None]}
        x0 = self._base.get(
            features, xyz_norm, lambda: self.sessions[BASE_ONNX].run(None, base_feed)[0]
        )
        feed = {
            "x0": x0, "anchor_idx": a, "knn_idx": ki, "knn_w": kw, "scale": s, "has_scale": has,
        }
        (cond,) = self.sessions[CONDITION_ONNX].run(None, feed)
        return Conditioning(cond[0], anchors, scale)

    def decode(
        self, conditioning: Conditioning, prompt_idx: np.ndarray, prompt_label: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        cond = conditioning.cond
        idx, lab = _check_prompts(prompt_idx, prompt_label, len(cond))
        a, ki, kw = _anchor_arrays(conditioning.anchors, len(cond))
        feed = {
            "cond": np.ascontiguousarray(cond, np.float32)[None], "anchor_idx": a,
            "knn_idx": ki, "knn_w": kw, "prompt_idx": idx, "prompt_label": lab,
        }
        probs, quality = self.sessions[PROMPT_ONNX].run(None, feed)
        return probs, quality


# ----------------------------------------------------------------------------- choice
def torch_available() -> bool:
    """Whether ``import torch`` would succeed (without importing it)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def onnx_files_present(path: str | Path | None = None) -> bool:
    d = _resolve(path)
    return all((d / n).is_file() for n in (*ONNX_FILES, ONNX_MANIFEST))


def load_backend(
    path: str | Path | None = None, backend: str = "auto", num_threads: int | None = None
) -> Backend:
    """Load a weights directory into a backend.

    Args:
        path: weights directory (None = bundled ``core/weights/default``).
        backend: "onnx", "torch", or "auto" = ONNX Runtime when the directory holds the
            exported ONNX files or torch is not importable, torch otherwise.
        num_threads: CPU threads (ONNX: per session; torch: process-wide), None = default.
    """
    if backend == "auto":
        backend = "onnx" if onnx_files_present(path) or not torch_available() else "torch"
    if backend == "onnx":
        return OnnxBackend(path, num_threads=num_threads)
    if backend == "torch":
        if not torch_available():
            raise ModelFileError("backend='torch' requested but torch is not installed")
        return TorchBackend(path, num_threads=num_threads)
    raise ValueError(f"backend must be 'auto', 'onnx' or 'torch', got {backend!r}")
