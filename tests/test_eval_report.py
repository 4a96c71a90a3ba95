"""The report a user reads: tables, pictures small enough to commit, speed numbers from a
bench file, untrained weights flagged, and both protocols from one command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from core.errors import InvalidInputError
from training.evaluate import EvalConfig, run
from training.report import MAX_PNG_BYTES, bench_from_file, model_lines, write_report

BENCH = {"runs": 5, "threads": 2,
         "onnx": {"encoder_ms": 123.4, "click_ms": 5.5, "cpu_ms": {"encoder": 99.5}},
         "torch": {"encoder_ms": 456.7, "click_ms": 9.25, "cpu_ms": {"encoder": 300.25}}}


@pytest.fixture(scope="module")
def cap_result(shared_data):
    cfg = EvalConfig(data=str(shared_data / "shapenet-part-cap"), methods=("ball", "kmeans",
                     "dbscan"), protocol="points", limit=3, keep_labels_for=("cap_test_00",))
    result = run(cfg)
    return result, result.pop("_pictures")


def test_report_files_tables_and_small_pictures(cap_result, tmp_path):
    result, pictures = cap_result
    bench_file = tmp_path / "bench.json"
    bench_file.write_text("warm-up line that is not JSON\n" + json.dumps(BENCH) + "\n")
    out = tmp_path / "rep"
    write_report(result, pictures, out, argv=["evaluate.py", "--data", "x"],
                 bench=bench_from_file(bench_file))
    md = (out / "report.md").read_text()
    assert "Command: `python -m training.evaluate --data x`" in md
    assert "| ball |" in md and "| kmeans |" in md and "| dbscan |" in md
    assert "| shapenet-part-cap | 3 |" in md  # per-category row with its object count
    # the bench numbers appear in a table, one column per backend
    assert "| Measurement | onnx | torch |" in md and "| encoder_ms | 123.4 | 456.7 |" in md
    assert "| cpu_ms | encoder 99.5 | encoder 300.25 |" in md and "- runs: 5" in md
    assert json.loads((out / "report.json").read_text())["bench"]["bench"] == BENCH
    for name in ("objects.png", "iou_vs_scale.png"):
        size = (out / name).stat().st_size
        assert 5_000 < size <= MAX_PNG_BYTES
        with Image.open(out / name) as im:
            assert im.mode == "P" and im.width > 300  # palette PNG, still a real picture
    assert "UNTRAINED" not in md  # no model ran: nothing to flag


def test_bench_file_errors_are_specific(tmp_path):
    with pytest.raises(InvalidInputError, match="bench file not found"):
        bench_from_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("no json here\n")
    with pytest.raises(InvalidInputError, match="no JSON object"):
        bench_from_file(bad)


def test_untrained_weights_are_flagged_at_the_top():
    meta = {"created": "2026-11-25", "notes": "random init", "backend": "onnx"}
    untrained = {"methods": {"model": {"trained": False, "model_metadata": meta}}}
    trained = {"methods": {"agglo": {"trained": True, "model_metadata": meta}}}
    assert "UNTRAINED" in model_lines(untrained)[0] and "random init" in model_lines(untrained)[0]
    assert "trained: true" in model_lines(trained)[0] and "backend: onnx" in model_lines(trained)[0]
    assert model_lines({"methods": {"cc": {}}}) == []


def test_both_protocols_in_one_command(repo_root, shared_data, tmp_path):
    bench_file = tmp_path / "bench.json"
    bench_file.write_text(json.dumps(BENCH))
    out = tmp_path / "eval"
    p = subprocess.run(
        [sys.executable, "-m", "training.evaluate", "--data",
         str(shared_data / "partnet-mobility-dev"), "--limit", "2", "--points", "2000",
         "--method", "cc", "kmeans", "--protocol", "mesh", "points", "--report", str(out),
         "--bench-json", str(bench_file), "--json"],
        cwd=repo_root, capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert set(res["protocols"]) == {"mesh", "points"} and res["wall_s"] > 0
    mesh, points = res["protocols"]["mesh"], res["protocols"]["points"]
    assert mesh["methods"]["cc"]["objects"] == 2
    assert points["methods"]["cc"]["objects"] == 0  # cc needs the mesh
    # the same sampled points in both protocols: k-means (XYZ only) scores the same
    assert mesh["methods"]["kmeans"]["full_miou_leaf"] == pytest.approx(
        points["methods"]["kmeans"]["full_miou_leaf"])
    for proto in ("mesh", "points"):
        md = (out / proto / "report.md").read_text()
        assert f"{proto} protocol" in md and "| encoder_ms | 123.4 | 456.7 |" in md
    summary = (out / "summary.md").read_text()
    assert "[full report](mesh/report.md)" in summary and "[full report](points/report.md)" in summary


@pytest.mark.parametrize("bad, message", [(["--limit", "0"], "--limit must be at least 1"),
                                          (["--points", "3"], "--points must be at least 16")])
def test_bad_numbers_are_refused(shared_data, capsys, bad, message):
    from training.evaluate import main

    with pytest.raises(SystemExit) as exc:
        main(["--data", str(shared_data / "shapenet-part-cap"), *bad])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_palette_png_keeps_the_part_colours(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from training.report import save_small_png

    fig, ax = plt.subplots(figsize=(3, 3))
    ax.scatter(np.arange(20), np.arange(20), c=plt.get_cmap("tab20")(np.arange(20)), s=200)
    size = save_small_png(fig, tmp_path / "a.png", dpi=80, max_bytes=MAX_PNG_BYTES)
    plt.close(fig)
    assert size == (tmp_path / "a.png").stat().st_size <= MAX_PNG_BYTES
    with Image.open(tmp_path / "a.png") as im:
        colours = {tuple(c) for c in np.asarray(im.convert("RGB")).reshape(-1, 3)}
    tab20 = {tuple(int(round(255 * x)) for x in plt.get_cmap("tab20")(i)[:3]) for i in range(20)}
    assert len(tab20 & colours) >= 18  # quantisation keeps the categorical colours
