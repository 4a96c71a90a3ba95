"""Dataset statistics and a contact sheet of objects coloured by part."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .shards import ShardDataset


def collect_stats(directory: Path | str) -> dict:
    """Counts over a shard folder: objects, sources, families, fused share, kinds
    (separate / voxel / union), mesh records, parts per level,
    and the distribution of part sizes (fraction of an object's points)."""
    ds = ShardDataset(directory)
    fams: Counter = Counter()
    srcs: Counter = Counter()
    fused = 0
    kinds: Counter = Counter()
    meshes = 0
    parts_per_level: dict[int, list[int]] = {}
    levels: Counter = Counter()
    sizes = []
    for sh in ds.iter_shards():
        fams.update(str(x) for x in sh["family"])
        srcs.update(str(x).split(":")[0] for x in sh["source"])
        fused += int(sh["fused"].sum())
        kinds.update(str(x) for x in sh["kind"])
        if "mesh_face_offsets" in sh:
            meshes += int((np.diff(sh["mesh_face_offsets"]) > 0).sum())
        for lab, nl in zip(sh["labels"], sh["num_levels"]):
            levels[int(nl)] += 1
            for lvl in range(int(nl)):
                counts = np.bincount(lab[lvl].astype(np.int64))
                counts = counts[counts > 0]
                parts_per_level.setdefault(lvl, []).append(len(counts))
                sizes.append(counts / lab.shape[1])
    sizes = np.concatenate(sizes) if sizes else np.zeros(0)
    return {
        "objects": len(ds),
        "sources": dict(srcs),
        "families": dict(sorted(fams.items())),
        "fused": fused,
        "kinds": dict(sorted(kinds.items())),
        "meshes": meshes,
        "levels_per_object": dict(sorted(levels.items())),
        "parts_per_level": {lvl: (float(np.mean(v)), int(np.median(v)), int(np.max(v)), len(v))
                            for lvl, v in sorted(parts_per_level.items())},
        "part_size_quantiles": {q: float(np.quantile(sizes, q)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)}
        if len(sizes) else {},
        "n_parts_total": int(len(sizes)),
    }


def contact_sheet(directory: Path | str, png: Path | str, n_show: int = 24, level: int = 0,
                  seed: int = 0) -> None:
    """Save a grid of ``n_show`` random objects, points coloured by part at ``level``
    (0 = finest; clipped to each object's levels) with a second row per object at its
    coarsest level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = ShardDataset(directory)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(ds), size=min(n_show, len(ds)), replace=False))
    cols = 6
    rows = int(np.ceil(len(idx) / cols)) * 2
    fig = plt.figure(figsize=(cols * 2.4, rows * 2.4))
    cmap = plt.get_cmap("tab20")
    for k, i in enumerate(idx):
        obj = ds[int(i)]
        nl = int(obj["num_levels"])
        pts = obj["points"]
        sub = rng.choice(len(pts), size=min(3000, len(pts)), replace=False)
        for r, lvl in enumerate((min(level, nl - 1), nl - 1)):
            ax = fig.add_subplot(rows, cols, (k // cols) * 2 * cols + r * cols + k % cols + 1,
                                 projection="3d")
            lab = obj["labels"][lvl][sub]
            p = pts[sub]
            ax.scatter(p[:, 0], p[:, 1], p[:, 2], c=cmap(lab % 20), s=0.6, linewidths=0)
            ax.set_axis_off()
            lo, hi = p.min(0), p.max(0)
            c, h = (lo + hi) / 2, (hi - lo).max() / 2
            ax.set_xlim(c[0] - h, c[0] + h)
            ax.set_ylim(c[1] - h, c[1] + h)
            ax.set_zlim(c[2] - h, c[2] + h)
            tag = "" if str(obj["kind"]) == "separate" else f"{obj['kind']} "
            ax.set_title(f"{tag}{obj['source']}\nlevel {lvl}: {len(np.unique(lab))} parts",
                         fontsize=6)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def print_stats(directory: Path | str, png: Path | str, n_show: int = 24) -> dict:
    """Print :func:`collect_stats` and write the contact sheet to ``png``."""
    st = collect_stats(directory)
    print(f"objects: {st['objects']}  fused: {st['fused']}  parts total: {st['n_parts_total']}")
    print("kinds:", ", ".join(f"{k} {v}" for k, v in st["kinds"].items()),
          f" mesh records: {st['meshes']}")
    print("sources:", ", ".join(f"{k} {v}" for k, v in sorted(st["sources"].items())))
    print("families:", ", ".join(f"{k} {v}" for k, v in st["families"].items()))
    print("levels per object:", st["levels_per_object"])
    print("parts per level (mean, median, max, objects):")
    for lvl, v in st["parts_per_level"].items():
        print(f"  level {lvl}: mean {v[0]:.1f}  median {v[1]}  max {v[2]}  objects {v[3]}")
    print("part size (fraction of points) quantiles:",
          ", ".join(f"q{int(q * 100)} {v:.4f}" for q, v in st["part_size_quantiles"].items()))
    contact_sheet(directory, png, n_show)
    print(f"contact sheet: {png}")
    return st
