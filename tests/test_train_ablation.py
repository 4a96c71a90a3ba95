"""The ablation table shows every arm's numbers and the ball baseline, per protocol."""

from training.ablation import ARMS, render_table


def _res(model_scale, model_noscale, leaf, ball=58.4):
    proto = {"methods": {
        "model": {"interactive_iou_scale": model_scale, "interactive_iou_noscale": model_noscale,
                  "full_miou_leaf": leaf},
        "ball": {"interactive_iou_scale": ball, "interactive_iou_noscale": 18.5,
                 "full_miou_leaf": None}}}
    return {"protocols": {"mesh": proto, "points": proto}}


def test_table_has_a_row_per_arm_and_the_baseline():
    results = {"full": _res(37.04, 30.1, 50.0), "noscale": _res(26.6, 26.6, 49.0)}
    table = render_table(results, {"full": 250, "noscale": 227})
    rows = table.strip().splitlines()
    assert len(rows) == 2 + 2 + 1  # header, rule, two arms, ball
    assert "| 250 | 37.0 | 30.1 | 50.0 | 37.0 |" in rows[2]
    assert rows[3].count("26.6") == 4 and "| 227 |" in rows[3]
    assert rows[-1].startswith("| `ball` baseline") and "58.4" in rows[-1] and "–" in rows[-1]
    assert set(ARMS) == {"full", "noscale", "nocon", "prior"}
