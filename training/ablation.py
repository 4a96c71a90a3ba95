"""The paper's ablation on the dev set, at a small budget: stage 2 trained four ways.

    python -m training.ablation [--data data_cache/train_mix]
        [--encoder checkpoints/stage1_norot/encoder.safetensors] [--runs runs] [--steps 250]
        [--minutes 12] [--eval-only] [--report docs/ablation.md]

Every arm uses the stage-2 recipe of ``make train`` (:func:`training.train_all.decoder_command`
settings: Dice + quality loss, no BCE, no rotation augmentation, 4 objects x 4 click sets,
4,096 decoder points) at a small budget. Arms (same data, seed, prompts and budget; only one
thing changes per arm):

- ``full``: trained stage-1 encoder, decoder with scale (the paper's model);
- ``noscale``: same, decoder trained and evaluated without the scale prompt (``--no-scale``);
- ``nocon``: decoder trained on an *untrained* stage-1 encoder (no contrastive stage);
- ``prior``: ``full`` plus this project's scale prior (``ModelConfig.scale_prior`` = 4).

What the arms can change: on points, Segment All and the click without a scale come from the
decoder; the click with a scale comes from the growth over encoder features
(:mod:`core.point_growth`), so only ``nocon`` moves it. On meshes every answer comes from the
merge tree; the arms' weights folders carry no ``affinity.json`` (it is trained per encoder),
so the tree uses its rule dissimilarity and the mesh columns show the decoder-free path.

Each arm is trained with :mod:`training.train_decoder` into ``RUNS/abl_<arm>`` (resumable),
packaged with :func:`training.train_all.package_weights` into ``RUNS/abl_<arm>/weights``
and scored by :mod:`training.evaluate` (methods ``model`` and ``ball``, both protocols).
``--eval-only`` skips training and scores the runs that exist. The table goes to
``--report`` (Markdown) and ``--report`` with ``.json`` (the raw numbers).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ARMS: dict[str, dict] = {
    "full": {"flags": [], "encoder": None},
    "noscale": {"flags": ["--no-scale"], "encoder": None},
    "nocon": {"flags": [], "encoder": "untrained"},
    "prior": {"flags": ["--decoder-model-json", json.dumps({"scale_prior": 4.0})],
              "encoder": None},
}
LABELS = {
    "full": "contrastive encoder + scale (paper)",
    "noscale": "contrastive encoder, no scale",
    "nocon": "untrained encoder + scale (no contrastive stage)",
    "prior": "contrastive encoder + scale + scale prior (ours)",
}
METRICS = ("interactive_iou_scale", "interactive_iou_noscale", "full_miou_leaf")


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def _cells(res: dict, method: str, protos: list[str]) -> list[str]:
    out = []
    for p in protos:
        m = res.get("protocols", {}).get(p, {}).get("methods", {}).get(method, {})
        out += ["–" if m.get(k) is None else f"{m[k]:.1f}" for k in METRICS]
    return out


def render_table(results: dict[str, dict], steps: dict[str, int]) -> str:
    """Markdown table: one row per arm, interactive IoU with/without scale and Segment All
    leaf mIoU per protocol (IoU in %, as ``training.evaluate`` reports them), then the
    ``ball`` baseline of the first arm's run."""
    protos = ["mesh", "points"]
    head = ["arm", "decoder steps"] + [f"{p}: {m}" for p in protos for m in METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arm, res in results.items():
        row = [LABELS.get(arm, arm), str(steps.get(arm, "?"))] + _cells(res, "model", protos)
        lines.append("| " + " | ".join(row) + " |")
    if results:
        row = ["`ball` baseline (no learning)", "–"]
        row += _cells(next(iter(results.values())), "ball", protos)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data_cache/train_mix")
    p.add_argument("--encoder", default="checkpoints/stage1_norot/encoder.safetensors",
                   help="trained stage-1 checkpoint (run folder, .pt or weights-only file)")
    p.add_argument("--runs", default="runs")
    p.add_argument("--eval-data", default="../shared/data/partnet-mobility-dev")
    p.add_argument("--steps", type=int, default=250)
    p.add_argument("--minutes", type=float, default=12.0, help="budget per arm and process")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--eval-only", action="store_true", help="score existing runs, no training")
    p.add_argument("--report", default="docs/ablation.md")
    a = p.parse_args(argv)
    py, runs = sys.executable, Path(a.runs)
    untrained = runs / "enc_untrained" / "last.pt"
    if not a.eval_only and "nocon" in a.arms and not untrained.exists():
        _run([py, "-m", "training.train_encoder", "--data", a.data, "--out",
              str(untrained.parent), "--steps", "0", "--threads", str(a.threads),
              "--val-objects", "4"])
    common = ["--data", a.data, "--objects", "4", "--prompts", "4", "--decoder-points", "4096",
              "--cache-objects", "300", "--steps", str(a.steps), "--minutes", str(a.minutes),
              "--threads", str(a.threads), "--val-objects", "24", "--checkpoint-minutes", "4",
              "--seed", "0", "--w-bce", "0", "--rotation", "none", "--resume"]
    from training.train_all import package_weights

    results, steps = {}, {}
    for arm in a.arms:
        spec = ARMS[arm]
        enc = str(untrained) if spec["encoder"] == "untrained" else a.encoder
        out = runs / f"abl_{arm}"
        if not a.eval_only:
            _run([py, "-m", "training.train_decoder", *common, "--encoder", enc,
                  "--out", str(out), *spec["flags"]])
        if not (out / "last.pt").exists():
            print(f"[ablation] {arm}: no {out / 'last.pt'}; skipped", flush=True)
            continue
        weights = package_weights(enc, out / "last.pt", out / "weights",
                                  {"data": a.data, "notes": f"ablation arm {arm}"})
        proc = _run([py, "-m", "training.evaluate", "--data", a.eval_data, "--method", "model",
                     "ball", "--protocol", "mesh", "points", "--weights", str(weights),
                     "--threads", str(a.threads), "--json", "--no-bench"],
                    stdout=subprocess.PIPE, text=True)
        results[arm] = json.loads(proc.stdout.strip().splitlines()[-1])
        meta = json.loads((Path(weights) / "config.json").read_text())["metadata"]
        steps[arm] = int(meta["decoder_steps"])
        print(f"[ablation] {arm} done", flush=True)
    table = render_table(results, steps)
    print(table)
    rep = Path(a.report)
    rep.parent.mkdir(parents=True, exist_ok=True)
    rep.write_text("# Ablation (dev set, IoU %)\n\nCommand: `python -m training.ablation "
                   + " ".join(argv if argv is not None else sys.argv[1:]) + "`\n\n" + table)
    rep.with_suffix(".json").write_text(json.dumps({"steps": steps, "results": results}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
