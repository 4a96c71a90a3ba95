"""The shared training loop (training.loop): resume continues from the saved step and
matches an uninterrupted run, the budget stops a run cleanly with a checkpoint, best.pt
keeps the best validation score (a nan score never counts), bf16 is refused off CUDA."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from core.config import ModelConfig
from training.loop import (
    LoopConfig,
    StepOutput,
    TrainLoop,
    Validation,
    load_run_state,
    lr_factor,
    setup_run,
)

TARGET = torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]])


def _fit(cfg: LoopConfig, resume=False, scores=(), maximize=False, sleep=0.0):
    """Fit a linear map with the loop; returns (module, loop, last step)."""
    setup_run(cfg)
    net = torch.nn.Linear(3, 2)
    loop = TrainLoop(cfg, tag="t", kind="toy", modules={"net": net, "unused": None},
                     model_cfg=ModelConfig(), device=torch.device("cpu"), maximize=maximize,
                     plot_keys=["loss"])
    loop.restore(resume)
    given = iter(scores)

    def step_fn(step: int, rng: np.random.Generator) -> StepOutput:
        time.sleep(sleep)
        x = torch.from_numpy(rng.normal(size=(16, 3)).astype(np.float32))
        loss = ((net(x) - x @ TARGET.t()) ** 2).mean()
        return StepOutput(loss, 16, {"n_points": 16})

    def validate() -> Validation:
        v = float(next(given, 1.0))
        return Validation(v, {"val": v}, f"val {v}")

    return net, loop, loop.run(step_fn, validate)


def _rows(out):
    return [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]


def test_resume_continues_from_the_saved_step(tmp_path):
    # the first run stops inside the warm-up, where the schedule does not depend on `steps`
    full_cfg = LoopConfig(out=str(tmp_path / "full"), steps=6, warmup=3, lr=0.05, log_every=1)
    full, _, _ = _fit(full_cfg)
    split_cfg = replace(full_cfg, out=str(tmp_path / "split"))
    _, _, first = _fit(replace(split_cfg, steps=3))
    net, loop, last = _fit(split_cfg, resume=True)
    assert (first, loop.start, last) == (3, 3, 6)
    for a, b in zip(full.parameters(), net.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    state, _ = load_run_state(tmp_path / "split" / "last.pt")
    assert state["step"] == 6 and state["unused"] == {} and state["kind"] == "toy"
    assert [r["step"] for r in _rows(tmp_path / "split") if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert all(r["n_points"] == 16 for r in _rows(tmp_path / "split") if "loss" in r)
    assert (tmp_path / "split" / "history.png").stat().st_size > 1000
    assert json.loads((tmp_path / "split" / "config.json").read_text())["steps"] == 6
    # resuming a finished run trains no further; a fresh (non-resumed) run starts over
    _, loop, last = _fit(split_cfg, resume=True)
    assert loop.start == last == 6
    _, loop, last = _fit(replace(split_cfg, steps=2))
    assert loop.start == 0 and last == 2
    assert [r["step"] for r in _rows(tmp_path / "split") if "loss" in r] == [1, 2]


def test_budget_stops_cleanly_with_a_checkpoint(tmp_path):
    cfg = LoopConfig(out=str(tmp_path / "b"), steps=10_000, minutes=0.05 / 60, log_every=1)
    _, _, last = _fit(cfg, sleep=0.02)
    assert 1 <= last < 20
    state, _ = load_run_state(tmp_path / "b" / "last.pt")
    assert state["step"] == last and state["elapsed_s"] >= 0.05
    assert _rows(tmp_path / "b")[-1] == {"step": last, "val": 1.0,
                                         "time_s": _rows(tmp_path / "b")[-1]["time_s"]}


@pytest.mark.parametrize("maximize", [False, True])
def test_best_checkpoint_keeps_the_best_score(tmp_path, maximize):
    scores = [math.nan, 0.5, 0.2, 0.7, 0.4, 0.3]  # one per step, then the final checkpoint
    cfg = LoopConfig(out=str(tmp_path / "v"), steps=5, checkpoint_minutes=0, log_every=1)
    _fit(cfg, scores=scores, maximize=maximize)
    best, _ = load_run_state(tmp_path / "v" / "best.pt")
    last, _ = load_run_state(tmp_path / "v" / "last.pt")
    want_step, want = (4, 0.7) if maximize else (3, 0.2)
    assert (best["step"], best["best_val"]) == (want_step, pytest.approx(want))
    assert last["step"] == 5 and last["best_val"] == pytest.approx(want)
    assert load_run_state(tmp_path / "v")[0]["step"] == want_step  # a folder reads best.pt
    vals = [r["val"] for r in _rows(tmp_path / "v") if "val" in r]
    assert vals[1:] == scores[1:] and math.isnan(vals[0])


def test_schedule_and_bf16_refused_off_cuda(tmp_path):
    assert lr_factor(0, 100, 10) == pytest.approx(0.1)
    assert lr_factor(10, 100, 10) == pytest.approx(1.0)
    assert lr_factor(100, 100, 10) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="CUDA only"):
        setup_run(LoopConfig(out=str(tmp_path / "x"), device="cpu", bf16=True))
