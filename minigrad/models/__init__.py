"""Ready-made models built from ``minigrad.nn`` layers.

``feedforward``   ``mlp``, ``dann_mlp``, ``columnei_mlp``: the dense classifiers of the lessons
``autoencoder``   ``sparse_autoencoder`` and its sparsity penalty (lesson 09)
``cwa_nets``      ``cwa_mlp``, ``cwa_cnn``: the CWA paper's dense and convolutional networks (and their affine twins)
``cwa_resnet``    ``cwa_resnet18``: ResNet-18 topology with CWA convolutions, no batchnorm
``lateral_cnn``   ``lc_cnn``, ``lcei_cnn``, ``fcnn``: the laterally connected CNNs and their feed-forward baseline
"""
from .autoencoder import ActivitySparsity, AutoencoderLoss, sparse_autoencoder
from .cwa_nets import CIFAR10_CNN, CIFAR10_FCN, MNIST_CNN, MNIST_FCN, cwa_cnn, cwa_mlp
from .cwa_resnet import RESNET18_WIDTHS, CWABasicBlock, cwa_resnet18
from .feedforward import columnei_mlp, dann_mlp, mlp
from .lateral_cnn import fcnn, lc_cnn, lcei_cnn

__all__ = ["ActivitySparsity", "AutoencoderLoss", "sparse_autoencoder", "mlp", "dann_mlp", "columnei_mlp",
           "cwa_mlp", "cwa_cnn", "MNIST_FCN", "CIFAR10_FCN", "MNIST_CNN", "CIFAR10_CNN",
           "RESNET18_WIDTHS", "CWABasicBlock", "cwa_resnet18", "lc_cnn", "fcnn", "lcei_cnn"]
