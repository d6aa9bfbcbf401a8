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
(``dann_block_backward``) on the patch rows, followed by the transposed
convolution back to the image (``col2im`` in the textbook version).

The patches, the filter layout and the way back to the image are the
convolution machinery of ``conv.py`` (``conv_patches``, ``filter_rows``,
``rows_to_filters``, ``rows_to_image``, ``conv_input_grad``), the same as
``Conv2d``'s: under the reference kernels the textbook ``im2col``/``col2im``,
under the fast ones (default) channels-last rows with the fused input
gradient. dx is the transposed convolution of the row gradients
[dzE, dzI] with the filters [Wee; Wie] (FA: [Bee; Bie]).

Shapes: x (N, C, H, W) non-negative; Wee (Fe, C, HH, WW), Wie (Fi, C, HH, WW),
Wei (Fe, Fi), alpha (Fi,), g (Fe,), b (Fe,); output (N, Fe, Ho, Wo).
"""
import numpy as np

from ..backend import make_rng, xp
from .base import Layer, check_arg
from .conv import conv_input_grad, conv_patches, filter_rows, image_to_rows, rows_to_filters, rows_to_image
from .dann import dann_block_backward, dann_block_forward, dann_feedback_init, dann_init


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
    ``Bee`` (Fe, d) and ``Bie`` (Fi, d), kept flat (the filters reshaped, as
    ``Wee.reshape(Fe, -1)``), as saved in checkpoints.
    Input x (N, C, H, W) non-negative, output z (N, Fe, Ho, Wo).
    ``needs_input_grad`` (default True): set False to skip dx, ``backward`` then
    returns None (``Trainer`` does so for the first layer while it trains).
    """
    needs_input_grad = True
    feedback_of = {"Wee": "Bee", "Wie": "Bie"}

    def __init__(self, in_channels, n_excitatory, n_inhibitory, kernel_size, stride=1, padding=0,
                 rng=None, feedback="bp", dtype=None):
        super().__init__()
        rng = make_rng(rng)
        HH, WW = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        HH, WW = (check_arg(self, "kernel_size", k, 1, integer=True) for k in (HH, WW))
        self.in_channels, self.ne, self.ni = (check_arg(self, name, v, 1, integer=True) for name, v in (
            ("in_channels", in_channels), ("n_excitatory", n_excitatory), ("n_inhibitory", n_inhibitory)))
        stride = check_arg(self, "stride", stride, 1, integer=True)
        padding = check_arg(self, "padding", padding, 0, integer=True)
        self.kernel, self.stride, self.padding = (HH, WW), stride, padding
        d = self.in_channels * HH * WW
        init = dann_init(self.ne, self.ni, d, rng)
        init["Wee"] = init["Wee"].reshape(self.ne, self.in_channels, HH, WW)
        init["Wie"] = init["Wie"].reshape(self.ni, self.in_channels, HH, WW)
        for name, value in init.items():
            self._init_param(name, value, dtype)
        self._init_feedback(feedback, rng, lambda fb_rng: dict(
            zip(("Wee", "Wie"), dann_feedback_init(self.ne, self.ni, d, fb_rng))))    # flat (F, d)
        self.dale_groups = [dict(ne=self.ne, ni=self.ni, d=d, Wee="Wee", Wie="Wie", Wei="Wei",
                                 alpha="alpha", g="g")]

    def forward(self, x):
        """x: (N, C, H, W) non-negative -> z: (N, Fe, Ho, Wo)."""
        self._check_input(x, 4, f"(N, C, H, W) with C={self.in_channels}", sizes={1: self.in_channels})
        p = self.params
        self.cache = None                                                 # free the last batch's patches first
        cols, self.geom = conv_patches(x, self.kernel, self.stride, self.padding, layer="DANNConv2d")  # (R, d)
        r, self.cache = dann_block_forward(cols, filter_rows(p["Wee"], self.geom),
                                           filter_rows(p["Wie"], self.geom), p["Wei"], p["alpha"])
        z = p["g"] * r + p["b"]                                           # eq. 16, every position
        return rows_to_image(z, self.geom)                                # (N, Fe, Ho, Wo)

    def backward(self, dz):
        """dz: (N, Fe, Ho, Wo) -> dx: (N, C, H, W) (None when ``needs_input_grad`` is False);
        fills every gradient."""
        p = self.params
        dz_rows = image_to_rows(dz)                                       # (N*Ho*Wo, Fe)
        self.grads["b"] = dz_rows.sum(axis=0)
        self.grads["g"] = (dz_rows * self.cache["r"]).sum(axis=0)
        grads, _ = dann_block_backward(dz_rows * p["g"], self.cache, p["Wei"])   # dx below, on the image
        grads["Wee"] = rows_to_filters(grads["Wee"], self.geom)
        grads["Wie"] = rows_to_filters(grads["Wie"], self.geom)
        self.grads.update(grads)
        if not self.needs_input_grad:
            return None
        # dx = transposed convolution of the row gradients [dzE, dzI] with the filters [Wee; Wie]
        # (Bee, Bie for FA, kept flat: reshaped to filters)
        filters = xp.concatenate([self.dx_weight("Wee").reshape(p["Wee"].shape),
                                  self.dx_weight("Wie").reshape(p["Wie"].shape)])   # (Fe + Fi, C, HH, WW)
        drows = xp.concatenate([self.cache["dzE"], self.cache["dzI"]], axis=1)     # (N*Ho*Wo, Fe + Fi)
        return conv_input_grad(drows, filters, self.geom)
