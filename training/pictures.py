"""Pictures of the evaluation report, small enough to commit.

* :func:`render_grid` (``objects.png``): a grid of objects (rows) rendered as point clouds
  coloured by part: GT leaves, then each method's full segmentation. Predicted parts take
  the colour of the GT leaf they overlap best (Hungarian matching on IoU,
  :func:`match_colours`), so equal colours mean matched parts.
* :func:`plot_iou_vs_scale` (``iou_vs_scale.png``): interactive IoU per bin of GT part size
  (point fraction), per method, with scale (solid) and without (dashed).
* :func:`save_small_png`: adaptive-palette PNGs of at most :data:`MAX_PNG_BYTES`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Largest picture written (bytes): reports are committed to the repository.
MAX_PNG_BYTES = 500_000


def save_small_png(fig, path: Path, dpi: int = 110, max_bytes: int = MAX_PNG_BYTES) -> int:
    """Save a matplotlib figure as an adaptive-palette PNG of at most ``max_bytes``.

    The resolution is lowered step by step until the file fits; returns its size in bytes.
    """
    import io

    from PIL import Image

    while True:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        buf.seek(0)
        img = Image.open(buf).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        out = io.BytesIO()
        img.save(out, format="PNG", optimize=True)
        if out.tell() <= max_bytes or dpi <= 30:
            break
        dpi = int(dpi * 0.8)
    Path(path).write_bytes(out.getvalue())
    return out.tell()


def match_colours(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Recolour ``pred`` so that parts matched to GT leaves (Hungarian on IoU) share ids."""
    from scipy.optimize import linear_sum_assignment

    from training.metrics import compact_labels

    g, p = compact_labels(gt), compact_labels(pred)
    ng, np_ = g.max() + 1, p.max() + 1
    inter = np.zeros((ng, np_))
    ok = (g >= 0) & (p >= 0)
    np.add.at(inter, (g[ok], p[ok]), 1)
    union = np.bincount(g[g >= 0], minlength=ng)[:, None] + np.bincount(
        p[p >= 0], minlength=np_)[None, :] - inter
    rows, cols = linear_sum_assignment(-(inter / np.maximum(union, 1)))
    new_id = np.arange(np_) + ng  # unmatched parts get ids after the GT ones
    new_id[cols] = rows
    return np.where(p >= 0, new_id[np.maximum(p, 0)], -1)


def render_grid(pictures: dict, path: Path, max_points: int = 4000) -> None:
    """Grid of point clouds, rows = objects, columns = GT + methods (fixed camera)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not pictures:
        return
    methods: list[str] = []  # in the order the methods ran
    for v in pictures.values():
        methods += [m for m, lab in v["pred"].items() if lab is not None and m not in methods]
    cols = ["GT (leaves)"] + methods
    fig = plt.figure(figsize=(2.6 * len(cols), 2.6 * len(pictures)))
    cmap = plt.get_cmap("tab20")
    for r, (oid, v) in enumerate(pictures.items()):
        pts = np.asarray(v["points"])
        sel = np.random.default_rng(0).permutation(len(pts))[:max_points]
        gt = np.asarray(v["gt"])
        for c, name in enumerate(cols):
            lab = gt if c == 0 else v["pred"].get(name)
            ax = fig.add_subplot(len(pictures), len(cols), r * len(cols) + c + 1,
                                 projection="3d")
            ax.set_axis_off()
            if lab is None:
                continue
            lab = lab if c == 0 else match_colours(gt, np.asarray(lab))
            x, y, z = pts[sel, 0], pts[sel, 2], pts[sel, 1]  # data are y-up
            ax.scatter(x, y, z, c=cmap(np.mod(lab[sel], 20)), s=2.0, depthshade=False,
                       linewidths=0)
            ax.view_init(elev=20, azim=-60)
            ax.set_box_aspect((np.ptp(x), np.ptp(y), np.ptp(z)))
            if r == 0:
                ax.set_title(name, fontsize=9)
            if c == 0:
                ax.text2D(0.0, 0.95, oid, transform=ax.transAxes, fontsize=8)
    fig.tight_layout()
    save_small_png(fig, path)
    plt.close(fig)


def plot_iou_vs_scale(result: dict, path: Path) -> bool:
    """Interactive IoU vs GT part size per method; returns False when nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = {n: m["iou_vs_scale"] for n, m in result["methods"].items()
              if m.get("iou_vs_scale") and m["objects"]}
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (name, cv) in enumerate(curves.items()):
        for mode, style in (("scale", "-"), ("noscale", "--")):
            bins = [b for b in cv[mode] if b["mean_iou"] is not None]
            x = [np.sqrt(max(b["lo"], 1e-3) * b["hi"]) for b in bins]
            ax.plot(x, [b["mean_iou"] for b in bins], style, marker="o", color=f"C{i}",
                    label=f"{name} ({'+scale' if mode == 'scale' else 'no scale'})")
    first = next(iter(curves.values()))["scale"]  # same regions for every method
    ax2 = ax.twinx()
    lo = [max(b["lo"], 1e-3) for b in first]
    ax2.bar(lo, [b["count"] for b in first], width=[b["hi"] - x for b, x in zip(first, lo)],
            align="edge", color="0.85", zorder=0)
    ax2.set_ylabel("GT regions per bin (grey bars)", color="0.5")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_xscale("log")
    ax.set_xlabel("GT part size (fraction of the object's points)")
    ax.set_ylabel("interactive IoU (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_small_png(fig, path)
    plt.close(fig)
    return True
