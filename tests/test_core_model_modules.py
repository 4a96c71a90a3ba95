"""Behaviour of the torch networks: shapes, invariances, scale and prompt handling."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.anchors import prepare_anchors  # noqa: E402
from core.config import ModelConfig  # noqa: E402
from core.errors import ModelFileError  # noqa: E402
from core.modeling import PartEncoder, ScaleAwareDecoder  # noqa: E402
from core.modeling.decoder import PointsToTokens, TokensToPoints  # noqa: E402
from core.modeling.layers import sample_grid, scatter_mean  # noqa: E402

torch.set_num_threads(1)
CFG = ModelConfig(num_anchors=64)


def _points(n: int = 800, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n, 3)) * 2 - 1).astype(np.float32)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    enc, dec = PartEncoder(CFG).eval(), ScaleAwareDecoder(CFG).eval()
    # trained FiLM projections are non-zero; the init is zero (identity at start)
    with torch.no_grad():
        for film in [*dec.films, dec.point_film]:
            film.proj.weight.normal_(std=0.3)
    return enc, dec


def _graph(xyz: np.ndarray, cfg: ModelConfig = CFG):
    g = prepare_anchors(xyz, cfg.num_anchors, cfg.knn_k, 0)
    return tuple(torch.from_numpy(a)[None] for a in (g.anchor_idx, g.knn_idx, g.knn_w))


def _cond(nets, xyz: np.ndarray, scale: float, has: float):
    enc, dec = nets
    x = torch.from_numpy(xyz)[None]
    a, ki, kw = _graph(xyz)
    with torch.no_grad():
        f = enc(x)
        c = dec.condition(f, x, a, ki, kw, torch.tensor([scale]), torch.tensor([has]))
    return c, (a, ki, kw)


def _decode(nets, cond, graph, idx, lab):
    with torch.no_grad():
        return nets[1].decode(cond, *graph, torch.tensor(idx), torch.tensor(lab, dtype=torch.float32))


def test_shapes(nets):
    xyz = _points()
    cond, graph = _cond(nets, xyz, 0.2, 1.0)
    assert cond.shape == (1, len(xyz), CFG.decoder_dim)
    logits, quality = _decode(nets, cond, graph, [[3, 4], [5, 0]], [[1, 0], [1, -1]])
    assert logits.shape == (2, len(xyz)) and quality.shape == (2,)
    assert torch.isfinite(logits).all() and ((quality >= 0) & (quality <= 1)).all()


def test_encoder_is_point_order_invariant(nets):
    enc, _ = nets
    xyz = _points(600)
    perm = np.random.default_rng(3).permutation(len(xyz))
    with torch.no_grad():
        f = enc(torch.from_numpy(xyz)[None])[0]
        fp = enc(torch.from_numpy(xyz[perm])[None])[0]
    np.testing.assert_allclose(fp.numpy(), f.numpy()[perm], atol=1e-5)


def test_encoder_features_depend_on_shape(nets):
    enc, _ = nets
    xyz = _points(600)
    with torch.no_grad():
        f1 = enc(torch.from_numpy(xyz)[None])[0]
        f2 = enc(torch.from_numpy(xyz * np.float32([1, 0.3, 1]))[None])[0]
    assert (f1 - f2).abs().max() > 1e-3


def test_no_scale_path_ignores_the_scale_value(nets):
    xyz = _points()
    c1, _ = _cond(nets, xyz, 0.05, 0.0)
    c2, _ = _cond(nets, xyz, 0.9, 0.0)
    assert torch.equal(c1, c2)


def test_scale_changes_output_when_given(nets):
    xyz = _points()
    c1, graph = _cond(nets, xyz, 0.05, 1.0)
    c2, _ = _cond(nets, xyz, 0.9, 1.0)
    c0, _ = _cond(nets, xyz, 0.9, 0.0)
    assert (c1 - c2).abs().max() > 1e-3
    assert (c0 - c2).abs().max() > 1e-3
    l1, _ = _decode(nets, c1, graph, [[7]], [[1]])
    l2, _ = _decode(nets, c2, graph, [[7]], [[1]])
    assert (l1 - l2).abs().max() > 1e-3


def test_film_is_identity_at_init():
    torch.manual_seed(1)
    dec = ScaleAwareDecoder(CFG).eval()
    xyz = _points()
    x = torch.from_numpy(xyz)[None]
    f = torch.randn(1, len(xyz), CFG.feature_dim)
    graph = _graph(xyz)
    with torch.no_grad():
        a = dec.condition(f, x, *graph, torch.tensor([0.7]), torch.tensor([1.0]))
        b = dec.condition(f, x, *graph, torch.tensor([0.7]), torch.tensor([0.0]))
    assert torch.equal(a, b)


def test_scale_dropout_only_in_training(nets):
    _, dec = nets
    xyz = _points()
    x = torch.from_numpy(xyz)[None].expand(64, -1, -1)
    f = torch.randn(1, len(xyz), CFG.feature_dim).expand(64, -1, -1)
    graph = tuple(t.expand(64, *t.shape[1:]) for t in _graph(xyz))
    s, has = torch.full((64,), 0.6), torch.ones(64)
    torch.manual_seed(0)
    dec.train()
    try:
        with torch.no_grad():
            c = dec.condition(f, x, *graph, s, has)
            c_none = dec.condition(f, x, *graph, s, torch.zeros(64))
    finally:
        dec.eval()
    dropped = ((c - c_none[:1]).abs().amax(dim=(1, 2)) < 1e-6).sum().item()
    assert 1 <= dropped <= 20  # p = 0.1 of 64 rows
    with torch.no_grad():
        ce = dec.condition(f, x, *graph, s, has)
    assert ((ce - c_none[:1]).abs().amax(dim=(1, 2)) > 1e-3).all()


def test_padding_prompts_do_not_change_the_result(nets):
    xyz = _points()
    cond, graph = _cond(nets, xyz, 0.3, 1.0)
    l1, q1 = _decode(nets, cond, graph, [[11, 40]], [[1, 0]])
    l2, q2 = _decode(nets, cond, graph, [[11, 40, 99, 5]], [[1, 0, -1, -1]])
    np.testing.assert_allclose(l2.numpy(), l1.numpy(), atol=1e-4)
    np.testing.assert_allclose(q2.numpy(), q1.numpy(), atol=1e-5)


def test_negative_prompt_changes_the_result(nets):
    xyz = _points()
    cond, graph = _cond(nets, xyz, 0.3, 1.0)
    l1, _ = _decode(nets, cond, graph, [[11]], [[1]])
    l2, _ = _decode(nets, cond, graph, [[11, 200]], [[1, 0]])
    l3, _ = _decode(nets, cond, graph, [[11, 200]], [[1, 1]])
    assert (l1 - l2).abs().max() > 1e-3
    assert (l2 - l3).abs().max() > 1e-3  # the label, not only the point, matters


def test_shared_conditioning_equals_per_row(nets):
    """Segment All decodes B prompts over one (1, N, C) conditioning."""
    xyz = _points()
    cond, graph = _cond(nets, xyz, 0.3, 1.0)
    idx, lab = [[3], [50], [400]], [[1], [1], [1]]
    shared, qs = _decode(nets, cond, graph, idx, lab)
    rows = [_decode(nets, cond, graph, [i], [la]) for i, la in zip(idx, lab)]
    np.testing.assert_allclose(shared.numpy(), torch.cat([r[0] for r in rows]).numpy(), atol=1e-4)
    expanded = _decode(nets, cond.expand(3, -1, -1), tuple(g.expand(3, *g.shape[1:]) for g in graph), idx, lab)
    np.testing.assert_allclose(expanded[0].numpy(), shared.numpy(), atol=1e-4)
    assert (shared[0] - shared[1]).abs().max() > 1e-3  # different clicks, different masks


@pytest.mark.parametrize("cls", [TokensToPoints, PointsToTokens])
def test_folded_attention_equals_plain_attention(cls):
    torch.manual_seed(0)
    m = cls(64, 8)
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.2)
    tokens, points = torch.randn(3, 5, 64), torch.randn(1, 100, 64)
    bias = torch.zeros(3, 5)
    bias[:, 4] = -1e9
    with torch.no_grad():
        if cls is TokensToPoints:
            got, want = m(tokens, points), m.attn(tokens, points.expand(3, -1, -1))
        else:
            got = m(points, tokens, bias)
            want = m.attn(points.expand(3, -1, -1), tokens, bias[:, None, None, :])
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4)


def test_grid_sampling_matches_grid_sample_border_mode():
    torch.manual_seed(0)
    f = torch.nn.functional
    g2, c2 = torch.randn(2, 5, 7, 7), torch.rand(2, 100, 2) * 2.4 - 1.2
    want2 = f.grid_sample(g2, c2.flip(-1).unsqueeze(1), align_corners=False, padding_mode="border")
    np.testing.assert_allclose(sample_grid(g2, c2).numpy(), want2.squeeze(2).transpose(1, 2).numpy(), atol=1e-5)
    g3, c3 = torch.randn(2, 4, 6, 6, 6), torch.rand(2, 100, 3) * 2.4 - 1.2
    want3 = f.grid_sample(g3, c3.flip(-1)[:, None, None], align_corners=False, padding_mode="border")
    np.testing.assert_allclose(sample_grid(g3, c3).numpy(), want3.flatten(2).transpose(1, 2).numpy(), atol=1e-5)


def test_scatter_mean_averages_duplicates():
    vals = torch.tensor([[[1.0], [3.0], [10.0]]])
    out = scatter_mean(vals, torch.tensor([[2, 2, 0]]), 4)
    assert out[0, 0].tolist() == [10.0, 0.0, 2.0, 0.0]


def test_anchor_graph():
    xyz = _points(2000)
    g = prepare_anchors(xyz, 128, 3, seed=0)
    assert g.anchor_idx.shape == (128,) and len(set(g.anchor_idx.tolist())) == 128
    assert g.knn_idx.shape == (2000, 3) and g.knn_idx.max() < 128
    np.testing.assert_allclose(g.knn_w.sum(1), 1.0, atol=1e-5)
    # an anchor's nearest anchor is itself, with (almost) all the weight
    assert (g.knn_idx[g.anchor_idx, 0] == np.arange(128)).all()
    assert (g.knn_w[g.anchor_idx, 0] > 0.999).all()
    small = prepare_anchors(xyz[:10], 128, 3)
    assert small.anchor_idx.shape == (10,)


def test_config_round_trip_and_bad_values():
    c = ModelConfig(feature_dim=64, num_anchors=256)
    assert ModelConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ModelFileError, match="unknown"):
        ModelConfig.from_dict({"feature_dims": 3})
    with pytest.raises(ModelFileError, match="must be an int"):
        ModelConfig.from_dict({"feature_dim": "128"})
    with pytest.raises(ValueError, match="power of two"):
        ModelConfig(plane_resolution=64, token_resolution=24)
