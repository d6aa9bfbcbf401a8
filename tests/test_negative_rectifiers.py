"""NegLU, smooth NegLU, MixLU (MixedReLU), Min-Maxout and the learned-sign rectifier.

Thesis "Negative rectifiers", sections 4.2, 4.4 and 5.2. Finite-difference checks of
every layer are in test_gradcheck.py and PyTorch comparisons in test_torch_compare.py;
this file checks the functions themselves, the numerics and the layer options.
"""
import warnings

import numpy as np
import pytest

from minigrad import nn, optim
from minigrad.backend import to_device, to_numpy
from minigrad.gradcheck import check_layer

TOL = 1e-7


def dev(a, dtype=np.float64):
    return to_device(np.asarray(a), dtype=dtype)


# ------------------------------------------------------------------ NegLU
def test_neglu_is_min_zero_x_with_zero_slope_at_zero():
    x = np.array([[-3.0, -0.5, 0.0, 0.5, 3.0]])
    layer = nn.NegLU()
    np.testing.assert_array_equal(to_numpy(layer.forward(dev(x))), np.minimum(x, 0))
    np.testing.assert_array_equal(to_numpy(layer.backward(dev(np.ones_like(x)))), [[1, 1, 0, 0, 0]])


# ------------------------------------------------------------ smooth NegLU
def test_smooth_neglu_formula_and_derivative(rng):
    x = rng.uniform(-20, 20, (6, 7))
    layer = nn.SmoothNegLU()
    out = to_numpy(layer.forward(dev(x)))
    np.testing.assert_allclose(out, -np.log(1 + np.exp(-x)), rtol=1e-12, atol=1e-14)
    dx = to_numpy(layer.backward(dev(np.ones_like(x))))
    np.testing.assert_allclose(dx, 1 / (np.exp(x) + 1), rtol=1e-12, atol=1e-300)
    assert np.all(out < np.minimum(x, 0))             # strictly below the NegLU it smooths


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_smooth_neglu_is_stable_at_large_inputs(dtype):
    x = np.array([[-1e4, -1e3, -100.0, 0.0, 100.0, 1e3, 1e4]])
    # the formula as written overflows (so this test would catch a naive implementation)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        -np.log(1 + np.exp(-x.astype(dtype)))
    layer = nn.SmoothNegLU()
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out = to_numpy(layer.forward(dev(x, dtype)))
        dx = to_numpy(layer.backward(dev(np.ones_like(x), dtype)))
    assert out.dtype == dtype and dx.dtype == dtype
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    np.testing.assert_allclose(out[0, [0, 1, 2]], [-1e4, -1e3, -100.0], rtol=1e-6)
    np.testing.assert_allclose(out[0, 3], -np.log(2), rtol=1e-6)
    np.testing.assert_allclose(out[0, 4:], 0.0, atol=1e-30)
    np.testing.assert_allclose(dx[0], [1, 1, 1, 0.5, 0, 0, 0], atol=1e-30)


# ------------------------------------------------------------- MixLU
def test_mixlu_exact_share_of_negative_units():
    assert nn.MixedReLU(500, negative_fraction=0.01, exact=True, rng=0).negative_count == 5
    assert nn.MixedReLU(500, negative_fraction=0.10, exact=True, rng=1).negative_count == 50
    assert nn.MixedReLU(500, negative_fraction=0.0, exact=True, rng=0).negative_count == 0
    assert nn.MixedReLU(7, negative_fraction=1.0, exact=True, rng=0).negative_count == 7
    # the default draws each unit by chance: the count varies with the seed
    counts = {nn.MixedReLU(500, negative_fraction=0.01, rng=s).negative_count for s in range(20)}
    assert len(counts) > 1


def test_mixlu_on_lenet_style_1x1_maps_is_per_channel(rng):
    """conv 4x4x500 on a 4x4 map gives (N, 500, 1, 1): MixLU treats each channel as one unit."""
    conv = nn.Conv2d(50, 20, 4, rng=0)
    mix = nn.MixedReLU(20, negative_fraction=0.25, exact=True, rng=2)
    h = conv.forward(to_device(rng.standard_normal((3, 50, 4, 4)), dtype=np.float32))
    assert h.shape == (3, 20, 1, 1)
    out, hh = to_numpy(mix.forward(h)), to_numpy(h)
    neg = to_numpy(mix.sign) < 0
    assert neg.sum() == 5
    np.testing.assert_allclose(out[:, neg], np.minimum(hh[:, neg], 0))
    np.testing.assert_allclose(out[:, ~neg], np.maximum(hh[:, ~neg], 0))
    # larger maps: every position of a channel shares the channel's sign
    x = rng.standard_normal((2, 20, 3, 3))
    out = to_numpy(mix.forward(dev(x, np.float32)))
    np.testing.assert_allclose(out[:, neg], np.minimum(x[:, neg], 0), rtol=1e-6)
    np.testing.assert_allclose(out[:, ~neg], np.maximum(x[:, ~neg], 0), rtol=1e-6)


def test_mixlu_stage_is_a_relu_stage_with_sign_flipped_weights(rng):
    """min(0, x) = -max(0, -x): in conv -> MixLU -> linear, a NegLU unit is a ReLU unit whose incoming and
    outgoing weights are negated; outputs are equal and every gradient is the sign-flipped one (lesson 15)."""
    def net(act):
        return nn.Sequential(nn.Conv2d(6, 4, 2, rng=0), act, nn.Conv2d(4, 3, 1, rng=1), nn.Flatten()).astype(np.float64)
    mix = net(nn.MixedReLU(4, negative_fraction=0.5, exact=True, rng=5))
    relu = net(nn.ReLU())
    neg = to_numpy(mix[1].sign) < 0
    flip_in = np.where(neg, -1.0, 1.0)
    for name, shape in (("0.W", (4, 1, 1, 1)), ("0.b", (4,)), ("2.W", (1, 4, 1, 1))):
        relu.params[name][...] = relu.params[name] * dev(flip_in.reshape(shape))
    relu.params["0.b"][...] = dev(rng.standard_normal(4))
    mix.params["0.b"][...] = relu.params["0.b"] * dev(flip_in)
    x = dev(rng.standard_normal((5, 6, 2, 2)))
    np.testing.assert_allclose(to_numpy(mix.forward(x)), to_numpy(relu.forward(x)), rtol=1e-12, atol=1e-12)
    g = dev(rng.standard_normal((5, 3)))
    mix.backward(g), relu.backward(g)
    for name, shape in (("0.W", (4, 1, 1, 1)), ("0.b", (4,)), ("2.W", (1, 4, 1, 1)), ("2.b", None)):
        flip = 1.0 if shape is None else flip_in.reshape(shape)
        np.testing.assert_allclose(to_numpy(mix.grads[name]), flip * to_numpy(relu.grads[name]),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


def test_mixlu_one_sign_per_map_position(rng):
    mix = nn.MixedReLU((2, 3, 4), negative_fraction=0.25, exact=True, rng=0)
    assert mix.sign.shape == (2, 3, 4) and mix.negative_count == 6
    x = rng.standard_normal((5, 2, 3, 4))
    neg = to_numpy(mix.sign) < 0
    out = to_numpy(mix.forward(dev(x, np.float32)))
    np.testing.assert_allclose(out, np.where(neg, np.minimum(x, 0), np.maximum(x, 0)), rtol=1e-6)
    assert check_layer(nn.MixedReLU((2, 3, 4), 0.5, rng=1), x + 0.05 * np.sign(x))["x"] < TOL
    with pytest.raises(ValueError, match=r"MixedReLU: expected input of shape \(N, C, H, W\) with "
                                         r"\(C, H, W\)=\(2, 3, 4\), got \(5, 2, 4, 3\)"):
        mix.forward(dev(np.zeros((5, 2, 4, 3)), np.float32))


# --------------------------------------------------------- Min-Maxout
def test_minmaxout_units_and_forward(rng):
    layer = nn.MinMaxout(6, 10, pieces=3, min_fraction=0.3, rng=0)
    is_min = to_numpy(layer.unit_is_min)
    assert is_min.dtype == bool and is_min.shape == (10,) and is_min.sum() == 3
    assert layer.params["W"].shape == (6, 10, 3) and layer.params["b"].shape == (10, 3)
    layer.params["b"][...] = dev(rng.standard_normal((10, 3)), np.float32)
    x = rng.standard_normal((4, 6))
    z = np.einsum("nd,dmk->nmk", x, to_numpy(layer.params["W"])) + to_numpy(layer.params["b"])
    expected = np.where(is_min, z.min(axis=2), z.max(axis=2))
    np.testing.assert_allclose(to_numpy(layer.forward(dev(x, np.float32))), expected, rtol=1e-5, atol=1e-6)
    assert not to_numpy(nn.MinMaxout(6, 10, pieces=2, rng=0).unit_is_min).any()      # plain maxout
    assert to_numpy(nn.MinMaxout(6, 10, pieces=2, min_fraction=1.0, rng=0).unit_is_min).all()


def test_minmaxout_one_piece_is_linear(rng):
    layer = nn.MinMaxout(5, 3, pieces=1, min_fraction=0.5, rng=0).astype(np.float64)
    x = rng.standard_normal((4, 5))
    W = to_numpy(layer.params["W"])[:, :, 0]
    np.testing.assert_allclose(to_numpy(layer.forward(dev(x))), x @ W, rtol=1e-12)


def test_minmaxout_min_units_can_express_neglu():
    """Pieces 0 and x: a max unit is a ReLU, a min unit a NegLU (section 5.2)."""
    layer = nn.MinMaxout(1, 2, pieces=2, min_fraction=0.5, rng=0).astype(np.float64)
    layer.params["W"][...] = dev([[[0.0, 1.0], [0.0, 1.0]]])
    x = np.linspace(-2, 2, 9)[:, None]
    out = to_numpy(layer.forward(dev(x)))
    is_min = to_numpy(layer.unit_is_min)
    np.testing.assert_allclose(out[:, is_min][:, 0], np.minimum(x[:, 0], 0))
    np.testing.assert_allclose(out[:, ~is_min][:, 0], np.maximum(x[:, 0], 0))


def test_minmaxout_ties_send_the_gradient_to_the_first_piece():
    layer = nn.MinMaxout(2, 2, pieces=3, min_fraction=0.5, rng=0).astype(np.float64)
    layer.params["W"][...] = 0.0                     # every piece equal: a three-way tie everywhere
    x = dev([[1.0, -2.0]])
    layer.forward(x)
    layer.backward(dev([[1.0, 1.0]]))
    db = to_numpy(layer.grads["b"])
    np.testing.assert_array_equal(db, [[1, 0, 0], [1, 0, 0]])


def test_minmaxout_gradient_with_min_and_max_units(rng):
    errors = check_layer(nn.MinMaxout(4, 6, pieces=4, min_fraction=0.5, rng=3), rng.standard_normal((5, 4)), rng=rng)
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) < TOL


def test_minmaxout_refuses_bad_arguments_and_input():
    with pytest.raises(ValueError, match="MinMaxout: min_fraction"):
        nn.MinMaxout(3, 2, min_fraction=1.5)
    with pytest.raises(ValueError, match="MinMaxout: pieces"):
        nn.MinMaxout(3, 2, pieces=0)
    layer = nn.MinMaxout(3, 2, rng=0)
    with pytest.raises(ValueError, match=r"MinMaxout: expected input of shape \(N, D\) with D=3, got \(4, 5\)"):
        layer.forward(dev(np.zeros((4, 5)), np.float32))
    with pytest.raises(TypeError, match="MinMaxout: expected a floating-point array"):
        layer.forward(to_device(np.zeros((4, 3), dtype=np.int64)))


# --------------------------------------------------- learned-sign rectifier
def test_learned_sign_relu_spans_relu_to_neglu(rng):
    x = rng.standard_normal((5, 3))
    layer = nn.LearnedSignReLU(3, init_logit=[40.0, -40.0, 0.0]).astype(np.float64)
    out = to_numpy(layer.forward(dev(x)))
    np.testing.assert_allclose(out[:, 0], np.maximum(x[:, 0], 0), atol=1e-12)     # a = 1: ReLU
    np.testing.assert_allclose(out[:, 1], np.minimum(x[:, 1], 0), atol=1e-12)     # a = 0: NegLU
    np.testing.assert_allclose(out[:, 2], x[:, 2] / 2, atol=1e-12)                # a = 1/2: x / 2
    np.testing.assert_allclose(to_numpy(layer.relu_share), [1, 0, 0.5], atol=1e-12)


def test_learned_sign_relu_learns_the_sign_a_task_needs(rng):
    """Target min(0, x) for unit 0 and max(0, x) for unit 1: gradient descent on s finds each unit's sign."""
    layer = nn.LearnedSignReLU(2, init_logit=0.0).astype(np.float64)
    opt = optim.SGD(lr=0.5)
    for _ in range(200):
        x = rng.standard_normal((64, 2))
        target = np.stack([np.minimum(x[:, 0], 0), np.maximum(x[:, 1], 0)], axis=1)
        out = layer.forward(dev(x))
        layer.backward((out - dev(target)) / 64)
        opt.step(layer.params, layer.grads)
    a = to_numpy(layer.relu_share)
    assert a[0] < 0.1 and a[1] > 0.9, a         # from a = 0.5 for both


def test_learned_sign_relu_per_channel_and_bad_input(rng):
    layer = nn.LearnedSignReLU(2, init_logit=[-40.0, 40.0])
    x = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    out = to_numpy(layer.forward(to_device(x)))
    np.testing.assert_allclose(out[:, 0], np.minimum(x[:, 0], 0), atol=1e-6)
    np.testing.assert_allclose(out[:, 1], np.maximum(x[:, 1], 0), atol=1e-6)
    assert check_layer(nn.LearnedSignReLU(2, init_logit=[0.3, -0.7]), x)["s"] < TOL
    with pytest.raises(ValueError, match=r"LearnedSignReLU: expected input of shape \(N, C, H, W\) with C=2"):
        layer.forward(to_device(np.zeros((2, 3, 4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"LearnedSignReLU: expected input of shape \(N, D\) with D=2"):
        layer.forward(to_device(np.zeros((2, 5), np.float32)))


@pytest.mark.parametrize("make", [nn.NegLU, nn.SmoothNegLU], ids=["NegLU", "SmoothNegLU"])
def test_elementwise_negative_rectifiers_refuse_integer_input(make):
    with pytest.raises(TypeError, match=f"{make.__name__}: expected a floating-point array"):
        make().forward(to_device(np.zeros((2, 3), dtype=np.int32)))


def test_layers_keep_float32(rng):
    x = to_device(rng.standard_normal((3, 4)), dtype=np.float32)
    for layer in (nn.NegLU(), nn.SmoothNegLU(), nn.LearnedSignReLU(4), nn.MinMaxout(4, 3, rng=0)):
        out = layer.forward(x)
        assert out.dtype == np.float32, type(layer).__name__
        assert layer.backward(out).dtype == np.float32, type(layer).__name__
        for k, g in layer.grads.items():
            assert g.dtype == np.float32, (type(layer).__name__, k)
