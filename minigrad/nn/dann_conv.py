"""Convolutional Dale's ANN layer (Cornford et al. 2021, appendix B.1, equation 16).

A convolution is a dense layer applied to every receptive field: with the
patches of the input laid out as rows (``im2col`` from ``conv.py``), the
output at one position j is ``z_j = W x_j + b``. The DANN version applies
equation 1 to every patch, with excitatory filters Wee and inhibitory filters
Wie of the same size and stride::

    cols  = im2col(x_pad)                            (N*Ho*Wo, d),  d = C*HH*WW
    r     = (cols Wee^T - (cols Wie^T) Wei^T) / ((cols Wie^T * e^alpha) Wei^T + eps)
    z     = g * r + b                                (N*Ho*Wo, Fe) -> (N, Fe, Ho, Wo)

so each inhibitory channel inhibits every excitatory channel at the same
position, subtractively through Wei and divisively through Wei e^alpha.
Initialisation and the update corrections are those of the dense layer with
d = k*k*C (appendix B.1): the KL divergence is summed over positions, which
scales every parameter type alike. The backward pass is the dense block's
(``dann_block_backward``) on the patch rows, followed by ``col2im``.

Shapes: x (N, C, H, W) non-negative; Wee (Fe, C, HH, WW), Wie (Fi, C, HH, WW),
Wei (Fe, Fi), alpha (Fi,), g (Fe,), b (Fe,); output (N, Fe, Ho, Wo).
"""
import numpy as np

from ..backend import feedback_rng, make_rng, to_device, xp
from .base import Layer, check_arg
from .conv import col2im, conv_output_size, im2col
from .dann import dann_block_backward, dann_block_forward, dann_feedback_init, dann_init
from .linear import check_feedback


class DANNConv2d(Layer):
    """DANN convolution: Fe excitatory and Fi inhibitory k x k filters over C channels.

    Args:
        in_channels: C.
        n_excitatory: Fe, output channels.
        n_inhibitory: Fi, inhibitory filters.
        kernel_size: int k or (HH, WW).
        stride, padding: ints.
        rng: numpy Generator or int seed.
        feedback: "bp" or "fa" (fixed non-negative filters Bee, Bie for dx).
        dtype: parameter dtype.

    Parameters, with d = C*HH*WW: ``Wee`` (Fe, C, HH, WW) and ``Wie``
    (Fi, C, HH, WW) excitatory and inhibitory filters, ``Wei`` (Fe, Fi),
    ``alpha`` (Fi,), ``g`` (Fe,), ``b`` (Fe,). Buffers (feedback="fa" only):
    ``Bee`` (Fe, d) and ``Bie`` (Fi, d), kept flat, as the patch-row products use them.
    Input x (N, C, H, W) non-negative, output z (N, Fe, Ho, Wo).
    """

    def __init__(self, in_channels, n_excitatory, n_inhibitory, kernel_size, stride=1, padding=0,
                 rng=None, feedback="bp", dtype=None):
        super().__init__()
        check_feedback("DANNConv2d", feedback)
        rng = make_rng(rng)
        HH, WW = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        HH, WW = (check_arg(self, "kernel_size", k, 1, integer=True) for k in (HH, WW))
        self.in_channels, self.ne, self.ni = (check_arg(self, name, v, 1, integer=True) for name, v in (
            ("in_channels", in_channels), ("n_excitatory", n_excitatory), ("n_inhibitory", n_inhibitory)))
        stride = check_arg(self, "stride", stride, 1, integer=True)
        padding = check_arg(self, "padding", padding, 0, integer=True)
        self.kernel, self.stride, self.padding, self.feedback = (HH, WW), stride, padding, feedback
        d = self.in_channels * HH * WW
        init = dann_init(self.ne, self.ni, d, rng)
        init["Wee"] = init["Wee"].reshape(self.ne, self.in_channels, HH, WW)
        init["Wie"] = init["Wie"].reshape(self.ni, self.in_channels, HH, WW)
        for name, value in init.items():
            self._init_param(name, value, dtype)
        if feedback == "fa":
            fb_rng = feedback_rng(rng)          # does not advance rng: W matches the BP network
            Bee, Bie = dann_feedback_init(self.ne, self.ni, d, fb_rng)
            dt = self.params["Wee"].dtype
            self.buffers["Bee"], self.buffers["Bie"] = to_device(Bee, dt), to_device(Bie, dt)   # (F, d)
        self.dale_groups = [dict(ne=self.ne, ni=self.ni, d=d, Wee="Wee", Wie="Wie", Wei="Wei",
                                 alpha="alpha", g="g")]

    def forward(self, x):
        """x: (N, C, H, W) non-negative -> z: (N, Fe, Ho, Wo)."""
        self._check_input(x, 4, f"(N, C, H, W) with C={self.in_channels}", axis1=self.in_channels)
        HH, WW = self.kernel
        s, pad, p = self.stride, self.padding, self.params
        N, C, H, W_ = x.shape
        if H + 2 * pad < HH or W_ + 2 * pad < WW:
            raise ValueError(f"DANNConv2d: input {H}x{W_} with padding {pad} is smaller than the {HH}x{WW} kernel")
        x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
        Ho, Wo = conv_output_size(H, HH, s, pad), conv_output_size(W_, WW, s, pad)
        self.x_pad_shape, self.out_hw = x_pad.shape, (Ho, Wo)
        cols = im2col(x_pad, HH, WW, s)                                   # (N*Ho*Wo, d)
        r, self.cache = dann_block_forward(cols, p["Wee"].reshape(self.ne, -1),
                                           p["Wie"].reshape(self.ni, -1), p["Wei"], p["alpha"])
        z = p["g"] * r + p["b"]                                           # eq. 16, every position
        return z.reshape(N, Ho, Wo, self.ne).transpose(0, 3, 1, 2)

    def backward(self, dz):
        """dz: (N, Fe, Ho, Wo) -> dx: (N, C, H, W); fills every gradient."""
        HH, WW = self.kernel
        p, pad = self.params, self.padding
        dz_rows = dz.transpose(0, 2, 3, 1).reshape(-1, self.ne)          # (N*Ho*Wo, Fe)
        self.grads["b"] = dz_rows.sum(axis=0)
        self.grads["g"] = (dz_rows * self.cache["r"]).sum(axis=0)
        B = (self.buffers["Bee"], self.buffers["Bie"]) if self.feedback == "fa" else (None, None)
        grads, dcols = dann_block_backward(dz_rows * p["g"], self.cache, p["Wee"].reshape(self.ne, -1),
                                           p["Wie"].reshape(self.ni, -1), p["Wei"], *B)
        grads["Wee"] = grads["Wee"].reshape(p["Wee"].shape)
        grads["Wie"] = grads["Wie"].reshape(p["Wie"].shape)
        self.grads.update(grads)
        dx_pad = col2im(dcols, self.x_pad_shape, HH, WW, self.stride)
        return dx_pad[:, :, pad:-pad, pad:-pad] if pad else dx_pad
