"""The benchmark metrics inside the evaluator: face labels aligned with the human
segmentations, the reference rows, the command line on psb-dev and both dev sets at once."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from training import psb_eval
from training import psb_metrics as pm
from training.baselines import BaselineSettings
from training.devset import face_nearest_point, load_object, make_sample
from training.evaluate import Method, evaluate_object

PSB_ID = "psb_10"  # a Human mesh: 19,012 faces, 11 human segmentations


@pytest.fixture(scope="module")
def psb_sample(shared_data):
    obj = load_object(shared_data / "psb-dev" / f"{PSB_ID}.npz")
    humans = obj.human_segs.copy()
    return make_sample(obj, n_points=3000, seed=0), humans


class _FaceOracle(Method):
    """Labels the faces exactly as human 0 did, and the points through their faces."""

    name, has_noscale_full = "face_oracle", True

    def __init__(self, human: np.ndarray):
        self.human = human

    def segment(self):
        return self.human[self.sample.point_faces]

    def face_labels(self, key):
        return self.human if key == "noscale" else None


def test_loader_keeps_the_human_segmentations_aligned_with_the_faces(psb_sample):
    s, humans = psb_sample
    assert humans.shape == (11, len(s.obj.faces)) == (11, 19012)
    assert np.array_equal(s.faces_welded, s.obj.faces)  # psb-dev: welding changes nothing


def test_a_human_as_the_method_scores_the_mean_over_the_other_humans(psb_sample):
    s, humans = psb_sample
    ctx = psb_eval.psb_context(s.obj)
    rec = evaluate_object(_FaceOracle(humans[0]), s, np.zeros(0, np.int64), "mesh", psb=ctx,
                          iou=False)
    got = rec["psb"]["noscale"]
    others = [pm.compare(ctx.geom, ctx.humans[0], h) for h in ctx.humans[1:]]
    for k in pm.PSB_KEYS:  # the self-comparison adds 0 to the mean over the 11 humans
        assert got[k] == pytest.approx(sum(o[k] for o in others) / 11)
    assert "full_noscale" not in rec  # iou=False: no IoU scoring


def test_point_labels_reach_the_faces_through_the_nearest_sample(psb_sample):
    s, humans = psb_sample
    near = face_nearest_point(s)
    assert near.shape == (len(s.obj.faces),)
    # the face a sample lies on is (nearly always) the face whose centroid is nearest it
    lab = humans[0][s.point_faces]
    mapped = psb_eval.to_faces(s, lab, None)
    assert np.mean(mapped == humans[0]) > 0.9
    assert psb_eval.to_faces(s, lab, humans[1]) is not None  # own face labels win
    assert np.array_equal(psb_eval.to_faces(s, lab, humans[1]), humans[1])


def test_reference_rows(psb_sample):
    s, humans = psb_sample
    ctx = psb_eval.psb_context(s.obj)
    ref = psb_eval.score_reference(ctx, s, BaselineSettings())
    one = ref["one_segment"]
    assert one["psb_rm"] == pytest.approx(0.0, abs=1e-12) and one["psb_gce"] == 0.0
    assert one["psb_cut_discrepancy"] is None
    # one segment: every face pair is "same"; a human disagrees on the pairs it splits
    n = len(s.obj.faces)
    expect = np.mean([1 - h.pairs_same / (n * (n - 1) / 2) for h in ctx.humans])
    assert one["psb_rand_error"] == pytest.approx(expect)
    assert ref["kmeans_mode_k"]["k"] == pm.mode_segment_count(ctx.humans)
    hum = ref["human"]
    assert hum["psb_rm"] == pytest.approx(hum["psb_rf"])
    assert 0.0 < hum["psb_rand_error"] < one["psb_rand_error"]


def _run(repo_root, *args, rc=0):
    p = subprocess.run([sys.executable, "-m", "training.evaluate", *args], cwd=repo_root,
                       capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == rc, p.stderr[-3000:]
    return p


def test_psb_metrics_from_the_command_line(repo_root, shared_data, tmp_path):
    p = _run(repo_root, "--data", str(shared_data / "psb-dev"), "--limit", "2", "--points",
             "2000", "--method", "cc", "ball", "kmeans", "--json", "--report", str(tmp_path),
             "--no-bench")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["metrics"] == ["iou", "psb"]  # psb by default where human_segs exist
    ms = res["methods"]
    for k in pm.PSB_KEYS:
        assert k in ms["cc"] and k in ms["kmeans"]
    assert ms["cc"]["psb_mode"] == "noscale" and ms["kmeans"]["psb_mode"] == "leaf"
    assert ms["ball"]["psb_rand_error"] is None  # clicks only: no labelling
    ref = res["psb"]["reference"]
    # psb-dev meshes are one closed piece: cc is the one-segment row
    assert ms["cc"]["psb_rand_error"] == pytest.approx(ref["one_segment"]["psb_rand_error"])
    assert ref["human"]["objects"] == 2 and res["psb"]["human_segmentations"] > 2
    md = (tmp_path / "report.md").read_text()
    assert "| *Human (every pair of human segmentations)* |" in md
    assert "not re-measured here" in md and "| Randomized Cuts | 0.152 |" in md


def test_psb_metrics_need_human_segmentations(repo_root, shared_data):
    p = _run(repo_root, "--data", str(shared_data / "partnet-mobility-dev"), "--limit", "1",
             "--method", "cc", "--metrics", "psb", rc=1)
    assert "needs objects with human_segs" in p.stderr


def test_both_dev_sets_in_one_command(repo_root, shared_data, tmp_path):
    p = _run(repo_root, "--data", str(shared_data / "partnet-mobility-dev"),
             str(shared_data / "psb-dev"), "--limit", "1", "--points", "1000", "--method",
             "cc", "--protocol", "mesh", "points", "--report", str(tmp_path), "--no-bench",
             "--metrics", "psb", "--json", "--jobs", "2", rc=1)
    assert "partnet-mobility-dev: --metrics psb needs" in p.stderr  # asked for every set
    p = _run(repo_root, "--data", str(shared_data / "partnet-mobility-dev"),
             str(shared_data / "psb-dev"), "--limit", "1", "--points", "1000", "--method",
             "cc", "--protocol", "mesh", "points", "--report", str(tmp_path), "--no-bench",
             "--json", "--jobs", "2")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    sets = res["datasets"]
    assert set(sets) == {"partnet-mobility-dev", "psb-dev"}
    assert "psb" not in sets["partnet-mobility-dev"]["protocols"]["mesh"]
    assert sets["psb-dev"]["protocols"]["points"]["psb"]["objects"] == 1
    for d in sets:
        for proto in ("mesh", "points"):
            assert (tmp_path / d.split("-")[0] / proto / "report.md").is_file()
    summary = (tmp_path / "summary.md").read_text()
    assert "[full report](psb/points/report.md)" in summary
    assert "(**not re-measured, not re-checked**" in summary


def test_count_method_scores_the_human_mode_k(psb_sample):
    """``count`` (Segment All with a part count) is told each level's K and, for the
    benchmark rows, the mode of the human segment counts: its main row is that labelling,
    with exactly that many parts on the faces."""
    from training.evaluate import EvalConfig
    from training.methods import CountMethod, SharedModel

    sample, humans = psb_sample
    method = CountMethod(SharedModel(EvalConfig(data="unused", n_points=3000)))
    ctx = psb_eval.psb_context(sample.obj)
    rec = evaluate_object(method, sample, np.zeros(0, np.int64), "mesh", psb=ctx)
    assert set(rec["psb"]) == {"level1", "leaf", "mode_k"} | {
        f"level{d}" for d in sample.levels}
    k = int(np.argmax(np.bincount([len(np.unique(h)) for h in humans])))
    assert len(np.unique(method.face_labels("mode_k"))) == k
    for d, lab in rec["labels_levels"].items():
        assert len(np.unique(lab)) <= len(np.unique(sample.levels[d]))
    assert 0.0 <= rec["psb"]["mode_k"]["psb_rand_error"] < 0.5
    assert method.psb_main == "mode_k"
