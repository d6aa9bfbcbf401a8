"""2-D convolution (as a matrix product over image patches) and max-pooling.

Shapes: images x (N, C, H, W); filters W (F, C, HH, WW); output (N, F, Ho, Wo)
with Ho = 1 + (H + 2 pad - HH) // stride and Wo likewise.

im2col turns the convolution into one matrix product. Every output pixel
(n, i, j) reads the patch x_pad[n, :, i*s : i*s+HH, j*s : j*s+WW]; laid out as
one row per output pixel, the patches form ``cols`` of shape
(N*Ho*Wo, C*HH*WW), and the convolution is::

    out[n, f, i, j] = sum_{c,u,v} W[f, c, u, v] x_pad[n, c, i*s+u, j*s+v] + b[f]
    out_rows = cols @ W.reshape(F, -1).T + b          (N*Ho*Wo, F)

``im2col`` builds the patch view with stride tricks (no Python loop, no
index arrays): the strides of the 6-d view (N, Ho, Wo, C, HH, WW) are those of
x_pad with the Ho/Wo strides multiplied by the conv stride. ``col2im`` is its
adjoint: it adds every patch gradient back onto the pixels it was read from,
with one strided slice-add per kernel offset (HH*WW adds in all).
"""
import numpy as np

from ..backend import make_rng, to_device, xp
from .base import Layer
from .linear import check_feedback


def conv_output_size(size, kernel, stride, pad):
    return 1 + (size + 2 * pad - kernel) // stride


def im2col(x_pad, HH, WW, stride):
    """Patches of a padded image batch as rows.

    Args:
        x_pad: (N, C, Hp, Wp) already padded.
    Returns:
        cols: (N*Ho*Wo, C*HH*WW), row (n, i, j) = x_pad[n, :, i*s:i*s+HH, j*s:j*s+WW] flattened.
    """
    N, C, Hp, Wp = x_pad.shape
    Ho, Wo = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    sN, sC, sH, sW = x_pad.strides
    patches = xp.lib.stride_tricks.as_strided(
        x_pad, shape=(N, Ho, Wo, C, HH, WW),
        strides=(sN, sH * stride, sW * stride, sC, sH, sW), writeable=False)
    return patches.reshape(N * Ho * Wo, C * HH * WW)        # the one copy


def col2im(dcols, x_pad_shape, HH, WW, stride):
    """Adjoint of ``im2col``: scatter-add patch gradients back to pixels.

    Args:
        dcols: (N*Ho*Wo, C*HH*WW) gradient of the patches.
        x_pad_shape: (N, C, Hp, Wp).
    Returns:
        dx_pad: (N, C, Hp, Wp); a pixel shared by several patches gets the sum.
    """
    N, C, Hp, Wp = x_pad_shape
    Ho, Wo = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    d = dcols.reshape(N, Ho, Wo, C, HH, WW)
    dx_pad = xp.zeros(x_pad_shape, dtype=dcols.dtype)
    for u in range(HH):                      # loop over kernel offsets only
        for v in range(WW):
            dx_pad[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride] += \
                d[:, :, :, :, u, v].transpose(0, 3, 1, 2)
    return dx_pad


class Conv2d(Layer):
    """Convolution with F filters of size HH x WW over C input channels.

    Args:
        in_channels: C.
        out_channels: F.
        kernel_size: int k (square k x k kernel) or (HH, WW).
        stride, padding: ints.
        rng: numpy Generator or int seed for W (and B).
        weight_scale: std of W; default He, sqrt(2 / (C*HH*WW)).
        feedback: "bp", or "fa": dx is the transposed convolution with a fixed
            random B (F, C, HH, WW) instead of W (Khandwala & Bedi, section 2.4).

    Params: ``W`` (F, C, HH, WW), ``b`` (F,). Buffers: ``B`` when feedback="fa".
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 rng=None, weight_scale=None, feedback="bp", dtype=None):
        super().__init__()
        check_feedback("Conv2d", feedback)
        rng = make_rng(rng)
        HH, WW = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel = (int(HH), int(WW))
        self.stride, self.padding, self.feedback = int(stride), int(padding), feedback
        fan_in = in_channels * HH * WW
        scale = np.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale
        shape = (out_channels, in_channels, HH, WW)
        self._init_param("W", scale * rng.standard_normal(shape), dtype)
        self._init_param("b", np.zeros(out_channels), dtype)
        if feedback == "fa":
            fb_rng = np.random.default_rng(rng.integers(2**63 - 1))
            self.buffers["B"] = to_device(scale * fb_rng.standard_normal(shape),
                                          dtype=self.params["W"].dtype)

    def forward(self, x):
        """x: (N, C, H, W) -> out: (N, F, Ho, Wo)."""
        self._check_input(x, 4, f"(N, C, H, W) with C={self.in_channels}", axis1=self.in_channels)
        HH, WW = self.kernel
        s, p = self.stride, self.padding
        N, C, H, W_ = x.shape
        if H + 2 * p < HH or W_ + 2 * p < WW:
            raise ValueError(f"Conv2d: input {H}x{W_} with padding {p} is smaller than the {HH}x{WW} kernel")
        x_pad = xp.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
        Ho, Wo = conv_output_size(H, HH, s, p), conv_output_size(W_, WW, s, p)
        self.x_pad_shape = x_pad.shape
        self.cols = im2col(x_pad, HH, WW, s)                      # (N*Ho*Wo, C*HH*WW)
        F = self.out_channels
        out = self.cols @ self.params["W"].reshape(F, -1).T       # (N*Ho*Wo, F)
        out += self.params["b"]
        return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)

    def backward(self, dout):
        """dout: (N, F, Ho, Wo) -> dx: (N, C, H, W); fills grads W, b."""
        HH, WW = self.kernel
        F, p = self.out_channels, self.padding
        dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, F)    # (N*Ho*Wo, F)
        self.grads["W"] = (dout_rows.T @ self.cols).reshape(self.params["W"].shape)
        self.grads["b"] = dout_rows.sum(axis=0)
        feedback_weights = self.buffers["B"] if self.feedback == "fa" else self.params["W"]
        dcols = dout_rows @ feedback_weights.reshape(F, -1)       # (N*Ho*Wo, C*HH*WW)
        dx_pad = col2im(dcols, self.x_pad_shape, HH, WW, self.stride)
        if p:
            return dx_pad[:, :, p:-p, p:-p]
        return dx_pad


class MaxPool2d(Layer):
    """Max over k x k windows moved by ``stride`` (default k).

    out[n, c, i, j] = max_{u,v} x[n, c, i*s+u, j*s+v]. The gradient flows only to
    the (first) position of the maximum in each window, as in PyTorch.

    Args:
        kernel_size: k.
        stride: s (default k: non-overlapping windows).
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.k = int(kernel_size)
        self.stride = int(stride or kernel_size)

    def forward(self, x):
        """x: (N, C, H, W) -> out: (N, C, Ho, Wo), Ho = 1 + (H - k) // s."""
        self._check_input(x, 4, "(N, C, H, W)")
        k, s = self.k, self.stride
        N, C, H, W = x.shape
        if H < k or W < k:
            raise ValueError(f"MaxPool2d: input {H}x{W} is smaller than the {k}x{k} window")
        Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
        sN, sC, sH, sW = x.strides
        windows = xp.lib.stride_tricks.as_strided(
            x, shape=(N, C, Ho, Wo, k, k), strides=(sN, sC, sH * s, sW * s, sH, sW),
            writeable=False).reshape(N, C, Ho, Wo, k * k)
        self.argmax = windows.argmax(axis=-1)                      # (N, C, Ho, Wo)
        self.x_shape = x.shape
        return xp.take_along_axis(windows, self.argmax[..., None], axis=-1)[..., 0]

    def backward(self, dout):
        """dout: (N, C, Ho, Wo) -> dx: (N, C, H, W)."""
        k, s = self.k, self.stride
        N, C, H, W = self.x_shape
        Ho, Wo = dout.shape[2:]
        # Gradient of each window: dout at its argmax, 0 elsewhere.
        offsets = xp.arange(k * k).reshape(1, 1, 1, 1, k * k)
        dwin = (self.argmax[..., None] == offsets) * dout[..., None]   # (N, C, Ho, Wo, k*k)
        dwin = dwin.reshape(N, C, Ho, Wo, k, k)
        dx = xp.zeros(self.x_shape, dtype=dout.dtype)
        for u in range(k):                                              # k*k strided adds
            for v in range(k):
                dx[:, :, u:u + s * Ho:s, v:v + s * Wo:s] += dwin[:, :, :, :, u, v]
        return dx
