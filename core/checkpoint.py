"""Model files: ``model.safetensors`` (weights) + ``config.json`` (sizes and metadata).

Reading needs only numpy and safetensors (never pickle, never torch); building torch
modules from a checkpoint is :func:`build_modules`. Layout of a weights directory::

    model.safetensors    tensors named "encoder.<param>" and "decoder.<param>"
    config.json          {"format": 1, "config": {ModelConfig fields},
                          "metadata": {"trained": bool, "created": ISO time, "notes": str, ...}}
    encoder.onnx, decoder_base.onnx, decoder_condition.onnx, decoder_prompt.onnx, onnx.json
                         (written by core.export)

Every problem with these files raises :class:`core.errors.ModelFileError` naming the file.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import ModelConfig
from .errors import ModelFileError

if TYPE_CHECKING:  # pragma: no cover
    import torch

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "default"


@dataclass
class Checkpoint:
    """A loaded weights directory.

    Attributes:
        path: the directory.
        config: model sizes.
        metadata: free-form dict; always has "trained" (bool), "created", "notes".
        encoder_state / decoder_state: parameter name → float32 numpy array.
    """

    path: Path
    config: ModelConfig
    metadata: dict[str, Any]
    encoder_state: dict[str, np.ndarray]
    decoder_state: dict[str, np.ndarray]


def _resolve(path: str | Path | None) -> Path:
    return DEFAULT_WEIGHTS if path is None else Path(path)


def save_checkpoint(
    path: str | Path,
    encoder: torch.nn.Module,
    decoder: torch.nn.Module,
    config: ModelConfig,
    metadata: dict[str, Any],
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into directory ``path`` (created).

    Args:
        path: output directory.
        encoder / decoder: the torch modules (:class:`PartEncoder`, :class:`ScaleAwareDecoder`).
        config: the :class:`ModelConfig` they were built from.
        metadata: must contain "trained" (bool); "created" (UTC now) and "notes" ("") are
            filled in when absent. Anything else JSON-serialisable is kept (training run,
            data, metrics...).

    Returns the directory. Existing ONNX files there become stale: re-run
    ``python -m core.export --weights DIR --out DIR`` (the ONNX backend refuses stale files).
    """
    from safetensors.numpy import save_file

    if not isinstance(metadata.get("trained"), bool):
        raise ValueError('metadata must contain "trained": True or False')
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata)
    meta.setdefault("created", _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    meta.setdefault("notes", "")
    tensors: dict[str, np.ndarray] = {}
    for prefix, module in (("encoder", encoder), ("decoder", decoder)):
        for name, value in module.state_dict().items():
            tensors[f"{prefix}.{name}"] = value.detach().cpu().float().numpy().copy()
    save_file(tensors, str(out / WEIGHTS_FILE))
    doc = {"format": FORMAT_VERSION, "config": config.to_dict(), "metadata": meta}
    (out / CONFIG_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return out


def load_config(path: str | Path | None = None) -> tuple[ModelConfig, dict[str, Any]]:
    """(config, metadata) from ``config.json`` of a weights directory (None = bundled)."""
    d = _resolve(path)
    f = d / CONFIG_FILE
    if not d.is_dir():
        raise ModelFileError(f"{d}: weights directory does not exist")
    if not f.is_file():
        raise ModelFileError(f"{f}: config file is missing")
    try:
        doc = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{f}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or "config" not in doc or "metadata" not in doc:
        raise ModelFileError(f"{f}: expected an object with 'config' and 'metadata'")
    if doc.get("format") != FORMAT_VERSION:
        raise ModelFileError(f"{f}: unsupported format {doc.get('format')!r} (want {FORMAT_VERSION})")
    config = ModelConfig.from_dict(doc["config"], source=str(f))
    meta = doc["metadata"]
    if not isinstance(meta, dict) or not isinstance(meta.get("trained"), bool):
        raise ModelFileError(f"{f}: metadata must be an object with a boolean 'trained'")
    meta = dict(meta)
    meta["config"] = config.to_dict()
    return config, meta


def _expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """A few tensor shapes fixed by the config; checked without building the networks."""
    c = config
    return {
        "encoder.head.net.2.weight": (c.feature_dim, c.feature_dim),
        "encoder.pos_embed": (1, c.token_resolution**2, c.token_dim),
        "decoder.feat_proj.weight": (c.decoder_dim, c.feature_dim),
        "decoder.scale_embed.omega": (c.scale_freqs,),
    }


def load_checkpoint(path: str | Path | None = None) -> Checkpoint:
    """Read a weights directory without torch (None = the bundled default weights).

    Raises ModelFileError for a missing directory or file, unreadable/truncated
    safetensors, invalid config, or weights whose names/shapes contradict the config.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    config, meta = load_config(path)
    d = _resolve(path)
    f = d / WEIGHTS_FILE
    if not f.is_file():
        raise ModelFileError(f"{f}: weights file is missing")
    try:
        tensors = load_file(str(f))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{f}: cannot read weights (truncated or corrupt?): {exc}") from exc
    enc = {k[len("encoder."):]: v for k, v in tensors.items() if k.startswith("encoder.")}
    dec = {k[len("decoder."):]: v for k, v in tensors.items() if k.startswith("decoder.")}
    stray = sorted(k for k in tensors if not k.startswith(("encoder.", "decoder.")))
    if stray or not enc or not dec:
        raise ModelFileError(
            f"{f}: expected 'encoder.*' and 'decoder.*' tensors, got {len(enc)} encoder, "
            f"{len(dec)} decoder and stray {stray[:5]}"
        )
    for name, shape in _expected_shapes(config).items():
        got = tensors.get(name)
        if got is None or tuple(got.shape) != shape:
            raise ModelFileError(
                f"{f}: does not match {d / CONFIG_FILE}: tensor {name} has shape "
                f"{None if got is None else tuple(got.shape)}, config implies {shape}"
            )
    return Checkpoint(path=d, config=config, metadata=meta, encoder_state=enc, decoder_state=dec)


def build_modules(
    checkpoint: Checkpoint, device: str = "cpu"
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Torch (encoder, decoder) in eval mode with the checkpoint's weights (needs torch).

    Raises ModelFileError when a parameter is missing, unexpected or of the wrong shape.
    """
    import torch

    from .modeling import PartEncoder, ScaleAwareDecoder

    f = checkpoint.path / WEIGHTS_FILE
    modules = (PartEncoder(checkpoint.config), ScaleAwareDecoder(checkpoint.config))
    for module, state in zip(modules, (checkpoint.encoder_state, checkpoint.decoder_state)):
        try:
            module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
        except RuntimeError as exc:
            msg = " ".join(str(exc).split())[:400]
            raise ModelFileError(f"{f}: weights do not match the config: {msg}") from exc
        module.to(device).eval()
    return modules
