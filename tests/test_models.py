"""The dense classifiers of minigrad.models: the layers they stack and their seeded weights."""
import numpy as np

from minigrad import nn
from minigrad.backend import to_device, to_numpy
from minigrad.models import columnei_mlp, dann_mlp, mlp


def _types(model):
    return [type(layer).__name__ for _, layer in model.named_layers()]


def test_mlp_stacks_flatten_batchnorm_and_activation_in_order():
    model = mlp(12, 5, depth=2, classes=3, rng=0, feedback="fa", batchnorm=dict(affine=False), flatten=True,
                activation=lambda width, rng: nn.MixedReLU(width, negative_fraction=0.5, rng=rng))
    assert _types(model) == ["Flatten", "Linear", "BatchNorm", "MixedReLU", "Linear", "BatchNorm", "MixedReLU",
                             "Linear"]
    assert all(layer.feedback == "fa" for _, layer in model.named_layers() if isinstance(layer, nn.Linear))
    assert not any(layer.affine for _, layer in model.named_layers() if isinstance(layer, nn.BatchNorm))
    assert model.forward(to_device(np.ones((4, 3, 2, 2), np.float32))).shape == (4, 3)


def test_mlp_draws_its_weights_in_layer_order_from_one_generator():
    """Same seed, same weights as stacking the layers by hand (what the lessons did before)."""
    rng = np.random.default_rng(7)
    by_hand = nn.Sequential(nn.Linear(6, 4, rng=rng), nn.ReLU(), nn.Linear(4, 2, rng=rng))
    built = mlp(6, 4, depth=1, classes=2, rng=np.random.default_rng(7))
    for k, v in by_hand.params.items():
        np.testing.assert_array_equal(to_numpy(built.params[k]), to_numpy(v))
    assert _types(mlp(6, 4, depth=2, classes=2, batchnorm=False)) == ["Linear", "ReLU"] * 2 + ["Linear"]


def test_dale_builders_shapes():
    assert _types(dann_mlp(6, 8, 2, depth=2, classes=3)) == ["DANN", "ReLU", "DANN", "ReLU", "DANN"]
    assert dann_mlp(6, 8, 2, depth=1, classes=3)[2].ni == 1                     # one inhibitory unit at the output
    model = columnei_mlp(6, 8, 2, depth=2, classes=3, input_mean=0.5)
    assert _types(model) == ["ColumnEi", "ReLU", "ColumnEi", "ReLU", "ColumnEi"]
    assert model.forward(to_device(np.ones((2, 6), np.float32))).shape == (2, 3)


def test_sparsity_weight_zero_is_off_even_for_saturated_units():
    """beta = 0 turns the penalty off: a unit whose mean activity is exactly 1 (a saturated
    float32 sigmoid) gave 0 * log(0) = NaN in the loss and its gradient before."""
    from minigrad.models import ActivitySparsity
    layer = ActivitySparsity(weight=0.0, target=0.1)
    x = to_device(np.array([[1.0, 0.3], [1.0, 0.5]], np.float32))       # unit 0 saturated: mean 1.0
    out = layer.forward(x)
    dout = to_device(np.full((2, 2), 0.25, np.float32))
    assert float(to_numpy(layer.penalty)) == 0.0
    np.testing.assert_array_equal(to_numpy(layer.backward(dout)), to_numpy(dout))
    np.testing.assert_array_equal(to_numpy(out), to_numpy(x))
