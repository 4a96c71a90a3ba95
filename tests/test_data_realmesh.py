"""Real-mesh objects through the whole pipeline, from a small asset cache made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from training.data.build import BuildConfig, build
from training.data.parts import levels_nest
from training.data.quality import resolve_filter
from training.data.shards import ShardDataset
from training.data.stats import collect_stats, print_stats

WEIGHTS = Path(__file__).resolve().parents[1] / "training/data/weights/quality.safetensors"

ROBOT = """<robot name="toy_dog">
  <link name="body"><visual><geometry><box size="0.8 0.3 0.2"/></geometry></visual>
    <visual><origin xyz="0.45 0 0.1"/><geometry><sphere radius="0.12"/></geometry></visual></link>
  {legs}
</robot>"""
LEG = """<link name="leg{i}"><visual><origin xyz="0 0 -0.15"/><geometry>
  <mesh filename="meshes/leg.obj"/></geometry></visual></link>
  <link name="paw{i}"><visual><geometry><sphere radius="0.04"/></geometry></visual></link>
  <joint name="hip{i}" type="revolute"><parent link="body"/><child link="leg{i}"/>
    <origin xyz="{x} {y} -0.1"/><axis xyz="0 1 0"/><limit lower="-0.6" upper="0.6"/></joint>
  <joint name="knee{i}" type="fixed"><parent link="leg{i}"/><child link="paw{i}"/>
    <origin xyz="0 0 -0.3"/></joint>"""


def _cache(tmp_path: Path) -> Path:
    root = tmp_path / "cache" / "pybullet" / "toy"
    (root / "meshes").mkdir(parents=True)
    trimesh.creation.box(extents=[0.06, 0.06, 0.3]).export(root / "meshes" / "leg.obj")
    legs = "\n".join(LEG.format(i=i, x=x, y=y) for i, (x, y) in
                     enumerate([(0.3, 0.12), (0.3, -0.12), (-0.3, 0.12), (-0.3, -0.12)]))
    (root / "toy.urdf").write_text(ROBOT.format(legs=legs))
    row = {"id": "pybullet:toy/toy", "package": "test", "tag": "pybullet",
           "path": "pybullet/toy/toy.urdf", "kind": "urdf", "licence": "zlib", "usable": True}
    (tmp_path / "cache" / "manifest.json").write_text(json.dumps([row]))
    return tmp_path / "cache"


@pytest.mark.slow
def test_real_mesh_objects_are_deterministic_nested_and_filtered(tmp_path):
    qw, qt = resolve_filter(str(WEIGHTS), None)
    cfg = BuildConfig(n_points=3000, shard_size=4, real_fraction=1.0, fused_fraction=0.3,
                      asset_cache=str(_cache(tmp_path)), quality_weights=qw,
                      quality_threshold=qt)
    meta = build(tmp_path / "a", 6, seed=1, cfg=cfg, workers=1)
    build(tmp_path / "b", 6, seed=1, cfg=cfg, workers=2)
    a, b = ShardDataset(tmp_path / "a"), ShardDataset(tmp_path / "b")
    real = 0
    for i in range(6):
        x, y = a[i], b[i]
        np.testing.assert_array_equal(x["points"], y["points"])
        np.testing.assert_array_equal(x["labels"], y["labels"])
        nl = int(x["num_levels"])
        assert levels_nest(x["labels"][:nl])
        assert int(x["labels"][nl - 1].max()) >= 1  # at least two parts at the coarsest
        real += str(x["source"]) == "pybullet:toy/toy"
    assert real >= 4  # objects fall back to procedural only when every draw fails
    assert meta["quality_filter"]["levels_scored"] >= real
    st = collect_stats(tmp_path / "a")
    assert st["objects"] == 6 and sum(st["sources"].values()) == 6
    png = tmp_path / "sheet.png"
    print_stats(tmp_path / "a", png, n_show=4)
    assert png.stat().st_size > 10_000
