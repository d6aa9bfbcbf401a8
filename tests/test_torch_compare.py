"""Outputs and gradients equal PyTorch autograd's on the same parameters (float64).

An independent reference: finite differences and a hand-written backward can
share a mistake (say, in the forward pass itself); PyTorch does not share it.
Skipped, with the reason, where PyTorch is not installed.
"""
import numpy as np
import pytest

from minigrad import nn, optim
from minigrad.backend import to_device, to_float, to_numpy

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0 to run this check)")
F = torch.nn.functional


def t(a, grad=True):
    return torch.tensor(to_numpy(a), dtype=torch.float64, requires_grad=grad)


def run_both(layer, x, torch_fn, rng, torch_params):
    """Forward + backward with a random upstream gradient in both; compare everything.

    torch_fn(x_t, params_t) -> output tensor; torch_params maps our param name -> tensor.
    """
    layer.astype(np.float64)
    x = to_device(x, dtype=np.float64)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(to_device(dout))
    xt = t(x)
    out_t = torch_fn(xt, torch_params)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(to_numpy(out), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(dx), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, p in torch_params.items():
        np.testing.assert_allclose(to_numpy(layer.grads[name]), p.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of {name}")


def test_linear(rng):
    layer = nn.Linear(7, 5, rng=0)
    P = {k: t(v.astype(np.float64)) for k, v in layer.params.items()}
    run_both(layer, rng.standard_normal((4, 7)), lambda x, p: x @ p["W"] + p["b"], rng, P)


@pytest.mark.parametrize("stride,padding,k", [(1, 0, 3), (2, 1, 3), (1, 2, 5), (3, 1, 2)])
def test_conv2d(stride, padding, k, rng):
    layer = nn.Conv2d(3, 4, k, stride=stride, padding=padding, rng=0)
    P = {k_: t(v.astype(np.float64)) for k_, v in layer.params.items()}
    run_both(layer, rng.standard_normal((2, 3, 9, 8)),
             lambda x, p: F.conv2d(x, p["W"], p["b"], stride=stride, padding=padding), rng, P)


@pytest.mark.parametrize("k,stride", [(2, None), (3, 2), (3, 1)])
def test_maxpool(k, stride, rng):
    run_both(nn.MaxPool2d(k, stride), rng.standard_normal((2, 3, 8, 7)),
             lambda x, p: F.max_pool2d(x, k, stride or k), rng, {})


def test_maxpool_ties_route_gradient_to_one_position(rng):
    """After a ReLU many windows are all zeros: the gradient must go to one position, as in PyTorch."""
    x = np.maximum(rng.standard_normal((2, 2, 4, 4)), 0)
    x[0, 0, :2, :2] = 0.0
    run_both(nn.MaxPool2d(2), x, lambda x, p: F.max_pool2d(x, 2), rng, {})


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm, (6, 5)), (nn.BatchNorm2d, (4, 5, 3, 3))])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm(cls, shape, training, rng):
    layer = cls(5)
    layer.params["gamma"] = to_device(rng.uniform(0.5, 1.5, 5))
    layer.params["beta"] = to_device(rng.standard_normal(5))
    layer.buffers["running_mean"] = to_device(rng.standard_normal(5))
    layer.buffers["running_var"] = to_device(rng.uniform(0.5, 2, 5))
    rm, rv = (torch.tensor(to_numpy(layer.buffers[k]), dtype=torch.float64) for k in ("running_mean", "running_var"))
    if not training:
        layer.eval()
    P = {k: t(v) for k, v in layer.params.items()}
    x = rng.standard_normal(shape) * 2 + 1
    run_both(layer, x, lambda x, p: F.batch_norm(x, rm, rv, p["gamma"], p["beta"], training=training,
                                                momentum=0.1, eps=1e-5), rng, P)
    if training:
        # running mean: ours keeps momentum 0.9 of the old value = PyTorch's momentum 0.1
        np.testing.assert_allclose(to_numpy(layer.buffers["running_mean"]), rm.numpy(), rtol=1e-10)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_rnn_matches_unrolled_torch(activation, rng):
    layer = nn.RNN(4, 6, activation=activation, rng=0)
    P = {k: t(v.astype(np.float64)) for k, v in layer.params.items()}
    f = torch.tanh if activation == "tanh" else torch.sigmoid

    def torch_rnn(x, p):
        h, hs = torch.zeros(x.shape[0], 6, dtype=torch.float64), []
        for step in range(x.shape[1]):
            h = f(x[:, step] @ p["Wx"] + h @ p["Wh"] + p["b"])
            hs.append(h)
        return torch.stack(hs, dim=1)

    run_both(layer, rng.standard_normal((3, 7, 4)), torch_rnn, rng, P)


def test_rnn_tanh_matches_torch_nn_rnn(rng):
    """Also against torch.nn.RNN itself (weights transposed: torch stores (H, D))."""
    layer = nn.RNN(4, 6, rng=0).astype(np.float64)
    ref = torch.nn.RNN(4, 6, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.tensor(to_numpy(layer.params["Wx"]).T))
        ref.weight_hh_l0.copy_(torch.tensor(to_numpy(layer.params["Wh"]).T))
        ref.bias_ih_l0.copy_(torch.tensor(to_numpy(layer.params["b"])))
        ref.bias_hh_l0.zero_()
    x = rng.standard_normal((3, 5, 4))
    np.testing.assert_allclose(to_numpy(layer.forward(to_device(x))),
                               ref(torch.tensor(x))[0].detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activations(name, rng):
    layer = {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh()}[name]
    fn = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[name]
    run_both(layer, rng.standard_normal((4, 6)) * 5, lambda x, p: fn(x), rng, {})


@pytest.mark.parametrize("name", ["neglu", "smooth_neglu"])
def test_negative_rectifiers(name, rng):
    """NegLU = -relu(-x) and SmoothNegLU = -softplus(-x) (thesis section 4.2), including large |x|."""
    layer = {"neglu": nn.NegLU(), "smooth_neglu": nn.SmoothNegLU()}[name]
    fn = {"neglu": lambda x: -torch.relu(-x), "smooth_neglu": lambda x: -F.softplus(-x)}[name]
    x = rng.standard_normal((4, 6)) * 5
    x[0, :3] = [-60.0, 40.0, -700.0]
    run_both(layer, x, lambda x, p: fn(x), rng, {})


def test_learned_sign_relu_matches_torch(rng):
    layer = nn.LearnedSignReLU(3, init_logit=[-1.5, 0.2, 2.0])
    P = {"s": t(to_numpy(layer.params["s"]).astype(np.float64))}

    def ref(x, p):
        a = torch.sigmoid(p["s"]).reshape(1, 3, 1, 1)
        return a * torch.relu(x) + (1 - a) * torch.clamp(x, max=0)
    run_both(layer, rng.standard_normal((2, 3, 4, 5)), ref, rng, P)


def test_minmaxout_matches_torch(rng):
    layer = nn.MinMaxout(5, 4, pieces=3, min_fraction=0.5, rng=0)
    is_min = torch.tensor(to_numpy(layer.unit_is_min))
    P = {k: t(v.astype(np.float64)) for k, v in layer.params.items()}

    def ref(x, p):
        z = torch.einsum("nd,dmk->nmk", x, p["W"]) + p["b"]
        return torch.where(is_min, z.min(dim=2).values, z.max(dim=2).values)
    run_both(layer, rng.standard_normal((6, 5)), ref, rng, P)


def test_softmax_cross_entropy_and_mse(rng):
    scores = rng.standard_normal((5, 4)) * 10
    y = rng.integers(4, size=5)
    loss, d = nn.softmax_cross_entropy(to_device(scores), to_device(y))
    st = t(scores)
    lt = F.cross_entropy(st, torch.tensor(y))
    lt.backward()
    np.testing.assert_allclose(to_float(loss), lt.item(), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(d), st.grad.numpy(), rtol=1e-10, atol=1e-14)
    target = rng.standard_normal((5, 4))
    loss, d = nn.mse_loss(to_device(scores), to_device(target))
    st = t(scores)
    lt = F.mse_loss(st, torch.tensor(target))
    lt.backward()
    np.testing.assert_allclose(to_float(loss), lt.item(), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(d), st.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("which", ["sgd", "momentum", "adam"])
def test_optimizers_match_torch(which, rng):
    w0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(5)]
    ours = {"sgd": optim.SGD(0.1, weight_decay=0.01), "momentum": optim.Momentum(0.1, 0.9, weight_decay=0.01),
            "adam": optim.Adam(0.01, beta1=0.8, beta2=0.99, weight_decay=0.01)}[which]
    wt = torch.tensor(w0.copy(), requires_grad=True)
    ref = {"sgd": lambda: torch.optim.SGD([wt], lr=0.1, weight_decay=0.01),
           "momentum": lambda: torch.optim.SGD([wt], lr=0.1, momentum=0.9, weight_decay=0.01),
           "adam": lambda: torch.optim.Adam([wt], lr=0.01, betas=(0.8, 0.99), weight_decay=0.01)}[which]()
    w = to_device(w0.copy())
    for g in grads:
        ours.step({"W": w}, {"W": to_device(g)})
        wt.grad = torch.tensor(g)
        ref.step()
    np.testing.assert_allclose(to_numpy(w), wt.detach().numpy(), rtol=1e-10)
