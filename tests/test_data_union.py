"""Exact boolean unions of parts (training/data/union.py) and the labelled-mesh API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from core.geometry import face_areas, face_components
from training.data.meshset import MeshSetConfig, split_pieces, weld_within_parts
from training.data.parts import levels_nest
from training.data.union import UnionError, cap_holes, labelled_meshes, union_parts

PROCEDURAL = MeshSetConfig(real_fraction=0.0)


def _box(size, at=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    m = trimesh.creation.box(extents=size)
    m.apply_translation(at)
    return np.asarray(m.vertices), np.asarray(m.faces)


def _is_closed_welded(v: np.ndarray, f: np.ndarray) -> bool:
    m = trimesh.Trimesh(v, f, process=False)
    return bool(m.is_watertight and m.is_winding_consistent)


def test_union_of_two_overlapping_boxes_is_one_welded_closed_piece_with_exact_labels():
    a, b = _box([2, 2, 2]), _box([2, 2, 2], at=(1, 1, 1))  # overlap: a unit cube
    u = union_parts([a, b])
    assert len(np.unique(u.vertices, axis=0)) == len(u.vertices)  # no duplicate vertices
    assert _is_closed_welded(u.vertices, u.faces)
    assert face_components(u.faces, len(u.vertices)).max() == 0  # one connected piece
    assert trimesh.Trimesh(u.vertices, u.faces).volume == pytest.approx(15.0)
    area = face_areas(u.vertices, u.faces)
    # each box keeps its surface outside the other: 24 - three unit squares
    assert area[u.face_part == 0].sum() == pytest.approx(21.0)
    assert area[u.face_part == 1].sum() == pytest.approx(21.0)
    assert set(np.unique(u.face_part)) == {0, 1}
    # the parts meet at a crease: some vertices are used by faces of both parts
    shared = np.intersect1d(u.faces[u.face_part == 0], u.faces[u.face_part == 1])
    assert len(shared) >= 6
    assert u.repaired == ["ok", "ok"]


def test_buried_part_contributes_nothing_and_labels_come_from_sources():
    outer, inner, side = _box([2, 2, 2]), _box([0.5, 0.5, 0.5]), _box([1, 1, 1], at=(1.2, 0, 0))
    u = union_parts([outer, inner, side])
    assert set(np.unique(u.face_part)) == {0, 2}  # the inner box is buried
    assert _is_closed_welded(u.vertices, u.faces)


def test_open_part_is_capped_and_a_fin_is_refused():
    cyl = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=16)
    keep = np.abs(trimesh.Trimesh(cyl.vertices, cyl.faces).face_normals[:, 2]) < 0.9
    tube_v, tube_f = np.asarray(cyl.vertices), np.asarray(cyl.faces)[keep]  # no end caps
    capped = cap_holes(tube_v, tube_f)
    assert capped is not None and _is_closed_welded(*capped)
    u = union_parts([(tube_v, tube_f), _box([0.3, 0.3, 2.0])])
    assert u.repaired[0] == "capped" and _is_closed_welded(u.vertices, u.faces)
    v, f = _box([1, 1, 1])
    fin_v = np.concatenate([v, [[0.5, 0.5, 2.0]]])
    fin_f = np.concatenate([f, [[f[0][0], f[0][1], len(v)]]])  # one edge used by 3 faces
    with pytest.raises(UnionError) as err:
        union_parts([(fin_v, fin_f), _box([1, 1, 1], at=(0.5, 0, 0))])
    assert err.value.reason == "part_not_manifold"


def test_part_of_solids_touching_along_an_edge_is_split_into_bodies_and_rejoined():
    a, b = _box([1, 1, 1], at=(0.5, 0.5, 0.5)), _box([1, 1, 1], at=(1.5, 1.5, 0.5))
    v = np.concatenate([a[0], b[0]])  # one part; after welding an edge has four faces
    f = np.concatenate([a[1], b[1] + len(a[0])])
    tiny_v = np.array([[3.0, 3.0, 3.0], [3.001, 3.0, 3.0], [3.0, 3.001, 3.0]])
    f_fin = np.concatenate([f, [[len(v), len(v) + 1, len(v) + 2]]])  # a stray open sliver
    v_fin = np.concatenate([v, tiny_v])
    u = union_parts([(v, f), _box([0.5, 0.5, 0.5], at=(0.5, 0.5, 1.0))])
    assert u.repaired[0] == "bodies" and _is_closed_welded(u.vertices, u.faces)
    area = face_areas(u.vertices, u.faces)
    # two unit cubes (12) + the small box's four sides above the top face (4 × 0.5 × 0.25)
    assert area.sum() == pytest.approx(12.5)
    assert set(np.unique(u.face_part)) == {0, 1}
    t = union_parts([(v_fin, f_fin)])
    assert t.repaired == ["trimmed"] and face_areas(t.vertices, t.faces).sum() == \
        pytest.approx(12.0)


def test_weld_within_parts_never_merges_across_parts_and_split_pieces():
    a, b = _box([1, 1, 1]), _box([1, 1, 1], at=(1, 0, 0))  # touching along a face
    v = np.concatenate([a[0], b[0]])
    f = np.concatenate([a[1], b[1] + len(a[0])])
    part = np.repeat([0, 1], [len(a[1]), len(b[1])])
    wv, wf = weld_within_parts(v, f, part, 1e-9)
    assert len(wv) == 16 and np.intersect1d(wf[part == 0], wf[part == 1]).size == 0
    assert np.array_equal(split_pieces(wf, np.zeros(len(wf), np.int64)), part)


def _check_item(item) -> None:
    f = item.faces
    assert item.vertices.dtype == np.float64 and item.vertices.shape[1] == 3
    assert f.dtype == np.int64 and f.shape[1] == 3 and f.max() < len(item.vertices)
    assert item.face_labels and all(lab.shape == (len(f),) for lab in item.face_labels)
    assert all(lab.dtype == np.int64 and lab.max() >= 1 for lab in item.face_labels)
    assert levels_nest(np.stack(item.face_labels))
    counts = [int(lab.max()) + 1 for lab in item.face_labels]
    assert counts == sorted(counts, reverse=True)  # finest first
    assert item.source and item.licence
    if item.kind == "union":
        assert _is_closed_welded(item.vertices, item.faces)
        assert len(np.unique(item.vertices, axis=0)) == len(item.vertices)
    if item.kind == "separate":  # no vertex shared by two leaves
        leaf_of_vertex = np.full(len(item.vertices), -1)
        leaf_of_vertex[f.ravel()] = np.repeat(item.face_leaf, 3)
        assert np.array_equal(leaf_of_vertex[f], np.repeat(item.face_leaf[:, None], 3, 1))


def test_labelled_meshes_kinds_levels_and_determinism():
    kinds = ("union", "separate", "voxel")
    a = list(labelled_meshes(n=6, seed=7, kinds=kinds, config=PROCEDURAL))
    b = list(labelled_meshes(n=6, seed=7, kinds=kinds, config=PROCEDURAL))
    c = list(labelled_meshes(n=6, seed=8, kinds=kinds, config=PROCEDURAL))
    assert [x.kind for x in a] == list(kinds) * 2
    for x, y in zip(a, b):
        _check_item(x)
        assert x.source == y.source and x.source.startswith("procedural:")
        np.testing.assert_array_equal(x.vertices, y.vertices)
        np.testing.assert_array_equal(x.faces, y.faces)
        for lx, ly in zip(x.face_labels, y.face_labels):
            np.testing.assert_array_equal(lx, ly)
    assert any(x.source != z.source or x.vertices.shape != z.vertices.shape
               for x, z in zip(a, c))


def test_union_and_separate_of_one_object_share_leaves():
    # the same index with the same seed draws the same object whatever the kind
    cfg = MeshSetConfig(real_fraction=0.0, rotate=False)
    (u,) = labelled_meshes(n=1, seed=3, kinds=("union",), config=cfg)
    (s,) = labelled_meshes(n=1, seed=3, kinds=("separate",), config=cfg)
    assert u.source == s.source
    assert set(np.unique(u.face_leaf)) <= set(np.unique(s.face_leaf))
    assert face_areas(u.vertices, u.faces).sum() <= face_areas(s.vertices, s.faces).sum()


def test_workers_give_the_same_objects():
    one = list(labelled_meshes(n=4, seed=1, workers=1, config=PROCEDURAL))
    two = list(labelled_meshes(n=4, seed=1, workers=2, config=PROCEDURAL))
    for x, y in zip(one, two):
        np.testing.assert_array_equal(x.vertices, y.vertices)
        np.testing.assert_array_equal(x.face_labels[0], y.face_labels[0])


def _toy_cache(tmp_path: Path) -> Path:
    """A tiny asset cache: a URDF 'robot' of boxes and spheres (one leg mesh file)."""
    root = tmp_path / "cache" / "pybullet" / "toy"
    (root / "meshes").mkdir(parents=True)
    trimesh.creation.box(extents=[0.06, 0.06, 0.3]).export(root / "meshes" / "leg.obj")
    legs = []
    for i, (x, y) in enumerate([(0.3, 0.12), (0.3, -0.12), (-0.3, 0.12), (-0.3, -0.12)]):
        legs.append(
            f'<link name="leg{i}"><visual><origin xyz="0 0 -0.15"/><geometry>'
            f'<mesh filename="meshes/leg.obj"/></geometry></visual></link>'
            f'<joint name="hip{i}" type="revolute"><parent link="body"/>'
            f'<child link="leg{i}"/><origin xyz="{x} {y} -0.05"/><axis xyz="0 1 0"/>'
            f'<limit lower="-0.5" upper="0.5"/></joint>')
    (root / "toy.urdf").write_text(
        '<robot name="toy"><link name="body"><visual><geometry><box size="0.8 0.3 0.2"/>'
        '</geometry></visual><visual><origin xyz="0.45 0 0.1"/><geometry>'
        '<sphere radius="0.12"/></geometry></visual></link>' + "".join(legs) + "</robot>")
    row = {"id": "pybullet:toy/toy", "package": "test", "tag": "pybullet",
           "path": "pybullet/toy/toy.urdf", "kind": "urdf", "licence": "zlib", "usable": True}
    evaluation = dict(row, id="genesis:urdf/3763/mobility", path="genesis/urdf/3763/x.urdf")
    (tmp_path / "cache" / "manifest.json").write_text(json.dumps([row, evaluation]))
    return tmp_path / "cache"


def test_real_assets_are_drawn_with_their_licence_never_evaluation_data(tmp_path):
    cfg = MeshSetConfig(real_fraction=1.0, asset_cache=str(_toy_cache(tmp_path)))
    items = list(labelled_meshes(n=6, seed=0, kinds=("union", "separate"), config=cfg))
    for item in items:
        _check_item(item)
        assert item.source == "pybullet:toy/toy" and item.licence == "zlib"
    assert face_components(items[0].faces, len(items[0].vertices)).max() == 0


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        next(labelled_meshes(n=1, kinds=("melted",)))


# --- the shard builder's union kind and mesh records -------------------------------------

def _points_on_their_faces(obj) -> bool:
    v, f = obj["mesh_vertices"].astype(np.float64), obj["mesh_faces"].astype(np.int64)
    tri = v[f[obj["mesh_point_face"]]]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    dist = np.abs(((obj["points"] - tri[:, 0]) * n).sum(1))
    diag = float(np.linalg.norm(np.ptp(v, axis=0)))
    return bool(np.quantile(dist, 0.99) < 1e-4 * diag)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = np.unique(np.stack([a, b], 1), axis=0)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


def test_builder_makes_union_objects_at_the_configured_fraction(tmp_path):
    from training.data.build import BuildConfig, build
    from training.data.shards import ShardDataset

    base = BuildConfig(n_points=300, shard_size=8, fused_fraction=0.2, union_fraction=0.0)
    cfg = BuildConfig(n_points=300, shard_size=8, fused_fraction=0.2, union_fraction=0.4,
                      store_meshes=True, mesh_max_faces=10**7)
    meta = build(tmp_path / "u", 40, seed=5, cfg=cfg, workers=1)
    build(tmp_path / "b", 40, seed=5, cfg=base, workers=1)
    u, b = ShardDataset(tmp_path / "u"), ShardDataset(tmp_path / "b")
    kinds = [str(u[i]["kind"]) for i in range(40)]
    assert meta["kinds"] == {k: kinds.count(k) for k in ("separate", "voxel", "union")}
    assert 8 <= kinds.count("union") <= 24  # 40 × 0.4 = 16 expected (binomial, fixed seed)
    assert meta["meshes"] == 40
    for i in range(40):
        x, y = u[i], b[i]
        assert bool(x["fused"]) == (kinds[i] == "voxel") and x["has_mesh"]
        if kinds[i] != "union":  # every other object is the one built without unions
            np.testing.assert_array_equal(x["points"], y["points"])
            np.testing.assert_array_equal(x["labels"], y["labels"])
        else:
            assert _is_closed_welded(x["mesh_vertices"].astype(np.float64), x["mesh_faces"])
        assert str(y["kind"]) != "union" and not y["has_mesh"]
        assert _points_on_their_faces(x)
        nl = int(x["num_levels"])
        fl = x["mesh_face_labels"]
        assert fl.shape == (x["labels"].shape[0], len(x["mesh_faces"])) and levels_nest(fl[:nl])
        for lvl in range(nl):  # face labels give the points' labels (up to renumbering)
            assert _same_partition(fl[lvl][x["mesh_point_face"]], x["labels"][lvl])


def test_builder_union_of_real_assets_and_the_cli_flags(tmp_path):
    from training.data.__main__ import main
    from training.data.shards import ShardDataset

    cache = _toy_cache(tmp_path)
    args = ["build", "--out", str(tmp_path / "r"), "--objects", "4", "--points", "400",
            "--shard-size", "2", "--workers", "1", "--assets", str(cache),
            "--quality-weights", "", "--real-fraction", "1", "--fused-fraction", "0",
            "--union-fraction", "1", "--store-meshes"]
    assert main(args) == 0
    ds = ShardDataset(tmp_path / "r")
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["kinds"]["union"] == 4 and meta["config"]["union_fraction"] == 1.0
    with pytest.raises(SystemExit):  # voxel + union shares above 1
        main(args[:-4] + ["--fused-fraction", "0.9", "--union-fraction", "0.2"])
    for i in range(4):
        x = ds[i]
        assert str(x["kind"]) == "union" and str(x["source"]) == "pybullet:toy/toy"
        assert x["has_mesh"] and _points_on_their_faces(x)
        assert face_components(x["mesh_faces"], len(x["mesh_vertices"])).max() == 0
        for lvl in range(int(x["num_levels"])):  # same parts as the points (ids may differ)
            assert _same_partition(x["mesh_face_labels"][lvl][x["mesh_point_face"]],
                                   x["labels"][lvl])


def test_old_shards_without_kind_or_meshes_still_load(tmp_path):
    from training.data.shards import ShardDataset

    rng = np.random.default_rng(0)
    k, n, lv = 3, 20, 2
    np.savez(tmp_path / "shard_00000.npz",  # the format written before the union kind
             points=rng.normal(size=(k, n, 3)).astype(np.float32),
             normals=np.zeros((k, n, 3), np.float32),
             labels=rng.integers(0, 3, (k, lv, n)).astype(np.int16),
             num_levels=np.full(k, lv, np.int16), family=np.array(["a", "b", "c"]),
             source=np.array(["procedural:a"] * k), fused=np.array([True, False, False]),
             fractions=np.zeros((k, lv, 3), np.float32))
    ds = ShardDataset(tmp_path)
    assert [str(ds[i]["kind"]) for i in range(k)] == ["voxel", "separate", "separate"]
    assert not any(ds[i]["has_mesh"] for i in range(k))
    assert ds[1]["points"].shape == (n, 3) and "mesh_faces" not in ds[1]
    assert len(next(ds.iter_shards())["points"]) == k
