"""The lateral-connections paper's networks: LC-CNN, its F-CNN baseline, and LCEI-CNN (appendix A.1).

Paper: "Incorporating visual cortical lateral connection properties into CNN",
sections 3.1-3.3 and appendix A.1 (``shared/papers/lateral-connections-cnn.txt``).
"In all cases, images were gray-scaled, resized to 48x48, and kernel size 7x7";
"All convolutional layers had 8 channels for model 1 and 4 channels for model 2".
Appendix A.1's tables: one 48x48 block ('same' padding), a 2x2 max-pool to
24x24, then the fully connected layer::

    lc_cnn:    LateralConv2d(1, 8, 7, loops, padding 3) -> MaxPool2d(2) -> Flatten -> Linear(8*24*24, classes)
    fcnn:      Conv2d(1, 8, 7, padding 3) -> ReLU -> Conv2d(8, 8, 7, padding 3, no bias) -> ReLU
               -> MaxPool2d(2) -> Flatten -> Linear           (the same parameter count as lc_cnn)
    lcei_cnn:  LateralEIConv2d(1, 4, 7, padding 3) -> MaxPool2d(2) -> Flatten -> Linear(4*24*24, classes)

The block is layer 0 of the Sequential, so its parameters are "0.Wa", "0.ba",
"0.Wl" (LC) or "0.We", "0.Wi" (LCEI: the names the separation penalties read,
``SatExpSeparation(exc="0.We", inh="0.Wi", beta=...)``).
"""
from ..backend import make_rng
from ..nn.activations import ReLU
from ..nn.base import Sequential
from ..nn.conv import Conv2d, MaxPool2d
from ..nn.lateral import LateralConv2d, LateralEIConv2d
from ..nn.linear import Flatten, Linear


def _head(channels, image_size, n_classes, rng, dtype):
    side = image_size // 2
    return [MaxPool2d(2), Flatten(), Linear(channels * side * side, n_classes, rng=rng, dtype=dtype)]


def lc_cnn(loops, in_channels=1, channels=8, kernel_size=7, image_size=48, n_classes=10, rng=None, dtype=None):
    """LC-CNN (section 3.1): an LC block with ``loops`` lateral steps, max-pool, fully connected.

    x (N, in_channels, image_size, image_size) -> scores (N, n_classes).
    """
    rng = make_rng(rng)
    block = LateralConv2d(in_channels, channels, kernel_size, loops=loops, padding=kernel_size // 2, rng=rng,
                          dtype=dtype)
    return Sequential(block, *_head(channels, image_size, n_classes, rng, dtype))


def fcnn(in_channels=1, channels=8, kernel_size=7, image_size=48, n_classes=10, rng=None, dtype=None):
    """F-CNN (section 3.1, eq. 1): two unshared convolutions (the second bias-free, as W_l), max-pool,
    fully connected; exactly the parameters of ``lc_cnn``. x -> scores (N, n_classes)."""
    rng = make_rng(rng)
    k = kernel_size
    return Sequential(Conv2d(in_channels, channels, k, padding=k // 2, rng=rng, dtype=dtype), ReLU(),
                      Conv2d(channels, channels, k, padding=k // 2, rng=rng, dtype=dtype, bias=False), ReLU(),
                      *_head(channels, image_size, n_classes, rng, dtype))


def lcei_cnn(in_channels=1, channels=4, kernel_size=7, image_size=48, n_classes=10, rng=None, dtype=None):
    """LCEI-CNN (section 3.2): an LCEI block (excitatory ``0.We``, inhibitory ``0.Wi``), max-pool,
    fully connected. x -> scores (N, n_classes)."""
    rng = make_rng(rng)
    block = LateralEIConv2d(in_channels, channels, kernel_size, padding=kernel_size // 2, rng=rng, dtype=dtype)
    return Sequential(block, *_head(channels, image_size, n_classes, rng, dtype))
