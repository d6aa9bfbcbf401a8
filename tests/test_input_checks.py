"""Bad input is refused at the door, with the layer's (or optimizer's) name (issue 14)."""
import numpy as np
import pytest

from minigrad import nn, optim
from minigrad.backend import to_device, to_numpy, xp
from minigrad.models.autoencoder import ActivitySparsity


def arr(rng, *shape):
    """Non-negative float32 device array (DANN and CWA layers read activities >= 0)."""
    return to_device(np.abs(rng.standard_normal(shape)) + 0.1, dtype=np.float32)


# ------------------------------------------------------------ backward checks dout's shape
# (layer, input shape): each layer's output is (5, 4), so (5, 1) and (1, 4) gradients broadcast
ELEMENTWISE_AND_DENSE = [
    (lambda: nn.ReLU(), (5, 4)),
    (lambda: nn.Tanh(), (5, 4)),
    (lambda: nn.Sigmoid(), (5, 4)),
    (lambda: nn.MixedReLU(4, rng=0), (5, 4)),
    (lambda: nn.Dropout(0.5, rng=0), (5, 4)),
    (lambda: nn.DANN(6, 4, 2, rng=0), (5, 6)),
    (lambda: nn.Linear(3, 4, rng=0), (5, 3)),
    (lambda: nn.CWA(6, 4, rng=0), (5, 6)),
    (lambda: nn.ColumnEi(6, 4, rng=0), (5, 6)),
    (lambda: nn.BatchNorm(4), (5, 4)),
    (lambda: ActivitySparsity(), (5, 4)),
]


@pytest.mark.parametrize("make,shape", ELEMENTWISE_AND_DENSE,
                         ids=lambda v: "" if isinstance(v, tuple) else type(v()).__name__)
@pytest.mark.parametrize("bad", [(5, 1), (1, 4), (5,), (5, 4, 1)])
def test_backward_refuses_a_gradient_of_another_shape(make, shape, bad, rng):
    layer = make()
    x = arr(rng, *shape)
    if isinstance(layer, ActivitySparsity):
        x = x / (1 + x)                       # activities in (0, 1)
    out = layer.forward(x)
    assert out.shape == (5, 4)
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}: backward expected dout of shape \(5, 4\) .*got "
                                         + r"\(" + ", ".join(map(str, bad)) + r",?\)"):
        layer.backward(xp.ones(bad, dtype=out.dtype))
    assert layer.backward(xp.ones_like(out)).shape == x.shape     # the right shape still works


def test_first_layer_linear_keeps_no_column_gradient(rng):
    """(N, 1) upstream gradient into Linear(D, M): today dW would be (D, 1) and SGD would spread it."""
    layer = nn.Linear(3, 4, rng=0)
    layer.needs_input_grad = False
    layer.forward(arr(rng, 5, 3))
    with pytest.raises(ValueError, match=r"Linear: backward expected dout of shape \(5, 4\)"):
        layer.backward(xp.ones((5, 1), dtype=np.float32))
    assert "W" not in layer.grads


@pytest.mark.parametrize("make,x_shape,out_shape", [
    (lambda: nn.Conv2d(2, 3, 3, rng=0), (2, 2, 5, 5), (2, 3, 3, 3)),
    (lambda: nn.MaxPool2d(2), (2, 3, 4, 4), (2, 3, 2, 2)),
    (lambda: nn.BatchNorm2d(2), (2, 2, 3, 3), (2, 2, 3, 3)),
    (lambda: nn.DANNConv2d(2, 3, 1, 3, rng=0), (2, 2, 5, 5), (2, 3, 3, 3)),
    (lambda: nn.RNN(3, 4, rng=0), (2, 5, 3), (2, 5, 4)),
    (lambda: nn.DANNRNN(3, 4, rng=0), (2, 5, 3), (2, 5, 4)),
    (lambda: nn.TemporalLinear(3, 4, rng=0), (2, 5, 3), (2, 5, 4)),
    (lambda: nn.LastStep(), (2, 5, 3), (2, 3)),
    (lambda: nn.Flatten(), (2, 3, 4), (2, 12)),
    (lambda: nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU()), (5, 3), (5, 4)),
], ids=["Conv2d", "MaxPool2d", "BatchNorm2d", "DANNConv2d", "RNN", "DANNRNN", "TemporalLinear", "LastStep",
        "Flatten", "Sequential"])
def test_every_layer_checks_dout_against_its_own_output(make, x_shape, out_shape, rng):
    layer = make()
    out = layer.forward(arr(rng, *x_shape))
    assert out.shape == out_shape
    bad = out_shape[:-1] + (1,)
    with pytest.raises(ValueError, match=rf"{type(layer).__name__}: backward expected dout of shape "
                                         + r"\(" + ", ".join(map(str, out_shape)) + r"\)"):
        layer.backward(xp.ones(bad, dtype=out.dtype))
    layer.backward(xp.ones_like(out))


def test_rnn_with_an_initial_state_is_checked_too(rng):
    """forward(x, h0) takes an extra argument; the check sees the (N, T, H) output."""
    layer = nn.RNN(3, 4, rng=0)
    h = layer.forward(arr(rng, 2, 5, 3), h0=arr(rng, 2, 4))
    with pytest.raises(ValueError, match=r"RNN: backward expected dout of shape \(2, 5, 4\) .*got \(2, 4\)"):
        layer.backward(xp.ones((2, 4), dtype=h.dtype))
    assert layer.backward(xp.ones_like(h)).shape == (2, 5, 3)


def test_backward_needs_an_array(rng):
    layer = nn.ReLU()
    layer.forward(arr(rng, 5, 4))
    with pytest.raises(TypeError, match=r"ReLU: backward expected dout as an array of shape \(5, 4\).*got float"):
        layer.backward(1.0)


@pytest.mark.parametrize("make", [lambda: nn.Linear(3, 4, rng=0), lambda: nn.ReLU(), lambda: nn.RNN(3, 4, rng=0),
                                  lambda: nn.Sequential(nn.Linear(3, 4, rng=0))],
                         ids=["Linear", "ReLU", "RNN", "Sequential"])
def test_backward_before_forward_says_so(make):
    layer = make()
    with pytest.raises(RuntimeError, match=rf"{type(layer).__name__}: backward called before forward"):
        layer.backward(xp.ones((5, 4), dtype=np.float32))


def test_backward_after_a_failed_forward_does_not_use_the_previous_batch(rng):
    layer = nn.Linear(3, 4, rng=0)
    layer.forward(arr(rng, 5, 3))
    with pytest.raises(ValueError):
        layer.forward(arr(rng, 5, 7))
    with pytest.raises(RuntimeError, match="Linear: backward called before forward"):
        layer.backward(xp.ones((5, 4), dtype=np.float32))


def test_a_subclass_calling_super_backward_is_checked_once_under_its_own_name(rng):
    class ScaledLinear(nn.Linear):
        def backward(self, dout):
            return super().backward(2 * dout)

    layer = ScaledLinear(3, 4, rng=0)
    out = layer.forward(arr(rng, 5, 3))
    with pytest.raises(ValueError, match=r"ScaledLinear: backward expected dout of shape \(5, 4\)"):
        layer.backward(xp.ones((1, 4), dtype=out.dtype))
    plain = nn.Linear(3, 4, rng=0)
    plain.forward(arr(np.random.default_rng(1234), 5, 3))
    dx = layer.backward(xp.ones_like(out))
    np.testing.assert_allclose(to_numpy(dx), 2 * to_numpy(plain.backward(xp.ones_like(out))), rtol=1e-6)


def test_data_parallel_checks_the_whole_batch(rng):
    model = nn.DataParallel(nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU()), threads=2)
    out = model.forward(arr(rng, 6, 3))
    with pytest.raises(ValueError, match=r"DataParallel: backward expected dout of shape \(6, 4\)"):
        model.backward(xp.ones((6, 1), dtype=out.dtype))
    assert model.backward(xp.ones_like(out)).shape == (6, 3)


# ------------------------------------------------------------ constructors check their arguments
@pytest.mark.parametrize("build,error,message", [
    (lambda: nn.Linear(-5, 3), ValueError, r"Linear: in_features must be an integer >= 1, got -5"),
    (lambda: nn.Linear(5, 0), ValueError, r"Linear: out_features must be an integer >= 1, got 0"),
    (lambda: nn.Linear(5.0, 3), TypeError, r"Linear: in_features must be an integer >= 1, got 5.0"),
    (lambda: nn.Linear(5, 3, weight_scale=float("nan")), ValueError, r"Linear: weight_scale must be .* got nan"),
    (lambda: nn.Linear(5, 3, dtype=np.int32), TypeError, r"Linear: parameters must have a floating dtype"),
    (lambda: nn.Conv2d(1, 2, 3, stride=0), ValueError, r"Conv2d: stride must be an integer >= 1, got 0"),
    (lambda: nn.Conv2d(1, 2, 0), ValueError, r"Conv2d: kernel_size must be an integer >= 1, got 0"),
    (lambda: nn.Conv2d(1, 2, (3, -1)), ValueError, r"Conv2d: kernel_size must be an integer >= 1, got -1"),
    (lambda: nn.Conv2d(1, 2, 3, padding=-1), ValueError, r"Conv2d: padding must be an integer >= 0, got -1"),
    (lambda: nn.Conv2d(0, 2, 3), ValueError, r"Conv2d: in_channels must be an integer >= 1, got 0"),
    (lambda: nn.MaxPool2d(2, stride=0), ValueError, r"MaxPool2d: stride must be an integer >= 1, got 0"),
    (lambda: nn.MaxPool2d(0), ValueError, r"MaxPool2d: kernel_size must be an integer >= 1, got 0"),
    (lambda: nn.MaxPool2d(2.5), TypeError, r"MaxPool2d: kernel_size must be an integer"),
    (lambda: nn.BatchNorm(0), ValueError, r"BatchNorm: num_features must be an integer >= 1, got 0"),
    (lambda: nn.BatchNorm(3, eps=0), ValueError, r"BatchNorm: eps must be a finite number > 0, got 0"),
    (lambda: nn.BatchNorm2d(3, eps=-1e-5), ValueError, r"BatchNorm2d: eps must be a finite number > 0"),
    (lambda: nn.RNN(0, 4), ValueError, r"RNN: input_size must be an integer >= 1, got 0"),
    (lambda: nn.RNN(3, -1), ValueError, r"RNN: hidden_size must be an integer >= 1, got -1"),
    (lambda: nn.TemporalLinear(0, 3), ValueError, r"TemporalLinear: in_features must be an integer >= 1"),
    (lambda: nn.MixedReLU(0), ValueError, r"MixedReLU: num_features must be an integer >= 1, got 0"),
    (lambda: nn.DANN(4, 3, 0), ValueError, r"DANN: n_inhibitory must be an integer >= 1, got 0"),
    (lambda: nn.DANN(4.5, 3, 1), TypeError, r"DANN: in_features must be an integer"),
    (lambda: nn.ColumnEi(4, 0), ValueError, r"ColumnEi: out_features must be an integer >= 1, got 0"),
    (lambda: nn.ColumnEi(4, 3, n_inhibitory_in=2.5), TypeError, r"ColumnEi: n_inhibitory_in must be an integer"),
    (lambda: nn.DANNConv2d(2, 3, 1, 3, stride=0), ValueError, r"DANNConv2d: stride must be an integer >= 1"),
    (lambda: nn.DANNConv2d(2, 3, 1, 3, padding=-2), ValueError, r"DANNConv2d: padding must be an integer >= 0"),
    (lambda: nn.DANNRNN(3, 4, n_inhibitory=0), ValueError, r"DANNRNN: n_inhibitory must be an integer >= 1"),
    (lambda: nn.DANNRNN(3, 0), ValueError, r"DANNRNN: hidden_size must be an integer >= 1, got 0"),
    (lambda: nn.CWA(0, 3), ValueError, r"CWA: in_features must be an integer >= 1, got 0"),
    (lambda: nn.CWA(4, 3, init_std=-1.0), ValueError, r"CWA: init_std must be a finite number >= 0"),
    (lambda: ActivitySparsity(weight=-1.0), ValueError, r"ActivitySparsity: weight must be a finite number >= 0"),
])
def test_constructor_refuses_bad_arguments_by_name(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_maxpool_stride_defaults_to_the_window_only_when_not_given():
    assert nn.MaxPool2d(3).stride == 3
    assert nn.MaxPool2d(3, stride=1).stride == 1


# ------------------------------------------------------------ batchnorm on an empty batch
@pytest.mark.parametrize("make,shape", [(lambda: nn.BatchNorm(3), (0, 3)),
                                        (lambda: nn.BatchNorm(3, stats="running"), (0, 3)),
                                        (lambda: nn.BatchNorm2d(3), (0, 3, 4, 4))],
                         ids=["BatchNorm", "BatchNorm-running", "BatchNorm2d"])
def test_batchnorm_refuses_an_empty_training_batch_and_keeps_its_statistics(make, shape):
    bn = make()
    before = {k: to_numpy(v).copy() for k, v in bn.buffers.items()}
    with pytest.raises(ValueError, match=rf"{type(bn).__name__}: a training batch needs at least one example"):
        bn.forward(xp.zeros(shape, dtype=np.float32))
    for k, v in bn.buffers.items():
        np.testing.assert_array_equal(to_numpy(v), before[k])
    assert bn.eval().forward(xp.zeros(shape, dtype=np.float32)).shape == shape   # eval: nothing to estimate


# ------------------------------------------------------------ astype
@pytest.mark.parametrize("dtype", [np.int32, "int64", bool, np.complex64, None])
@pytest.mark.parametrize("make", [lambda: nn.Linear(3, 4, rng=0),
                                  lambda: nn.Sequential(nn.Linear(3, 4, rng=0), nn.BatchNorm(4))],
                         ids=["Linear", "Sequential"])
def test_astype_refuses_a_non_float_dtype(make, dtype):
    layer = make()
    with pytest.raises(TypeError, match=rf"{type(layer).__name__}: parameters must have a floating dtype"):
        layer.astype(dtype)
    assert all(v.dtype == np.float32 for v in layer.params.values())
    assert layer.astype(np.float64).params  # a floating dtype still works
    assert all(v.dtype == np.float64 for v in layer.params.values())


# ------------------------------------------------------------ writing a Sequential's params
def two_layers():
    return nn.Sequential(nn.Linear(3, 4, rng=0), nn.BatchNorm(4), nn.Sequential(nn.Linear(4, 2, rng=1)))


def test_writing_an_entry_of_the_model_reaches_the_layer():
    model = two_layers()
    W = to_device(np.ones((3, 4)), dtype=np.float32)
    model.params["0.W"] = W
    assert model[0].params["W"] is W and model.params["0.W"] is W
    W2 = to_device(np.full((4, 2), 2.0), dtype=np.float32)
    model.params["2.0.W"] = W2                                # a Sequential inside a Sequential
    assert model[2][0].params["W"] is W2
    rm = to_device(np.full(4, 3.0), dtype=np.float32)
    model.buffers["1.running_mean"] = rm
    assert model[1].buffers["running_mean"] is rm
    model.params.update({"1.gamma": to_device(np.zeros(4), dtype=np.float32)})
    assert float(to_numpy(model[1].params["gamma"]).sum()) == 0.0


def test_the_model_refuses_what_cannot_reach_a_layer():
    model = two_layers()
    with pytest.raises(AttributeError, match=r"Sequential.params is assembled from its layers' own dicts"):
        model.params = {}
    with pytest.raises(AttributeError, match=r"Sequential.buffers"):
        model.buffers = {}
    with pytest.raises(AttributeError, match=r"Sequential.grads"):
        model.grads = {}
    with pytest.raises(KeyError, match=r"Sequential.params has no entry '0.V'"):
        model.params["0.V"] = xp.zeros(3)
    with pytest.raises(KeyError, match=r"Sequential.params has no entry '7.W'"):
        model.params["7.W"] = xp.zeros(3)
    with pytest.raises(TypeError, match="cannot be removed"):
        del model.params["0.W"]
    assert set(model.params) == {"0.W", "0.b", "1.gamma", "1.beta", "2.0.W", "2.0.b"}


def test_data_parallel_params_reach_the_model_and_cannot_be_replaced():
    inner = nn.Sequential(nn.Linear(3, 4, rng=0))
    model = nn.DataParallel(inner, threads=2)
    W = to_device(np.ones((3, 4)), dtype=np.float32)
    model.params["0.W"] = W
    assert inner[0].params["W"] is W
    with pytest.raises(AttributeError, match=r"DataParallel.params is assembled"):
        model.params = {}


# ------------------------------------------------------------ optimizers and schedules
BAD = [-0.1, 0.0, float("nan"), float("inf")]


@pytest.mark.parametrize("cls", [optim.SGD, optim.Momentum, optim.Adam])
@pytest.mark.parametrize("lr", BAD)
def test_learning_rate_must_be_finite_and_positive_also_when_set_later(cls, lr):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: lr must be a finite number > 0, got {lr}"):
        cls(lr=lr)
    opt = cls(lr=0.1)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: lr must be a finite number > 0, got {lr}"):
        opt.lr = lr
    assert opt.lr == 0.1


def test_learning_rate_must_be_a_number():
    with pytest.raises(TypeError, match=r"SGD: lr must be a finite number > 0, got '0.1'"):
        optim.SGD("0.1")


@pytest.mark.parametrize("build,message", [
    (lambda: optim.Momentum(0.1, momentum=1.0), r"Momentum: momentum must be a finite number in \[0, 1\), got 1.0"),
    (lambda: optim.Momentum(0.1, momentum=-0.1), r"Momentum: momentum must be .* got -0.1"),
    (lambda: optim.Adam(0.1, beta1=1.0), r"Adam: beta1 must be a finite number in \[0, 1\), got 1.0"),
    (lambda: optim.Adam(0.1, beta2=-0.5), r"Adam: beta2 must be a finite number in \[0, 1\), got -0.5"),
    (lambda: optim.Adam(0.1, beta2=float("nan")), r"Adam: beta2 must be .* got nan"),
    (lambda: optim.Adam(0.1, eps=0.0), r"Adam: eps must be a finite number > 0, got 0.0"),
    (lambda: optim.SGD(0.1, weight_decay=-1e-4), r"SGD: weight_decay must be a finite number >= 0"),
    (lambda: optim.Momentum(0.1, weight_decay=float("inf")), r"Momentum: weight_decay must be .* got inf"),
    (lambda: optim.Adam(0.1, weight_decay=-1.0), r"Adam: weight_decay must be"),
    (lambda: optim.StepLR(optim.SGD(0.1), 0), r"StepLR: step_size must be an integer >= 1, got 0"),
    (lambda: optim.StepLR(optim.SGD(0.1), 2, gamma=0.0), r"StepLR: gamma must be a finite number > 0, got 0.0"),
    (lambda: optim.StepLR(optim.SGD(0.1), 2, gamma=float("nan")), r"StepLR: gamma must be .* got nan"),
    (lambda: optim.ReduceLROnPlateau(optim.SGD(0.1), factor=float("nan")), r"ReduceLROnPlateau: factor .* got nan"),
    (lambda: optim.ReduceLROnPlateau(optim.SGD(0.1), patience=-1), r"ReduceLROnPlateau: patience must be an "
                                                                   r"integer >= 0, got -1"),
    (lambda: optim.ReduceLROnPlateau(optim.SGD(0.1), threshold=1.0), r"ReduceLROnPlateau: threshold must be"),
    (lambda: optim.ReduceLROnPlateau(optim.SGD(0.1), min_lr=-1e-3), r"ReduceLROnPlateau: min_lr must be"),
])
def test_optimizer_and_schedule_arguments_are_checked_when_built(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("build", [lambda: optim.StepLR(0.1, 2), lambda: optim.ReduceLROnPlateau("adam")],
                         ids=["StepLR", "ReduceLROnPlateau"])
def test_schedules_need_an_optimizer(build):
    with pytest.raises(TypeError, match=r"(StepLR|ReduceLROnPlateau): expected a minigrad.optim optimizer"):
        build()
