"""Export a weights directory to ONNX: ``python -m core.export --weights DIR --out DIR``.

Writes four graphs (legacy TorchScript exporter, opset 20) with dynamic point counts, plus ``onnx.json`` recording the sha256 of the
exported ``model.safetensors`` so :class:`core.backends.OnnxBackend` refuses stale files:

* ``encoder.onnx``: xyz (1, N, 3) → features (1, N, D); with ``input_normals`` in the
  config a second input normals (1, N, 3) (unoriented, zero = unknown);
* ``decoder_base.onnx``: features, xyz → x0 (1, N, C), the scale-independent part of the
  conditioning (once per object);
* ``decoder_condition.onnx``: x0, anchor_idx (1, K), knn_idx (1, N, k), knn_w (1, N, k),
  scale (1,), has_scale (1,) → cond (1, N, C) (once per scale);
* ``decoder_prompt.onnx``: cond (1, N, C), anchor_idx, knn_idx, knn_w, prompt_idx (B, P),
  prompt_label (B, P) → probs (B, N) (sigmoid applied), quality (B,).

Refreshing the bundled weights after training::

    python -m core.export --weights core/weights/default --out core/weights/default

Needs torch (export is a development step; inference then needs only onnxruntime).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import shutil
import warnings
from pathlib import Path

import numpy as np

from .anchors import prepare_anchors
from .backends import (
    BASE_ONNX,
    CONDITION_ONNX,
    ENCODER_ONNX,
    ONNX_MANIFEST,
    PROMPT_ONNX,
    weights_digest,
)
from .checkpoint import CONFIG_FILE, WEIGHTS_FILE, build_modules, load_checkpoint

OPSET = 20


def export_onnx(weights: str | Path | None, out: str | Path, opset: int = OPSET) -> Path:
    """Export the checkpoint in ``weights`` to ONNX files in ``out`` (created).

    When ``out`` differs from ``weights``, ``config.json`` and ``model.safetensors`` are
    copied too, so ``out`` is a complete weights directory. Returns ``out``.
    """
    import torch

    ckpt = load_checkpoint(weights)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() != ckpt.path.resolve():
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            shutil.copyfile(ckpt.path / name, out / name)
    encoder, decoder = build_modules(ckpt, "cpu")
    cfg = ckpt.config

    class Base(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.decoder = decoder

        def forward(self, features, xyz):
            return self.decoder.base(features, xyz)

    class Condition(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.decoder = decoder

        def forward(self, x0, anchor_idx, knn_idx, knn_w, scale, has_scale):
            return self.decoder.modulate(x0, anchor_idx, knn_idx, knn_w, scale, has_scale)

    class Prompt(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.decoder = decoder

        def forward(self, cond, anchor_idx, knn_idx, knn_w, prompt_idx, prompt_label):
            logits, quality = self.decoder.decode(cond, anchor_idx, knn_idx, knn_w, prompt_idx,
                                                  prompt_label)
            return torch.sigmoid(logits), quality

    # example inputs: N and K differ from each other and from every other axis, so the
    # tracer cannot confuse dynamic sizes
    rng = np.random.default_rng(0)
    n = 1537
    xyz = (rng.random((n, 3)) * 2 - 1).astype(np.float32)
    graph = prepare_anchors(xyz, min(cfg.num_anchors, 257), cfg.knn_k, 0)
    t_xyz = torch.from_numpy(xyz)[None]
    t_a = torch.from_numpy(graph.anchor_idx)[None]
    t_ki = torch.from_numpy(graph.knn_idx)[None]
    t_kw = torch.from_numpy(graph.knn_w)[None]
    n_ax = {1: "N"}
    enc_args: tuple = (t_xyz,)
    enc_inputs = ["xyz"]
    enc_axes = {"xyz": n_ax, "features": n_ax}
    if cfg.input_normals:
        t_nrm = torch.from_numpy(rng.normal(size=(n, 3)).astype(np.float32))[None]
        enc_args, enc_inputs = (t_xyz, t_nrm), ["xyz", "normals"]
        enc_axes["normals"] = n_ax
    with torch.no_grad():
        feats = encoder(*enc_args)
        scale, has = torch.tensor([0.25]), torch.tensor([1.0])
        x0 = decoder.base(feats, t_xyz)
        cond = decoder.modulate(x0, t_a, t_ki, t_kw, scale, has)
    p_idx = torch.tensor([[3, 10, 0], [5, 0, 0]], dtype=torch.int64)
    p_lab = torch.tensor([[1.0, 0.0, -1.0], [1.0, -1.0, -1.0]])

    jobs = [
        (ENCODER_ONNX, encoder, enc_args, enc_inputs, ["features"], enc_axes),
        (BASE_ONNX, Base(), (feats, t_xyz), ["features", "xyz"], ["x0"],
         {"features": n_ax, "xyz": n_ax, "x0": n_ax}),
        (CONDITION_ONNX, Condition(), (x0, t_a, t_ki, t_kw, scale, has),
         ["x0", "anchor_idx", "knn_idx", "knn_w", "scale", "has_scale"], ["cond"],
         {"x0": n_ax, "anchor_idx": {1: "K"}, "knn_idx": {1: "N", 2: "k"},
          "knn_w": {1: "N", 2: "k"}, "cond": n_ax}),
        (PROMPT_ONNX, Prompt(), (cond, t_a, t_ki, t_kw, p_idx, p_lab),
         ["cond", "anchor_idx", "knn_idx", "knn_w", "prompt_idx", "prompt_label"],
         ["probs", "quality"],
         {"cond": n_ax, "anchor_idx": {1: "K"}, "knn_idx": {1: "N", 2: "k"},
          "knn_w": {1: "N", 2: "k"}, "prompt_idx": {0: "B", 1: "P"},
          "prompt_label": {0: "B", 1: "P"}, "probs": {0: "B", 1: "N"}, "quality": {0: "B"}}),
    ]
    for name, module, args, inputs, outputs, axes in jobs:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python ints
            torch.onnx.export(
                module.eval(), args, str(out / name), input_names=inputs, output_names=outputs,
                dynamic_axes=axes, opset_version=opset, do_constant_folding=True, dynamo=False,
            )
    manifest = {
        "weights_sha256": weights_digest(out / WEIGHTS_FILE),
        "config": cfg.to_dict(),
        "opset": opset,
        "torch": torch.__version__,
        "exported": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "trained": bool(ckpt.metadata["trained"]),
    }
    (out / ONNX_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=None, help="weights directory (default: bundled)")
    ap.add_argument("--out", required=True, help="output directory (may equal --weights)")
    ap.add_argument("--opset", type=int, default=OPSET)
    args = ap.parse_args(argv)
    out = export_onnx(args.weights, args.out, args.opset)
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
    print(json.dumps({"out": str(out), "bytes": sizes}, indent=2))


if __name__ == "__main__":
    main()
