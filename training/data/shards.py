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
  (P = max parts per level in the shard, zero-padded): the paper's scale of each part.

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


@dataclass
class ObjectSample:
    """One object ready for a shard.

    Attributes:
        points: float32 (N, 3), object frame.
        normals: float32 (N, 3) unit normals (zeros if unknown).
        labels: int (L_obj, N) nested part ids, finest first.
        family: family / category name.
        source: "procedural:<family>", "pybullet:<asset>", "genesis:<asset>", ...
        fused: True when the surface was remeshed into one piece.
    """

    points: np.ndarray
    normals: np.ndarray
    labels: np.ndarray
    family: str
    source: str
    fused: bool = False


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
    )


def write_meta(directory: Path | str, meta: dict) -> None:
    """Write ``meta.json`` (pretty-printed) into the dataset folder."""
    Path(directory, "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


class ShardDataset:
    """Random access to every object of a shard folder.

    ``len(ds)`` objects; ``ds[i]`` is a dict with the shard keys for one object
    (``labels`` (L, N) int16, ``points`` (N, 3) float32, ...). Shards are loaded lazily and
    the most recent one is cached, so iterating in order reads each file once.
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
        return {k: v[j] for k, v in data.items()}

    def iter_shards(self) -> Iterator[dict[str, np.ndarray]]:
        """Yield each shard's arrays in file order."""
        for s in range(len(self.paths)):
            yield self.load_shard(s)
