"""Stage-1 encoder weights on their own: one safetensors file, no optimiser, no pickle.

    python -m training.encoder_weights --run runs/enc_norot/best.pt \
        --out checkpoints/stage1_norot/encoder.safetensors [--notes "..."]

The file holds the encoder's parameters (float32, names as in
:class:`core.modeling.encoder.PartEncoder`) and, as safetensors string metadata,
``kind = "encoder"``, ``model_config`` (the :class:`core.config.ModelConfig` JSON),
``train_config`` (the stage-1 run's settings), ``step``, ``elapsed_s``, ``best_val`` and
``notes``. It is what a session commits when a stage-1 run beats the bundled encoder, so
the next session can train stage 2 on it (``train_decoder --encoder FILE``) or continue
stage 1 from it with a fresh optimiser (re-warmed).

:func:`read_encoder_state` reads such a file, a folder holding ``encoder.safetensors``, or a
product weights folder (``model.safetensors`` + ``config.json``, e.g. ``core/weights/default``:
its ``encoder.*`` tensors), and returns a dict shaped like a stage-1 training checkpoint
(``encoder``, ``model_config``, ``train_config``, ``step``, ``elapsed_s``), which
:func:`training.train_encoder.load_encoder` accepts in place of a ``.pt`` file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

ENCODER_FILE = "encoder.safetensors"


def is_weights_path(path: str | Path) -> bool:
    """True for a ``.safetensors`` file or a folder with ``encoder.safetensors`` or
    ``model.safetensors`` (and no ``best.pt``/``last.pt``: run folders keep their meaning)."""
    p = Path(path)
    if p.suffix == ".safetensors":
        return True
    if p.is_dir() and not ((p / "best.pt").exists() or (p / "last.pt").exists()):
        return (p / ENCODER_FILE).exists() or (p / "model.safetensors").exists()
    return False


def save_encoder_weights(
    state: dict[str, Any], out: str | Path, notes: str = ""
) -> Path:
    """Write the encoder of a stage-1 checkpoint dict (``training.loop`` format) to ``out``.

    Args:
        state: a stage-1 training checkpoint dict (needs ``encoder`` and ``model_config``).
        out: the ``.safetensors`` file to write (parent folders are created).
        notes: free text stored in the metadata.
    """
    from safetensors.torch import save_file

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().float().contiguous() for k, v in state["encoder"].items()}
    meta = {
        "kind": "encoder",
        "model_config": str(state["model_config"]),
        "train_config": str(state.get("train_config", "{}")),
        "step": str(int(state.get("step", 0))),
        "elapsed_s": str(float(state.get("elapsed_s", 0.0))),
        "best_val": str(float(state.get("best_val", float("nan")))),
        "notes": notes,
    }
    save_file(tensors, str(out), metadata=meta)
    return out


def read_encoder_state(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A stage-1 checkpoint-like dict from safetensors weights (see the module docstring).

    Raises FileNotFoundError when ``path`` holds no encoder weights, ValueError when a file
    is not an encoder file.
    """
    from safetensors import safe_open

    p = Path(path)
    if p.is_dir():
        if (p / ENCODER_FILE).exists():
            p = p / ENCODER_FILE
        elif (p / "model.safetensors").exists():
            return _from_product_weights(p, device)
        else:
            raise FileNotFoundError(f"{p}: no {ENCODER_FILE} or model.safetensors")
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    with safe_open(str(p), framework="pt", device=str(device)) as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
    if meta.get("kind") != "encoder" or "model_config" not in meta:
        raise ValueError(f"{p}: not a stage-1 encoder file (metadata kind={meta.get('kind')!r})")
    return {
        "kind": "encoder",
        "encoder": tensors,
        "model_config": meta["model_config"],
        "train_config": meta.get("train_config", "{}"),
        "step": int(meta.get("step", 0)),
        "elapsed_s": float(meta.get("elapsed_s", 0.0)),
        "best_val": float(meta.get("best_val", "nan")),
        "notes": meta.get("notes", ""),
        "source": str(p),
    }


def _from_product_weights(d: Path, device: torch.device | str) -> dict[str, Any]:
    from core.checkpoint import load_checkpoint

    ck = load_checkpoint(d)
    meta = ck.metadata
    return {
        "kind": "encoder",
        "encoder": {k: torch.from_numpy(v.copy()).to(device) for k, v in ck.encoder_state.items()},
        "model_config": json.dumps(ck.config.to_dict()),
        "train_config": json.dumps(meta.get("encoder_train_config", {})),
        "step": int(meta.get("encoder_steps", 0)),
        "elapsed_s": float(meta.get("encoder_wall_s", 0.0)),
        "best_val": float("nan"),
        "notes": str(meta.get("notes", "")),
        "source": str(d),
    }


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run", required=True, help="stage-1 checkpoint (.pt) or run folder")
    p.add_argument("--out", required=True, help="the .safetensors file to write")
    p.add_argument("--notes", default="", help="free text stored in the metadata")
    a = p.parse_args(argv)
    from .loop import load_run_state

    state, _ = load_run_state(a.run)
    out = save_encoder_weights(state, a.out, a.notes)
    print(f"[encoder_weights] step {state['step']} -> {out}", flush=True)
    return out


if __name__ == "__main__":
    main()
