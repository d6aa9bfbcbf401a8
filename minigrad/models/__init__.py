"""Ready-made models built from ``minigrad.nn`` layers.

``feedforward``   ``mlp``, ``dann_mlp``, ``columnei_mlp``: the dense classifiers of the lessons
``autoencoder``   ``sparse_autoencoder`` and its sparsity penalty (lesson 09)
"""
from .autoencoder import ActivitySparsity, AutoencoderLoss, sparse_autoencoder
from .feedforward import columnei_mlp, dann_mlp, mlp

__all__ = ["ActivitySparsity", "AutoencoderLoss", "sparse_autoencoder", "mlp", "dann_mlp", "columnei_mlp"]
