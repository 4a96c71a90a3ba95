"""A researcher's own multi-part meshes become training objects with one command."""

from __future__ import annotations

import json
from pathlib import Path

import trimesh

from training.data.__main__ import main as data_main
from training.data.build import BuildConfig, build
from training.data.shards import ShardDataset


def _glb(path: Path, n_parts: int) -> None:
    scene = trimesh.Scene()
    for i in range(n_parts):
        scene.add_geometry(trimesh.creation.box(extents=[0.3, 0.3, 0.3]), node_name=f"p{i}",
                           geom_name=f"p{i}",
                           transform=trimesh.transformations.translation_matrix([0.35 * i, 0, 0]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(trimesh.exchange.gltf.export_glb(scene))


def test_add_meshes_then_build_draws_from_them(tmp_path, capsys):
    mine = tmp_path / "my_meshes"
    _glb(mine / "robot.glb", 4)
    _glb(mine / "blob.glb", 1)  # one part: nothing to learn from
    _glb(mine / "obj1" / "whatever.glb", 3)  # laid out like a PartNet-Mobility object
    (mine / "obj1" / "mobility.urdf").write_text("<robot name='x'/>")
    cache = tmp_path / "cache"
    cache.mkdir()
    pypi_row = {"id": "pybullet:x", "tag": "pybullet", "path": "pybullet/x.urdf",
                "usable": False, "package": "pybullet==3.2.7"}
    (cache / "manifest.json").write_text(json.dumps([pypi_row]))

    assert data_main(["add-meshes", str(mine), "--cache", str(cache), "--licence", "CC0"]) == 0
    out = capsys.readouterr().out
    assert "ok   user:robot.glb (4 parts)" in out
    assert "skip user:blob.glb: ValueError: only 1 part meshes" in out
    assert "skip user:obj1/whatever.glb: ValueError: laid out like a PartNet-Mobility" in out
    assert "skip user:obj1/mobility.urdf" in out and "1 usable of 4" in out
    rows = json.loads((cache / "manifest.json").read_text())
    assert rows[0] == pypi_row  # the PyPI rows are kept
    usable = [r for r in rows if r["usable"]]
    assert [r["id"] for r in usable] == ["user:robot.glb"] and usable[0]["licence"] == "CC0"
    # running it again refreshes this folder's rows instead of duplicating them
    assert data_main(["add-meshes", str(mine), "--cache", str(cache)]) == 0
    assert len(json.loads((cache / "manifest.json").read_text())) == len(rows)

    cfg = BuildConfig(n_points=600, shard_size=4, real_fraction=1.0, fused_fraction=0.0,
                      asset_cache=str(cache), quality_weights=None)
    meta = build(tmp_path / "ds", 4, 0, cfg, workers=1)
    assert meta["objects"] == 4
    assert meta["sources"] == {"user": 4} and meta["families"] == {"user:robot.glb": 4}
    ds = ShardDataset(tmp_path / "ds")
    assert all(str(ds[i]["source"]).startswith("user:") for i in range(len(ds)))


def test_add_meshes_missing_folder_says_so(tmp_path, capsys):
    assert data_main(["add-meshes", str(tmp_path / "nope"), "--cache", str(tmp_path)]) == 1
    assert "not a folder" in capsys.readouterr().err
