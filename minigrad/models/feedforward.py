"""Fully connected classifiers: the plain MLP, the DANN MLP and the ColumnEi MLP.

Every lesson that trains a stack of dense layers builds it here, so a change
to "the MLP" is made once. All three read rows of features, x (N, D) (with
``flatten=True`` any (N, ...) input, e.g. CIFAR-10 images (N, 3, 32, 32)),
and return class scores (N, classes) for a softmax cross-entropy loss.

``mlp``           depth x (Linear, [BatchNorm], activation) then Linear
                  (Khandwala & Bedi's FA/BP networks; Cornford et al.'s baseline)
``dann_mlp``      depth x (DANN, ReLU) then DANN with one inhibitory unit
                  (Cornford et al. 2021, section 5.1)
``columnei_mlp``  depth x (ColumnEi, ReLU) then ColumnEi (column sign constraints,
                  Cornford et al. appendix C.1)

Weights are drawn in layer order from one generator (``rng``: a seed or a
``numpy.random.Generator``), so the same seed gives the same network.
"""
from ..backend import make_rng
from ..nn import DANN, BatchNorm, ColumnEi, Flatten, Linear, ReLU, Sequential


def mlp(in_features=784, hidden=500, depth=3, classes=10, rng=0, feedback="bp", batchnorm=None,
        activation=None, flatten=False):
    """depth x (Linear(., hidden), [BatchNorm(hidden)], activation) then Linear(hidden, classes).

    Args:
        in_features: D, the features per example (784 for MNIST rows, 3072 for CIFAR-10).
        hidden: H, the width of every hidden layer.
        depth: number of hidden layers.
        classes: number of class scores.
        rng: seed or Generator for the weights (and for ``activation``'s own draws).
        feedback: "bp" or "fa", for every Linear.
        batchnorm: None or False (no batchnorm), True (``BatchNorm(hidden)``) or a dict of
            ``BatchNorm`` keyword arguments (e.g. ``dict(affine=False)``); it goes
            between each hidden Linear and its activation.
        activation: None (``ReLU()``) or a callable ``activation(hidden, rng)`` returning
            the layer, e.g. ``lambda h, rng: nn.MixedReLU(h, rng=rng)``.
        flatten: start with ``Flatten()`` ((N, ...) -> (N, D)).
    """
    rng = make_rng(rng)
    norm = {} if batchnorm is True else (batchnorm or None)
    layers, d = ([Flatten()] if flatten else []), in_features
    for _ in range(depth):
        layers.append(Linear(d, hidden, rng=rng, feedback=feedback))
        if norm is not None:
            layers.append(BatchNorm(hidden, **norm))
        layers.append(ReLU() if activation is None else activation(hidden, rng))
        d = hidden
    layers.append(Linear(d, classes, rng=rng, feedback=feedback))
    return Sequential(*layers)


def dann_mlp(in_features=784, hidden=500, n_inhibitory=50, depth=3, classes=10, rng=0, feedback="bp"):
    """DANN classifier: depth x (DANN(., hidden, n_inhibitory), ReLU) then DANN(hidden, classes, 1).

    ``hidden`` counts the excitatory units (the layer's outputs). The output layer
    has one inhibitory unit and feeds the softmax directly. ``feedback="fa"``
    trains every layer with fixed non-negative feedback (lesson 14).
    """
    rng = make_rng(rng)
    layers, d = [], in_features
    for _ in range(depth):
        layers += [DANN(d, hidden, n_inhibitory, rng=rng, feedback=feedback), ReLU()]
        d = hidden
    layers.append(DANN(d, classes, 1, rng=rng, feedback=feedback))
    return Sequential(*layers)


def columnei_mlp(in_features=784, n_excitatory=500, n_inhibitory=50, depth=3, classes=10, rng=0,
                 input_mean=None):
    """ColumnEi classifier: hidden layers of ne + ni units (the last ni inhibitory), ReLU.

    The first layer reads only excitatory inputs (the pixels) and centres with
    its bias using ``input_mean`` (the data's mean pixel, appendix C.1).
    """
    rng = make_rng(rng)
    width = n_excitatory + n_inhibitory
    layers = [ColumnEi(in_features, width, 0, rng=rng, input_mean=input_mean), ReLU()]
    for _ in range(depth - 1):
        layers += [ColumnEi(width, width, n_inhibitory, rng=rng), ReLU()]
    layers.append(ColumnEi(width, classes, n_inhibitory, rng=rng))
    return Sequential(*layers)
