"""``python -m training.data build`` / ``stats`` as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.data.__main__ import main
from training.data.shards import ShardDataset

SMALL = ["--objects", "5", "--points", "600", "--shard-size", "3", "--workers", "1",
         "--assets", "", "--quality-weights", ""]


def test_build_cli_is_deterministic_with_progress_bar(tmp_path, capsys):
    assert main(["build", "--out", str(tmp_path / "a"), "--seed", "4", *SMALL]) == 0
    err = capsys.readouterr().err
    assert "build" in err and "5/5" in err  # the tqdm progress bar reached the end
    main(["build", "--out", str(tmp_path / "b"), "--seed", "4", *SMALL])
    main(["build", "--out", str(tmp_path / "c"), "--seed", "5", *SMALL])
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["meta.json", "shard_00000.npz", "shard_00001.npz"]
    a, b, c = (ShardDataset(tmp_path / x) for x in "abc")
    assert len(a) == 5
    for i in range(5):
        for key in ("points", "normals", "labels", "num_levels", "source", "fused"):
            np.testing.assert_array_equal(a[i][key], b[i][key])
        assert a[i]["points"].shape == (600, 3)
    assert any(not np.array_equal(a[i]["points"], c[i]["points"]) for i in range(5))
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["seed"] == 4 and meta["objects"] == 5 and "--seed 4" in meta["command"]
    assert meta["n_points"] == 600


def test_build_cli_samples_the_inference_density_by_default(tmp_path):
    main(["build", "--out", str(tmp_path / "e"), "--objects", "1", "--workers", "1",
          "--assets", "", "--quality-weights", ""])
    obj = ShardDataset(tmp_path / "e")[0]
    assert obj["points"].shape == (10_000, 3) and obj["labels"].shape[1] == 10_000


def test_stats_cli_prints_counts_and_writes_contact_sheet(tmp_path, capsys):
    main(["build", "--out", str(tmp_path / "d"), "--seed", "1", *SMALL])
    capsys.readouterr()
    assert main(["stats", str(tmp_path / "d"), "--n-show", "4"]) == 0
    out = capsys.readouterr().out
    assert "objects: 5" in out and "families:" in out and "parts per level" in out
    assert "part size" in out
    png = tmp_path / "d" / "contact.png"
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize("bad", [["--objects", "0"], ["--real-fraction", "1.5"],
                                 ["--families", "chair,spaceship"]])
def test_build_cli_rejects_bad_arguments_before_writing(tmp_path, bad, capsys):
    args = ["build", "--out", str(tmp_path / "x"), "--objects", "3", *bad]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert not (tmp_path / "x").exists()
    assert "error" in capsys.readouterr().err
