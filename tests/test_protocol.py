"""The layer protocol and clear errors for bad input."""
import numpy as np
import pytest

from minigrad import backend, nn, optim
from minigrad.backend import to_device, to_float, to_numpy, xp
from minigrad.nn.dann_rnn import DANNRNN
from minigrad.trainer import Trainer


def test_every_layer_has_params_grads_with_same_keys(rng):
    layers = [nn.Linear(4, 3, rng=0), nn.Conv2d(2, 3, 3, rng=0), nn.BatchNorm(3), nn.BatchNorm(3, affine=False),
              nn.BatchNorm2d(2), nn.RNN(3, 4, rng=0), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.5, rng=0),
              nn.TemporalLinear(3, 2, rng=0), nn.LastStep(), nn.MixedReLU(4, rng=0), nn.DANN(4, 3, 2, rng=0),
              nn.ColumnEi(4, 3, rng=0), nn.DANNConv2d(2, 3, 2, 3, rng=0), nn.DANNRNN(3, 4, rng=0),
              nn.CWA(4, 3, rng=0)]
    inputs = [(5, 4), (2, 2, 5, 5), (5, 3), (5, 3), (2, 2, 3, 3), (2, 4, 3), (5, 4), (2, 2, 4, 4), (5, 4),
              (2, 4, 3), (2, 4, 3), (5, 4), (5, 4), (5, 4), (2, 2, 5, 5), (2, 4, 3), (5, 4)]
    for layer, shape in zip(layers, inputs):
        # non-negative inputs: DANN and CWA layers read activities >= 0
        x = to_device(np.abs(rng.standard_normal(shape)), dtype=np.float32)
        out = layer.forward(x)
        dx = layer.backward(xp.ones_like(out))
        assert dx.shape == x.shape, type(layer).__name__
        assert set(layer.grads) == set(layer.params), type(layer).__name__
        for k in layer.params:
            assert layer.grads[k].shape == layer.params[k].shape
    assert nn.BatchNorm(3, affine=False).params == {}
    assert set(nn.BatchNorm(3).params) == {"gamma", "beta"}


def test_pinned_shapes():
    assert nn.Linear(784, 100, rng=0).params["W"].shape == (784, 100)
    assert nn.Conv2d(3, 8, 5, rng=0).params["W"].shape == (8, 3, 5, 5)
    r = nn.RNN(10, 20, rng=0)
    assert {k: v.shape for k, v in r.params.items()} == {"Wx": (10, 20), "Wh": (20, 20), "b": (20,)}
    assert nn.Linear(5, 4, rng=0, feedback="fa").buffers["B"].shape == (5, 4)


@pytest.mark.parametrize("build", [
    lambda fb, r: nn.Sequential(nn.Linear(6, 5, rng=r, feedback=fb), nn.ReLU(), nn.Linear(5, 4, rng=r, feedback=fb)),
    lambda fb, r: nn.Sequential(nn.Conv2d(2, 3, 3, rng=r, feedback=fb), nn.Flatten(),
                                nn.Linear(3, 2, rng=r, feedback=fb)),
    lambda fb, r: nn.Sequential(nn.RNN(3, 4, rng=r, feedback=fb), nn.TemporalLinear(4, 2, rng=r, feedback=fb)),
    lambda fb, r: nn.Sequential(nn.DANN(6, 5, 2, rng=r, feedback=fb), nn.DANN(5, 4, 1, rng=r, feedback=fb)),
], ids=["mlp", "cnn", "rnn", "dann"])
def test_feedback_alignment_network_starts_from_the_backprop_networks_weights(build):
    """Drawing the fixed feedback matrices must not shift the weights of later layers."""
    bp, fa = build("bp", np.random.default_rng(3)), build("fa", np.random.default_rng(3))
    assert fa.buffers and not bp.buffers
    for k, v in bp.params.items():
        np.testing.assert_array_equal(to_numpy(fa.params[k]), to_numpy(v), err_msg=k)


def test_same_seed_same_weights_and_float32_default():
    a, b = nn.Linear(5, 4, rng=3), nn.Linear(5, 4, rng=3)
    np.testing.assert_array_equal(to_numpy(a.params["W"]), to_numpy(b.params["W"]))
    assert a.params["W"].dtype == np.float32


@pytest.mark.parametrize("layer,bad,expected", [
    (nn.Linear(784, 10, rng=0), (5, 28, 28), r"Linear: expected input of shape \(N, D\) with D=784, got \(5, 28, 28\)"),
    (nn.Linear(784, 10, rng=0), (5, 100), r"Linear: .*D=784, got \(5, 100\)"),
    (nn.Conv2d(3, 4, 3, rng=0), (2, 1, 8, 8), r"Conv2d: .*C=3, got \(2, 1, 8, 8\)"),
    (nn.Conv2d(3, 4, 5, rng=0), (2, 3, 3, 3), r"Conv2d: input 3x3 .* smaller than the 5x5 kernel"),
    (nn.BatchNorm(5), (4, 6), r"BatchNorm: .*D=5, got \(4, 6\)"),
    (nn.BatchNorm2d(3), (4, 3), r"BatchNorm2d: .*\(N, C, H, W\) with C=3, got \(4, 3\)"),
    (nn.RNN(4, 5, rng=0), (2, 4), r"RNN: .*\(N, T, D\) with D=4, got \(2, 4\)"),
    (nn.MaxPool2d(2), (2, 3, 4), r"MaxPool2d: .*got \(2, 3, 4\)"),
    (nn.MaxPool2d(3), (2, 3, 2, 5), r"MaxPool2d: input 2x5 is smaller than the 3x3 window"),
    (nn.MaxPool2d(2, stride=1), (2, 3, 1, 4), r"MaxPool2d: input 1x4 is smaller than the 2x2 window"),
    (nn.TemporalLinear(4, 3, rng=0), (2, 4), r"TemporalLinear: expected input of shape \(N, T, D\) with D=4, "
                                             r"got \(2, 4\)"),
    (nn.TemporalLinear(4, 3, rng=0), (2, 5, 6), r"TemporalLinear: .*D=4, got \(2, 5, 6\)"),
    (nn.LastStep(), (2, 4), r"LastStep: expected input of shape \(N, T, H\), got \(2, 4\)"),
    (nn.LastStep(), (2, 3, 4, 5), r"LastStep: .*\(N, T, H\), got \(2, 3, 4, 5\)"),
    (DANNRNN(4, 5, 2, rng=0), (2, 3, 6), r"DANNRNN: expected input of shape \(N, T, D\) with D=4, got \(2, 3, 6\)"),
    (DANNRNN(4, 5, 2, rng=0), (2, 4), r"DANNRNN: .*\(N, T, D\) with D=4, got \(2, 4\)"),
    (nn.ColumnEi(4, 3, rng=0), (5, 6), r"ColumnEi: expected input of shape \(N, d\) with d=4, got \(5, 6\)"),
    (nn.ColumnEi(4, 3, rng=0), (5, 4, 1), r"ColumnEi: .*d=4, got \(5, 4, 1\)"),
    (nn.DANN(4, 3, 2, rng=0), (5, 6), r"DANN: expected input of shape \(N, d\) with d=4, got \(5, 6\)"),
    (nn.DANNConv2d(2, 3, 2, 3, rng=0), (2, 3, 5, 5),
     r"DANNConv2d: expected input of shape \(N, C, H, W\) with C=2, got \(2, 3, 5, 5\)"),
    (nn.MixedReLU(6, rng=0), (2, 5),
     r"MixedReLU: expected input of shape \(N, D\) with D=6 or \(N, C, H, W\) with C=6, got \(2, 5\)"),
    (nn.MixedReLU(3, rng=0), (2, 4, 4, 4), r"MixedReLU: expected input of shape \(N, C, H, W\) with C=3, "
                                           r"got \(2, 4, 4, 4\)"),
])
def test_wrong_shape_names_layer_expected_and_given(layer, bad, expected):
    with pytest.raises(ValueError, match=expected):
        layer.forward(np.zeros(bad, dtype=np.float32))


def test_integer_input_is_a_type_error_naming_the_layer():
    with pytest.raises(TypeError, match=r"Linear: expected a floating-point array .* got dtype uint8"):
        nn.Linear(4, 2, rng=0).forward(np.zeros((3, 4), dtype=np.uint8))


@pytest.mark.parametrize("layer", [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.Dropout(0.5, rng=0), nn.Flatten()])
def test_elementwise_layers_name_themselves_on_bad_input(layer):
    name = type(layer).__name__
    with pytest.raises(TypeError, match=rf"{name}: expected a floating-point array .* got dtype int64"):
        layer.forward(np.zeros((3, 4), dtype=np.int64))
    with pytest.raises(TypeError, match=rf"{name}: expected an array of shape .* got list"):
        layer.forward([[1.0, 2.0]])


def test_flatten_needs_a_batch_axis_and_a_feature_axis():
    with pytest.raises(ValueError, match=r"Flatten: expected input of shape \(N, d1, ...\) .* got \(3,\)"):
        nn.Flatten().forward(np.zeros(3, dtype=np.float32))


@pytest.mark.parametrize("make", [lambda: nn.RNN(4, 5, rng=0), lambda: DANNRNN(4, 5, 2, rng=0)])
def test_rnn_initial_state_is_checked(make):
    layer = make()
    name = type(layer).__name__
    x = np.ones((2, 3, 4), dtype=np.float32)
    with pytest.raises(TypeError, match=rf"{name}: expected h0 as a floating-point array of shape \(2, 5\), "
                                        r"got dtype int64"):
        layer.forward(x, np.zeros((2, 5), dtype=np.int64))
    with pytest.raises(TypeError, match=rf"{name}: expected h0 .* got list"):
        layer.forward(x, [[0.0] * 5] * 2)
    with pytest.raises(ValueError, match=rf"{name}: expected h0 of shape \(2, 5\), got \(5,\)"):
        layer.forward(x, np.zeros(5, dtype=np.float32))


def test_trainer_checks_class_labels_against_the_model(rng):
    X = rng.standard_normal((20, 4)).astype(np.float32)
    model = nn.Sequential(nn.Linear(4, 3, rng=0))
    with pytest.raises(ValueError, match="Trainer: class labels must be >= 0, got -1"):
        Trainer(model, {"X_train": X, "y_train": np.r_[np.zeros(19, int), -1]}, optim.SGD(0.1), progress=False)
    y = np.r_[np.zeros(10, int), np.full(10, 2)]
    y_val = np.r_[np.zeros(9, int), 3]                         # class 3 of a 3-class model
    trainer = Trainer(model, {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y_val}, optim.SGD(0.1),
                      epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"labels go up to 3 but the model gives 3 scores per example "
                                         r"\(classes 0..2\)"):
        trainer.fit()
    # in range: trains
    trainer = Trainer(model, {"X_train": X, "y_train": y}, optim.SGD(0.1), epochs=1, progress=False)
    assert len(trainer.fit()["train_loss"]) == 1


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="feedback"):
        nn.Linear(3, 2, feedback="dfa")
    with pytest.raises(ValueError, match="stats"):
        nn.BatchNorm(3, stats="moving")
    with pytest.raises(ValueError, match="activation"):
        nn.RNN(3, 2, activation="relu")
    with pytest.raises(TypeError, match="unexpected keyword"):
        nn.Linear(3, 2, weight_scal=1.0)
    with pytest.raises(ValueError, match="labels of shape"):
        nn.softmax_cross_entropy(np.zeros((3, 2)), np.zeros(4, dtype=int))


def test_sigmoid_is_stable_for_large_inputs():
    x = to_device(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32))
    with np.errstate(over="raise"):
        y = nn.Sigmoid().forward(x[None])[0]
    np.testing.assert_allclose(to_numpy(y), [0, 1.9287e-22, 0.5, 1, 1], rtol=1e-4)


def test_softmax_is_stable_for_large_scores():
    scores, y = to_device(np.array([[1000.0, 0.0], [0.0, 1000.0]])), to_device(np.array([0, 0]))
    loss, d = nn.softmax_cross_entropy(scores, y)
    assert np.isfinite(to_float(loss)) and to_float(loss) == pytest.approx(500.0)


def test_batchnorm_eval_uses_running_statistics(rng):
    bn = nn.BatchNorm(3, momentum=0.0)
    x = rng.standard_normal((50, 3)) * 3 + 2
    bn.forward(to_device(x))
    bn.eval()
    y = bn.forward(to_device(x[:5]))
    np.testing.assert_allclose(to_numpy(y), (x[:5] - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-5)


def test_dropout_train_and_eval(rng):
    d = nn.Dropout(0.25, rng=0)
    x = xp.ones((2000, 50), dtype=np.float32)
    y = d.forward(x)
    assert abs(to_float((y == 0).mean()) - 0.25) < 0.01
    assert to_float(y.mean()) == pytest.approx(1.0, abs=0.02)   # inverted dropout keeps the expectation
    assert d.eval().forward(x) is x


def test_unknown_backend_lists_valid_ones():
    with pytest.raises(ValueError, match="numpy, cupy, fakecupy"):
        backend.load_backend("tensorflow")


def test_one_layer_object_in_two_places_is_an_error():
    shared = nn.Linear(4, 4, rng=0)
    with pytest.raises(ValueError, match=r"layer 2 \(Linear\) is the same object as layer 0"):
        nn.Sequential(shared, nn.ReLU(), shared)
    with pytest.raises(ValueError, match=r"layer 1.0 \(Linear\) is the same object as layer 0"):
        nn.Sequential(shared, nn.Sequential(shared))
