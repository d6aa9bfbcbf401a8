"""Small ready-made models built from ``minigrad.nn`` layers."""
from .autoencoder import ActivitySparsity, AutoencoderLoss, sparse_autoencoder

__all__ = ["ActivitySparsity", "AutoencoderLoss", "sparse_autoencoder"]
from .cwa_nets import CIFAR10_CNN, CIFAR10_FCN, MNIST_CNN, MNIST_FCN, cwa_cnn, cwa_mlp  # noqa: E402
from .cwa_resnet import CWABasicBlock, cwa_resnet18  # noqa: E402

__all__ += ["cwa_mlp", "cwa_cnn", "MNIST_FCN", "CIFAR10_FCN", "MNIST_CNN", "CIFAR10_CNN",
            "CWABasicBlock", "cwa_resnet18"]
from .lateral_cnn import fcnn, lc_cnn, lcei_cnn  # noqa: E402

__all__ += ["lc_cnn", "fcnn", "lcei_cnn"]
