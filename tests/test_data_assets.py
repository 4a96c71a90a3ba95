"""Real-mesh loaders (URDF, GLB), the asset fetch step and its evaluation-data guard."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh

from training.data.asset_loaders import (
    articulated_part,
    joint_configuration,
    load_scene_part,
    parse_urdf,
)
from training.data.assets import (
    PACKAGES,
    classify_licence,
    extract,
    fetch_assets,
    partnet_mobility_dirs,
)
from training.data.parts import flatten, levels_nest, tree_levels

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "assets"

URDF = """<?xml version="1.0"?>
<robot name="toy_arm">
  <link name="base">
    <visual><origin xyz="0 0 0.05" rpy="0 0 0"/><geometry><box size="0.4 0.4 0.1"/></geometry></visual>
  </link>
  <link name="arm">
    <visual><origin xyz="0 0 0.25"/><geometry><mesh filename="package://toy/meshes/arm.obj" scale="1 1 1"/></geometry></visual>
    <visual><origin xyz="0 0 0.5"/><geometry><sphere radius="0.06"/></geometry></visual>
  </link>
  <link name="hand">
    <visual><geometry><cylinder radius="0.03" length="0.2"/></geometry></visual>
  </link>
  <joint name="j0" type="revolute"><parent link="base"/><child link="arm"/>
    <origin xyz="0 0 0.1" rpy="0 0 0"/><axis xyz="0 1 0"/><limit lower="-1" upper="1"/></joint>
  <joint name="j1" type="fixed"><parent link="arm"/><child link="hand"/>
    <origin xyz="0 0 0.6"/></joint>
</robot>
"""


def _toy_urdf(tmp_path: Path) -> Path:
    (tmp_path / "meshes").mkdir()
    trimesh.creation.box(extents=[0.05, 0.05, 0.5]).export(tmp_path / "meshes" / "arm.obj")
    p = tmp_path / "toy.urdf"
    p.write_text(URDF)
    return p


def test_urdf_parser_places_links_by_the_kinematic_chain(tmp_path):
    art = parse_urdf(_toy_urdf(tmp_path))
    assert set(art.links) == {"base", "arm", "hand"} and art.root == "base"
    rest = articulated_part(art)
    leaves = rest.leaves()
    assert len(leaves) == 4  # box, arm mesh, sphere, cylinder
    hand = [lf for lf in leaves if lf.name.split("/")[0] == "hand"][0]
    # hand frame = base -> (0,0,0.1) -> (0,0,0.6): cylinder centred at z = 0.7
    np.testing.assert_allclose(hand.mesh.bounds.mean(0), [0, 0, 0.7], atol=1e-6)
    # tree follows the kinematics: base ⊃ arm ⊃ hand, so tree levels nest
    flat = flatten(rest)
    lv = tree_levels(flat)
    assert levels_nest(lv) and lv.shape[0] >= 2
    # posing the revolute joint swings the arm and everything after it about y
    q = {"j0": 0.5, "j1": 0.0}
    posed = articulated_part(art, q)
    hand2 = [lf for lf in posed.leaves() if lf.name.split("/")[0] == "hand"][0]
    c = hand2.mesh.bounds.mean(0)
    np.testing.assert_allclose(c, [0.6 * np.sin(0.5), 0, 0.1 + 0.6 * np.cos(0.5)], atol=1e-6)
    qs = joint_configuration(art, np.random.default_rng(0))
    assert -1 <= qs["j0"] <= 1 and qs["j1"] == 0.0


def test_glb_scene_nodes_become_parts(tmp_path):
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box(extents=[1, 1, 0.2]), node_name="body",
                       geom_name="body")
    scene.add_geometry(trimesh.creation.cylinder(0.1, 0.5), node_name="leg_a", geom_name="leg",
                       parent_node_name="body",
                       transform=trimesh.transformations.translation_matrix([0.4, 0.4, -0.3]))
    scene.add_geometry(trimesh.creation.cylinder(0.1, 0.5), node_name="leg_b",
                       geom_name="leg_b", parent_node_name="body",
                       transform=trimesh.transformations.translation_matrix([-0.4, 0.4, -0.3]))
    path = tmp_path / "thing.glb"
    path.write_bytes(trimesh.exchange.gltf.export_glb(scene))
    part = load_scene_part(path)
    names = sorted(lf.name for lf in part.leaves())
    assert names == ["body", "leg_a", "leg_b"]
    leg = [lf for lf in part.leaves() if lf.name == "leg_a"][0]
    np.testing.assert_allclose(leg.mesh.bounds.mean(0), [0.4, 0.4, -0.3], atol=1e-5)


def test_extract_never_takes_the_evaluation_object(tmp_path):
    spec = PACKAGES["genesis-world"]
    whl = tmp_path / "genesis_world-1.4.5-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("genesis/assets/urdf/3763/mobility.urdf", "<robot/>")
        z.writestr("genesis/assets/urdf/3763/textured_objs/original-1.obj", "v 0 0 0")
        z.writestr("genesis/assets/urdf/go2/urdf/go2.urdf", "<robot/>")
        z.writestr("genesis/assets/urdf/go2/LICENSE", "Apache License")
        z.writestr("genesis/engine/solver.py", "code")
    n = extract(whl, spec, tmp_path / "out")
    got = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")
                 if p.is_file())
    assert n == 2 and got == ["urdf/go2/LICENSE", "urdf/go2/urdf/go2.urdf"]


def test_extract_skips_any_partnet_mobility_object(tmp_path):
    """Objects laid out like PartNet-Mobility (mobility.urdf, textured_objs/) stay out under
    any folder name; unrelated files named meta.json / result.json do not trigger it."""
    spec = PACKAGES["genesis-world"]
    whl = tmp_path / "genesis_world-1.4.5-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("genesis/assets/urdf/7128/mobility.urdf", "<robot/>")
        z.writestr("genesis/assets/urdf/7128/textured_objs/original-3.obj", "v 0 0 0")
        z.writestr("genesis/assets/urdf/71280/robot.urdf", "<robot/>")
        z.writestr("genesis/assets/objs/cab/textured_objs/new-0.obj", "v 0 0 0")
        z.writestr("genesis/assets/objs/cab/cab.urdf", "<robot/>")
        z.writestr("genesis/assets/xml/arm/meta.json", "{}")
        z.writestr("genesis/assets/xml/arm/arm.xml", "<mujoco/>")
    names = zipfile.ZipFile(whl).namelist()
    assert partnet_mobility_dirs(names) == {"genesis/assets/urdf/7128/",
                                            "genesis/assets/objs/cab/"}
    extract(whl, spec, tmp_path / "out")
    got = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*")
                 if p.is_file())
    assert got == ["urdf/71280/robot.urdf", "xml/arm/arm.xml"]


def test_licence_classification():
    assert classify_licence("Apache License\nVersion 2.0", "zlib") == "Apache-2.0"
    assert classify_licence("licensed under the Creative Commons - Attribution - Share Alike",
                            "zlib") == "CC-BY-SA-3.0"
    assert classify_licence("Meshes used by permission of Unitree.", "zlib") == \
        "used-by-permission"
    assert classify_licence("If you use the model, cite PyBullet", "zlib") == "zlib"


@pytest.mark.slow
def test_fetch_assets_and_parse_real_packages():
    """Needs PyPI: runs the fetch step when the cache is absent (never skipped)."""
    manifest = CACHE / "manifest.json"
    if not manifest.exists():
        fetch_assets(CACHE)
    rows = json.loads(manifest.read_text())
    assert not any("3763" in r["path"] for r in rows)
    assert not list(CACHE.rglob("*3763*"))
    # the only PartNet-Mobility-like object in the six pinned packages is the evaluation one
    for archive in sorted((CACHE / "downloads").iterdir()):
        if archive.suffix in (".whl", ".zip"):
            found = partnet_mobility_dirs(zipfile.ZipFile(archive).namelist())
            want = {"genesis/assets/urdf/3763/"} if "genesis" in archive.name else set()
            assert found == want, archive.name
    usable = [r for r in rows if r["usable"]]
    assert len(usable) >= 20
    assert {r["tag"] for r in usable} == {spec.tag for spec in PACKAGES.values()}
    assert all(r["licence"] in ("zlib", "Apache-2.0", "BSD", "MIT") for r in usable)
    by_id = {r["id"]: r for r in rows}
    race = parse_urdf(CACHE / by_id["pybullet:racecar/racecar"]["path"])
    part = articulated_part(race, joint_configuration(race, np.random.default_rng(0)))
    assert len(part.leaves()) >= 5 and levels_nest(tree_levels(flatten(part)))
    # a licence that is not permissive keeps an asset out
    assert not by_id["pybullet:bicycle/bike"]["usable"]
    # genesis-world's files parse too: a GLB scene (its nodes are the parts) and a URDF robot
    cam = load_scene_part(CACHE / by_id["genesis:meshes/camera/camera"]["path"])
    assert len(cam.leaves()) == 2 and all(len(lf.mesh.faces) > 100 for lf in cam.leaves())
    gen = [r for r in usable if r["tag"] == "genesis" and r["kind"] == "urdf"]
    assert gen
    robot = articulated_part(parse_urdf(CACHE / gen[0]["path"]))
    assert len(robot.leaves()) >= 3 and levels_nest(tree_levels(flatten(robot)))
    # every asset records its package pin and licence
    assert all(r["package"].count("==") == 1 and r["licence"] for r in rows)


MJCF_MAIN = """<mujoco model="toy">
  <compiler angle="degree" meshdir="meshes"/>
  <include file="parts.xml"/>
  <include file="scene.xml"/>
  <default>
    <geom type="box" group="1" contype="0" conaffinity="0"/>
    <default class="col"><geom group="3" contype="1" conaffinity="1"/></default>
  </default>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 .1"/>
    <body name="torso" pos="0 0 1">
      <geom name="chest" size="0.2 0.1 0.3"/>
      <geom class="col" name="chest_col" size="0.25 0.15 0.35"/>
      <body name="arm" pos="0.2 0 0.2" euler="0 90 0">
        <joint name="shoulder" type="hinge" axis="0 1 0" range="-30 30"/>
        <geom name="upper" type="capsule" fromto="0 0 0 0 0 0.4" size="0.05"/>
        <geom name="hand" type="mesh" mesh="hand" pos="0 0 0.45"/>
      </body>
    </body>
  </worldbody>
</mujoco>
"""
MJCF_PARTS = """<mujocoinclude><asset><mesh name="hand" file="hand.stl" scale="2 2 2"/></asset>
</mujocoinclude>"""


def test_mjcf_loader_reads_bodies_geoms_defaults_and_includes(tmp_path):
    from training.data.mjcf import load_mjcf

    (tmp_path / "meshes").mkdir()
    trimesh.creation.box(extents=[0.05, 0.05, 0.05]).export(tmp_path / "meshes" / "hand.stl")
    (tmp_path / "parts.xml").write_text(MJCF_PARTS)
    (tmp_path / "scene.xml").write_text("<mujocoinclude><worldbody><geom type='box' "
                                        "size='9 9 9'/></worldbody></mujocoinclude>")
    (tmp_path / "toy.xml").write_text(MJCF_MAIN)
    part = load_mjcf(tmp_path / "toy.xml")
    by_name = {lf.name: lf.mesh for lf in part.leaves()}
    # visual geoms only: the plane, the collision box and the scene include are left out
    assert sorted(by_name) == ["chest", "hand", "upper"]
    np.testing.assert_allclose(by_name["chest"].extents, [0.4, 0.2, 0.6], atol=1e-9)
    # arm rotated 90 degrees about y: its local +z points along world +x
    np.testing.assert_allclose(by_name["hand"].bounds.mean(0), [0.2 + 0.45, 0, 1.2], atol=1e-6)
    np.testing.assert_allclose(by_name["hand"].extents, [0.1, 0.1, 0.1], atol=1e-6)  # scale 2
    lv = tree_levels(flatten(part))
    assert levels_nest(lv) and lv.shape[0] == 2  # {chest, upper, hand} then {chest, arm}
    posed = load_mjcf(tmp_path / "toy.xml", rng=np.random.default_rng(0))
    hand = {lf.name: lf.mesh for lf in posed.leaves()}["hand"].bounds.mean(0)
    assert not np.allclose(hand, [0.65, 0, 1.2], atol=1e-3)  # the hinge moved the hand
    assert abs(np.linalg.norm(hand - [0.2, 0, 1.2]) - 0.45) < 1e-6  # ...about the shoulder


def test_mjcf_parsed_once_poses_like_a_fresh_load(tmp_path):
    """The build parses each MJCF model once and poses it per draw: same part tree, same
    joint values as reading the file again, and posing never alters the parsed model."""
    from training.data.mjcf import load_mjcf, parse_mjcf, pose_mjcf

    (tmp_path / "meshes").mkdir()
    trimesh.creation.box(extents=[0.05, 0.05, 0.05]).export(tmp_path / "meshes" / "hand.stl")
    (tmp_path / "parts.xml").write_text(MJCF_PARTS)
    (tmp_path / "scene.xml").write_text("<mujocoinclude/>")
    (tmp_path / "toy.xml").write_text(MJCF_MAIN)
    model = parse_mjcf(tmp_path / "toy.xml")
    for seed in (0, 1, 2):
        fresh = load_mjcf(tmp_path / "toy.xml", rng=np.random.default_rng(seed), amount=0.5)
        posed = pose_mjcf(model, rng=np.random.default_rng(seed), amount=0.5)
        assert [lf.name for lf in fresh.leaves()] == [lf.name for lf in posed.leaves()]
        for a, b in zip(fresh.leaves(), posed.leaves()):
            np.testing.assert_allclose(a.mesh.vertices, b.mesh.vertices, atol=1e-12)
    rest = {lf.name: lf.mesh.bounds.mean(0) for lf in pose_mjcf(model).leaves()}
    np.testing.assert_allclose(rest["hand"], [0.2 + 0.45, 0, 1.2], atol=1e-6)
    (tmp_path / "empty.xml").write_text("<mujoco><worldbody><geom type='plane' size='1 1 1'/>"
                                        "</worldbody></mujoco>")
    with pytest.raises(ValueError, match="no drawable geometry"):
        parse_mjcf(tmp_path / "empty.xml")


def test_read_mujoco_msh(tmp_path):
    from training.data.asset_loaders import read_msh

    box = trimesh.creation.box(extents=[1, 2, 3])
    v = box.vertices.astype(np.float32)
    f = box.faces.astype(np.int32)
    normals = np.zeros_like(v)
    head = np.array([len(v), len(normals), 0, len(f)], np.int32)
    p = tmp_path / "box.msh"
    p.write_bytes(head.tobytes() + v.tobytes() + normals.tobytes() + f.tobytes())
    m = read_msh(p)
    np.testing.assert_allclose(m.extents, [1, 2, 3], atol=1e-6)
    assert len(m.faces) == 12
    (tmp_path / "bad.msh").write_bytes(head.tobytes() + v.tobytes())
    with pytest.raises(ValueError, match="msh"):
        read_msh(tmp_path / "bad.msh")
