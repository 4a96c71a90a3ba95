"""Dataset shards: the on-disk format the trainers stream.

``DIR/shard_00000.npz``, ... each holding K objects at the same point count N:

* ``points`` float32 (K, N, 3), object frame (trainers normalise with ``core.geometry``);
* ``normals`` float32 (K, N, 3) (zeros where a source has no faces);
* ``labels`` int16 (K, L, N): part id of each point per level, level 0 = finest leaves, the
  last real level = coarsest non-root split; levels nest; objects with fewer than L levels
  repeat their coarsest level; ``num_levels`` int16 (K,) = real level count;
* ``family`` (K,) str, ``source`` (K,) str ("procedural:<family>", "pybullet:<asset>", ...),
  ``fused`` (K,) bool;
* ``fractions`` float32 (K, L, P) — fraction of the object's points in each part id
  (P = max parts per level in the shard, zero-padded): the paper's scale of each part;
* ``kind`` (K,) str: "separate" (parts as modelled), "voxel" (fused by :mod:`.fuse`) or
  "union" (exact boolean union, :mod:`.union`). Shards written before the union kind have
  no ``kind`` array; :class:`ShardDataset` derives it from ``fused``.

Optional mesh records (builds with ``--store-meshes``; objects above the face cap have
none): ``mesh_vertex_offsets`` / ``mesh_face_offsets`` int64 (K+1,) ranges into
``mesh_vertices`` float32 (sum V, 3) (object frame, same rotation as ``points``) and
``mesh_faces`` int32 (sum F, 3) (indices local to the object), ``mesh_face_labels`` int16
(L, sum F) (per-face part ids per level, padded like ``labels``; ids are the mesh's own),
``mesh_point_face`` int32 (K, N) (the face each point was sampled on, -1 without a mesh).
``ShardDataset[i]`` slices them into ``mesh_vertices`` (V, 3), ``mesh_faces`` (F, 3),
``mesh_face_labels`` (L, F) and ``mesh_point_face`` (N,), with ``has_mesh`` bool.

Plus ``DIR/meta.json`` (counts, seed, N, L, build command).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHARD_GLOB = "shard_*.npz"
KEYS = ("points", "normals", "labels", "num_levels", "family", "source", "fused")
KINDS = ("separate", "voxel", "union")
RAGGED = ("mesh_vertex_offsets", "mesh_face_offsets", "mesh_vertices", "mesh_faces",
          "mesh_face_labels")


@dataclass
class ObjectSample:
    """One object ready for a shard.

    Attributes:
        points: float32 (N, 3), object frame.
        normals: float32 (N, 3) unit normals (zeros if unknown).
        labels: int (L_obj, N) nested part ids, finest first.
        family: family / category name.
        source: "procedural:<family>", "pybullet:<asset>", "genesis:<asset>", ...
        fused: True when the surface was remeshed into one piece by voxel fusion.
        kind: "separate", "voxel" or "union" ("" = derived from ``fused``).
        mesh_vertices: optional float32 (V, 3) mesh the points were sampled on (object
            frame, like ``points``); mesh_faces: int (F, 3);
        mesh_face_labels: int (L_obj, F) nested per-face part ids, finest first;
        point_face: int (N,) face of each point.
    """

    points: np.ndarray
    normals: np.ndarray
    labels: np.ndarray
    family: str
    source: str
    fused: bool = False
    kind: str = ""
    mesh_vertices: np.ndarray | None = None
    mesh_faces: np.ndarray | None = None
    mesh_face_labels: np.ndarray | None = None
    point_face: np.ndarray | None = None

    @property
    def object_kind(self) -> str:
        """``kind``, or "voxel" / "separate" from ``fused`` when unset."""
        return self.kind or ("voxel" if self.fused else "separate")

    @property
    def has_mesh(self) -> bool:
        return self.mesh_faces is not None


def pad_levels(labels: np.ndarray, n_levels: int) -> np.ndarray:
    """Repeat the coarsest level of (L_obj, N) labels up to ``n_levels`` rows (int16).

    Raises ValueError when the object has more levels than ``n_levels`` or ids overflow int16.
    """
    lab = np.asarray(labels)
    if lab.shape[0] > n_levels:
        raise ValueError(f"object has {lab.shape[0]} levels, the shard allows {n_levels}")
    if lab.max() >= np.iinfo(np.int16).max:
        raise ValueError("part ids overflow int16")
    reps = [lab] + [lab[-1:]] * (n_levels - lab.shape[0])
    return np.concatenate(reps).astype(np.int16)


def part_fractions(labels: np.ndarray) -> np.ndarray:
    """Fraction of points in each part id: (L, N) int labels -> (L, max_id+1) float32."""
    lab = np.asarray(labels, np.int64)
    p = int(lab.max()) + 1
    out = np.zeros((lab.shape[0], p), np.float32)
    for lvl in range(lab.shape[0]):
        out[lvl] = np.bincount(lab[lvl], minlength=p) / lab.shape[1]
    return out


def write_shard(path: Path | str, samples: list[ObjectSample], n_levels: int) -> None:
    """Write objects (all with the same point count) to one ``.npz`` shard."""
    if not samples:
        raise ValueError("a shard needs at least one object")
    n = samples[0].points.shape[0]
    for s in samples:
        if s.points.shape != (n, 3) or s.labels.shape[1] != n:
            raise ValueError("all objects in a shard must have the same point count")
    labels = np.stack([pad_levels(s.labels, n_levels) for s in samples])
    fr = [part_fractions(lab) for lab in labels]
    p = max(f.shape[1] for f in fr)
    fractions = np.zeros((len(samples), n_levels, p), np.float32)
    for i, f in enumerate(fr):
        fractions[i, :, : f.shape[1]] = f
    extra = _mesh_arrays(samples, n_levels) if any(s.has_mesh for s in samples) else {}
    np.savez(
        path,
        points=np.stack([s.points for s in samples]).astype(np.float32),
        normals=np.stack([s.normals for s in samples]).astype(np.float32),
        labels=labels,
        num_levels=np.array([s.labels.shape[0] for s in samples], np.int16),
        family=np.array([s.family for s in samples]),
        source=np.array([s.source for s in samples]),
        fused=np.array([s.fused for s in samples], bool),
        fractions=fractions,
        kind=np.array([s.object_kind for s in samples]),
        **extra,
    )


def _mesh_arrays(samples: list[ObjectSample], n_levels: int) -> dict[str, np.ndarray]:
    """The optional mesh records of a shard (see the module doc)."""
    n = samples[0].points.shape[0]
    nv = [len(s.mesh_vertices) if s.has_mesh else 0 for s in samples]
    nf = [len(s.mesh_faces) if s.has_mesh else 0 for s in samples]
    with_mesh = [s for s in samples if s.has_mesh]
    point_face = np.full((len(samples), n), -1, np.int32)
    for i, s in enumerate(samples):
        if s.has_mesh:
            point_face[i] = s.point_face
    return {
        "mesh_vertex_offsets": np.concatenate([[0], np.cumsum(nv)]).astype(np.int64),
        "mesh_face_offsets": np.concatenate([[0], np.cumsum(nf)]).astype(np.int64),
        "mesh_vertices": np.concatenate([s.mesh_vertices for s in with_mesh]).astype(np.float32),
        "mesh_faces": np.concatenate([s.mesh_faces for s in with_mesh]).astype(np.int32),
        "mesh_face_labels": np.concatenate(
            [pad_levels(s.mesh_face_labels, n_levels) for s in with_mesh], axis=1),
        "mesh_point_face": point_face,
    }


def write_meta(directory: Path | str, meta: dict) -> None:
    """Write ``meta.json`` (pretty-printed) into the dataset folder."""
    Path(directory, "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


class ShardDataset:
    """Random access to every object of a shard folder.

    ``len(ds)`` objects; ``ds[i]`` is a dict with the shard keys for one object
    (``labels`` (L, N) int16, ``points`` (N, 3) float32, ``kind`` str, ``has_mesh`` bool,
    and the object's mesh record when it has one; see the module doc). Shards are loaded
    lazily and the most recent one is cached, so iterating in order reads each file once.
    Shards written before ``kind`` and mesh records existed load unchanged.
    """

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self.paths = sorted(self.directory.glob(SHARD_GLOB))
        if not self.paths:
            raise FileNotFoundError(f"no {SHARD_GLOB} files in {self.directory}")
        meta_path = self.directory / "meta.json"
        self.meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        counts = self.meta.get("shard_sizes")
        if counts is None or len(counts) != len(self.paths):
            counts = []
            for p in self.paths:
                with np.load(p) as z:
                    counts.append(int(z["num_levels"].shape[0]))
        self.sizes = np.asarray(counts, np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        self._cache: tuple[int, dict] | None = None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def load_shard(self, s: int) -> dict[str, np.ndarray]:
        """All arrays of shard ``s`` (K objects each)."""
        if self._cache is not None and self._cache[0] == s:
            return self._cache[1]
        with np.load(self.paths[s]) as z:
            data = {k: z[k] for k in z.files}
        if "kind" not in data:  # shards from before the union kind
            data["kind"] = np.where(data["fused"], "voxel", "separate")
        self._cache = (s, data)
        return data

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"object {i} out of range for {len(self)} objects")
        s = int(np.searchsorted(self.offsets, i, side="right") - 1)
        data = self.load_shard(s)
        j = i - int(self.offsets[s])
        out = {k: v[j] for k, v in data.items() if k not in RAGGED}
        out["has_mesh"] = False
        if "mesh_face_offsets" in data:
            vo, fo = data["mesh_vertex_offsets"], data["mesh_face_offsets"]
            if fo[j + 1] > fo[j]:
                out["has_mesh"] = True
                out["mesh_vertices"] = data["mesh_vertices"][vo[j]:vo[j + 1]]
                out["mesh_faces"] = data["mesh_faces"][fo[j]:fo[j + 1]]
                out["mesh_face_labels"] = data["mesh_face_labels"][:, fo[j]:fo[j + 1]]
        if not out["has_mesh"]:
            out.pop("mesh_point_face", None)
        return out

    def iter_shards(self) -> Iterator[dict[str, np.ndarray]]:
        """Yield each shard's arrays in file order (mesh records, when present, are the
        shard's concatenated arrays; use ``ds[i]`` for one object's mesh)."""
        for s in range(len(self.paths)):
            yield self.load_shard(s)
