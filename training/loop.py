"""The training loop both stages share: budget, schedule, checkpoints, resume, history.

A trainer builds its networks, then hands :class:`TrainLoop` a *step function* (one batch →
a loss and the scalars to log) and a *validation function* (→ the score ``best.pt`` is
chosen by). The loop owns everything else, identically for every stage:

- AdamW over the given modules' parameters, linear warm-up then cosine decay to 10 %
  (:func:`lr_factor`), gradients clipped to norm 1;
- every random draw of step ``s`` comes from ``np.random.default_rng([seed, s])`` and
  ``torch.manual_seed(seed·1,000,003 + s)``, so a resumed run repeats the batches an
  uninterrupted run would have drawn;
- a wall-clock budget (``minutes``, this process only; the run stops cleanly after the
  step in flight) and a step limit (``steps``, also the schedule's length);
- the run folder: ``last.pt`` (full state, written every ``checkpoint_minutes`` and at the
  end; ``--resume`` continues from it), ``best.pt`` (the state with the best validation
  score so far), ``history.jsonl`` (one JSON row per logged step and per checkpoint),
  ``history.png`` (loss curves) and ``config.json`` (the run's settings);
- optional bf16 autocast on CUDA (``bf16``); the loss and the optimiser stay float32.

Checkpoints are plain dicts saved with ``torch.save`` and read with ``weights_only=True``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from core.config import ModelConfig

from .common import (
    Budget,
    CheckpointTimer,
    History,
    Throughput,
    format_rate,
    load_training_state,
    resolve_device,
    save_training_state,
    seed_everything,
    set_threads,
)


@dataclass
class LoopConfig:
    """Settings of the shared loop (each trainer's config extends this).

    Attributes:
        out: run folder.
        steps: length of the learning-rate schedule and the maximum number of steps.
        minutes: wall-clock budget of this process in minutes (≤ 0 = none).
        lr, weight_decay: AdamW settings.
        warmup: linear warm-up length in steps.
        val_fraction: fraction of objects held out for validation.
        val_objects: at most this many held-out objects are scored per checkpoint.
        checkpoint_minutes: wall time between checkpoints (minutes).
        log_every: steps between logged history rows.
        seed: seed of every random draw.
        device: "auto" (cuda when available), "cpu" or "cuda".
        threads: torch intra-op threads (0 = torch's default).
        bf16: bf16 autocast of the forward passes; CUDA only (refused on other devices).
    """

    out: str = "runs/run"
    steps: int = 1000
    minutes: float = 0.0
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    val_fraction: float = 0.03
    val_objects: int = 48
    checkpoint_minutes: float = 5.0
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    bf16: bool = False


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up then cosine decay to 10 % at ``total`` steps."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * t))


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The generator of one step: depends only on (seed, step), so resuming is exact."""
    return np.random.default_rng([seed, step])


def setup_run(cfg: LoopConfig) -> tuple[Path, torch.device]:
    """Create the run folder, set threads and seeds, resolve the device.

    Raises ValueError when ``bf16`` is asked for on a device other than CUDA.
    """
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    set_threads(cfg.threads)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    if cfg.bf16 and device.type != "cuda":
        raise ValueError(f"--bf16 is for CUDA only; the device is {device}")
    return out, device


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` when ``enabled``, else a no-op context."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def load_run_state(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[dict[str, Any], ModelConfig]:
    """A checkpoint dict and its ModelConfig, from a file or a run folder (``best.pt`` when
    present, else ``last.pt``)."""
    p = Path(path)
    if p.is_dir():
        p = p / "best.pt" if (p / "best.pt").exists() else p / "last.pt"
    state = load_training_state(p, device)
    return state, ModelConfig.from_dict(json.loads(state["model_config"]), str(p))


def load_run_module(
    path: str | Path,
    key: str,
    build: Callable[[ModelConfig], torch.nn.Module],
    device: torch.device | str = "cpu",
) -> tuple[torch.nn.Module, ModelConfig, dict[str, Any]]:
    """The module stored under ``key`` of a checkpoint (file or run folder, as in
    :func:`load_run_state`), built by ``build(model_cfg)``, in eval mode on ``device``;
    also its ModelConfig and the checkpoint dict."""
    state, model_cfg = load_run_state(path, device)
    module = build(model_cfg)
    module.load_state_dict(state[key])
    return module.to(device).eval(), model_cfg, state


@dataclass
class StepOutput:
    """What a step function returns.

    Attributes:
        loss: scalar tensor; the loop calls ``backward`` on it.
        points: points processed by the step (for the points/s rate).
        scalars: values logged on logged steps (tensors are read only then); ``loss`` is
            always logged too.
    """

    loss: torch.Tensor
    points: int
    scalars: dict[str, torch.Tensor | float | int] = field(default_factory=dict)


@dataclass
class Validation:
    """What a validation function returns: ``score`` picks ``best.pt``, ``row`` goes into
    the history, ``message`` is printed."""

    score: float
    row: dict[str, float]
    message: str


class TrainLoop:
    """The shared training loop of one run (see the module docstring).

    Args:
        cfg: the run's settings (a :class:`LoopConfig` subclass; saved in checkpoints).
        tag: short name in printed lines ("enc", "dec").
        kind: stored as the checkpoints' ``kind``.
        modules: trained modules by checkpoint key; ``None`` entries are stored as ``{}``.
        model_cfg: the networks' sizes (a resumed run must match).
        device: where the modules live.
        maximize: True when a higher validation score is better.
        plot_keys: history keys drawn in ``history.png``.
        show: logged scalars shown in the progress bar besides the loss.
        extra_state: more string/number entries stored in every checkpoint.
    """

    def __init__(
        self,
        cfg: LoopConfig,
        *,
        tag: str,
        kind: str,
        modules: dict[str, torch.nn.Module | None],
        model_cfg: ModelConfig,
        device: torch.device,
        maximize: bool,
        plot_keys: Sequence[str],
        show: Sequence[str] = (),
        extra_state: dict[str, Any] | None = None,
    ) -> None:
        self.cfg, self.tag, self.kind = cfg, tag, kind
        self.modules, self.model_cfg, self.device = modules, model_cfg, device
        self.maximize, self.plot_keys, self.show = maximize, list(plot_keys), list(show)
        self.extra_state = dict(extra_state or {})
        self.out = Path(cfg.out)
        self.params = [p for m in modules.values() if m is not None for p in m.parameters()]
        self.opt = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.history = History(self.out)
        self.start, self.elapsed_before = 0, 0.0
        self.best = -math.inf if maximize else math.inf
        self.budget = Budget(cfg.minutes)

    # ------------------------------------------------------------------ state

    def state(self, step: int) -> dict[str, Any]:
        """The checkpoint dict at ``step``."""
        return {
            "kind": self.kind,
            "step": step,
            **{k: m.state_dict() if m is not None else {} for k, m in self.modules.items()},
            "optimizer": self.opt.state_dict(),
            "train_config": json.dumps(asdict(self.cfg)),
            "model_config": json.dumps(self.model_cfg.to_dict()),
            **self.extra_state,
            "elapsed_s": float(self.budget.total_elapsed),
            "best_val": float(self.best),
        }

    def restore(self, resume: bool) -> int:
        """Continue from ``last.pt`` when ``resume`` (and it exists), else start afresh
        (the history is cleared); writes ``config.json``; returns the first step."""
        last = self.out / "last.pt"
        if resume and last.exists():
            state = load_training_state(last, self.device)
            saved = ModelConfig.from_dict(json.loads(state["model_config"]), str(last))
            if saved != self.model_cfg:  # fields added since take their defaults
                raise ValueError(f"{last} was trained with a different model config")
            for key, module in self.modules.items():
                if module is not None and state.get(key):
                    module.load_state_dict(state[key])
            self.opt.load_state_dict(state["optimizer"])
            self.start, self.elapsed_before = int(state["step"]), float(state["elapsed_s"])
            self.best = float(state["best_val"])
            self.history.truncate_after(self.start)
            print(f"[{self.tag}] resumed from {last} at step {self.start}", flush=True)
        elif resume:
            print(f"[{self.tag}] --resume: no {last} yet, starting from scratch", flush=True)
        else:
            self.history.path.unlink(missing_ok=True)
        (self.out / "config.json").write_text(json.dumps(asdict(self.cfg), indent=2) + "\n")
        return self.start

    def checkpoint(self, step: int, validate: Callable[[], Validation]) -> Validation:
        """Validate, keep ``best.pt`` when the score improved, write ``last.pt``, log."""
        with autocast(self.device, self.cfg.bf16):
            val = validate()
        better = val.score > self.best if self.maximize else val.score < self.best
        if better:  # a nan score is never better
            self.best = val.score
            save_training_state(self.out / "best.pt", self.state(step))
        save_training_state(self.out / "last.pt", self.state(step))
        self.history.append({"step": step, **val.row, "time_s": self.budget.total_elapsed})
        self.history.plot(keys=self.plot_keys)
        print(
            f"\n[{self.tag}] step {step}: {val.message} (best {self.best:.4g}), "
            "checkpoint saved",
            flush=True,
        )
        return val

    # ------------------------------------------------------------------ loop

    @contextlib.contextmanager
    def _bar(self, desc: str) -> Iterator[tqdm]:
        bar = tqdm(total=self.cfg.steps, initial=self.start, desc=desc, mininterval=10,
                   file=sys.stdout)
        try:
            yield bar
        finally:
            bar.close()

    def run(
        self,
        step_fn: Callable[[int, np.random.Generator], StepOutput],
        validate: Callable[[], Validation],
        desc: str = "train",
    ) -> int:
        """Train from the restored step until ``steps`` or the budget; returns the last step.

        ``step_fn(step, rng)`` runs the forward pass of one batch (under autocast when
        ``bf16``); the loop does the backward pass, clipping and the optimiser step.
        """
        cfg = self.cfg
        self.budget = Budget(cfg.minutes, self.elapsed_before)
        timer = CheckpointTimer(cfg.checkpoint_minutes)
        meter = Throughput()
        step = self.start
        with self._bar(desc) as bar:
            while step < cfg.steps and not self.budget.exhausted():
                rng = step_rng(cfg.seed, step)
                torch.manual_seed(cfg.seed * 1_000_003 + step)
                lr = cfg.lr * lr_factor(step, cfg.steps, cfg.warmup)
                for g in self.opt.param_groups:
                    g["lr"] = lr
                with autocast(self.device, cfg.bf16):
                    out = step_fn(step, rng)
                self.opt.zero_grad(set_to_none=True)
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(self.params, 1.0)
                self.opt.step()
                step += 1
                meter.update(out.points)
                bar.update(1)
                if step % cfg.log_every == 0 or step == self.start + 1:
                    self._log(step, out, lr, meter, bar)
                if timer.due():
                    self.checkpoint(step, validate)
                    meter.reset()
        self.checkpoint(step, validate)
        sps, pps = meter.rates()
        print(
            f"[{self.tag}] stopped at step {step}/{cfg.steps} after "
            f"{self.budget.elapsed / 60:.1f} min (total {self.budget.total_elapsed / 60:.1f} "
            f"min); last rate {format_rate(sps, pps)}",
            flush=True,
        )
        return step

    def _log(self, step: int, out: StepOutput, lr: float, meter: Throughput, bar: tqdm) -> None:
        sps, pps = meter.rates()
        scalars = {"loss": out.loss.detach(), **out.scalars}
        row: dict[str, Any] = {"step": step}
        for k, v in scalars.items():
            row[k] = float(v.detach()) if isinstance(v, torch.Tensor) else v
        row.update(lr=lr, steps_per_s=sps, points_per_s=pps, time_s=self.budget.total_elapsed)
        self.history.append(row)
        shown = " ".join(f"{k} {row[k]:.3f}" for k in ["loss", *self.show])
        bar.set_postfix_str(f"{shown} | {format_rate(sps, pps)}")


# ----------------------------------------------------------------------------- CLI


def add_loop_arguments(p: argparse.ArgumentParser, d: LoopConfig) -> None:
    """The flags of every :class:`LoopConfig` field (defaults from ``d``) plus ``--resume``."""
    p.add_argument("--out", default=d.out, help="run folder")
    p.add_argument("--steps", type=int, default=d.steps, help="schedule length / max steps")
    p.add_argument(
        "--minutes",
        "--max-minutes",
        dest="minutes",
        type=float,
        default=d.minutes,
        help="wall-clock budget of this process in minutes (0 = none)",
    )
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup", type=int, default=d.warmup, help="warm-up steps")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--val-objects", type=int, default=d.val_objects)
    p.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes)
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device, help="auto (cuda when available), cpu, cuda")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads (0 = default)")
    p.add_argument(
        "--bf16", action="store_true", help="bf16 autocast of the forward passes (CUDA only)"
    )
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")


def run_main(
    tag: str,
    parse_args: Callable[[list[str] | None], tuple[LoopConfig, bool]],
    train: Callable[[Any, bool], Path],
    argv: list[str] | None = None,
) -> None:
    """A trainer's command line: parse, train (resuming when asked), print the wall time."""
    cfg, resume = parse_args(argv)
    t0 = time.time()
    train(cfg, resume)
    print(f"[{tag}] done in {(time.time() - t0) / 60:.1f} min", flush=True)


def loop_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`LoopConfig` fields of parsed arguments (see :func:`add_loop_arguments`)."""
    return {f.name: getattr(args, f.name) for f in fields(LoopConfig)}
