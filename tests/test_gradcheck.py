"""Every core layer's backward matches centred finite differences (float64, random upstream)."""
import numpy as np
import pytest

from minigrad import nn
from minigrad.backend import device_rng, to_device, to_numpy
from minigrad.gradcheck import check_layer, check_loss, rel_error

TOL = 1e-7


def assert_all_below(errors, tol=TOL):
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"relative errors above {tol}: {bad} (all: {errors})"


WB, BN, RNN_P = ("W", "b"), ("gamma", "beta"), ("Wx", "Wh", "b")
CNN_P = ("0.W", "0.b", "4.W", "4.b")

# name -> (layer factory, input shape, the parameters the check must cover besides "x")
CASES = {
    "linear": (lambda: nn.Linear(6, 4, rng=0), (5, 6), WB),
    "linear_no_bias": (lambda: nn.Linear(6, 4, rng=0, bias=False), (5, 6), ("W",)),
    "conv_3x3": (lambda: nn.Conv2d(2, 3, 3, rng=0), (2, 2, 6, 6), WB),
    "conv_stride2_pad1": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=0), (2, 3, 7, 7), WB),
    "conv_rect_kernel_pad2": (lambda: nn.Conv2d(2, 2, (2, 3), stride=1, padding=2, rng=0), (2, 2, 5, 4), WB),
    "maxpool_2": (lambda: nn.MaxPool2d(2), (2, 3, 6, 6), ()),
    "maxpool_3_stride2_overlap": (lambda: nn.MaxPool2d(3, stride=2), (2, 2, 7, 7), ()),
    "flatten": (lambda: nn.Flatten(), (3, 2, 2, 2), ()),
    "relu": (lambda: nn.ReLU(), (4, 5), ()),
    "sigmoid": (lambda: nn.Sigmoid(), (4, 5), ()),
    "tanh": (lambda: nn.Tanh(), (4, 5), ()),
    "neglu": (lambda: nn.NegLU(), (4, 5), ()),
    "smooth_neglu": (lambda: nn.SmoothNegLU(), (4, 5), ()),
    "mixlu_exact_maps": (lambda: nn.MixedReLU(4, negative_fraction=0.5, exact=True, rng=0), (2, 4, 3, 3), ()),
    "learned_sign_relu": (lambda: nn.LearnedSignReLU(5, init_logit=np.linspace(-2, 2, 5)), (4, 5), ("s",)),
    "learned_sign_relu_maps": (lambda: nn.LearnedSignReLU(3, init_logit=[-1.0, 0.5, 2.0]), (2, 3, 4, 4), ("s",)),
    "minmaxout": (lambda: nn.MinMaxout(6, 5, pieces=3, min_fraction=0.4, rng=0), (7, 6), WB),
    "maxout": (lambda: nn.MinMaxout(6, 4, pieces=2, rng=0), (5, 6), WB),
    "batchnorm_train": (lambda: nn.BatchNorm(5), (6, 5), BN),
    "batchnorm_train_no_affine": (lambda: nn.BatchNorm(5, affine=False), (6, 5), ()),
    "batchnorm_eval": (lambda: nn.BatchNorm(5).eval(), (6, 5), BN),
    "batchnorm_running": (lambda: nn.BatchNorm(5, stats="running", momentum=0.5), (6, 5), BN),
    "batchnorm_running_inclusive": (lambda: nn.BatchNorm(5, stats="running_inclusive", momentum=0.7), (6, 5), BN),
    "batchnorm_running_prevmean": (lambda: nn.BatchNorm(5, stats="running_prevmean", momentum=0.5), (6, 5), BN),
    "batchnorm_running_inclusive_prevmean": (lambda: nn.BatchNorm(5, stats="running_inclusive_prevmean",
                                                                  momentum=0.7), (6, 5), BN),
    "batchnorm2d_train": (lambda: nn.BatchNorm2d(3), (4, 3, 3, 3), BN),
    "batchnorm2d_train_no_affine": (lambda: nn.BatchNorm2d(3, affine=False), (4, 3, 3, 3), ()),
    "batchnorm2d_eval": (lambda: nn.BatchNorm2d(3).eval(), (4, 3, 3, 3), BN),
    "batchnorm2d_running": (lambda: nn.BatchNorm2d(3, stats="running", momentum=0.5), (4, 3, 3, 3), BN),
    "batchnorm2d_running_inclusive": (lambda: nn.BatchNorm2d(3, stats="running_inclusive", momentum=0.7),
                                      (4, 3, 3, 3), BN),
    "batchnorm2d_running_inclusive_prevmean": (lambda: nn.BatchNorm2d(3, stats="running_inclusive_prevmean",
                                                                      momentum=0.7), (4, 3, 3, 3), BN),
    "rnn_tanh": (lambda: nn.RNN(4, 5, rng=0), (3, 6, 4), RNN_P),
    "rnn_sigmoid": (lambda: nn.RNN(4, 5, activation="sigmoid", rng=0), (3, 6, 4), RNN_P),
    "temporal_linear": (lambda: nn.TemporalLinear(4, 3, rng=0), (2, 5, 4), WB),
    "last_step": (lambda: nn.LastStep(), (2, 5, 4), ()),
    # no bias before batchnorm: its true gradient is exactly 0 and a relative error of 0 vs 1e-10 is meaningless
    "sequential_mlp": (lambda: nn.Sequential(nn.Linear(6, 5, rng=1, bias=False), nn.BatchNorm(5), nn.ReLU(),
                                             nn.Linear(5, 3, rng=2)), (7, 6),
                       ("0.W", "1.gamma", "1.beta", "3.W", "3.b")),
    "sequential_cnn": (lambda: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=1), nn.MaxPool2d(2),
                                             nn.ReLU(), nn.Flatten(), nn.Linear(12, 3, rng=2)), (2, 2, 4, 4),
                       CNN_P),
    # batch of 3 over 2 threads: uneven blocks (1 and 2 rows)
    "data_parallel_cnn": (lambda: nn.DataParallel(nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, rng=1), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
        nn.Linear(12, 3, rng=2)), threads=2), (3, 2, 4, 4), CNN_P),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_gradients_match_finite_differences(name, rng):
    make, shape, expected = CASES[name]
    x = rng.standard_normal(shape) * 2 + 0.5
    errors = check_layer(make(), x, rng=rng)
    assert set(errors) == {"x", *expected}
    assert_all_below(errors)


def test_rnn_initial_state_gradient(rng):
    layer = nn.RNN(3, 4, rng=0)
    errors = check_layer(layer, rng.standard_normal((2, 5, 3)), rng=rng,
                         forward_kwargs={"h0": rng.standard_normal((2, 4))}, extra_inputs={"h0": "dh0"})
    assert set(errors) == {"x", "Wx", "Wh", "b", "h0"}
    assert_all_below(errors)


def test_dropout_gradient_with_fixed_mask(rng):
    layer = nn.Dropout(0.3, rng=0)

    class Reseeded(nn.Layer):
        """Dropout whose mask is redrawn from the same seed on every forward."""
        def forward(self, x):
            layer.rng = device_rng(7)
            return layer.forward(x)

        def backward(self, dout):
            return layer.backward(dout)

    assert_all_below(check_layer(Reseeded(), rng.standard_normal((6, 8)), rng=rng))


@pytest.mark.parametrize("loss", ["softmax", "mse"])
def test_loss_gradients(loss, rng):
    x = rng.standard_normal((6, 4)) * 3
    if loss == "softmax":
        err = check_loss(nn.softmax_cross_entropy, x, rng.integers(4, size=6))
    else:
        err = check_loss(nn.mse_loss, x, rng.standard_normal((6, 4)))
    assert err < TOL


@pytest.mark.parametrize("targets", ["per_step", "per_sequence"])
def test_sequence_cross_entropy_gradient(targets, rng):
    x = rng.standard_normal((3, 5, 4)) * 3                           # (N, T, C)
    y = rng.integers(4, size=(3, 5) if targets == "per_step" else 3)
    assert check_loss(nn.sequence_cross_entropy, x, y) < TOL


def test_sequence_cross_entropy_is_the_mean_over_steps_of_the_per_step_loss(rng):
    x = to_device(rng.standard_normal((3, 5, 4)))
    y = to_device(rng.integers(4, size=(3, 5)))
    loss, dx = nn.sequence_cross_entropy(x, y)
    per_step = [to_numpy(nn.softmax_cross_entropy(x[:, t], y[:, t])[0]) for t in range(5)]
    np.testing.assert_allclose(to_numpy(loss), np.mean(per_step), rtol=1e-6)
    # a sequence label (N,) is the same target at every step
    same, _ = nn.sequence_cross_entropy(x, to_device(to_numpy(y)[:, 0]))
    want, _ = nn.sequence_cross_entropy(x, to_device(np.repeat(to_numpy(y)[:, :1], 5, axis=1)))
    np.testing.assert_allclose(to_numpy(same), to_numpy(want), rtol=1e-12)
    with pytest.raises(ValueError, match=r"sequence_cross_entropy: expected targets of shape \(3, 5\) or \(3,\)"):
        nn.sequence_cross_entropy(x, y[:, :4])
    with pytest.raises(ValueError, match=r"expected scores of shape \(N, T, C\)"):
        nn.sequence_cross_entropy(x[:, 0], y[:, 0])


@pytest.mark.parametrize("penalty", [nn.l1_penalty, nn.l2_penalty])
def test_weight_penalty_gradients(penalty, rng):
    w = to_device(rng.standard_normal((4, 3)))
    b = to_device(rng.standard_normal(3))
    params = {"0.W": w, "0.b": b}
    _, grads = penalty(params, 0.3)
    assert set(grads) == {"0.W"}, "biases are not penalised"
    from minigrad.gradcheck import numeric_grad
    num = numeric_grad(lambda: float(penalty(params, 0.3)[0]), w)
    assert rel_error(grads["0.W"], num) < TOL


def test_a_wrong_backward_is_caught(rng):
    """The checker must fail a layer whose backward is subtly wrong (here: missing the mean term)."""
    class WrongBN(nn.BatchNorm):
        def backward(self, dout):
            super().backward(dout)              # fills dgamma, dbeta correctly
            return dout * self.params["gamma"] / self.cache["s"]

    errors = check_layer(WrongBN(4), rng.standard_normal((5, 4)), rng=rng)
    assert errors["x"] > 1e-2
    assert errors["gamma"] < TOL


def test_backward_overwrites_rather_than_accumulates(rng):
    layer = nn.Sequential(nn.Linear(4, 3, rng=0), nn.Tanh(), nn.Linear(3, 2, rng=1))
    x = to_device(rng.standard_normal((5, 4)), dtype=np.float32)
    dout = to_device(rng.standard_normal((5, 2)), dtype=np.float32)
    layer.forward(x)
    dx1 = layer.backward(dout)
    g1 = {k: v.copy() for k, v in layer.grads.items()}
    dx2 = layer.backward(dout)
    np.testing.assert_array_equal(to_numpy(dx1), to_numpy(dx2))
    for k, v in layer.grads.items():
        np.testing.assert_array_equal(to_numpy(v), to_numpy(g1[k]))
