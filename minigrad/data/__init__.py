"""Data sets for minigrad: readers for the canonical formats, plus small preprocessing steps.

Loaders return ``(images, labels)``: uint8 pixels (host-side NumPy arrays) and
int64 labels. Preprocessing is explicit::

    from minigrad.data import load_mnist_sample, normalize, flatten
    x, y = load_mnist_sample("train")   # uint8 (5000, 28, 28), int64 (5000,): ships with minigrad
    x = flatten(normalize(x))           # float32 (5000, 784) in [0, 1]

Full data sets are read from ``$MINIGRAD_DATA`` (default ``~/.minigrad/data``);
``python data_scripts/{mnist,fashion_mnist,cifar10}.py`` downloads them there
(``--from PATH`` imports a local copy).

=============================================  ==========================================
``load_mnist(root=None, split="train")``       MNIST, uint8 (N, 28, 28)
``load_fashion_mnist(root=None, split=...)``   Fashion-MNIST, uint8 (N, 28, 28)
``load_cifar10(root=None, split="train")``     CIFAR-10, uint8 (N, 3, 32, 32)
``load_image_folder(path, split="train")``     split/class/*.png|jpg, uint8 (N, C, H, W)
``load_mnist_sample(split="train")``           5,000 train / 2,000 test MNIST digits, shipped
``normalize(images)``                          uint8 -> float32 in [0, 1]
``standardize(train, *others)``                per-channel mean 0 / std 1 using train's statistics
``flatten(images)``                            (N, ...) -> (N, D)
``cwa_scale_clip(images, low=-0.3)``           CWA inputs: scale to [-0.3, 1], clip to [0, 1]
``double_inputs(x)``                           inhibitory + excitatory copy: (N, 2D) / (N, 2C, H, W)
``grayscale(images)``                          (N, 3, H, W) -> (N, 1, H, W), BT.601 luminance
``resize_bilinear(images, size)``              bilinear resize, e.g. to 48x48
=============================================  ==========================================
"""
from .cifar import CIFAR10_CLASSES
from .datasets import (FASHION_MNIST_CLASSES, MNIST_CLASSES, load_cifar10, load_fashion_mnist,
                       load_mnist, load_mnist_sample)
from .download import ChecksumError, DownloadError
from .idx import read_idx, write_idx
from .image_folder import image_folder_classes, load_image_folder
from .paths import data_dir
from .transforms import (LUMINANCE_WEIGHTS, channel_mean_std, cwa_scale_clip, double_inputs, flatten, grayscale,
                         normalize, resize_bilinear, standardize)

__all__ = [
    "load_mnist", "load_fashion_mnist", "load_cifar10", "load_image_folder", "load_mnist_sample",
    "image_folder_classes", "normalize", "standardize", "channel_mean_std", "flatten",
    "cwa_scale_clip", "double_inputs", "grayscale", "resize_bilinear", "LUMINANCE_WEIGHTS",
    "read_idx", "write_idx", "data_dir", "DownloadError", "ChecksumError",
    "MNIST_CLASSES", "FASHION_MNIST_CLASSES", "CIFAR10_CLASSES",
]
