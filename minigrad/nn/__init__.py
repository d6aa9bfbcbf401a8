"""Layers with explicit forward and backward passes. See ``base.py`` for the protocol."""
from .absnorm import AbsNorm
from .activations import Dropout, ReLU, Sigmoid, Tanh, sigmoid
from .base import Layer, Sequential
from .batchnorm import BatchNorm, BatchNorm2d
from .conv import Conv2d, GlobalAvgPool2d, MaxPool2d, col2im, im2col
from .conv_cwa import ConvCWA
from .cwa import CWA
from .cwa_lateral import LateralCWA
from .dann import DANN, ColumnEi
from .dann_conv import DANNConv2d
from .dann_rnn import DANNRNN
from .lateral import LateralConv2d, LateralEIConv2d
from .layernorm import LayerNorm
from .linear import Flatten, Linear
from .minmaxout import MinMaxout
from .mixed_relu import MixedReLU
from .neglu import LearnedSignReLU, NegLU, SmoothNegLU
from .parallel import DataParallel
from .losses import l1_penalty, l2_penalty, mse_loss, sequence_cross_entropy, softmax_cross_entropy
from .rnn import RNN, LastStep, TemporalLinear

__all__ = [
    "Layer", "Sequential", "DataParallel", "Linear", "Flatten", "Conv2d", "MaxPool2d", "GlobalAvgPool2d",
    "im2col", "col2im",
    "ReLU", "MixedReLU", "Sigmoid", "Tanh", "Dropout", "sigmoid", "BatchNorm", "BatchNorm2d", "LayerNorm",
    "NegLU", "SmoothNegLU", "LearnedSignReLU", "MinMaxout",
    "RNN", "TemporalLinear", "LastStep",
    "DANN", "ColumnEi", "DANNConv2d", "DANNRNN",
    "CWA", "ConvCWA", "AbsNorm", "LateralCWA", "LateralConv2d", "LateralEIConv2d",
    "softmax_cross_entropy", "sequence_cross_entropy", "mse_loss", "l1_penalty", "l2_penalty",
]
