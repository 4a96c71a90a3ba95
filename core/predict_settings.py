"""The predictor's constants, settings and answer type (:mod:`core.predictor` uses them).

Kept apart from the :class:`core.predictor.Segmenter` so that module stays about its
logic; everything here is re-exported by :mod:`core.predictor`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .consensus import ConsensusSettings
from .errors import S2AM3DError
from .merge_tree import TreeSettings
from .part_count import CountSettings
from .point_growth import PointGrowthSettings
from .point_tree import PointTreeSettings
from .superfaces import SuperfaceSettings
from .surface import SurfaceSettings

#: number of points sampled from a mesh (the paper's N) and the cap for point clouds.
DEFAULT_N_POINTS = 10_000
#: largest ``n_points`` accepted: memory grows linearly with N (features, conditioning,
#: the k-NN graphs); beyond this the request is refused instead of exhausting
#: memory. (The Blender panel offers the same maximum.) Measured at the cap on a 100k-face
#: mesh (ONNX, 2 threads, loaded machine): set_mesh 9 s, Segment All 8 s, peak RSS 2.0 GB.
MAX_N_POINTS = 200_000


class NotReadyError(S2AM3DError, RuntimeError):
    """``predict``/``segment_all`` called before ``set_mesh`` or ``set_points``."""


@dataclass
class PredictSettings:
    """Knobs of :meth:`Segmenter.predict` and of the mesh path.

    Attributes:
        mask_threshold: point clouds: a point is in the mask when its probability is ≥ this
            value (probabilities are sigmoid outputs in [0, 1]).
        weld_rel_tol: meshes: vertices closer than this fraction of the bounding-box
            diagonal are welded before connectivity is computed.
        superfaces: meshes: how the mesh is partitioned into superfaces
            (:class:`core.superfaces.SuperfaceSettings`).
        tree: how the merge trees are read (:class:`core.merge_tree.TreeSettings`): the
            mesh's tree over superfaces and, for Segment All, a point cloud's tree.
        point_tree: point clouds: how the merge tree of Segment All is built
            (:mod:`core.point_tree`).
        surface: point clouds: how their surface kind (one sheet, or pieces) is read
            (:mod:`core.surface`); it picks the tree's linkage and the growth's λ.
        count: meshes: how the tree behind Segment All with a part count
            (``num_parts``) is built (:mod:`core.part_count`).
        consensus: one-piece meshes: the random segmentations whose agreement joins the
            learned dissimilarity in the merge tree (:mod:`core.consensus`).
        cond_cache_size: point clouds: how many scale values keep their conditioned
            features cached.
        point_growth: point clouds: how a click *with a scale* is answered (growth over
            the k-NN graph, :mod:`core.point_growth`); without a scale the decoder answers.
        residual_weight: :meth:`Segmenter.decode` with a scale (the network's own mask at
            a scale; the product's clicks with a scale use ``point_growth`` and its
            Segment All the point tree, which replaced these masks): weight w of the
            decoder's logits
            against the fixed scale prior (:mod:`core.prior`): logit = w · decoder +
            prior. 1 = the trained model as trained; 0 = the prior alone (the ball).
            Dev sets, points protocol, click + scale (PartNet-Mobility / PSB): 1 → 61.1 /
            65.8, 0.5 → 62.9 / 68.2, 0.25 → 63.7 / 70.8, 0.1 → 63.3 / 73.8, 0 (the ball)
            → 58.4 / 75.1; Segment All at each level's scale 27.7 / 41.1 at 1, 27.0 /
            41.0 at 0.1. Chosen on these dev numbers: 0.1 (the trained decoder's residual
            hurts on organic shapes; a small share of it still helps on PartNet-Mobility).
    """

    mask_threshold: float = 0.5
    weld_rel_tol: float = 1e-5
    superfaces: SuperfaceSettings = field(default_factory=SuperfaceSettings)
    tree: TreeSettings = field(default_factory=TreeSettings)
    count: CountSettings = field(default_factory=CountSettings)
    consensus: ConsensusSettings = field(default_factory=ConsensusSettings)
    cond_cache_size: int = 4
    point_growth: PointGrowthSettings = field(default_factory=PointGrowthSettings)
    point_tree: PointTreeSettings = field(default_factory=PointTreeSettings)
    surface: SurfaceSettings = field(default_factory=SurfaceSettings)
    residual_weight: float = 0.1


@dataclass
class PredictResult:
    """One prompt's answer.

    Attributes:
        point_probs: (N,) float32 probability in [0, 1] of each sampled point (meshes:
            1 inside the answer, 0 outside).
        point_mask: (N,) bool, the part on the sampled points.
        quality: in [0, 1]; point clouds without a scale: the model's predicted IoU;
            with a scale: how sharply the features change across the answer's border
            (:meth:`core.point_growth.PointGrowth.quality`); meshes: how natural the
            answering tree node is (1 − its merge dissimilarity) × its parent's.
        face_mask: (F,) bool for every face of the original mesh, or None for point clouds.
        scale: the scale used (None = no-scale mode).
        node: meshes: the merge-tree node that answered (None for point clouds).
    """

    point_probs: np.ndarray
    point_mask: np.ndarray
    quality: float
    face_mask: np.ndarray | None
    scale: float | None
    node: int | None = None
