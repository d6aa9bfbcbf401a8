"""The fast paths equal the textbook versions kept beside them, and float32 stays float32.

- ``Conv2d`` (channels-last im2col) against ``conv2d_reference`` /
  ``conv2d_backward_reference`` (the NCHW ``im2col``/``col2im`` version);
- ``MaxPool2d`` (strided-slice maximum) against ``maxpool_reference`` /
  ``maxpool_backward_reference`` (gather windows, argmax), ties included;
- ``RNN`` (time-major, in-place loops) against ``rnn_reference`` (per-step BPTT);
- ``BatchNorm`` (fewer passes) against ``batchnorm_reference`` (the docstring term by term), every mode;
- ``needs_input_grad=False`` (what ``Trainer`` sets on the first layer) skips
  only dx, under both kernels and for the DANN layers too: the parameter
  gradients and the trained weights are unchanged;
- no layer, loss or optimizer turns float32 into float64.
"""
import numpy as np
import pytest

from minigrad import backend, nn, optim
from minigrad.backend import to_device, to_numpy
from minigrad.nn.batchnorm import batchnorm_backward_reference, batchnorm_reference
from minigrad.nn.conv import (conv2d_backward_reference, conv2d_reference, maxpool_backward_reference,
                              maxpool_reference)
from minigrad.nn.rnn import rnn_backward_reference, rnn_reference
from minigrad.trainer import Trainer


def close(a, b, tol=1e-12):
    a, b = to_numpy(a), to_numpy(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def channels_last(x):
    """Same values, (N, C, H, W) shape, channels-last memory (what a Conv2d outputs)."""
    return x.transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2)


CONV_CASES = [  # C, F, kernel, stride, padding, H, W, feedback
    (3, 4, 3, 1, 1, 7, 8, "bp"),
    (2, 3, 3, 2, 0, 7, 7, "bp"),
    (2, 3, (2, 3), 1, 2, 5, 4, "bp"),
    (1, 2, 1, 1, 0, 3, 3, "bp"),
    (3, 2, 3, 2, 1, 6, 5, "fa"),
]


@pytest.mark.parametrize("C,F,k,s,p,H,W,feedback", CONV_CASES)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_conv_fast_path_equals_reference(C, F, k, s, p, H, W, feedback, layout, rng):
    layer = nn.Conv2d(C, F, k, stride=s, padding=p, rng=0, feedback=feedback).astype(np.float64)
    x = rng.standard_normal((2, C, H, W))
    x = to_device(channels_last(x) if layout == "channels_last" else x)
    out = layer.forward(x)
    ref_out, cache = conv2d_reference(x, layer.params["W"], layer.params["b"], s, p)
    close(out, ref_out)
    dout = to_device(rng.standard_normal(out.shape))
    dx = layer.backward(dout)
    ref_dx, ref_dW, ref_db = conv2d_backward_reference(dout, cache, layer.params["W"],
                                                       feedback_weights=layer.buffers.get("B"))
    close(dx, ref_dx)
    close(layer.grads["W"], ref_dW)
    close(layer.grads["b"], ref_db)
    assert dx.shape == x.shape and layer.grads["W"].shape == layer.params["W"].shape


def test_conv_output_is_channels_last_view(rng):
    """The (N, F, Ho, Wo) output is a transposed view of (N, Ho, Wo, F) rows: no copy made."""
    layer = nn.Conv2d(3, 5, 3, padding=1, rng=0)
    out = layer.forward(to_device(rng.random((2, 3, 6, 6), dtype=np.float32)))
    s = out.strides
    assert s[1] < s[3] < s[2] < s[0], s            # channels fastest in memory


POOL_CASES = [(2, 2), (3, 2), (2, 3), (3, 3), (1, 1), (3, 1), (2, 1)]


@pytest.mark.parametrize("k,s", POOL_CASES)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_maxpool_fast_path_equals_reference(k, s, layout, rng):
    x = rng.standard_normal((2, 3, 7, 8))
    x[0, 0, :3, :3] = 0.5                 # ties inside windows: the first maximum must win
    x[1, 2] = 0.0                         # a whole channel of ties (as after a ReLU)
    x = to_device(channels_last(x) if layout == "channels_last" else x)
    layer = nn.MaxPool2d(k, s)
    out = layer.forward(x)
    ref_out, cache = maxpool_reference(x, k, s)
    close(out, ref_out, tol=0)
    dout = to_device(rng.standard_normal(out.shape))
    dx = layer.backward(dout)
    close(dx, maxpool_backward_reference(dout, cache, k, s))
    assert dx.strides == x.strides       # the gradient keeps the input's memory order


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("feedback", ["bp", "fa"])
def test_rnn_equals_per_step_reference(activation, feedback, rng):
    layer = nn.RNN(4, 5, activation=activation, feedback=feedback, rng=0).astype(np.float64)
    x = to_device(rng.standard_normal((3, 6, 4)))
    h0 = to_device(rng.standard_normal((3, 5)))
    h = layer.forward(x, h0)
    dout = to_device(rng.standard_normal(h.shape))
    dx = layer.backward(dout)
    P, B = layer.params, layer.buffers
    ref_h, cache = rnn_reference(x, h0, P["Wx"], P["Wh"], P["b"], activation)
    ref = (ref_h,) + rnn_backward_reference(dout, cache, B.get("Bx", P["Wx"]), B.get("Bh", P["Wh"]))
    for got, want in zip((h, dx, layer.grads["Wx"], layer.grads["Wh"], layer.grads["b"], layer.dh0), ref):
        close(got, want)


@pytest.mark.parametrize("stats", ["batch", "running", "running_inclusive", "running_prevmean",
                                   "running_inclusive_prevmean", "eval"])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("n", [1, 7])
def test_batchnorm_equals_term_by_term_reference(stats, affine, n, rng):
    """Two steps (the second uses the running statistics the first folded in)."""
    layer = nn.BatchNorm(5, affine=affine, momentum=0.7, stats="batch" if stats == "eval" else stats)
    layer.astype(np.float64)
    if affine:
        layer.params["gamma"] = to_device(rng.standard_normal(5))
        layer.params["beta"] = to_device(rng.standard_normal(5))
    if stats == "eval":
        layer.buffers["running_mean"] = to_device(rng.standard_normal(5))
        layer.buffers["running_var"] = to_device(rng.random(5) + 0.5)
        layer.eval()
    for _ in range(2):
        x = to_device(3 * rng.standard_normal((n, 5)) + 1)
        dout = to_device(rng.standard_normal((n, 5)))
        rm, rv = layer.buffers["running_mean"], layer.buffers["running_var"]
        gamma = layer.params.get("gamma")
        ref_out, cache, ref_mean, ref_var = batchnorm_reference(
            x, rm, rv, gamma, layer.params.get("beta"), momentum=0.7, stats=layer.stats, training=stats != "eval")
        ref_dx, ref_dgamma, ref_dbeta = batchnorm_backward_reference(dout, cache, gamma)
        out = layer.forward(x)
        dx = layer.backward(dout)
        close(out, ref_out)
        close(dx, ref_dx)
        if affine:
            close(layer.grads["gamma"], ref_dgamma)
            close(layer.grads["beta"], ref_dbeta)
        close(layer.buffers["running_mean"], ref_mean)
        close(layer.buffers["running_var"], ref_var)


SKIPPABLE = {
    "linear": (lambda: nn.Linear(6, 4, rng=0), (5, 6)),
    "conv": (lambda: nn.Conv2d(2, 3, 3, padding=1, rng=0), (2, 2, 5, 5)),
    "rnn": (lambda: nn.RNN(4, 5, rng=0), (3, 6, 4)),
    "dann": (lambda: nn.DANN(6, 4, 2, rng=0, feedback="fa"), (5, 6)),
    "dann_conv": (lambda: nn.DANNConv2d(2, 3, 1, 3, padding=1, rng=0), (2, 2, 5, 5)),
    "dann_rnn": (lambda: nn.DANNRNN(4, 5, rng=0), (3, 6, 4)),
    "columnei": (lambda: nn.ColumnEi(6, 4, n_inhibitory_in=2, rng=0), (5, 6)),
}


@pytest.mark.parametrize("name", sorted(SKIPPABLE))
@pytest.mark.parametrize("kernels", ["fast", "reference"])
def test_needs_input_grad_false_skips_only_dx(name, kernels, rng, monkeypatch):
    monkeypatch.setattr(backend, "_KERNELS", kernels)
    make, shape = SKIPPABLE[name]
    x = to_device(np.abs(rng.standard_normal(shape)).astype(np.float32))   # DANN layers read x >= 0
    full, lean = make(), make()
    out = full.forward(x)
    lean.forward(x)
    dout = to_device(rng.standard_normal(out.shape).astype(np.float32))
    assert full.backward(dout) is not None
    lean.needs_input_grad = False
    assert lean.backward(dout) is None
    for k in full.grads:
        close(lean.grads[k], full.grads[k], tol=0)


@pytest.mark.parametrize("first", ["linear", "dann"])
def test_trainer_skips_first_dx_and_trains_identically(first, rng, monkeypatch):
    """One Trainer step gives the same weights as a manual full-backward SGD step,
    and the first layer's backward returned None inside the step."""
    X = rng.random((16, 6), dtype=np.float32)
    y = rng.integers(0, 3, 16)

    def model():
        head = nn.Linear(6, 8, rng=0) if first == "linear" else nn.DANN(6, 8, 2, rng=0)
        return nn.Sequential(head, nn.ReLU(), nn.Linear(8, 3, rng=1))

    manual = model()
    scores = manual.forward(to_device(X))
    _, dscores = nn.softmax_cross_entropy(scores, to_device(y))
    assert manual.backward(dscores) is not None
    optim.SGD(lr=0.1).step(manual.params, manual.grads)

    trained = model()
    head = trained.layers[0]
    returned = []
    backward = head.backward
    monkeypatch.setattr(head, "backward", lambda dout: returned.append(backward(dout)) or returned[-1])
    trainer = Trainer(trained, {"X_train": X, "y_train": y}, optim.SGD(lr=0.1), batch_size=16,
                      epochs=1, rng=0, progress=False)
    trainer.train_step(to_device(X), to_device(y))
    assert returned == [None]                                  # dx skipped for the first layer
    assert trained.layers[0].needs_input_grad is True          # restored after the step
    for k, v in manual.params.items():
        close(trained.params[k], v, tol=1e-6)


# ------------------------------------------------------------------ float32 end to end
FLOAT32_CASES = {
    "linear": (lambda: nn.Linear(6, 4, rng=0), (5, 6)),
    "linear_fa": (lambda: nn.Linear(6, 4, rng=0, feedback="fa"), (5, 6)),
    "conv": (lambda: nn.Conv2d(2, 3, 3, stride=1, padding=1, rng=0), (2, 2, 6, 6)),
    "conv_fa_stride2": (lambda: nn.Conv2d(2, 3, 3, stride=2, rng=0, feedback="fa"), (2, 2, 7, 7)),
    "maxpool": (lambda: nn.MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool_overlap": (lambda: nn.MaxPool2d(3, stride=2), (2, 3, 7, 7)),
    "flatten": (lambda: nn.Flatten(), (3, 2, 2, 2)),
    "relu": (lambda: nn.ReLU(), (4, 5)),
    "sigmoid": (lambda: nn.Sigmoid(), (4, 5)),
    "tanh": (lambda: nn.Tanh(), (4, 5)),
    "dropout": (lambda: nn.Dropout(0.3, rng=0), (4, 5)),
    "batchnorm": (lambda: nn.BatchNorm(5), (6, 5)),
    "batchnorm_no_affine": (lambda: nn.BatchNorm(5, affine=False), (6, 5)),
    "batchnorm_running": (lambda: nn.BatchNorm(5, stats="running"), (6, 5)),
    "batchnorm_running_inclusive": (lambda: nn.BatchNorm(5, stats="running_inclusive"), (6, 5)),
    "batchnorm_running_prevmean": (lambda: nn.BatchNorm(5, stats="running_prevmean"), (6, 5)),
    "batchnorm_running_inclusive_prevmean": (lambda: nn.BatchNorm(5, stats="running_inclusive_prevmean"), (6, 5)),
    "batchnorm_eval": (lambda: nn.BatchNorm(5).eval(), (6, 5)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 3, 3)),
    "rnn_tanh": (lambda: nn.RNN(4, 5, rng=0), (3, 6, 4)),
    "rnn_sigmoid_fa": (lambda: nn.RNN(4, 5, activation="sigmoid", feedback="fa", rng=0), (3, 6, 4)),
    "temporal_linear": (lambda: nn.TemporalLinear(4, 3, rng=0), (2, 5, 4)),
    "last_step": (lambda: nn.LastStep(), (2, 5, 4)),
    "dann": (lambda: nn.DANN(6, 4, 2, rng=0), (5, 6)),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_layer_keeps_float32(name, rng):
    make, shape = FLOAT32_CASES[name]
    layer = make()
    x = to_device(np.abs(rng.standard_normal(shape)).astype(np.float32))   # non-negative: DANN's input
    for _ in range(2):                                  # the second pass uses updated running stats
        out = layer.forward(x)
        dx = layer.backward(to_device(rng.standard_normal(out.shape).astype(np.float32)))
    assert out.dtype == np.float32, f"{name}: output {out.dtype}"
    assert dx.dtype == np.float32, f"{name}: dx {dx.dtype}"
    for store in ("params", "grads", "buffers"):
        for k, v in getattr(layer, store).items():
            if v.dtype.kind == "f":
                assert v.dtype == np.float32, f"{name}: {store}[{k!r}] is {v.dtype}"


def test_losses_keep_float32(rng):
    scores = to_device(rng.standard_normal((4, 3)).astype(np.float32))
    loss, d = nn.softmax_cross_entropy(scores, to_device(rng.integers(0, 3, 4)))
    assert loss.dtype == np.float32 and d.dtype == np.float32
    loss, d = nn.mse_loss(scores, to_device(np.zeros((4, 3), np.float32)))
    assert loss.dtype == np.float32 and d.dtype == np.float32
    params = {"0.W": scores}
    for penalty in (nn.l1_penalty, nn.l2_penalty):
        loss, grads = penalty(params, 1e-3)
        assert loss.dtype == np.float32 and grads["0.W"].dtype == np.float32


@pytest.mark.parametrize("opt", [lambda: optim.SGD(0.1, weight_decay=1e-4),
                                 lambda: optim.Momentum(0.1, weight_decay=1e-4),
                                 lambda: optim.Adam(1e-3, weight_decay=1e-4)])
def test_optimizers_keep_float32(opt, rng):
    p = {"W": to_device(rng.standard_normal((3, 2)).astype(np.float32))}
    g = {"W": to_device(rng.standard_normal((3, 2)).astype(np.float32))}
    o = opt()
    for _ in range(2):
        o.step(p, g)
    assert p["W"].dtype == np.float32
    for s in o.state.values():
        for v in (s.values() if isinstance(s, dict) else [s]):
            if hasattr(v, "dtype"):
                assert v.dtype == np.float32


def test_pool_before_relu_commutes(rng):
    """max-pool and ReLU commute (both monotone): Pool->ReLU gives the same output and dx as
    ReLU->Pool while the ReLU touches a quarter of the values."""
    x = to_device(rng.standard_normal((2, 3, 8, 8)))
    relu_pool = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))
    pool_relu = nn.Sequential(nn.MaxPool2d(2), nn.ReLU())
    out = relu_pool.forward(x)
    close(pool_relu.forward(x), out)
    dout = to_device(rng.standard_normal(out.shape))
    close(pool_relu.backward(dout), relu_pool.backward(dout))


def test_flatten_gradient_keeps_input_memory_order(rng):
    x = to_device(channels_last(rng.standard_normal((2, 3, 4, 5))))
    layer = nn.Flatten()
    out = layer.forward(x)
    dout = to_device(rng.standard_normal(out.shape))
    dx = layer.backward(dout)
    close(dx, dout.reshape(x.shape), tol=0)
    assert dx.strides == x.strides
