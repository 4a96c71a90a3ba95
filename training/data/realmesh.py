"""Training objects from real multi-part meshes (the assets listed by ``fetch-assets``).

Each draw picks a usable asset uniformly, poses it at a random joint configuration (URDF),
applies a mild random deformation, optionally fuses it into one surface (voxel fusion or
the exact boolean union of :mod:`.union`; an asset with a part that is not manifold is
redrawn for a union object), samples points
and annotates them with the paper's pipeline: area-ratio levels from the asset's leaf parts
(merging prefers geometric contact, then kinematic parent/child links), the quality filter
(levels it rejects are dropped; an object with no passing level is redrawn), and
connectivity refinement of the finest level.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.geometry import sample_surface

from .asset_loaders import articulated_part, joint_configuration, parse_urdf
from .assets import EVAL_EXCLUDE, load_any
from .fuse import fuse_mesh
from .mjcf import parse_mjcf, pose_mjcf
from .parts import Part, flatten
from .pipeline import PipelineSettings, area_ratio_levels, refine_levels
from .procedural import deform
from .shards import ObjectSample


def kinematic_contacts(flat, weight_same: float = 20.0, weight_child: float = 10.0) -> dict:
    """Extra merge affinities between leaves: same parent node (e.g. one link's visuals)
    and parent/child nodes (a link and the links attached to it)."""
    par = flat.parent[flat.leaf_node]
    out = {}
    n = flat.n_leaves
    for i in range(n):
        for j in range(i + 1, n):
            if par[i] == par[j]:
                out[(i, j)] = weight_same
            elif flat.parent[par[j]] == par[i] or flat.parent[par[i]] == par[j]:
                out[(i, j)] = weight_child
    return out


GENERIC_STEMS = {"robot", "model", "scene", "mobility", "main", "model_for_sdf"}


def asset_name(asset_id: str) -> str:
    """Short family name of an asset id ("robosuite:robots/panda/robot" -> "panda")."""
    parts = asset_id.split(":", 1)[1].split("/")
    for p in reversed(parts):
        if p not in GENERIC_STEMS and p not in ("urdf", "robots", "grippers", "objects"):
            return p
    return parts[-1]


class RealLibrary:
    """Usable assets of a cache folder, parsed lazily once per process.

    Args:
        cache: folder written by ``fetch_assets`` (with ``manifest.json``).
        cfg: the build's :class:`~training.data.build.BuildConfig`.
    """

    def __init__(self, cache: Path, cfg, pipeline: PipelineSettings | None = None):
        self.cache = Path(cache)
        self.cfg = cfg
        self.pipeline = pipeline or PipelineSettings()
        manifest = self.cache / "manifest.json"
        rows = json.loads(manifest.read_text()) if manifest.exists() else []
        # evaluation data (genesis urdf/3763) is refused even if a manifest lists it
        self.rows = [r for r in rows if r.get("usable") and not EVAL_EXCLUDE.search(r["path"])
                     and not EVAL_EXCLUDE.search(r["id"])]
        self._parsed: dict[str, object] = {}
        self._filter = None
        self.stats = {"levels_scored": 0, "levels_rejected": 0, "redraws": 0}

    def __len__(self) -> int:
        return len(self.rows)

    def quality_filter(self):
        if self._filter is None and self.cfg.quality_weights:
            from .quality import QualityFilter

            self._filter = QualityFilter(self.cfg.quality_weights, self.cfg.quality_threshold)
        return self._filter

    def posed_part(self, row: dict, rng: np.random.Generator) -> Part:
        """The asset of manifest ``row`` as a part tree, at a random pose."""
        path = self.cache / row["path"]
        if row["kind"] == "urdf":
            if row["id"] not in self._parsed:
                self._parsed[row["id"]] = parse_urdf(path)
            art = self._parsed[row["id"]]
            q = joint_configuration(art, rng if rng.random() < 0.8 else None,
                                    amount=float(rng.uniform(0.2, 1.0)))
            return articulated_part(art, q)
        if row["kind"] == "mjcf":  # parsed once per process, posed per draw
            if row["id"] not in self._parsed:
                self._parsed[row["id"]] = parse_mjcf(path)
            model = self._parsed[row["id"]]
            return pose_mjcf(model, rng if rng.random() < 0.8 else None,
                             float(rng.uniform(0.2, 1.0)))
        return load_any(path, rng if rng.random() < 0.8 else None, float(rng.uniform(0.2, 1.0)))

    def sample(self, index: int, seed: int) -> ObjectSample | None:
        """Object ``index`` of a build with ``seed`` from a real asset, or None when four
        draws all fail the quality filter."""
        rng = np.random.default_rng([seed, index, 2])
        cfg = self.cfg
        from .build import draw_kind, try_union

        for _attempt in range(4):
            row = self.rows[int(rng.integers(len(self.rows)))]
            part = self.posed_part(row, rng)
            deform(part, rng, 0.5)
            flat = flatten(part)
            v, f, fl = flat.vertices, flat.faces, flat.face_leaf
            kind = draw_kind(rng.random(), cfg)
            fused = kind == "voxel"
            if fused:
                v, f, fl = fuse_mesh(v, f, fl, seed=int(rng.integers(2**31)), settings=cfg.fuse)
            if kind == "union":
                united = try_union(part, cfg)
                if united is None:  # a part is not manifold: draw another asset (counted)
                    continue
                v, f, fl = united
            pts, fi = sample_surface(v, f, cfg.n_points, seed=int(rng.integers(2**31)))
            leaf = fl[fi]
            levels = area_ratio_levels(pts, leaf, self.pipeline, rng=rng,
                                       extra_contacts=kinematic_contacts(flat))
            filt = self.quality_filter()
            if filt is not None:
                keep = []
                for lvl in range(levels.shape[0]):
                    self.stats["levels_scored"] += 1
                    if filt.passes(pts, levels[lvl], seed=int(rng.integers(2**31))):
                        keep.append(lvl)
                    else:
                        self.stats["levels_rejected"] += 1
                if not keep:
                    self.stats["redraws"] += 1
                    continue
                levels = levels[keep]
            levels = refine_levels(pts, levels, self.pipeline)
            if int(levels[-1].max()) < 1:
                self.stats["redraws"] += 1
                continue
            if levels.shape[0] > cfg.max_levels:
                levels = np.concatenate([levels[: cfg.max_levels - 1], levels[-1:]])
            tri = v[f[fi]]
            nrm = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            nrm /= np.linalg.norm(nrm, axis=1, keepdims=True) + 1e-12
            from .build import _rotation, face_labels_from_points, mesh_record

            r = _rotation(rng, cfg)
            name = asset_name(row["id"])
            return ObjectSample(
                points=(pts @ r.T).astype(np.float32),
                normals=(nrm @ r.T).astype(np.float32),
                labels=levels,
                family=f"{row['tag']}:{name}",
                source=row["id"],
                fused=fused,
                kind=kind,
                **(mesh_record(v, f, face_labels_from_points(v, f, fl, pts, fi, levels), fi,
                               r, cfg) if cfg.store_meshes else {}),
            )
        return None
