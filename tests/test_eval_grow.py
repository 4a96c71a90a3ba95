"""The training-free region-growth baseline (training/grow.py)."""

from __future__ import annotations

import numpy as np
from core_infer_fake import boxes

from core.geometry import sample_surface
from training.grow import RegionGrowth


def test_growth_takes_whole_crease_regions_nearest_first_up_to_the_scale():
    v, f, owner = boxes([(0, 0, 0), (3, 0, 0), (6, 0, 0)], subdivide=1)
    pts, pf = sample_surface(v, f, 3000, seed=0)
    g = RegionGrowth(v, f, pts, pf)
    assert g.n_regions == 18  # six sides per box
    i = int(np.argmin(np.linalg.norm(pts - [0.0, 0.0, 0.5], axis=1)))  # box 0's top
    one_side = g.mask(i, None)
    assert len(np.unique(g.point_region[one_side])) == 1
    third = g.mask(i, 1 / 3)
    np.testing.assert_array_equal(third, owner[pf] == 0)  # exactly box 0
    small, big = g.mask(i, 0.1), g.mask(i, 0.6)
    assert (small <= third).all() and (third <= big).all()
