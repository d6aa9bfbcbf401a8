"""Small ready-made models built from ``minigrad.nn`` layers."""
from .autoencoder import ActivitySparsity, AutoencoderLoss, sparse_autoencoder

__all__ = ["ActivitySparsity", "AutoencoderLoss", "sparse_autoencoder"]
