"""The merge-tree diagnosis (training.tree_ceiling): its bounds hold on real objects."""

from __future__ import annotations

import numpy as np
import pytest

from core import Segmenter
from core.mesh_regions import face_vote
from training.tree_ceiling import (
    THRESHOLDS,
    main,
    object_ceiling,
    summarise,
    threshold_cut,
)


@pytest.fixture(scope="module")
def ceilings(shared_data):
    seg = Segmenter.from_pretrained(num_threads=2)
    # a laptop (many pieces, parts inside welded pieces) and a two-part bucket
    return [object_ceiling(seg, shared_data / "partnet-mobility-dev" / f"{oid}.npz", 3000)
            for oid in ("9748", "100438")]


def test_the_oracles_bound_what_the_tree_gives(ceilings):
    """Each object's best threshold is at least every single threshold's score and at most
    the best node per region, which no cut of the tree can beat; the true edge
    dissimilarities give a better natural cut than the learned ones."""
    for c in ceilings:
        s = c.scores
        assert len(c.thresholds) == len(THRESHOLDS)
        assert s["best_threshold"] == pytest.approx(max(c.thresholds))
        assert s["natural"] <= s["best_node"] + 1e-9
        assert s["best_threshold"] <= s["best_node"] + 1e-9
        assert s["oracle_edges"] > s["natural"]  # the true dissimilarities help
        # a click: no node on its path beats the path's best, whatever picks it
        assert s["click_natural"] <= s["click_best_on_path"] + 1e-9
        assert s["click_best_threshold"] <= s["click_best_on_path"] + 1e-9
        assert 0 <= min(s.values()) and max(s.values()) <= 100


def test_summary_and_aucs(ceilings):
    summary = summarise(ceilings)
    assert summary["objects"] == 2
    assert set(summary["threshold_curve"]) == {str(t) for t in THRESHOLDS}
    assert summary["edges"]["welded"] > 0
    assert 0.0 <= summary["auc"]["welded"] <= 1.0
    assert summary["scores"]["natural"] == pytest.approx(
        np.mean([c.scores["natural"] for c in ceilings]), abs=0.01)


def test_threshold_cut_and_majority_leaf():
    """A tree of three leaves: merge (0, 1) at 0.2, then with 2 at 0.8."""
    from core.merge_tree import MergeTree, TreeSettings

    tree = MergeTree(3, np.array([[-1, -1], [-1, -1], [-1, -1], [0, 1], [3, 2]]),
                     np.array([3, 3, 4, 4, -1]), np.array([0.3, 0.3, 0.4, 0.6, 1.0]),
                     np.array([0, 0, 0, 0.2, 0.8]), TreeSettings())
    assert threshold_cut(tree, 0.9).tolist() == [4]
    assert threshold_cut(tree, 0.5).tolist() == [2, 3]
    assert threshold_cut(tree, 0.1).tolist() == [0, 1, 2]
    maj = face_vote(np.array([2, 2, 0, 1, 1]), np.array([0, 0, 1, 1, 1]), 3)  # majority
    assert maj.tolist() == [2, 1, -1]


def test_cli_prints_the_table(shared_data, capsys):
    main(["--data", str(shared_data / "partnet-mobility-dev"), "--limit", "1",
          "--points", "2000"])
    out = capsys.readouterr().out
    assert "best_threshold" in out and "ROC AUC" in out
