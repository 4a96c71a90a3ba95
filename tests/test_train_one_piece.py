"""The one-piece benchmark scores what it says and runs end to end on our own generator."""

import numpy as np

from training.one_piece import best_iou, main


def test_best_iou_known_cases():
    gt = np.array([0, 0, 1, 1])
    assert best_iou(gt, np.array([5, 5, 7, 7])) == 1.0
    assert best_iou(gt, np.zeros(4, int)) == 0.5  # one covering part: |part| / N per part


def test_one_object_report(tmp_path, capsys):
    out = tmp_path / "one_piece.md"
    assert main(["--objects", "1", "--report", str(out)]) == 0
    text = out.read_text()
    assert text.count("| one piece (fused) |") == 6 and text.count("| separate parts |") == 6
    assert "cut_one_piece=None" in capsys.readouterr().out
