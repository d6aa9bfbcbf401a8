"""nn.LayerNorm: forward statistics, exact gradients (finite differences and PyTorch), input checks.

Runs on every backend (CI also runs it under MINIGRAD_BACKEND=fakecupy, which
fails any implicit conversion to host arrays inside the layer).
"""
import numpy as np
import pytest

from minigrad import nn
from minigrad.backend import to_device, to_numpy
from minigrad.gradcheck import check_layer

TOL = 1e-7


def random_affine(layer, rng):
    """Non-trivial gamma and beta, so that their gradients and dx's gamma factor are tested."""
    layer.params["gamma"] = to_device(rng.uniform(0.5, 1.5, layer.num_features))
    layer.params["beta"] = to_device(rng.standard_normal(layer.num_features))
    return layer


def test_each_example_is_normalised_over_its_features(rng):
    layer = nn.LayerNorm(7, affine=False).astype(np.float64)
    x = rng.standard_normal((5, 7)) * rng.uniform(0.1, 10, (5, 1)) + rng.uniform(-5, 5, (5, 1))
    out = to_numpy(layer.forward(to_device(x, dtype=np.float64)))
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    # biased variance 1, up to eps: var / (var + eps)
    var = x.var(axis=1)
    np.testing.assert_allclose(out.var(axis=1), var / (var + 1e-5), rtol=1e-12)
    assert layer.params == {}


def test_examples_do_not_interact_and_eval_equals_train(rng):
    """Per-example statistics: a row's output does not depend on the other rows,
    a batch of one works, and eval mode computes the same function."""
    layer = random_affine(nn.LayerNorm(6), rng).astype(np.float64)
    x = to_device(rng.standard_normal((4, 6)) * 3 + 1, dtype=np.float64)
    full = to_numpy(layer.forward(x))
    single = to_numpy(layer.forward(x[2:3]))
    np.testing.assert_allclose(single, full[2:3], rtol=1e-13, atol=1e-13)
    assert np.abs(single).max() > 0.1                    # not normalised to 0 like batchnorm at N=1
    np.testing.assert_array_equal(to_numpy(layer.eval().forward(x)), full)
    assert layer.buffers == {}


def test_affine_output_is_gamma_x_hat_plus_beta(rng):
    layer = random_affine(nn.LayerNorm(5), rng).astype(np.float64)
    x = rng.standard_normal((3, 5)) * 2 + 0.5
    x_hat = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)
    expected = x_hat * to_numpy(layer.params["gamma"]) + to_numpy(layer.params["beta"])
    np.testing.assert_allclose(to_numpy(layer.forward(to_device(x, dtype=np.float64))), expected, rtol=1e-12)


@pytest.mark.parametrize("affine", [True, False])
# D >= 3: with D = 2 both normalised features are +-1 whatever x is, dx is of order eps,
# and a relative error against finite differences measures only their noise.
@pytest.mark.parametrize("shape", [(6, 5), (1, 8), (4, 3)])
def test_gradients_match_finite_differences(affine, shape, rng):
    layer = nn.LayerNorm(shape[1], affine=affine)
    if affine:
        random_affine(layer, rng)
    errors = check_layer(layer, rng.standard_normal(shape) * 2 + 0.5, rng=rng)
    assert set(errors) == ({"x", "gamma", "beta"} if affine else {"x"})
    bad = {k: v for k, v in errors.items() if not v < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


def test_a_wrong_layernorm_backward_is_caught(rng):
    """The check has teeth: dropping the mean_j(dx_hat x_hat) term (the variance's path) fails it."""
    class NoVarianceTerm(nn.LayerNorm):
        def backward(self, dout):
            super().backward(dout)
            dx_hat = dout * self.params["gamma"]
            return (dx_hat - dx_hat.mean(axis=1, keepdims=True)) / self.cache["s"]

    errors = check_layer(random_affine(NoVarianceTerm(5), rng), rng.standard_normal((4, 5)), rng=rng)
    assert errors["x"] > 1e-2 and errors["gamma"] < TOL


def test_backward_overwrites_rather_than_accumulates(rng):
    layer = random_affine(nn.LayerNorm(4), rng)
    layer.forward(to_device(rng.standard_normal((3, 4)), dtype=np.float32))
    dout = to_device(rng.standard_normal((3, 4)), dtype=np.float32)
    dx1, g1 = to_numpy(layer.backward(dout)), to_numpy(layer.grads["gamma"]).copy()
    dx2, g2 = to_numpy(layer.backward(dout)), to_numpy(layer.grads["gamma"])
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_array_equal(g1, g2)


def test_float32_stays_float32(rng):
    layer = nn.LayerNorm(4)
    out = layer.forward(to_device(rng.standard_normal((3, 4)), dtype=np.float32))
    dx = layer.backward(to_device(np.ones((3, 4)), dtype=np.float32))
    assert out.dtype == np.float32 and dx.dtype == np.float32
    assert layer.grads["gamma"].dtype == np.float32


@pytest.mark.parametrize("bad,error,message", [
    (np.zeros((3, 5)), ValueError, r"LayerNorm: expected input of shape \(N, D\) with D=4, got \(3, 5\)"),
    (np.zeros((3, 4, 1)), ValueError, r"LayerNorm: expected input of shape \(N, D\) with D=4, got \(3, 4, 1\)"),
    (np.zeros((3, 4), dtype=np.int64), TypeError, "LayerNorm: expected a floating-point array"),
    ([[0.0] * 4], TypeError, "LayerNorm: expected an array"),
])
def test_bad_input_is_refused_with_the_layers_name(bad, error, message):
    layer = nn.LayerNorm(4)
    x = to_device(bad) if isinstance(bad, np.ndarray) else bad
    with pytest.raises(error, match=message):
        layer.forward(x)


@pytest.mark.parametrize("kwargs,message", [({"num_features": 0}, "num_features"), ({"eps": 0.0}, "eps")])
def test_bad_arguments_are_refused(kwargs, message):
    args = {"num_features": 4, **kwargs}
    with pytest.raises(ValueError, match=f"LayerNorm: {message}"):
        nn.LayerNorm(**args)


@pytest.mark.parametrize("affine", [True, False])
def test_matches_torch_layer_norm(affine, rng):
    """Output, dx, dgamma, dbeta equal PyTorch's F.layer_norm in float64 (an independent reference)."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch to run this check)")
    F = torch.nn.functional
    layer = nn.LayerNorm(6, affine=affine)
    if affine:
        random_affine(layer, rng)
    layer.astype(np.float64)
    x = rng.standard_normal((5, 6)) * 3 - 1
    dout = rng.standard_normal((5, 6))
    out = layer.forward(to_device(x, dtype=np.float64))
    dx = layer.backward(to_device(dout, dtype=np.float64))
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    P = {k: torch.tensor(to_numpy(v), dtype=torch.float64, requires_grad=True) for k, v in layer.params.items()}
    out_t = F.layer_norm(xt, (6,), P.get("gamma"), P.get("beta"), eps=1e-5)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(to_numpy(out), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(dx), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, p in P.items():
        np.testing.assert_allclose(to_numpy(layer.grads[name]), p.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of {name}")


def test_trains_inside_an_mlp(rng):
    """A small Linear-LayerNorm-ReLU network fits a separable toy problem (the layer learns in context)."""
    from minigrad import optim
    from minigrad.trainer import Trainer
    X = rng.standard_normal((200, 10)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(10, 16, rng=0, bias=False), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 2, rng=1))
    h = Trainer(model, {"X_train": X, "y_train": y}, optim.SGD(0.1), batch_size=20, epochs=15,
                progress=False).fit()
    assert h["train_acc"][-1] > 0.9
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
