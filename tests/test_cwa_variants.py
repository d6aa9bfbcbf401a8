"""The CWA paper's section 4.4 variants and CWA's input check: AbsNorm (minigrad/nn/absnorm.py),
CWA with lateral inhibition (minigrad/nn/cwa_lateral.py), and nn.CWA refusing negative inputs.

Each layer is checked three ways in float64: centred finite differences of the layer itself,
finite differences of an independent host-side formula written from the docstring's equations,
and PyTorch autograd (when installed)."""
import numpy as np
import pytest

from minigrad import nn, optim
from minigrad.backend import to_device, to_numpy, xp
from minigrad.gradcheck import check_layer, numeric_grad, rel_error
from minigrad.nn import CWA, AbsNorm, LateralCWA
from minigrad.trainer import Trainer

TOL = 1e-7


def activities(rng, *shape):
    return rng.random(shape)


def h(g):
    return np.maximum(1 + g, 0)


# =============================================================== nn.CWA input check
def test_cwa_refuses_negative_input_naming_smallest_value(rng):
    layer = CWA(6, 4, rng=0)
    x = activities(rng, 5, 6)
    x[3, 2] = -0.75
    x[1, 4] = -0.25
    with pytest.raises(ValueError, match=r"CWA: inputs must be activities in \[0, 1\].*smallest value of -0\.75"):
        layer.forward(to_device(x))
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match="CWA: .*nan"):
        layer.forward(to_device(x))


def test_cwa_input_check_can_be_switched_off(rng):
    """Off, the layer computes what it always did (and shows why the check exists: z leaves [-1, 1])."""
    x = activities(rng, 5, 6)
    x[:, :3] = -0.9                                       # strongly negative inhibitory inputs
    layer = CWA(6, 4, rng=0, check_input_range=False, init_std=0.01)
    z = to_numpy(layer.forward(to_device(x)))
    assert np.abs(z).max() > 1
    assert CWA(6, 4).check_input_range is True


def test_cwa_check_accepts_zero_and_above_one(rng):
    """Only p >= 0 is needed for the bound; exact zeros (clipped pixels) and values > 1 pass."""
    x = activities(rng, 4, 6)
    x[0] = 0.0
    x[1, 0] = 1.5
    z = to_numpy(CWA(6, 3, rng=0).forward(to_device(x)))
    assert np.abs(z).max() <= 1


# =============================================================== AbsNorm
def absnorm_reference(x, W, Gr=1.0):
    """Section 4.4 written directly: z_i = sum_j W_ij p_j / (G_r + sum_j |W_ij| p_j)."""
    return (x @ W) / (Gr + x @ np.abs(W))


@pytest.mark.parametrize("kwargs", [{}, {"rest_conductance": 0.3}, {"init_std": 2.0}])
def test_absnorm_gradcheck(rng, kwargs):
    errors = check_layer(AbsNorm(7, 4, rng=1, **kwargs), activities(rng, 5, 7), rng=rng)
    assert set(errors) == {"x", "W"}
    assert max(errors.values()) < TOL, errors


def test_absnorm_sign_convention_at_zero(rng):
    """At W_ij = 0, d|w|/dw = sign(0) = 0: the gradient is the numerator's alone, x^T dnum.
    Centred differences converge to it, but only to first order at the kink (|h| in the
    denominator: error ~ h), so they are compared at two step sizes: 10x smaller h, 10x closer."""
    layer = AbsNorm(6, 5, rng=2).astype(np.float64)
    layer.params["W"][1, :] = 0.0
    layer.params["W"][:, 3] = 0.0
    x = to_device(activities(rng, 4, 6))
    dz = to_device(rng.standard_normal((4, 5)))
    layer.forward(x)
    layer.backward(dz)
    analytic = to_numpy(layer.grads["W"])

    def loss():
        return float(to_numpy((layer.forward(x) * dz).sum()))
    W = layer.params["W"]
    err = [rel_error(analytic, numeric_grad(loss, W, h)) for h in (1e-5, 1e-6)]
    assert err[0] < 1e-4 and 5 < err[0] / err[1] < 20, err
    # away from the kink the usual tolerance holds: W with no zeros
    assert max(check_layer(AbsNorm(6, 5, rng=2), activities(rng, 4, 6), rng=rng).values()) < TOL
    layer.forward(x)
    layer.backward(dz)
    dnum = to_numpy(dz / layer.den)
    expected = to_numpy(x).T @ dnum
    got = to_numpy(layer.grads["W"])
    np.testing.assert_allclose(got[1, :], expected[1, :], rtol=1e-12)
    np.testing.assert_allclose(got[:, 3], expected[:, 3], rtol=1e-12)
    assert np.abs(got[1, :]).min() > 0                     # not stuck at 0


def test_absnorm_matches_reference_formula_and_its_finite_differences(rng):
    layer = AbsNorm(8, 5, rng=3, rest_conductance=0.5).astype(np.float64)
    layer.params["W"][2, 1] = 0.0
    x = activities(rng, 6, 8)
    z = layer.forward(to_device(x))
    W = to_numpy(layer.params["W"]).copy()
    np.testing.assert_allclose(to_numpy(z), absnorm_reference(x, W, 0.5), rtol=1e-12, atol=1e-15)
    dz = rng.standard_normal(z.shape)
    dx = layer.backward(to_device(dz))
    xs, Ws = x.copy(), W.copy()

    def loss():
        return float((absnorm_reference(xs, Ws, 0.5) * dz).sum())
    assert rel_error(dx, numeric_grad(loss, xs)) < TOL
    assert rel_error(layer.grads["W"], numeric_grad(loss, Ws)) < TOL


def test_absnorm_matches_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    layer = AbsNorm(9, 4, rng=4).astype(np.float64)
    layer.params["W"][0, 0] = 0.0                          # torch's d|w|/dw at 0 is 0 as well
    x = activities(rng, 5, 9)
    z = layer.forward(to_device(x))
    dz = rng.standard_normal(z.shape)
    dx = layer.backward(to_device(dz))
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(to_numpy(layer.params["W"]), requires_grad=True)
    zt = (xt @ Wt) / (1.0 + xt @ Wt.abs())
    zt.backward(torch.tensor(dz))
    np.testing.assert_allclose(to_numpy(z), zt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(dx), xt.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(to_numpy(layer.grads["W"]), Wt.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_absnorm_output_in_minus_one_one(rng):
    """|p @ W| <= p @ |W| < G_r + p @ |W| for p >= 0: z in (-1, 1), and with large weights it
    uses nearly all of that range; no input at all gives 0."""
    layer = AbsNorm(60, 40, rng=5, init_std=50.0)
    layer.params["W"][:, 0] = 50.0                         # all synapses excitatory: z -> 1
    layer.params["W"][:, 1] = -50.0                        # all inhibitory: z -> -1
    z = to_numpy(layer.forward(to_device(activities(rng, 32, 60), dtype=np.float32)))
    assert np.abs(z).max() < 1
    assert z[:, 0].min() > 0.99 and z[:, 1].max() < -0.99
    zero = to_numpy(layer.forward(xp.zeros((2, 60), dtype=np.float32)))
    assert (zero == 0).all()


def test_absnorm_float32_and_errors(rng):
    layer = AbsNorm(10, 6, rng=0)
    x = to_device(activities(rng, 4, 10), dtype=np.float32)
    z = layer.forward(x)
    dx = layer.backward(xp.ones_like(z))
    assert z.dtype == dx.dtype == layer.grads["W"].dtype == np.float32
    with pytest.raises(ValueError, match=r"AbsNorm: expected input of shape \(N, D\) with D=10, got \(4, 9\)"):
        layer.forward(xp.zeros((4, 9), dtype=np.float32))
    with pytest.raises(TypeError, match="AbsNorm"):
        layer.forward(xp.zeros((4, 10), dtype=np.int64))
    with pytest.raises(ValueError, match="AbsNorm: inputs must be activities.*-2"):
        layer.forward(to_device(-2 * np.ones((4, 10)), dtype=np.float32))
    with pytest.raises(ValueError, match="AbsNorm: rest_conductance"):
        AbsNorm(10, 6, rest_conductance=0.0)
    layer.needs_input_grad = False
    layer.forward(x)
    assert layer.backward(xp.ones_like(z)) is None


# =============================================================== CWA with lateral inhibition
def lateral_reference(x, g, g_in, g_out, n_inh, T, Gr=1.0, er=-0.4):
    """The layer's equations written independently on the host (float64): the valence vector form
    of equation 3, with the interneurons as extra inputs of valence -1 concatenated to x."""
    G, H, L = h(g), h(g_in), h(g_out)
    e = np.ones(x.shape[1])
    e[:n_inh] = -1
    q = np.zeros((x.shape[0], L.shape[0]))                 # q_0 = 0: nothing active yet
    for t in range(T + 1):
        xq = np.concatenate([x, q], axis=1)                # (N, D + K)
        Gq = np.concatenate([G, L], axis=0)                # (D + K, M)
        eq = np.concatenate([e, -np.ones(L.shape[0])])     # interneurons inhibit
        z = (Gr * er + (xq * eq) @ Gq) / (Gr + xq @ Gq)
        s = np.maximum(z, 0) @ H
        q = s / (Gr + s)
    return z


def _lateral_layer(T, rng_seed=3, **kwargs):
    layer = LateralCWA(9, 6, n_lateral=3, steps=T, rng=rng_seed, rest_potential=0.0, **kwargs)
    layer.astype(np.float64)
    layer.params["g"][2, :2] = -1.3                        # some dead conductances in each matrix
    layer.params["g_in"][0, 1] = -1.5
    layer.params["g_out"][2, 4] = -2.0
    return layer


@pytest.mark.parametrize("T", [0, 1, 2, 3])
def test_lateral_gradcheck(rng, T):
    layer = _lateral_layer(T)
    errors = check_layer(layer, activities(rng, 5, 9), rng=rng)
    assert set(errors) == {"x", "g", "g_in", "g_out"}
    assert max(errors.values()) < TOL, errors
    if T > 0:                                              # the lateral path is really exercised
        assert np.abs(to_numpy(layer.grads["g_in"])).max() > 1e-4
        assert np.abs(to_numpy(layer.grads["g_out"])).max() > 1e-4
        assert (to_numpy(layer.grads["g_out"])[2, 4] == 0) and (to_numpy(layer.grads["g_in"])[0, 1] == 0)


@pytest.mark.parametrize("T", [1, 2, 3])
def test_lateral_matches_independent_unrolled_reference(rng, T):
    layer = _lateral_layer(T)
    x = activities(rng, 7, 9)
    z = layer.forward(to_device(x))
    P = {k: to_numpy(v).copy() for k, v in layer.params.items()}
    np.testing.assert_allclose(to_numpy(z), lateral_reference(x, P["g"], P["g_in"], P["g_out"], 4, T, er=0.0),
                               rtol=1e-12, atol=1e-14)
    dz = rng.standard_normal(z.shape)
    dx = layer.backward(to_device(dz))
    xs = x.copy()

    def loss():
        return float((lateral_reference(xs, P["g"], P["g_in"], P["g_out"], 4, T, er=0.0) * dz).sum())
    assert rel_error(dx, numeric_grad(loss, xs)) < TOL
    for k in ("g", "g_in", "g_out"):
        assert rel_error(layer.grads[k], numeric_grad(loss, P[k])) < TOL, k


@pytest.mark.parametrize("T", [1, 2, 3])
def test_lateral_matches_torch_autograd(rng, T):
    torch = pytest.importorskip("torch")
    layer = _lateral_layer(T)
    x = activities(rng, 6, 9)
    z = layer.forward(to_device(x))
    dz = rng.standard_normal(z.shape)
    dx = layer.backward(to_device(dz))
    xt = torch.tensor(x, requires_grad=True)
    P = {k: torch.tensor(to_numpy(v), requires_grad=True) for k, v in layer.params.items()}
    G, H, L = (torch.clamp(1 + P[k], min=0.0) for k in ("g", "g_in", "g_out"))
    e = torch.ones(9, dtype=torch.float64)
    e[:4] = -1
    zt = ((xt * e) @ G) / (1 + xt @ G)                     # rest potential 0 in this layer
    for _ in range(T):                                     # unrolled by autograd (BPTT)
        s = torch.relu(zt) @ H
        q = s / (1 + s)
        zt = ((xt * e) @ G - q @ L) / (1 + xt @ G + q @ L)
    zt.backward(torch.tensor(dz))
    np.testing.assert_allclose(to_numpy(z), zt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(to_numpy(dx), xt.grad.numpy(), rtol=1e-10, atol=1e-13)
    for k in P:
        np.testing.assert_allclose(to_numpy(layer.grads[k]), P[k].grad.numpy(), rtol=1e-10, atol=1e-13,
                                   err_msg=k)


def test_lateral_with_zero_steps_is_cwa(rng):
    x = to_device(activities(rng, 4, 10), dtype=np.float32)
    z_lat = to_numpy(LateralCWA(10, 5, steps=0, rng=7).forward(x))
    z_cwa = to_numpy(CWA(10, 5, rng=7).forward(x))
    np.testing.assert_array_equal(z_lat, z_cwa)            # same seed, same g; no interneuron acts


def test_lateral_output_bounded_and_inhibition_only_lowers_it(rng):
    """Every step is a conductance-weighted average of -1, +1, e_r: z_t in [-1, 1]. The
    interneurons only add conductance at -1, so z_t <= z_0: (a - l) / (b + l) <= a / b for l >= 0
    iff a + b >= 0, and a + b = G_r (1 + e_r) + 2 exc >= 0. The layer's activity drops."""
    layer = LateralCWA(40, 30, n_lateral=6, steps=3, rng=8, init_std=2.0, rest_potential=0.0,
                       n_inhibitory=10)
    z = to_numpy(layer.forward(to_device(activities(rng, 64, 40), dtype=np.float32)))
    zs = [to_numpy(v) for v in layer.zs]
    assert len(zs) == 4 and len(layer.qs) == 3
    assert np.abs(z).max() <= 1 and z.min() < -0.3 and z.max() > 0.3
    assert (zs[-1] <= zs[0] + 1e-6).all()
    assert np.maximum(zs[-1], 0).mean() < 0.9 * np.maximum(zs[0], 0).mean()
    q = to_numpy(layer.qs[-1])
    assert q.min() >= 0 and q.max() < 1


def test_lateral_params_errors_and_float32(rng):
    layer = LateralCWA(8, 10, rng=0)
    assert {k: v.shape for k, v in layer.params.items()} == {"g": (8, 10), "g_in": (10, 2), "g_out": (2, 10)}
    assert layer.steps == 3
    x = to_device(activities(rng, 4, 8), dtype=np.float32)
    z = layer.forward(x)
    dx = layer.backward(xp.ones_like(z))
    assert z.dtype == dx.dtype == np.float32 and all(g.dtype == np.float32 for g in layer.grads.values())
    assert set(layer.grads) == set(layer.params)
    with pytest.raises(ValueError, match=r"LateralCWA: expected input of shape \(N, D\) with D=8, got \(4, 7\)"):
        layer.forward(xp.zeros((4, 7), dtype=np.float32))
    with pytest.raises(TypeError, match="LateralCWA"):
        layer.forward(xp.zeros((4, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="LateralCWA: inputs must be activities"):
        layer.forward(to_device(-np.ones((4, 8)), dtype=np.float32))
    with pytest.raises(ValueError, match="LateralCWA: steps"):
        LateralCWA(8, 10, steps=-1)
    with pytest.raises(ValueError, match="LateralCWA: n_lateral"):
        LateralCWA(8, 10, n_lateral=0)


def test_tiny_lateral_cwa_network_trains():
    """The CWA recipe in miniature (doubled inputs, ReLU, affine readout, Adam) with the lateral layer."""
    r = np.random.default_rng(0)
    n, d, classes = 600, 8, 3
    centers = r.random((classes, d))
    y = r.integers(classes, size=n)
    X = np.clip(centers[y] + 0.15 * r.standard_normal((n, d)), 0, 1)
    X = np.concatenate([X, X], axis=1).astype(np.float32)
    data = {"X_train": X[:450], "y_train": y[:450], "X_val": X[450:], "y_val": y[450:]}
    model = nn.Sequential(LateralCWA(2 * d, 32, steps=2, rng=1), nn.ReLU(), nn.Linear(32, classes, rng=2))
    hist = Trainer(model, data, optim.Adam(3e-2), batch_size=32, epochs=6, progress=False).fit()
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0], hist["train_loss"]
    assert hist["val_acc"][-1] > 0.9, hist["val_acc"]
