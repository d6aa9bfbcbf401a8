"""nn.LateralConv2d (LC block) and nn.LateralEIConv2d (LCEI block) of the lateral-connections paper
(sections 3.1, 3.2), and Conv2d(bias=False) for the F-CNN baseline.

Checked in float64 against: a host NumPy computation unrolled by hand (a convolution written as
explicit sums over kernel offsets, no im2col), PyTorch autograd of the same unrolled equations
(forward and every gradient, T = 1, 3, 5), and centred finite differences under both kernels.
"""
import numpy as np
import pytest

from minigrad import backend
from minigrad.backend import to_device, to_numpy
from minigrad.gradcheck import check_layer
from minigrad.nn import (Conv2d, Flatten, LateralConv2d, LateralEIConv2d, Linear, MaxPool2d, ReLU, Sequential,
                         softmax_cross_entropy)
from minigrad.optim import Momentum
from minigrad.penalties import L1, SatExpSeparation

TOL = 1e-7


@pytest.fixture
def kernels(monkeypatch):
    monkeypatch.setattr(backend, "_KERNELS", backend.kernels())
    return backend.set_kernels


def conv_by_hand(x, W, pad):
    """out[n, f, i, j] = sum_{c,u,v} W[f, c, u, v] x_pad[n, c, i+u, j+v] (stride 1), one offset at a time."""
    F, C, k, _ = W.shape
    xp_ = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = xp_.shape[2] - k + 1, xp_.shape[3] - k + 1
    out = np.zeros((x.shape[0], F, Ho, Wo))
    for u in range(k):
        for v in range(k):
            out += np.einsum("nchw,fc->nfhw", xp_[:, :, u:u + Ho, v:v + Wo], W[:, :, u, v])
    return out


def lc_by_hand(x, Wa, ba, Wl, loops, pad):
    """Section 3.1 unrolled: aff once, A_0 = R(aff), A_t = R(aff + W_l * A_(t-1)); all the maps."""
    aff = conv_by_hand(x, Wa, pad) + ba[None, :, None, None]
    maps = [np.maximum(aff, 0)]
    for _ in range(loops):
        maps.append(np.maximum(aff + conv_by_hand(maps[-1], Wl, Wl.shape[2] // 2), 0))
    return maps


def params64(layer):
    return {k: to_numpy(v).astype(np.float64) for k, v in layer.params.items()}


# ------------------------------------------------------------------------------ LC block
@pytest.mark.parametrize("kind", ["fast", "reference"])
@pytest.mark.parametrize("loops", [1, 3, 5])
def test_lc_forward_matches_hand_unrolled_numpy(kind, loops, kernels, rng):
    kernels(kind)
    layer = LateralConv2d(2, 3, 3, loops=loops, padding=1, rng=4, dtype=np.float64)
    x = rng.standard_normal((2, 2, 6, 5))
    out = to_numpy(layer.forward(to_device(x)))
    p = params64(layer)
    maps = lc_by_hand(x, p["Wa"], p["ba"], p["Wl"], loops, 1)
    np.testing.assert_allclose(out, maps[-1], rtol=1e-6, atol=1e-12)
    assert len(layer.maps) == loops + 1
    for mine, theirs in zip(layer.maps, maps):
        np.testing.assert_allclose(to_numpy(mine), theirs, rtol=1e-6, atol=1e-12)
    assert not np.allclose(maps[0], maps[-1])               # the lateral loops do change the map


@pytest.mark.parametrize("kind", ["fast", "reference"])
@pytest.mark.parametrize("loops,pad", [(1, 0), (3, 2), (5, 1)])
def test_lc_matches_torch_autograd_bptt(kind, loops, pad, kernels, rng):
    """Forward and every gradient against autograd of the unrolled equations: W_l's gradient is
    the sum over the loops, W_a's comes from the one afferent convolution."""
    torch = pytest.importorskip("torch")
    F_ = torch.nn.functional
    kernels(kind)
    layer = LateralConv2d(3, 4, 5, loops=loops, padding=pad, rng=7, dtype=np.float64)
    x = rng.standard_normal((2, 3, 7, 8))
    out = layer.forward(to_device(x))
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(to_device(dout))
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params64(layer).items()}
    xt = torch.tensor(x, requires_grad=True)
    aff = F_.conv2d(xt, t["Wa"], t["ba"], padding=pad)
    A = torch.relu(aff)
    for _ in range(loops):
        A = torch.relu(aff + F_.conv2d(A, t["Wl"], padding=2))
    A.backward(torch.tensor(dout))
    np.testing.assert_allclose(to_numpy(out), A.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(to_numpy(dx), xt.grad.numpy(), rtol=1e-6, atol=1e-10)
    for k in ("Wa", "ba", "Wl"):
        np.testing.assert_allclose(to_numpy(layer.grads[k]), t[k].grad.numpy(), rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("kind", ["fast", "reference"])
@pytest.mark.parametrize("loops", [0, 1, 3, 5])
def test_lc_gradcheck(kind, loops, kernels, rng):
    kernels(kind)
    errors = check_layer(LateralConv2d(2, 3, 3, loops=loops, padding=1, rng=1), rng.standard_normal((2, 2, 5, 4)),
                         rng=2)
    assert set(errors) == {"x", "Wa", "ba", "Wl"}
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("loops", [1, 3, 5])
def test_fcnn_baseline_has_exactly_the_lc_parameter_count(loops):
    """Section 3.1: "the number of parameters in F-CNN and LC-CNN are equal due to the weight sharing":
    F-CNN = W_a then an unshared bias-free F -> F convolution, LC = W_a and the shared W_l."""
    C, F, k = 1, 8, 7
    lc = LateralConv2d(C, F, k, loops=loops, padding=3)
    fcnn = Sequential(Conv2d(C, F, k, padding=3), ReLU(), Conv2d(F, F, k, padding=k // 2, bias=False), ReLU())
    n_lc = sum(v.size for v in lc.params.values())
    assert n_lc == sum(v.size for v in fcnn.params.values()) == F * C * k * k + F + F * F * k * k
    x = to_device(np.random.default_rng(0).random((2, C, 12, 12)), dtype=np.float32)
    assert lc.forward(x).shape == fcnn.forward(x).shape == (2, F, 12, 12)


@pytest.mark.parametrize("kind", ["fast", "reference"])
def test_conv2d_without_bias(kind, kernels, rng):
    kernels(kind)
    layer = Conv2d(3, 4, 3, padding=1, rng=0, bias=False)
    assert set(layer.params) == {"W"}
    errors = check_layer(layer, rng.standard_normal((2, 3, 5, 5)), rng=1)
    assert set(errors) == {"x", "W"} and max(errors.values()) < TOL, errors
    assert set(layer.grads) == {"W"}


def test_lc_refuses_bad_shapes_and_options(rng):
    layer = LateralConv2d(2, 3, 3)
    with pytest.raises(ValueError, match=r"LateralConv2d: expected input of shape \(N, C, H, W\) with C=2"):
        layer.forward(to_device(rng.random((1, 3, 5, 5))))
    with pytest.raises(TypeError, match="LateralConv2d: expected a floating-point array"):
        layer.forward(to_device(np.ones((1, 2, 5, 5), dtype=np.int32)))
    with pytest.raises(ValueError, match="LateralConv2d: input 2x2 with padding 0 is smaller than the 3x3"):
        layer.forward(to_device(rng.random((1, 2, 2, 2))))
    with pytest.raises(ValueError, match="LateralConv2d: kernel_size must be an odd int"):
        LateralConv2d(2, 3, 4)
    with pytest.raises(ValueError, match="LateralConv2d: loops must be an int >= 0"):
        LateralConv2d(2, 3, 3, loops=-1)
    with pytest.raises(ValueError, match="LateralEIConv2d: kernel_size must be an odd int"):
        LateralEIConv2d(2, 3, (3, 3))


def test_lc_trains_in_a_small_network(rng):
    """The LC block inside an LC-CNN (appendix A.1: block, max-pool, fully connected) lowers the loss."""
    model = Sequential(LateralConv2d(1, 4, 3, loops=3, padding=1, rng=0), MaxPool2d(2), Flatten(),
                       Linear(4 * 4 * 4, 3, rng=1))
    X, y = rng.random((24, 1, 8, 8)), np.arange(24) % 3
    X[y == 1, :, :4] += 1.0                                  # classes the block can tell apart
    X[y == 2, :, :, :4] += 1.0
    X, y = to_device(X, dtype=np.float32), to_device(y)
    opt = Momentum(lr=0.05, momentum=0.9)
    losses = []
    for _ in range(40):
        loss, dscores = softmax_cross_entropy(model.forward(X), y)
        model.backward(dscores)
        opt.step(model.params, model.grads)
        losses.append(float(to_numpy(loss)))
    assert losses[-1] < 0.5 * losses[0], losses[::8]


# ------------------------------------------------------------------------------ LCEI block
def test_lcei_matches_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    F_ = torch.nn.functional
    layer = LateralEIConv2d(2, 4, 3, padding=1, rng=3, dtype=np.float64)
    x = rng.standard_normal((2, 2, 6, 7))
    out = layer.forward(to_device(x))
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(to_device(dout))
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params64(layer).items()}
    xt = torch.tensor(x, requires_grad=True)
    A = torch.relu(F_.conv2d(xt, t["Wa"], t["ba"], padding=1))      # eq. 5
    E = torch.tanh(F_.conv2d(A, t["We"], padding=1))                # eq. 6, excitatory path
    H = torch.tanh(F_.conv2d(A, t["Wi"], padding=1))                # eq. 6, inhibitory path
    ref = A + E + H
    ref.backward(torch.tensor(dout))
    np.testing.assert_allclose(to_numpy(out), ref.detach().numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(to_numpy(dx), xt.grad.numpy(), rtol=1e-6, atol=1e-10)
    for k in ("Wa", "ba", "We", "Wi"):
        np.testing.assert_allclose(to_numpy(layer.grads[k]), t[k].grad.numpy(), rtol=1e-6, atol=1e-10)
    for name, ref_map in (("afferent", A), ("excitatory", E), ("inhibitory", H)):
        np.testing.assert_allclose(to_numpy(layer.maps[name]), ref_map.detach().numpy(), rtol=1e-6, atol=1e-12)


def test_lcei_forward_matches_hand_computation(rng):
    layer = LateralEIConv2d(1, 3, 3, rng=5, dtype=np.float64)
    x = rng.standard_normal((2, 1, 7, 7))
    p = params64(layer)
    A = np.maximum(conv_by_hand(x, p["Wa"], 0) + p["ba"][None, :, None, None], 0)
    expect = A + np.tanh(conv_by_hand(A, p["We"], 1)) + np.tanh(conv_by_hand(A, p["Wi"], 1))
    np.testing.assert_allclose(to_numpy(layer.forward(to_device(x))), expect, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("kind", ["fast", "reference"])
def test_lcei_gradcheck(kind, kernels, rng):
    kernels(kind)
    errors = check_layer(LateralEIConv2d(2, 3, 3, padding=1, rng=1), rng.standard_normal((2, 2, 5, 6)), rng=2)
    assert set(errors) == {"x", "Wa", "ba", "We", "Wi"}
    assert max(errors.values()) < TOL, errors


def test_lcei_paths_are_named_for_the_separation_penalties(rng):
    """The penalties read the block's ``We``/``Wi`` by their names in the model's params."""
    model = Sequential(LateralEIConv2d(1, 4, 7, padding=3, rng=0), MaxPool2d(2), Flatten(), Linear(4 * 6 * 6, 10))
    block = model[0]
    assert block.paths == {"excitatory": "We", "inhibitory": "Wi"}
    exc, inh = (f"0.{block.paths[p]}" for p in ("excitatory", "inhibitory"))
    pen = SatExpSeparation(exc=exc, inh=inh, beta=0.1)
    g = pen.grad(model.params)
    assert set(g) == {"0.We", "0.Wi"} and g["0.We"].shape == (4, 4, 7, 7)
    assert float(to_numpy(g["0.We"]).mean()) < 0 < float(to_numpy(g["0.Wi"]).mean())   # descent: We up, Wi down
    assert set(L1(keys=("Wa", "We", "Wi")).grad(model.params)) == {"0.Wa", "0.We", "0.Wi"}
    assert model.forward(to_device(rng.random((2, 1, 12, 12)), dtype=np.float32)).shape == (2, 10)


# ------------------------------------------------------------------------------ appendix A.1 networks
@pytest.mark.parametrize("loops", [1, 3, 5])
def test_lc_cnn_and_fcnn_builders_have_equal_parameter_counts(loops, rng):
    from minigrad.models import fcnn, lc_cnn
    lc, ff = lc_cnn(loops, rng=0), fcnn(rng=0)
    n = sum(v.size for v in lc.params.values())
    assert n == sum(v.size for v in ff.params.values()) == 8 * 49 + 8 + 8 * 8 * 49 + 8 * 24 * 24 * 10 + 10
    assert lc[0].loops == loops and set(lc.params) == {"0.Wa", "0.ba", "0.Wl", "3.W", "3.b"}
    x = to_device(rng.random((2, 1, 48, 48)), dtype=np.float32)
    assert lc.forward(x).shape == ff.forward(x).shape == (2, 10)


def test_lcei_cnn_builder(rng):
    from minigrad.models import lcei_cnn
    net = lcei_cnn(rng=0)
    assert set(net.params) == {"0.Wa", "0.ba", "0.We", "0.Wi", "3.W", "3.b"}
    assert net.params["0.We"].shape == (4, 4, 7, 7) and net.params["3.W"].shape == (4 * 24 * 24, 10)
    assert net.forward(to_device(rng.random((2, 1, 48, 48)), dtype=np.float32)).shape == (2, 10)
