"""Held-out tuning of merge-tree settings (``python -m training.heldout_tree``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.heldout_tree import _grid, _setting, area_miou, main


def test_area_miou_takes_each_parts_best_overlap():
    # 3 superfaces; GT part 0 covers superfaces 0 and 1 (areas 1, 1), part 1 superface 2 (2)
    part_area = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    assert area_miou(part_area, np.array([0, 0, 1])) == pytest.approx(1.0)
    # superface 1 predicted with part 1: part 0 best IoU 1/2, part 1 best IoU 2/3
    assert area_miou(part_area, np.array([0, 1, 1])) == pytest.approx((0.5 + 2 / 3) / 2)
    # everything one part: part 0 IoU 2/4, part 1 IoU 2/4
    assert area_miou(part_area, np.zeros(3, np.int64)) == pytest.approx(0.5)


def test_settings_are_parsed_and_unknown_ones_refused():
    assert _setting("cut_threshold=0.4,0.5") == ("cut_threshold", [0.4, 0.5])
    assert _setting("consensus.samples=0,40") == ("consensus.samples", [0, 40])
    with pytest.raises(SystemExit, match="NAME one of"):
        _setting("no_such_setting=1")
    with pytest.raises(SystemExit):
        _setting("cut_threshold=")
    with pytest.raises(SystemExit, match="NAME one of"):
        _setting("consensus.dims=3")  # a range, not a number


def test_one_score_row_per_value_on_generated_objects(capsys):
    main(["--objects", "2", "--seed", "777", "--kinds", "separate",
          "--vary", "consensus.samples=0,8", "--set", "cut_threshold=0.5", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["objects"] == 2 and out["setting"] == "consensus.samples"
    assert out["fixed"] == {"cut_threshold": 0.5}
    assert set(out["scores"]) == {"0", "8"}
    for s in out["scores"].values():
        assert 0.0 < s["finest"] <= 100.0 and 0.0 < s["levels"] <= 100.0


def test_several_varied_settings_give_every_combination(capsys):
    grid = _grid([("one_piece_threshold", [0.4, 0.5]), ("consensus.concave_scale", [0, 0.2])])
    assert list(grid) == ["one_piece_threshold=0.4, consensus.concave_scale=0",
                          "one_piece_threshold=0.4, consensus.concave_scale=0.2",
                          "one_piece_threshold=0.5, consensus.concave_scale=0",
                          "one_piece_threshold=0.5, consensus.concave_scale=0.2"]
    assert grid["one_piece_threshold=0.5, consensus.concave_scale=0.2"] == {
        "one_piece_threshold": 0.5, "consensus.concave_scale": 0.2}
    with pytest.raises(SystemExit):  # varied twice
        main(["--objects", "1", "--vary", "cut_threshold=0.4", "--vary", "cut_threshold=0.5"])
    with pytest.raises(SystemExit):  # varied and fixed
        main(["--objects", "1", "--vary", "cut_threshold=0.4", "--set", "cut_threshold=0.5"])
    main(["--objects", "1", "--seed", "777", "--kinds", "separate", "--vary",
          "one_piece_size_weight=0,0.5", "--vary", "consensus.concave_scale=0,0.2", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["setting"] == "one_piece_size_weight × consensus.concave_scale"
    assert len(out["scores"]) == 4
