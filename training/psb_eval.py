"""The benchmark's own metrics (:mod:`training.psb_metrics`) inside :mod:`training.evaluate`.

``--metrics psb`` on data whose objects hold ``human_segs`` (``psb-dev``). Per mesh:

* every labelling a method makes is turned into labels of the ORIGINAL faces (the method's
  own face labels where it has them, :meth:`training.methods.Method.face_labels`, e.g. the
  model's Segment All on the mesh protocol; else every face takes the label of the sampled
  point nearest to its centroid, :func:`training.devset.face_nearest_point`, e.g. every
  labelling on the points protocol) and compared with every human segmentation, averaged
  over the humans. Labellings: ``noscale`` (the method's one labelling without GT
  information), ``level{d}`` (made for tree level d: the level's scale for the model, its
  K for k-means/agglo/count), ``leaf`` (the deepest level of each mesh, defined on every
  mesh) and a method's extra labellings (:meth:`training.methods.Method.psb_labellings`:
  ``mode_k`` for ``count``, told the mode of the human segment counts).
* reference rows, the same in both protocols: ``human`` (each human segmentation against
  every other one of the mesh), ``one_segment`` (the whole mesh as one segment) and
  ``kmeans_mode_k`` (k-means on the sampled points' XYZ, :func:`training.baselines.
  kmeans_labels`, with k = the most frequent human segment count of the mesh, mapped to
  faces like every point labelling).

Then the mean over meshes; the cut discrepancy over the meshes where it is defined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training import baselines as bl
from training import psb_metrics as pm
from training.devset import DevObject, EvalSample, face_nearest_point

#: Reference rows (key, label in the report).
REFERENCE_ROWS = (("human", "Human (every pair of human segmentations)"),
                  ("one_segment", "one segment (the whole mesh)"),
                  ("kmeans_mode_k", "k-means, k = mode of the human segment counts"))


@dataclass
class PSBContext:
    """One mesh's geometry and its prepared human segmentations."""

    geom: pm.MeshGeometry
    humans: list[pm.Segmentation]

    def score(self, face_labels: np.ndarray) -> dict[str, float | None]:
        """A labelling of the original faces against every human, averaged over humans."""
        return pm.compare_to_humans(self.geom, pm.segmentation(self.geom, face_labels),
                                    self.humans)


def psb_context(obj: DevObject) -> PSBContext | None:
    """The context of a mesh with human segmentations (None for other objects)."""
    if obj.human_segs is None or obj.faces is None or not len(obj.human_segs):
        return None
    geom = pm.mesh_geometry(obj.vertices, obj.faces)
    return PSBContext(geom, [pm.segmentation(geom, h) for h in obj.human_segs])


def to_faces(sample: EvalSample, point_labels: np.ndarray,
             own: np.ndarray | None) -> np.ndarray:
    """Face labels of a labelling: the method's own, else the nearest sampled point's."""
    if own is not None:
        return np.asarray(own)
    return np.asarray(point_labels)[face_nearest_point(sample)]


def score_method(ctx: PSBContext, sample: EvalSample, method,
                 noscale: np.ndarray | None, levels: dict[int, np.ndarray] | None) -> dict:
    """``{labelling key: metrics}`` of one method's labellings on one mesh."""
    out: dict[str, dict] = {}
    if noscale is not None:
        out["noscale"] = ctx.score(to_faces(sample, noscale, method.face_labels("noscale")))
    if levels:
        done: dict[int, dict] = {}
        for d, lab in levels.items():
            done[d] = ctx.score(to_faces(sample, lab, method.face_labels(d)))
            out[f"level{d}"] = done[d]
        out["leaf"] = done[max(done)]
    for key, lab in method.psb_labellings().items():
        out[key] = ctx.score(to_faces(sample, lab, method.face_labels(key)))
    return out


def score_reference(ctx: PSBContext, sample: EvalSample,
                    settings: bl.BaselineSettings) -> dict[str, dict]:
    """The reference rows on one mesh (see the module docstring)."""
    k = pm.mode_segment_count(ctx.humans)
    km = bl.kmeans_labels(sample.points, k, settings)
    return {
        "human": pm.human_consistency(ctx.geom, ctx.humans),
        "one_segment": ctx.score(np.zeros(ctx.geom.n_faces, np.int64)),
        "kmeans_mode_k": {**ctx.score(to_faces(sample, km, None)), "k": k},
    }


def summarize(rows: list[dict]) -> dict | None:
    """Mean over meshes of per-mesh metric dicts, with the mesh counts (None if no rows)."""
    if not rows:
        return None
    out: dict = pm.mean_metrics(rows)
    out["objects"] = len(rows)
    out["cut_discrepancy_objects"] = sum(r["psb_cut_discrepancy"] is not None for r in rows)
    return out


def _labelling_order(key: str) -> tuple[int, int | str]:
    """noscale, level1, level2, ..., leaf, then the methods' extra labellings by name."""
    if key == "noscale":
        return (0, 0)
    if key == "leaf":
        return (2, 0)
    if key.startswith("level"):
        return (1, int(key.removeprefix("level")))
    return (3, key)


def aggregate_method(records: list[dict], main: str) -> dict:
    """Method-level PSB keys: :data:`training.psb_metrics.PSB_KEYS` of the ``main``
    labelling, ``psb_mode`` (which one), ``psb_labellings`` (every labelling's summary) and
    ``psb_per_category`` (main labelling)."""
    done = [r for r in records if "psb" in r]
    keys = sorted({k for r in done for k in r["psb"]}, key=_labelling_order)
    labs = {k: summarize([r["psb"][k] for r in done if k in r["psb"]]) for k in keys}
    top = labs.get(main) or {}
    out: dict = {k: top.get(k) for k in pm.PSB_KEYS}
    out["psb_mode"] = main if main in labs else None
    out["psb_labellings"] = labs
    cats = sorted({r["category"] for r in done if main in r["psb"]})
    out["psb_per_category"] = {
        c: summarize([r["psb"][main] for r in done if r["category"] == c and main in r["psb"]])
        for c in cats}
    return out


def aggregate_reference(per_object: list[dict]) -> dict:
    """``{row: summary + per_category}`` over meshes; ``per_object`` rows hold ``category``
    and one metrics dict per reference row."""
    out = {}
    for key, label in REFERENCE_ROWS:
        rows = [r[key] for r in per_object]
        s = summarize(rows) or {}
        s["label"] = label
        s["per_category"] = {c: summarize([r[key] for r in per_object if r["category"] == c])
                             for c in sorted({r["category"] for r in per_object})}
        out[key] = s
    ks = [r["kmeans_mode_k"]["k"] for r in per_object]
    if ks:
        out["kmeans_mode_k"]["mean_k"] = float(np.mean(ks))
    return out
