"""The evaluation command as a user runs it: JSON last line, both data formats, the report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

BASELINES = ["cc", "ball", "kmeans", "dbscan"]
METRICS = ["interactive_iou_scale", "interactive_iou_noscale", "full_miou_leaf", "full_miou_any",
           "objects", "per_category", "per_level", "wall_s"]


def _run(repo_root, *args):
    p = subprocess.run([sys.executable, "-m", "training.evaluate", *args], cwd=repo_root,
                       capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def test_json_last_line_on_mesh_objects(repo_root, shared_data, tmp_path):
    p = _run(repo_root, "--data", str(shared_data / "partnet-mobility-dev"), "--limit", "3",
             "--points", "3000", "--method", *BASELINES, "--json", "--report", str(tmp_path), "--no-bench")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["objects"] == 3 and res["protocol"] == "mesh"
    for m in BASELINES:
        assert all(k in res["methods"][m] for k in METRICS)
        assert res["methods"][m]["objects"] == 3
    ms = res["methods"]
    assert ms["cc"]["interactive_iou_scale"] is None  # cc answers no prompts
    assert ms["ball"]["full_miou_leaf"] is None  # ball makes no full segmentation
    assert 0.0 <= ms["ball"]["interactive_iou_scale"] <= 100.0
    assert ms["kmeans"]["full_mode"] == "oracle K per level"
    md = (tmp_path / "report.md").read_text()
    assert "| cc |" in md and "`cc` answers no click prompts" in md
    assert "core.bench not run (--no-bench)" in md
    assert (tmp_path / "objects.png").stat().st_size > 10_000
    assert (tmp_path / "iou_vs_scale.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "report.json").read_text())["objects"] == 3


def test_point_cloud_objects_and_points_protocol(repo_root, shared_data):
    p = _run(repo_root, "--data", str(shared_data / "shapenet-part-cap"), "--limit", "2",
             "--method", *BASELINES, "--protocol", "points", "--json")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    cc = res["methods"]["cc"]
    assert cc["objects"] == 0 and set(cc["skipped"].values()) == {"needs the mesh protocol"}
    assert res["methods"]["kmeans"]["objects"] == 2
    assert res["methods"]["kmeans"]["per_category"].keys() == {"shapenet-part-cap"}


def test_unknown_folder_is_a_clear_error(repo_root, tmp_path):
    p = subprocess.run([sys.executable, "-m", "training.evaluate", "--data",
                        str(tmp_path / "nope"), "--method", "cc"], cwd=repo_root,
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode != 0
    assert "evaluation data folder not found" in p.stderr


@pytest.mark.parametrize("bad", [["--method", "nonsense"], ["--protocol", "voxels"]])
def test_bad_arguments_are_refused(repo_root, shared_data, bad):
    p = subprocess.run([sys.executable, "-m", "training.evaluate", "--data",
                        str(shared_data / "shapenet-part-cap"), *bad], cwd=repo_root,
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 2 and "invalid choice" in p.stderr
