"""Stage-1 weights on their own (training.encoder_weights): a weights-only safetensors file
that loads without pickle into the same encoder, the bundled weights folder read as an
encoder, test-time rotation in the overfit scorer, and make train's stage-1 recipe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_train_trainers import _enc_args, _train_encoder, tiny_encoder_run


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory):
    return tiny_encoder_run(tmp_path_factory.mktemp("encw"))


def test_weights_file_round_trips_the_encoder_without_pickle(run_and_data, tmp_path):
    from safetensors import safe_open

    from training.encoder_weights import main
    from training.train_encoder import load_encoder

    run, _ = run_and_data
    out = main(["--run", str(run / "last.pt"), "--out", str(tmp_path / "w" / "encoder.safetensors"),
                "--notes", "test"])
    with safe_open(str(out), framework="pt") as f:
        meta, names = f.metadata(), set(f.keys())  # noqa: SIM118
    state = torch.load(run / "last.pt", weights_only=True)
    assert names == set(state["encoder"])  # the encoder only: no optimiser, no distill head
    assert meta["kind"] == "encoder" and meta["step"] == "2" and meta["notes"] == "test"
    assert json.loads(meta["train_config"])["steps"] == 2
    a, cfg_a, _ = load_encoder(run / "last.pt")
    for path in (out, out.parent):  # the file, or the folder holding encoder.safetensors
        b, cfg_b, state = load_encoder(path)
        assert cfg_a == cfg_b and state["step"] == 2
        xyz = torch.rand(1, 300, 3) * 2 - 1
        with torch.no_grad():
            assert torch.allclose(a(xyz), b(xyz), atol=1e-6)


def test_a_run_folder_still_loads_its_checkpoint(run_and_data):
    from training.encoder_weights import is_weights_path

    run, _ = run_and_data
    assert not is_weights_path(run)  # best.pt / last.pt win over any safetensors


def test_bundled_weights_folder_loads_as_an_encoder():
    from core.checkpoint import DEFAULT_WEIGHTS, load_checkpoint
    from training.train_encoder import load_encoder

    enc, cfg, state = load_encoder(DEFAULT_WEIGHTS)
    ck = load_checkpoint(DEFAULT_WEIGHTS)
    assert cfg == ck.config and state["step"] == ck.metadata.get("encoder_steps", 0)
    for name, value in enc.state_dict().items():
        assert np.array_equal(value.numpy(), ck.encoder_state[name]), name


def test_not_an_encoder_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    from training.encoder_weights import read_encoder_state

    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a stage-1 encoder"):
        read_encoder_state(tmp_path / "other.safetensors")


def test_scorer_rotates_objects_only_when_asked(run_and_data):
    from training.overfit import score_encoder

    run, data = run_and_data
    kw = dict(points=300, levels=1, queries=8, anchors=64)
    plain = score_encoder(run, data, **kw)
    again = score_encoder(run, data, **kw, rotation="none")
    turned = score_encoder(run, data, **kw, rotation="so3")
    assert plain == again
    assert turned["level_0"]["auc_feature"] != plain["level_0"]["auc_feature"]


def test_make_train_stage1_recipe_is_the_no_rotation_one():
    from training.train_all import build_parser, encoder_command

    def flags(argv):
        cmd = encoder_command("py", build_parser().parse_args(argv), Path("d"), Path("r/enc"))
        return {k: cmd[cmd.index(k) + 1] for k in ("--points", "--levels", "--rotation")}, cmd

    new, cmd = flags([])
    assert new == {"--points": "2048", "--levels": "finest", "--rotation": "none"}
    assert cmd[cmd.index("--points") + 2] == "2048" and "--resume" in cmd
    old, _ = flags(["--enc-points", "10000", "--enc-levels", "multi", "--enc-rotation", "so3"])
    assert old == {"--points": "10000", "--levels": "multi", "--rotation": "so3"}
    # the trainer accepts exactly these flags
    from training.train_encoder import parse_args

    cfg, resume = parse_args(cmd[3:])
    assert cfg.augment.rotation == "none" and cfg.levels == "finest" and resume
    assert cfg.augment.n_points_range == (2048, 2048)


@pytest.mark.filterwarnings("ignore:No artists with labels")  # a 0-step run plots no curve
def test_init_starts_from_committed_weights_with_a_fresh_optimiser(run_and_data, tmp_path):
    from training.encoder_weights import main
    from training.train_encoder import load_encoder

    run, data = run_and_data
    w = main(["--run", str(run / "last.pt"), "--out", str(tmp_path / "encoder.safetensors")])
    a, _, _ = load_encoder(w)
    zero = _train_encoder(_enc_args(data, tmp_path / "init0", 0, ["--init", str(w)]))
    b, _, state = load_encoder(zero / "last.pt")
    for name, value in a.state_dict().items():  # 0 steps: exactly the weights it started from
        assert torch.equal(value, b.state_dict()[name]), name
    assert state["step"] == 0 and json.loads(state["train_config"])["init"] == str(w)
    more = _train_encoder(_enc_args(data, tmp_path / "init2", 2, ["--init", str(w)]))
    assert torch.load(more / "last.pt", weights_only=True)["step"] == 2


def test_stage2_trains_on_a_weights_file_and_packages(run_and_data, tmp_path):
    from training.encoder_weights import main
    from training.train_all import package_weights
    from training.train_decoder import parse_args, train

    run, data = run_and_data
    w = main(["--run", str(run / "last.pt"), "--out", str(tmp_path / "encoder.safetensors")])
    dec = train(*parse_args([
        "--data", str(data), "--encoder", str(w), "--out", str(tmp_path / "dec"), "--steps", "2",
        "--objects", "2", "--prompts", "2", "--cache-points", "400", "--decoder-points", "300",
        "--val-fraction", "0.25", "--val-objects", "4", "--threads", "1", "--warmup", "1",
    ]))
    weights = package_weights(w, dec, tmp_path / "weights", {"data": str(data)})
    from core.checkpoint import load_checkpoint

    ck = load_checkpoint(weights)
    assert ck.metadata["encoder_steps"] == 2 and ck.metadata["decoder_steps"] == 2


def test_make_train_stage2_sees_objects_turned_as_stage1_did():
    """The frozen encoder of the recipe never saw random rotations, so stage 2's feature
    cache must not rotate the objects either (and follows --enc-rotation when changed)."""
    from training.train_all import build_parser, decoder_command
    from training.train_decoder import parse_args

    for argv, want in (([], "none"), (["--enc-rotation", "so3"], "so3")):
        cmd = decoder_command("py", build_parser().parse_args(argv), Path("d"), Path("e.pt"),
                              Path("r"))
        cfg, _ = parse_args(cmd[3:])
        assert cfg.augment.rotation == want
