"""The kernels switch: MINIGRAD_KERNELS / backend.set_kernels / --reference.

- the switch validates its value and is read at every forward pass;
- a short SGD training of a CNN (Conv2d, BatchNorm2d, MaxPool2d), an RNN, an MLP
  with BatchNorm and a DANN convnet gives the same losses and parameters under
  the fast and the reference (textbook) kernels;
- under the reference kernels the textbook functions are what runs: a change to
  one of them changes training (and the fast kernels do not see it);
- every layer with a fast path passes the gradient check under the reference kernels.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from minigrad import backend, nn, optim
from minigrad.backend import to_device, to_numpy
from minigrad.experiment import parse_args
from minigrad.gradcheck import check_layer
from minigrad.nn import batchnorm as bn_module
from minigrad.nn import conv as conv_module
from minigrad.nn import rnn as rnn_module
from minigrad.nn.losses import softmax_cross_entropy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def kernels(monkeypatch):
    """set(name): switch the kernels for this test only."""
    monkeypatch.setattr(backend, "_KERNELS", backend.kernels())
    return backend.set_kernels


def test_set_kernels_validates_and_kernels_reads_it(kernels):
    assert backend.kernels() == "fast"
    kernels("reference")
    assert backend.kernels() == "reference"
    with pytest.raises(ValueError, match="valid choices are: fast, reference"):
        kernels("textbook")
    assert backend.kernels() == "reference"          # a refused name changes nothing
    kernels(" Fast ")
    assert backend.kernels() == "fast"


def test_reference_flag_of_every_lesson_sets_the_kernels(kernels):
    assert parse_args("x", ["--smoke"]).mode == "smoke" and backend.kernels() == "fast"
    assert parse_args("x", ["--smoke", "--reference"]).reference
    assert backend.kernels() == "reference"


@pytest.mark.parametrize("value,expect", [("reference", "reference"), ("", "fast"), ("bogus", "ValueError")])
def test_environment_variable(value, expect):
    env = dict(os.environ, MINIGRAD_KERNELS=value, PYTHONPATH=ROOT)
    code = "from minigrad import backend; print(backend.kernels())"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    if expect == "ValueError":
        assert proc.returncode != 0 and "valid choices are: fast, reference" in proc.stderr, proc.stderr
    else:
        assert proc.returncode == 0 and proc.stdout.split() == [expect], proc.stderr


# ----------------------------------------------------------- short trainings
def cnn():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, rng=0), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 3, 3, stride=2, padding=1, rng=1, feedback="fa"), nn.ReLU(),
                         nn.MaxPool2d(2, 1), nn.Flatten(), nn.Linear(3, 3, rng=2))


def rnn():
    return nn.Sequential(nn.RNN(3, 6, rng=0), nn.RNN(6, 5, activation="sigmoid", rng=1, feedback="fa"),
                         nn.LastStep(), nn.Linear(5, 3, rng=2))


def mlp_bn():
    return nn.Sequential(nn.Linear(6, 8, rng=0), nn.BatchNorm(8), nn.ReLU(),
                         nn.Linear(8, 8, rng=1), nn.BatchNorm(8, affine=False, stats="running_inclusive"),
                         nn.ReLU(), nn.Linear(8, 3, rng=2))


def mlp_bn_prevmean():
    return nn.Sequential(nn.Linear(6, 8, rng=0), nn.BatchNorm(8, stats="running_prevmean"), nn.ReLU(),
                         nn.Linear(8, 8, rng=1), nn.BatchNorm(8, affine=False, stats="running_inclusive_prevmean"),
                         nn.ReLU(), nn.Linear(8, 3, rng=2))


def dann_cnn():
    return nn.Sequential(nn.DANNConv2d(2, 4, 2, 3, padding=1, rng=0), nn.ReLU(),
                         nn.DANNConv2d(4, 3, 1, 3, stride=2, rng=1, feedback="fa"), nn.ReLU(),
                         nn.Flatten(), nn.DANN(3 * 2 * 2, 3, 1, rng=2))


MODELS = {"cnn": (cnn, (8, 2, 6, 6)), "rnn": (rnn, (8, 5, 3)), "mlp_bn": (mlp_bn, (8, 6)),
          "mlp_bn_prevmean": (mlp_bn_prevmean, (8, 6)),
          "dann_cnn": (dann_cnn, (8, 2, 6, 6))}


def train(make, shape, steps=4):
    """A few SGD-with-momentum steps in float64 on fixed random data; returns (losses, params, buffers) on the host."""
    rng = np.random.default_rng(0)
    model = make().astype(np.float64)
    opt = optim.Momentum(lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        x = to_device(np.abs(rng.standard_normal(shape)))           # >= 0: DANN layers read x >= 0
        y = to_device(rng.integers(0, 3, shape[0]))
        loss, dscores = softmax_cross_entropy(model.forward(x), y)
        model.backward(dscores)
        opt.step(model.params, model.grads)
        losses.append(float(to_numpy(loss)))
    model.eval()
    scores = to_numpy(model.forward(x))                            # eval mode: the running statistics too
    host = lambda d: {k: to_numpy(v).copy() for k, v in d.items()}  # noqa: E731
    return losses, host(model.params), host(model.buffers), scores


@pytest.mark.parametrize("name", sorted(MODELS))
def test_short_training_agrees_under_both_kernels(name, kernels):
    make, shape = MODELS[name]
    kernels("fast")
    fast = train(make, shape)
    kernels("reference")
    ref = train(make, shape)
    np.testing.assert_allclose(ref[0], fast[0], rtol=1e-10, atol=0)
    assert fast[0][-1] != fast[0][0]                                # it did train
    for a, b in ((ref[1], fast[1]), (ref[2], fast[2])):
        assert set(a) == set(b)
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(ref[3], fast[3], rtol=1e-9, atol=1e-12)


# --------------------------------------- the textbook functions are what trains
BROKEN = {   # module, function name, model: a change that must reach training under "reference" only
    "conv2d_backward_reference": (conv_module, "cnn"),
    "conv2d_reference": (conv_module, "cnn"),
    "maxpool_backward_reference": (conv_module, "cnn"),
    "maxpool_reference": (conv_module, "cnn"),
    "batchnorm_backward_reference": (bn_module, "mlp_bn"),
    "batchnorm_reference": (bn_module, "mlp_bn"),
    "rnn_backward_reference": (rnn_module, "rnn"),
    "rnn_reference": (rnn_module, "rnn"),
}


@pytest.mark.parametrize("func", sorted(BROKEN))
def test_editing_a_textbook_function_changes_training_under_reference_only(func, kernels, monkeypatch):
    module, model = BROKEN[func]
    make, shape = MODELS[model]
    original = getattr(module, func)
    calls = []

    def edited(*args, **kwargs):               # the textbook result, scaled: a student's edit
        calls.append(1)
        result = original(*args, **kwargs)
        if isinstance(result, tuple):
            return (result[0] * 1.5,) + tuple(result[1:])
        return result * 1.5                    # maxpool_backward_reference returns dx alone

    kernels("fast")
    before = train(make, shape)
    monkeypatch.setattr(module, func, edited)
    assert train(make, shape)[0] == before[0] and not calls      # the fast kernels never call it
    kernels("reference")
    edited_run = train(make, shape)
    assert calls and edited_run[0] != before[0]


# ------------------------------------------- gradient checks, reference kernels
GRADCHECK = {
    "conv": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=0), (2, 3, 7, 7)),
    "conv_rect": (lambda: nn.Conv2d(2, 3, (2, 3), padding=2, rng=0), (2, 2, 5, 4)),
    "maxpool": (lambda: nn.MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool_overlap": (lambda: nn.MaxPool2d(3, 2), (2, 2, 7, 7)),
    "batchnorm": (lambda: nn.BatchNorm(5), (6, 5)),
    "batchnorm_running_inclusive": (lambda: nn.BatchNorm(5, affine=False, stats="running_inclusive"), (6, 5)),
    "batchnorm_running_inclusive_prevmean": (lambda: nn.BatchNorm(5, affine=False,
                                                                  stats="running_inclusive_prevmean"), (6, 5)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 3, 3)),
    "rnn": (lambda: nn.RNN(4, 5, rng=0), (3, 6, 4)),
    "rnn_sigmoid": (lambda: nn.RNN(4, 5, activation="sigmoid", rng=0), (3, 6, 4)),
    "dann_conv": (lambda: nn.DANNConv2d(3, 4, 2, 3, padding=1, rng=1), (2, 3, 5, 5)),
    "dann_conv_stride": (lambda: nn.DANNConv2d(2, 3, 1, 3, stride=2, rng=1), (2, 2, 6, 6)),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck_under_reference_kernels(name, kernels, rng):
    kernels("reference")
    make, shape = GRADCHECK[name]
    layer = make()
    x = np.abs(rng.standard_normal(shape)) + 0.05
    kwargs = {}
    if name.startswith("rnn"):
        kwargs = dict(forward_kwargs={"h0": rng.standard_normal((shape[0], 5))}, extra_inputs={"h0": "dh0"})
    errors = check_layer(layer, x, rng=rng, **kwargs)
    assert max(errors.values()) < 1e-7, errors
    assert layer.ref_cache is not None if hasattr(layer, "ref_cache") else True   # it ran the reference


def test_conv_reference_with_feedback_alignment_uses_B(kernels, rng):
    """Under the reference kernels Conv2d's FA dx is the textbook col2im with B, the same as the fast one."""
    x = to_device(rng.standard_normal((2, 3, 6, 6)))
    dxs = {}
    for k in ("fast", "reference"):
        kernels(k)
        layer = nn.Conv2d(3, 4, 3, padding=1, rng=0, feedback="fa").astype(np.float64)
        out = layer.forward(x)
        dxs[k] = to_numpy(layer.backward(to_device(np.random.default_rng(1).standard_normal(out.shape))))
    np.testing.assert_allclose(dxs["reference"], dxs["fast"], rtol=1e-12, atol=1e-12)
    kernels("reference")
    bp = nn.Conv2d(3, 4, 3, padding=1, rng=0).astype(np.float64)
    out = bp.forward(x)
    dx_bp = to_numpy(bp.backward(to_device(np.random.default_rng(1).standard_normal(out.shape))))
    assert np.abs(dx_bp - dxs["reference"]).max() > 1e-3
