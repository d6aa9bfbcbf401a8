"""Conductance-weighted averaging (minigrad/nn/cwa.py): exact gradients, the paper's
equation 3, output bounded by the reversal potentials, float32, errors, training."""
import numpy as np
import pytest

from minigrad import nn, optim
from minigrad.backend import to_device, to_numpy, xp
from minigrad.gradcheck import check_layer, numeric_grad, rel_error
from minigrad.nn import CWA
from minigrad.trainer import Trainer

TOL = 1e-7


def activities(rng, *shape):
    """Presynaptic activities p in [0, 1], as the paper assumes."""
    return rng.random(shape)


def equation_3(x, g, n_inhibitory, Gr=1.0, er=-0.4):
    """The paper's equation 3 written directly on the host (float64): valence vector e, two products."""
    G = np.maximum(1 + g, 0)
    e = np.ones(x.shape[1])
    e[:n_inhibitory] = -1
    return (Gr * er + (x * e) @ G) / (Gr + x @ G)


# --------------------------------------------------------------- gradients
@pytest.mark.parametrize("kwargs", [{}, {"n_inhibitory": 0}, {"n_inhibitory": 7}, {"n_inhibitory": 2},
                                    {"rest_potential": 0.0, "rest_conductance": 0.5}])
def test_gradcheck(rng, kwargs):
    errors = check_layer(CWA(7, 4, rng=1, **kwargs), activities(rng, 5, 7))
    assert set(errors) == {"x", "g"}
    assert max(errors.values()) < TOL, errors


def test_gradcheck_with_dead_conductances(rng):
    """Where 1 + g < 0 the conductance h(g) = (1 + g)_+ is 0 and so is its gradient."""
    layer = CWA(6, 5, rng=2)
    layer.params["g"][0, :3] = -1.5
    layer.params["g"][4, 1:] = -2.0
    errors = check_layer(layer, activities(rng, 4, 6))
    assert max(errors.values()) < TOL, errors
    dg = to_numpy(layer.grads["g"])
    assert (dg[0, :3] == 0).all() and (dg[4, 1:] == 0).all()
    assert (dg[1] != 0).all()


def _layer_with_dead_conductances(rng):
    layer = CWA(9, 6, rng=3).astype(np.float64)
    layer.params["g"][2, :2] = -1.3                       # some dead conductances too
    return layer, activities(rng, 8, 9)


def test_matches_equation_3(rng):
    """Forward against the paper's equation 3, and backward against finite differences of that
    equation (not of the layer's own forward): pure NumPy, runs without PyTorch."""
    layer, x = _layer_with_dead_conductances(rng)
    z = layer.forward(to_device(x))
    g = to_numpy(layer.params["g"]).copy()
    np.testing.assert_allclose(to_numpy(z), equation_3(x, g, 9 // 2), rtol=1e-12, atol=1e-14)
    dz = rng.standard_normal(z.shape)
    dx = layer.backward(to_device(dz))
    xs, gs = x.copy(), g.copy()                           # numeric_grad perturbs these in place

    def loss():
        return float((equation_3(xs, gs, 9 // 2) * dz).sum())
    assert rel_error(dx, numeric_grad(loss, xs)) < TOL
    assert rel_error(layer.grads["g"], numeric_grad(loss, gs)) < TOL


def test_matches_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    layer, x = _layer_with_dead_conductances(rng)
    z = layer.forward(to_device(x))
    g = to_numpy(layer.params["g"]).copy()
    # backward against autograd of the paper's own formulation (two products, supplement 6.1)
    dz = rng.standard_normal(z.shape)
    dx = layer.backward(to_device(dz))
    xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(g, requires_grad=True)
    e = torch.ones(9, dtype=torch.float64)
    e[:4] = -1
    Gt = torch.clamp(1 + gt, min=0.0)
    zt = (-0.4 + (xt * e) @ Gt) / (1 + xt @ Gt)
    zt.backward(torch.tensor(dz))
    np.testing.assert_allclose(to_numpy(dx), xt.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(to_numpy(layer.grads["g"]), gt.grad.numpy(), rtol=1e-10, atol=1e-13)


# --------------------------------------------------------------- the paper's properties
def test_output_bounded_by_reversal_potentials(rng):
    """z is a conductance-weighted average of -1, +1 and e_r: it stays in [-1, 1] (section 2.3),
    however large the conductances; no input at all gives the resting potential e_r."""
    layer = CWA(50, 30, rng=4, init_std=3.0)               # many large and many dead conductances
    x = to_device(activities(rng, 64, 50), dtype=np.float32)
    z = to_numpy(layer.forward(x))
    assert z.min() >= -1 and z.max() <= 1
    assert z.min() < -0.5 and z.max() > 0.5                # and it does use the range
    zero = to_numpy(layer.forward(xp.zeros((3, 50), dtype=np.float32)))
    np.testing.assert_allclose(zero, -0.4, rtol=1e-6)
    # only excitatory inputs: z in [e_r, 1]; only inhibitory: z in [-1, e_r]
    z_exc = to_numpy(CWA(50, 30, rng=4, n_inhibitory=0).forward(x))
    z_inh = to_numpy(CWA(50, 30, rng=4, n_inhibitory=50).forward(x))
    assert z_exc.min() >= -0.4 and z_exc.max() <= 1
    assert z_inh.min() >= -1 and z_inh.max() <= -0.4


def test_init_conductances_near_one_and_valences():
    layer = CWA(784, 512, rng=0)
    G = to_numpy(layer.conductances())
    assert layer.params["g"].shape == (784, 512)
    assert G.min() >= 0 and abs(G.mean() - 1) < 0.01 and G.std() < 0.1     # Glorot: tightly around 1
    e = to_numpy(layer.valences)
    assert (e[:392] == -1).all() and (e[392:] == 1).all()


def test_float32_stays_float32(rng):
    layer = CWA(10, 6, rng=0)
    assert layer.params["g"].dtype == np.float32
    x = to_device(activities(rng, 4, 10), dtype=np.float32)
    z = layer.forward(x)
    dx = layer.backward(xp.ones_like(z))
    assert z.dtype == dx.dtype == layer.grads["g"].dtype == np.float32


def test_skips_dx_when_not_needed(rng):
    layer = CWA(10, 6, rng=0)
    x = to_device(activities(rng, 4, 10), dtype=np.float32)
    dz = to_device(rng.standard_normal((4, 6)), dtype=np.float32)
    layer.forward(x)
    layer.backward(dz)
    dg = to_numpy(layer.grads["g"]).copy()
    layer.needs_input_grad = False
    assert layer.backward(dz) is None
    np.testing.assert_array_equal(to_numpy(layer.grads["g"]), dg)


# --------------------------------------------------------------- errors
def test_bad_input_shape_names_the_layer():
    layer = CWA(784, 10, rng=0)
    with pytest.raises(ValueError, match=r"CWA: expected input of shape \(N, D\) with D=784, got \(5, 28, 28\)"):
        layer.forward(xp.zeros((5, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match=r"CWA: .*D=784, got \(5, 100\)"):
        layer.forward(xp.zeros((5, 100), dtype=np.float32))
    with pytest.raises(TypeError, match="CWA"):
        layer.forward(xp.zeros((5, 784), dtype=np.uint8))


@pytest.mark.parametrize("kwargs,word", [({"n_inhibitory": 11}, "n_inhibitory"),
                                         ({"rest_conductance": 0.0}, "rest_conductance"),
                                         ({"rest_potential": 2.0}, "rest_potential")])
def test_bad_options_are_named(kwargs, word):
    with pytest.raises(ValueError, match=f"CWA: {word}"):
        CWA(10, 4, **kwargs)


# --------------------------------------------------------------- training
def test_tiny_cwa_network_trains():
    """The paper's fully connected recipe in miniature: inputs in [0, 1] fed twice (an inhibitory
    and an excitatory copy), CWA, ReLU (eq. 4), a final affine layer with softmax, Adam."""
    r = np.random.default_rng(0)
    n, d, classes = 600, 8, 3
    centers = r.random((classes, d))
    y = r.integers(classes, size=n)
    X = np.clip(centers[y] + 0.15 * r.standard_normal((n, d)), 0, 1)
    X = np.concatenate([X, X], axis=1).astype(np.float32)            # inhibitory copy, excitatory copy
    data = {"X_train": X[:450], "y_train": y[:450], "X_val": X[450:], "y_val": y[450:]}
    model = nn.Sequential(CWA(2 * d, 32, rng=1), nn.ReLU(), nn.Linear(32, classes, rng=2))
    t = Trainer(model, data, optim.Adam(3e-2), batch_size=32, epochs=6, progress=False)
    h = t.fit()
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0], h["train_loss"]
    assert h["val_acc"][-1] > 0.9, h["val_acc"]
    assert model.params["0.g"].dtype == np.float32
