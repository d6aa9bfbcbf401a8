"""nn.ConvCWA (CWA paper, section 4.2, equation 6) and feedback alignment for CWA and ConvCWA.

Checked in float64 against centred finite differences (both kernels), PyTorch autograd of the
paper's own two-convolution code (supplement 6.1) with stride, padding and conductances on both
sides of the clamp of h, the dense nn.CWA on a single receptive field, and the paper's properties.
"""
import numpy as np
import pytest

from minigrad import backend
from minigrad.backend import to_device, to_numpy
from minigrad.feedback import measure_alignment
from minigrad.gradcheck import check_layer
from minigrad.nn import CWA, ConvCWA, Flatten, Linear, ReLU, Sequential

TOL = 1e-7


@pytest.fixture
def kernels(monkeypatch):
    """set(name): switch the kernels for this test only."""
    monkeypatch.setattr(backend, "_KERNELS", backend.kernels())
    return backend.set_kernels


def near_clamp(layer, rng):
    """Put some conductances just below and just above the kink of h(g) = max(1 + g, 0)."""
    g = to_numpy(layer.params["g"]).copy()
    flat = g.reshape(-1)
    idx = rng.permutation(flat.size)
    flat[idx[:flat.size // 4]] = -1 - rng.uniform(1e-4, 0.5, flat.size // 4)          # dead: G = 0
    flat[idx[flat.size // 4:flat.size // 2]] = -1 + rng.uniform(1e-4, 0.05, flat.size // 2 - flat.size // 4)
    layer.params["g"] = to_device(g, dtype=np.float64)
    return layer


CASES = [dict(), dict(stride=2, padding=1), dict(n_inhibitory=0), dict(n_inhibitory=3, padding=2),
         dict(kernel_size=(2, 3), stride=1, rest_potential=-0.4, rest_conductance=0.5)]


@pytest.mark.parametrize("kind", ["fast", "reference"])
@pytest.mark.parametrize("kw", CASES)
def test_gradcheck_both_kernels_with_dead_conductances(kind, kw, kernels, rng):
    kernels(kind)
    kw = dict(kw)
    k = kw.pop("kernel_size", 3)
    layer = near_clamp(ConvCWA(3, 4, k, rng=1, dtype=np.float64, **kw), rng)
    errors = check_layer(layer, rng.random((2, 3, 7, 6)), rng=2)
    assert set(errors) == {"x", "g"}
    assert max(errors.values()) < TOL, errors


def torch_conv_cwa(torch, x, g, ni, stride, padding, Gr=1.0, er=0.0):
    """The paper's ConvCWALayer.forward (supplement 6.1), with a resting term G_r e_r."""
    F_ = torch.nn.functional
    G = torch.clamp(1 + g, 0.0, float("inf"))
    e = torch.ones(g.shape[1], 1, 1, dtype=g.dtype)
    e[:ni] = -1.0
    normalizer = Gr + F_.conv2d(x, G, stride=stride, padding=padding)
    numerator = Gr * er + F_.conv2d(x, G * e.unsqueeze(0), stride=stride, padding=padding)
    return numerator / torch.clamp(normalizer, 1e-6, float("inf"))


@pytest.mark.parametrize("kind", ["fast", "reference"])
@pytest.mark.parametrize("stride,padding,ni", [(1, 0, 2), (2, 1, 2), (3, 2, 1), (2, 0, 4)])
def test_matches_torch_autograd(kind, stride, padding, ni, kernels, rng):
    torch = pytest.importorskip("torch")
    kernels(kind)
    layer = near_clamp(ConvCWA(4, 5, 3, stride=stride, padding=padding, n_inhibitory=ni, rng=3,
                               dtype=np.float64), rng)
    x = rng.random((3, 4, 9, 8))
    x[0, :, 2:5, 1:4] = 0.0                                   # clipped pixels
    z = layer.forward(to_device(x))
    dz = rng.standard_normal(z.shape)
    dx = layer.backward(to_device(dz))
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(to_numpy(layer.params["g"]), requires_grad=True)
    zt = torch_conv_cwa(torch, xt, gt, ni, stride, padding)
    zt.backward(torch.tensor(dz))
    np.testing.assert_allclose(to_numpy(z), zt.detach().numpy(), rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(to_numpy(dx), xt.grad.numpy(), rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(to_numpy(layer.grads["g"]), gt.grad.numpy(), rtol=1e-6, atol=1e-10)
    assert (gt.grad.numpy()[to_numpy(layer.params["g"]) < -1] == 0).all()   # dead conductances: no gradient


def test_denominator_floor_matches_torch_clamp(rng):
    """With the input check off, negative inputs drive G_r + G * p below 1e-6: the floor acts and,
    as torch.clamp, passes no gradient through the denominator there."""
    torch = pytest.importorskip("torch")
    layer = ConvCWA(2, 3, 2, rng=0, init_std=0.1, check_input_range=False, dtype=np.float64)
    x = rng.random((2, 2, 4, 4))
    x[1] = -rng.uniform(0.5, 1.0, (2, 4, 4))                 # the second image: all negative
    z = layer.forward(to_device(x))
    den = to_numpy(layer.cache["den"])
    assert (den == 1e-6).any() and (den > 1e-6).any()      # both regions present
    dz = rng.standard_normal(z.shape)
    dx = layer.backward(to_device(dz))
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(to_numpy(layer.params["g"]), requires_grad=True)
    zt = torch_conv_cwa(torch, xt, gt, 1, 1, 0)
    zt.backward(torch.tensor(dz))
    np.testing.assert_allclose(to_numpy(z), zt.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(to_numpy(dx), xt.grad.numpy(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(to_numpy(layer.grads["g"]), gt.grad.numpy(), rtol=1e-6, atol=1e-8)


def test_one_receptive_field_is_the_dense_cwa(rng):
    """A k x k image under a k x k kernel: ConvCWA is nn.CWA over the C*k*k pixels, whose first
    n_inhibitory*k*k (the inhibitory channels', (c, u, v) order) have valence -1."""
    C, F, k, ni = 4, 3, 3, 1
    conv = ConvCWA(C, F, k, n_inhibitory=ni, rng=5, init_std=0.7, dtype=np.float64)
    dense = CWA(C * k * k, F, n_inhibitory=ni * k * k, rest_potential=0.0, dtype=np.float64)
    dense.params["g"] = to_device(to_numpy(conv.params["g"]).reshape(F, -1).T.copy())
    x = rng.random((5, C, k, k))
    z_conv = to_numpy(conv.forward(to_device(x)))[:, :, 0, 0]
    z_dense = to_numpy(dense.forward(to_device(x.reshape(5, -1))))
    np.testing.assert_allclose(z_conv, z_dense, rtol=1e-12)
    dz = rng.standard_normal((5, F))
    dx_conv = to_numpy(conv.backward(to_device(dz[:, :, None, None])))
    dx_dense = to_numpy(dense.backward(to_device(dz)))
    np.testing.assert_allclose(dx_conv.reshape(5, -1), dx_dense, rtol=1e-10)
    np.testing.assert_allclose(to_numpy(conv.grads["g"]).reshape(F, -1).T, to_numpy(dense.grads["g"]), rtol=1e-10)


def test_output_in_range_valences_and_rest(rng):
    layer = ConvCWA(6, 8, 3, padding=1, rng=2, init_std=2.0)
    assert to_numpy(layer.valences).tolist() == [-1, -1, -1, 1, 1, 1]
    z = to_numpy(layer.forward(to_device(rng.random((4, 6, 8, 8)), dtype=np.float32)))
    assert z.dtype == np.float32 and z.shape == (4, 8, 8, 8)
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.3 and z.max() > 0.3
    rest = ConvCWA(2, 3, 3, rest_potential=0.25, rng=0)
    z0 = to_numpy(rest.forward(to_device(np.zeros((1, 2, 5, 5)), dtype=np.float32)))
    np.testing.assert_allclose(z0, 0.25, rtol=1e-6)           # no input: the resting potential


def test_bad_inputs_and_options_name_the_layer(rng):
    layer = ConvCWA(3, 4, 3)
    with pytest.raises(ValueError,
                       match=r"ConvCWA: expected input of shape \(N, C, H, W\) with C=3, got \(2, 4, 5, 5\)"):
        layer.forward(to_device(rng.random((2, 4, 5, 5))))
    with pytest.raises(ValueError, match="ConvCWA: expected input"):
        layer.forward(to_device(rng.random((3, 5, 5))))
    with pytest.raises(TypeError, match="ConvCWA: expected a floating-point array"):
        layer.forward(to_device(np.ones((2, 3, 5, 5), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"ConvCWA: inputs must be activities.*-0\.5"):
        layer.forward(to_device(np.full((1, 3, 5, 5), -0.5)))
    with pytest.raises(ValueError, match="ConvCWA: input 2x2 with padding 0 is smaller than the 3x3 kernel"):
        layer.forward(to_device(rng.random((1, 3, 2, 2))))
    for kw, word in [(dict(n_inhibitory=5), "n_inhibitory"), (dict(rest_conductance=0), "rest_conductance"),
                     (dict(rest_potential=2), "rest_potential"), (dict(stride=0), "stride"),
                     (dict(feedback="dfa"), "feedback")]:
        with pytest.raises(ValueError, match=f"ConvCWA: .*{word}"):
            ConvCWA(3, 4, 3, **kw)


def test_skips_dx_when_not_needed(rng):
    layer = ConvCWA(2, 3, 3, rng=0)
    layer.forward(to_device(rng.random((2, 2, 5, 5)), dtype=np.float32))
    layer.needs_input_grad = False
    assert layer.backward(to_device(rng.standard_normal((2, 3, 3, 3)), dtype=np.float32)) is None
    assert layer.grads["g"].shape == (3, 2, 3, 3)


# ------------------------------------------------------------ feedback alignment
@pytest.mark.parametrize("make", [lambda fb: CWA(7, 4, rng=3, feedback=fb, dtype=np.float64),
                                  lambda fb: ConvCWA(3, 4, 3, padding=1, rng=3, feedback=fb, dtype=np.float64)])
def test_fa_weight_grads_exact_and_dx_uses_fixed_nonnegative_B(make, rng):
    """FA changes only dx: the gradient of g is backprop's; dx is the backprop dx of a copy whose
    conductances *in the dx products only* are B. The latter is computed by swapping B in
    through ``forward_weight`` (what ``dx_weight`` returns for backprop)."""
    bp, fa = make("bp"), make("fa")
    B = to_numpy(fa.buffers["B"])
    assert B.shape == fa.params["g"].shape and B.min() >= 0 and 0.8 < B.mean() < 1.2 and B.std() > 0.4
    np.testing.assert_array_equal(to_numpy(bp.params["g"]), to_numpy(fa.params["g"]))
    shape = (4, 7) if isinstance(bp, CWA) else (2, 3, 5, 5)
    x = to_device(rng.random(shape))
    z_bp, z_fa = bp.forward(x), fa.forward(x)
    np.testing.assert_array_equal(to_numpy(z_bp), to_numpy(z_fa))
    dz = to_device(rng.standard_normal(z_bp.shape))
    dx_fa, dx_bp = to_numpy(fa.backward(dz)), to_numpy(bp.backward(dz))
    np.testing.assert_allclose(to_numpy(fa.grads["g"]), to_numpy(bp.grads["g"]), rtol=1e-12)
    assert not np.allclose(dx_fa, dx_bp)
    bp.forward_weight = lambda name: fa.buffers["B"]        # the backprop pass with B in dx
    bp.forward(x)
    np.testing.assert_allclose(dx_fa, to_numpy(bp.backward(dz)), rtol=1e-12)


def test_fa_dx_by_hand_for_dense_cwa(rng):
    """dx_I = dinh @ B_I^T, dx_E = dexc @ B_E^T with dinh, dexc from the docstring's lines."""
    layer = CWA(6, 5, rng=1, feedback="fa", dtype=np.float64)
    x = rng.random((4, 6))
    z = to_numpy(layer.forward(to_device(x)))
    dz = rng.standard_normal((4, 5))
    dx = to_numpy(layer.backward(to_device(dz)))
    G, B = np.maximum(1 + to_numpy(layer.params["g"]), 0), to_numpy(layer.buffers["B"])
    den = 1 + x @ G
    dnum = dz / den
    dden = -dnum * z
    expect = np.concatenate([(dden - dnum) @ B[:3].T, (dnum + dden) @ B[3:].T], axis=1)
    np.testing.assert_allclose(dx, expect, rtol=1e-12)
    assert not np.allclose(expect, np.concatenate([(dden - dnum) @ G[:3].T, (dnum + dden) @ G[3:].T], axis=1))


def test_alignment_compares_conductances_with_B(rng):
    """weight_angle reads forward_weight: G = h(g) against B; B := G gives angle 0."""
    model = Sequential(ConvCWA(2, 4, 3, rng=1, feedback="fa"), ReLU(), Flatten(),
                       CWA(4 * 3 * 3, 6, rng=2, feedback="fa"), ReLU(), Linear(6, 3, rng=3))
    X, y = rng.random((8, 2, 5, 5)), np.arange(8) % 3
    m = measure_alignment(model, X, y)
    assert {"weight_angle/0.g", "weight_angle/3.g", "grad_angle/0.g", "grad_angle/3.g"} == set(m)
    assert 5 < m["weight_angle/3.g"] < 60                   # both non-negative: well below 90
    for i in (0, 3):
        model[i].buffers["B"] = model[i].conductances().copy()
    m = measure_alignment(model, X, y)
    assert m["weight_angle/0.g"] < 1e-3 and m["weight_angle/3.g"] < 1e-3
    assert m["grad_angle/0.g"] < 1e-2                        # B = G: FA is backprop
