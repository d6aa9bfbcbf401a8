"""The CWA paper's fully connected and convolutional networks, and their affine baselines.

Paper: "Learning high-dimensional perceptual tasks with Hodgkin-Huxley
networks", ICLR 2020 submission, sections 4.2-4.3
(``shared/papers/cwa-hodgkin-huxley-networks.txt``).

Fully connected (FCN): "For MNIST, the FCN had two hidden layers of 2,000
neurons each. For CIFAR-10, a five-layer FCN with three hidden layers of 2000,
1000, 500 was used" (``MNIST_FCN``, ``CIFAR10_FCN``)::

    cwa:     [CWA(d, h) -> ReLU] per hidden layer -> Linear(h_last, classes)
    affine:  [Linear(d, h) (-> BatchNorm) -> ReLU] per hidden layer -> Linear

Convolutional (CNN): "a sequence of four or five convolutional layers with
stride 2 and no pooling", "four convolutional layers with 32, 64, 128, and 256
channels ... The CNN for CIFAR-10 added a fifth convolutional layer with 512
channels" (``MNIST_CNN``, ``CIFAR10_CNN``); kernels 5x5 ("The first
convolutional kernel in CNN has merely 6 x 5 x 5 = 150 connections"), padding 2
so a stride-2 layer halves the image (rounding up)::

    cwa:     [ConvCWA(c, c', 5, stride 2, padding 2) -> ReLU] per layer -> Flatten -> Linear
    affine:  [Conv2d(c, c', 5, stride 2, padding 2) (-> BatchNorm2d) -> ReLU] per layer -> Flatten -> Linear

Every CWA network ends with an affine readout ("a final affine layer with
softmax activation was added as the top layer of each CWA architecture",
section 4.3) and expects activities in [0, 1] with doubled inputs
(``minigrad.data.cwa_scale_clip`` then ``minigrad.data.double_inputs``: d = 2 x
784 for MNIST, 6 channels for CIFAR-10). Resting potential e_r = -0.4 for the
FCN and 0 for the CNN, G_r = 1 (section 4.3, "Bias Term"). ``batchnorm=True``
with ``kind="cwa"`` is the paper's CWA+BN (batchnorm before each ReLU).
The residual network is ``minigrad.models.cwa_resnet18``.
"""
import numpy as np

from ..backend import make_rng
from ..nn.activations import ReLU
from ..nn.base import Sequential
from ..nn.batchnorm import BatchNorm, BatchNorm2d
from ..nn.conv import Conv2d, conv_output_size
from ..nn.conv_cwa import ConvCWA
from ..nn.cwa import CWA
from ..nn.linear import Flatten, Linear

MNIST_FCN = (2000, 2000)
CIFAR10_FCN = (2000, 1000, 500)
MNIST_CNN = (32, 64, 128, 256)
CIFAR10_CNN = (32, 64, 128, 256, 512)
KINDS = ("cwa", "affine")


def _check_kind(builder, kind):
    if kind not in KINDS:
        raise ValueError(f"{builder}: kind must be one of {KINDS}, got {kind!r}")


def cwa_mlp(in_features, hidden=MNIST_FCN, n_classes=10, kind="cwa", batchnorm=False, rest_potential=-0.4,
            rng=None, dtype=None, feedback="bp"):
    """Fully connected CWA network (or its affine baseline) of section 4.2.

    Args:
        in_features: D, input size (doubled for CWA: 1568 for MNIST, 6144 for CIFAR-10).
        hidden: hidden layer sizes; ``MNIST_FCN`` (2000, 2000) or ``CIFAR10_FCN`` (2000, 1000, 500).
        n_classes: outputs of the affine readout.
        kind: "cwa" (CWA layers) or "affine" (Linear layers).
        batchnorm: put a BatchNorm before every ReLU (the paper's "+ BN" variants).
        rest_potential: e_r of every CWA layer (paper: -0.4 for the FCN).
        rng: numpy Generator or int seed; dtype: parameter dtype.
        feedback: "bp" or "fa" for every hidden layer (CWA: fixed non-negative B; Linear: Gaussian B).
    Returns:
        Sequential: x (N, D) -> scores (N, n_classes).
    """
    _check_kind("cwa_mlp", kind)
    rng = make_rng(rng)
    layers, d = [], int(in_features)
    for h in hidden:
        if kind == "cwa":
            layers.append(CWA(d, h, rng=rng, dtype=dtype, rest_potential=rest_potential, feedback=feedback))
        else:
            layers.append(Linear(d, h, rng=rng, dtype=dtype, feedback=feedback,
                                 weight_scale=np.sqrt(2.0 / (d + h))))      # Glorot (section 4.3)
        if batchnorm:
            layers.append(BatchNorm(h, dtype=dtype))
        layers.append(ReLU())
        d = h
    layers.append(Linear(d, n_classes, rng=rng, dtype=dtype, weight_scale=np.sqrt(2.0 / (d + n_classes))))
    return Sequential(*layers)


def cwa_cnn(in_channels, image_size, channels=MNIST_CNN, n_classes=10, kind="cwa", kernel_size=5,
            batchnorm=False, rng=None, dtype=None, feedback="bp"):
    """Convolutional CWA network (or its affine baseline) of section 4.2: stride-2 convolutions, no pooling.

    Args:
        in_channels: input channels (doubled for CWA: 2 for MNIST, 6 for CIFAR-10).
        image_size: H (= W) of the input, to size the readout (28 or 32).
        channels: per convolution; ``MNIST_CNN`` (32, 64, 128, 256) or ``CIFAR10_CNN`` (+ 512).
        n_classes: outputs of the affine readout.
        kind: "cwa" (ConvCWA, e_r = 0) or "affine" (Conv2d).
        kernel_size: k (paper: 5); padding k // 2, stride 2.
        batchnorm: BatchNorm2d before every ReLU.
        rng, dtype, feedback: as ``cwa_mlp``.
    Returns:
        Sequential: x (N, in_channels, image_size, image_size) -> scores (N, n_classes).
    """
    _check_kind("cwa_cnn", kind)
    rng = make_rng(rng)
    layers, c, size, k = [], int(in_channels), int(image_size), int(kernel_size)
    for c_out in channels:
        if kind == "cwa":
            layers.append(ConvCWA(c, c_out, k, stride=2, padding=k // 2, rng=rng, dtype=dtype, feedback=feedback))
        else:
            layers.append(Conv2d(c, c_out, k, stride=2, padding=k // 2, rng=rng, dtype=dtype, feedback=feedback,
                                 weight_scale=np.sqrt(2.0 / ((c + c_out) * k * k))))   # Glorot
        if batchnorm:
            layers.append(BatchNorm2d(c_out, dtype=dtype))
        layers.append(ReLU())
        c, size = c_out, conv_output_size(size, k, 2, k // 2)     # 28 -> 14 -> 7 -> 4 -> 2; 32 -> ... -> 1
    d = c * size * size
    layers += [Flatten(), Linear(d, n_classes, rng=rng, dtype=dtype, weight_scale=np.sqrt(2.0 / (d + n_classes)))]
    return Sequential(*layers)
