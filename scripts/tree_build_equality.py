"""Check that the mesh tree build gives bit-identical results to another revision.

``python scripts/tree_build_equality.py [--ref HEAD] [--faces 100000 1000000] [--dev 4]``

Builds the welded structure, superfaces, dissimilarities and merge tree (what
``Segmenter.mesh_parts`` builds) plus a few answers (clicks with and without a scale,
Segment All, a hierarchy, part counts) for the procedural bench mesh at each ``--faces``
and ``--dev`` meshes from each of ``../shared/data/partnet-mobility-dev`` and ``psb-dev``
(loaded as ``training.devset`` loads them; PartNet meshes also get material groups),
once with this checkout's ``core`` and once with ``core`` of ``--ref`` (``git archive``),
each in its own process, and compares every array bit for bit. Points, features and
groups are the same inputs for both (seeded; features random, as equality needs no
trained encoder). Exit status 1 on any difference.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _inputs(faces: list[int], n_dev: int) -> dict[str, dict[str, Any]]:
    sys.path.insert(0, str(REPO))
    from core.bench import bench_mesh
    from core.geometry import check_mesh_areas, normalization_of, sample_checked_surface

    meshes: dict[str, tuple] = {f"bench{n}": (*bench_mesh(n), False) for n in faces}
    if n_dev:
        from training.devset import list_objects, load_object

        for name in ("partnet-mobility-dev", "psb-dev"):
            objs = list_objects(REPO.parent / "shared" / "data" / name)
            for p in objs[:: max(1, len(objs) // n_dev)][:n_dev]:
                o = load_object(p)
                meshes[f"{name[:3]}_{p.stem}"] = (o.vertices, o.faces, name.startswith("par"))
    out = {}
    for key, (v, f, grouped) in meshes.items():
        v, f, area = check_mesh_areas(v, f, index_dtype=np.int32)
        pts, pf = sample_checked_surface(v, f, area, 10_000, seed=0)
        rng = np.random.default_rng(0)
        out[key] = dict(vertices=v, faces=f, area=area, point_faces=pf,
                        points=normalization_of(pts).apply(pts),
                        features=rng.standard_normal((len(pts), 128)).astype(np.float32),
                        groups=(np.arange(len(f)) * 7 // len(f)) % 3 if grouped else None)
    return out


def _worker(inputs: Path, out: Path) -> None:
    """Build and answer with the ``core`` of the current directory."""
    sys.path.insert(0, ".")
    from core.affinity import load_affinity
    from core.geometry import normalization_of
    from core.mesh_parts import MeshParts
    from core.mesh_regions import MeshStructure
    from core.predictor import PredictSettings

    s = PredictSettings()
    affinity = load_affinity(REPO / "core" / "weights" / "default")
    res = {}
    for key, d in pickle.loads(inputs.read_bytes()).items():
        mesh = MeshStructure.build(d["vertices"], d["faces"], weld_rel_tol=s.weld_rel_tol,
                                   face_area=d["area"])
        mp = MeshParts(mesh, d["point_faces"], d["points"], d["features"], d["groups"],
                       affinity, s.superfaces, s.tree, normalization_of(d["points"]), seed=0)
        got: dict[str, Any] = {f"mesh.{k}": v for k, v in vars(mesh).items()}
        got.update({f"sf.{k}": v for k, v in vars(mp.sf).items()})
        got["dissimilarity"] = mp.dissimilarity
        got.update({f"tree.{k}": v for k, v in vars(mp.tree).items()
                    if isinstance(v, np.ndarray) or np.isscalar(v)})
        clicks = np.random.default_rng(0).integers(0, len(d["points"]), 3)
        for sc in (None, 0.02, 0.1, 0.3):
            got[f"segment {sc}"] = vars(mp.segment(sc, 0.001))
            for i, c in enumerate(clicks):
                a = mp.answer(np.array([c]), np.array([1]), sc)
                got[f"click {i} at {sc}"] = (a.face_mask, a.point_mask, a.node, a.quality)
        got["hierarchy"] = mp.hierarchy([0.3, 0.1, 0.03], 0.001)
        got["count"] = [mp.count(sc, 0.001) for sc in (None, 0.05, 0.2)]
        res[key] = got
    out.write_bytes(pickle.dumps(res))


def _differences(a: Any, b: Any, path: str) -> list[str]:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        same = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        return [] if same else [path]
    if isinstance(a, dict):
        # fields only one side has (a new cache field, say) are not results
        return [d for k in a.keys() & b.keys() for d in _differences(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return [path]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return _differences(vars(a), vars(b), path)
    return [] if a == b or (a != a and b != b) else [path]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="HEAD", help="git revision to compare with")
    ap.add_argument("--faces", type=int, nargs="*", default=[100_000], help="bench meshes")
    ap.add_argument("--dev", type=int, default=4, help="meshes from each dev set")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        _worker(Path(a.worker[0]), Path(a.worker[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "in.pkl").write_bytes(pickle.dumps(_inputs(a.faces, a.dev)))
        archive = subprocess.run(["git", "archive", a.ref, "core"], cwd=REPO, check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(t / "ref", filter="data")
        for name, cwd in (("ref", t / "ref"), ("new", REPO)):
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker",
                            str(t / "in.pkl"), str(t / f"{name}.pkl")], cwd=cwd, check=True)
        ref, new = (pickle.loads((t / f"{n}.pkl").read_bytes()) for n in ("ref", "new"))
    bad = _differences(ref, new, "")
    for key, got in new.items():
        print(f"{key}: {len(got['mesh.faces'])} faces, {got['sf.num']} superfaces, "
              f"{sum(d.startswith('/' + key + '/') for d in bad)} differences")
    for d in bad[:20]:
        print("differs:", d)
    print(("bit-identical to " if not bad else "NOT identical to ") + a.ref)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
