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

Fast path (what ``Conv2d`` runs; ``conv2d_reference`` keeps the textbook
version above and tests/test_speed_paths.py proves both agree). The layer keeps
its images *channels-last in memory*: the padded input is stored as
(N, Hp, Wp, C), a patch row is ordered (u, v, c), so each of its HH*WW pieces
is one contiguous run of C numbers, and the output rows (N*Ho*Wo, F) are
returned as an (N, F, Ho, Wo) *view* (a transpose, no copy). Elementwise
layers (ReLU) and ``MaxPool2d`` keep that memory order, so the gradient comes
back channels-last too and ``dout.transpose(0, 2, 3, 1).reshape(-1, F)`` is
free. Shapes seen by the user stay (N, C, H, W) throughout. The input gradient
fuses col2im with the product, one kernel offset (u, v) at a time:
dx_pad[:, u+i*s, v+j*s, :] += (dout_rows @ B[:, :, u, v]) for every window (i, j).

``MaxPool2d`` takes the maximum over its k*k strided slices (one elementwise
maximum per window offset) instead of gathering every window;
``maxpool_reference`` keeps the gather-and-argmax version.
"""
import numpy as np

from ..backend import feedback_rng, make_rng, to_device, xp
from .base import Layer, check_arg
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
        strides=(sN, sH * stride, sW * stride, sC, sH, sW))   # CuPy's as_strided has no writeable=
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


def conv2d_reference(x, W, b, stride, pad):
    """Textbook convolution through ``im2col`` (NCHW patches); returns (out, cols).

    x (N, C, H, W), W (F, C, HH, WW), b (F,) -> out (N, F, Ho, Wo), cols (N*Ho*Wo, C*HH*WW).
    """
    N, C, H, W_ = x.shape
    F, _, HH, WW = W.shape
    x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W_, WW, stride, pad)
    cols = im2col(x_pad, HH, WW, stride)                         # (N*Ho*Wo, C*HH*WW)
    out = cols @ W.reshape(F, -1).T + b                          # (N*Ho*Wo, F)
    return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), cols


def conv2d_backward_reference(dout, x, W, stride, pad, feedback_weights=None):
    """Textbook gradients through ``col2im``: dout (N, F, Ho, Wo) -> (dx, dW, db).

    ``feedback_weights`` (F, C, HH, WW) replaces W in dx (feedback alignment).
    """
    F, C, HH, WW = W.shape
    _, cols = conv2d_reference(x, W, xp.zeros(F, dtype=W.dtype), stride, pad)
    N, _, H, W_ = x.shape
    x_pad_shape = (N, C, H + 2 * pad, W_ + 2 * pad)
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, F)       # (N*Ho*Wo, F)
    dW = (dout_rows.T @ cols).reshape(W.shape)
    db = dout_rows.sum(axis=0)
    fb = W if feedback_weights is None else feedback_weights
    dx_pad = col2im(dout_rows @ fb.reshape(F, -1), x_pad_shape, HH, WW, stride)
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W_]
    return dx, dW, db


# --- fast path: channels-last memory (see the module docstring) ---------------
def pad_channels_last(x, pad):
    """(N, C, H, W) -> zero-padded (N, H + 2 pad, W + 2 pad, C), channels last in memory.

    Without padding this is only a transposed view (free when x already is
    channels-last in memory, as the output of a ``Conv2d`` is).
    """
    xt = x.transpose(0, 2, 3, 1)                                 # (N, H, W, C) view
    if not pad:
        return xt
    N, H, W, C = xt.shape
    x_pad = xp.zeros((N, H + 2 * pad, W + 2 * pad, C), dtype=x.dtype)
    x_pad[:, pad:pad + H, pad:pad + W, :] = xt
    return x_pad


def im2col_channels_last(x_pad, HH, WW, stride):
    """Patches of a channels-last batch as rows.

    Args:
        x_pad: (N, Hp, Wp, C), already padded.
    Returns:
        cols: (N*Ho*Wo, HH*WW*C), row (n, i, j) = x_pad[n, i*s:i*s+HH, j*s:j*s+WW, :]
        flattened in (u, v, c) order.
    """
    N, Hp, Wp, C = x_pad.shape
    Ho, Wo = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    sN, sH, sW, sC = x_pad.strides
    patches = xp.lib.stride_tricks.as_strided(
        x_pad, shape=(N, Ho, Wo, HH, WW, C),
        strides=(sN, sH * stride, sW * stride, sH, sW, sC))     # only read, never written
    return patches.reshape(N * Ho * Wo, HH * WW * C)             # the one copy


def maxpool_reference(x, k, s):
    """Textbook max-pool: gather every k x k window, take the argmax; returns (out, argmax).

    x (N, C, H, W) -> out (N, C, Ho, Wo), argmax (N, C, Ho, Wo) in [0, k*k), row-major
    over the window, the first maximum on ties.
    """
    N, C, H, W = x.shape
    Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
    sN, sC, sH, sW = x.strides
    windows = xp.lib.stride_tricks.as_strided(
        x, shape=(N, C, Ho, Wo, k, k), strides=(sN, sC, sH * s, sW * s, sH, sW)
    ).reshape(N, C, Ho, Wo, k * k)                 # only read, never written
    argmax = windows.argmax(axis=-1)
    return xp.take_along_axis(windows, argmax[..., None], axis=-1)[..., 0], argmax


def maxpool_backward_reference(dout, argmax, x_shape, k, s):
    """Textbook max-pool gradient: dout goes to each window's argmax. Returns dx (N, C, H, W)."""
    N, C, Ho, Wo = dout.shape
    offsets = xp.arange(k * k).reshape(1, 1, 1, 1, k * k)
    dwin = ((argmax[..., None] == offsets) * dout[..., None]).reshape(N, C, Ho, Wo, k, k)
    dx = xp.zeros(x_shape, dtype=dout.dtype)
    for u in range(k):
        for v in range(k):
            dx[:, :, u:u + s * Ho:s, v:v + s * Wo:s] += dwin[:, :, :, :, u, v]
    return dx


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
        dtype: parameter dtype (default the backend's float32).

    Params: ``W`` (F, C, HH, WW), ``b`` (F,). Buffers: ``B`` when feedback="fa".
    ``needs_input_grad`` (default True): set False to skip dx (``Trainer`` does
    so for the first layer while it trains).
    """
    needs_input_grad = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 rng=None, weight_scale=None, feedback="bp", dtype=None):
        super().__init__()
        check_feedback("Conv2d", feedback)
        in_channels = check_arg(self, "in_channels", in_channels, 1, integer=True)
        out_channels = check_arg(self, "out_channels", out_channels, 1, integer=True)
        HH, WW = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        HH, WW = (check_arg(self, "kernel_size", k, 1, integer=True) for k in (HH, WW))
        stride = check_arg(self, "stride", stride, 1, integer=True)
        padding = check_arg(self, "padding", padding, 0, integer=True)
        if weight_scale is not None:
            weight_scale = check_arg(self, "weight_scale", weight_scale, 0)
        rng = make_rng(rng)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel = (int(HH), int(WW))
        self.stride, self.padding, self.feedback = int(stride), int(padding), feedback
        fan_in = in_channels * HH * WW
        scale = np.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale
        shape = (out_channels, in_channels, HH, WW)
        self._init_param("W", scale * rng.standard_normal(shape), dtype)
        self._init_param("b", np.zeros(out_channels), dtype)
        if feedback == "fa":
            fb_rng = feedback_rng(rng)          # does not advance rng: W matches the BP network
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
        Ho, Wo = conv_output_size(H, HH, s, p), conv_output_size(W_, WW, s, p)
        F = self.out_channels
        self.cols = None                                           # free the last batch's patches first
        x_pad = pad_channels_last(x, p)                            # (N, Hp, Wp, C)
        self.x_pad_shape = x_pad.shape
        self.cols = im2col_channels_last(x_pad, HH, WW, s)        # (N*Ho*Wo, HH*WW*C), rows (u, v, c)
        w_rows = self.params["W"].transpose(0, 2, 3, 1).reshape(F, -1)   # (F, HH*WW*C), same order
        out = self.cols @ w_rows.T                                 # (N*Ho*Wo, F)
        out += self.params["b"]
        return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)    # (N, F, Ho, Wo) view, channels-last memory

    def backward(self, dout):
        """dout: (N, F, Ho, Wo) -> dx: (N, C, H, W); fills grads W, b.

        Returns None when ``needs_input_grad`` is False (the first layer of a
        network being trained: nothing uses dx there, as in PyTorch).
        """
        HH, WW = self.kernel
        F, p = self.out_channels, self.padding
        N, Hp, Wp, C = self.x_pad_shape
        dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, F)    # (N*Ho*Wo, F); free if channels-last
        # dW rows = dout_rows.T @ cols, computed as its transpose: OpenBLAS splits the long
        # N*Ho*Wo sum badly over threads when the result has only F rows (4x slower here)
        dw_cols = self.cols.T @ dout_rows                          # (HH*WW*C, F)
        self.grads["W"] = xp.ascontiguousarray(dw_cols.reshape(HH, WW, C, F).transpose(3, 2, 0, 1))
        # db = dout_rows.sum(axis=0), written as ones @ dout_rows: the same sum, as one BLAS
        # matrix-vector product; NumPy's sum over the N*Ho*Wo rows of this tall, narrow
        # array goes row by row (about 6x slower for the first layer of the CNN benchmark)
        self.grads["b"] = xp.ones(dout_rows.shape[0], dtype=dout_rows.dtype) @ dout_rows
        if not self.needs_input_grad:
            return None
        feedback_weights = self.buffers["B"] if self.feedback == "fa" else self.params["W"]
        # col2im(dout_rows @ B_rows) fused, one kernel offset at a time: the patch pixels
        # at offset (u, v) get dout_rows @ B[:, :, u, v], an (N*Ho*Wo, C) block added to the
        # pixels they were read from. Same sums as the textbook col2im, without the
        # (N*Ho*Wo, HH*WW*C) patch-gradient matrix; every add runs over contiguous
        # blocks of C numbers.
        s = self.stride
        Ho, Wo = dout.shape[2], dout.shape[3]
        fb = xp.ascontiguousarray(feedback_weights.transpose(2, 3, 0, 1))   # (HH, WW, F, C)
        dx_pad = xp.zeros(self.x_pad_shape, dtype=dout.dtype)       # (N, Hp, Wp, C)
        g = xp.empty((dout_rows.shape[0], C), dtype=dout.dtype)     # one buffer for all offsets
        for u in range(HH):
            for v in range(WW):
                xp.matmul(dout_rows, fb[u, v], out=g)                 # (N*Ho*Wo, C)
                dx_pad[:, u:u + s * Ho:s, v:v + s * Wo:s, :] += g.reshape(N, Ho, Wo, C)
        return dx_pad[:, p:Hp - p, p:Wp - p, :].transpose(0, 3, 1, 2)   # (N, C, H, W) view


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
        self.k = check_arg(self, "kernel_size", kernel_size, 1, integer=True)
        self.stride = self.k if stride is None else check_arg(self, "stride", stride, 1, integer=True)

    def forward(self, x):
        """x: (N, C, H, W) -> out: (N, C, Ho, Wo), Ho = 1 + (H - k) // s."""
        self._check_input(x, 4, "(N, C, H, W)")
        k, s = self.k, self.stride
        N, C, H, W = x.shape
        if H < k or W < k:
            raise ValueError(f"MaxPool2d: input {H}x{W} is smaller than the {k}x{k} window")
        Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
        # One strided view per window offset (u, v): view[n, c, i, j] = x[n, c, i*s+u, j*s+v].
        # out is the running maximum over the k*k views. better[o] marks where offset o
        # beat every earlier offset (strictly: on ties the first offset keeps the max, as
        # the argmax of maxpool_reference); the argmax is the last offset that did so.
        out, better = None, [None]
        for u, v in self._offsets():
            view = x[:, :, u:u + s * (Ho - 1) + 1:s, v:v + s * (Wo - 1) + 1:s]
            if out is None:
                out = view                                # a view of x: read, never written
                continue
            better.append(view > out)
            # the first maximum allocates out; the later ones update it in place
            out = xp.maximum(out, view, out=out if len(better) > 2 else None)
        if len(better) == 1:                              # 1x1 windows: a copy of x
            out = out.copy()
        self.better, self.x_shape = better, x.shape
        # x's axes from the slowest to the fastest in memory ((0, 2, 3, 1) after a Conv2d)
        self.x_order = sorted(range(4), key=lambda a: -x.strides[a])
        return out

    def _offsets(self):
        return [(u, v) for u in range(self.k) for v in range(self.k)]

    def backward(self, dout):
        """dout: (N, C, Ho, Wo) -> dx: (N, C, H, W), in the memory order of x."""
        k, s = self.k, self.stride
        N, C, H, W = self.x_shape
        Ho, Wo = dout.shape[2:]
        tiled = s == k and H == k * Ho and W == k * Wo    # every pixel in exactly one window
        # dx in x's memory order, so the layers below keep their (channels-last) layout
        alloc = xp.empty if tiled else xp.zeros
        order = self.x_order
        dx = alloc([self.x_shape[a] for a in order], dtype=dout.dtype).transpose(
            [order.index(a) for a in range(4)])
        # offset o holds the max where it beat the earlier offsets and no later one beat it
        taken = None
        for o in reversed(range(k * k)):
            u, v = divmod(o, k)
            if o == 0:
                is_max = ~taken if taken is not None else None
            elif taken is None:
                is_max, taken = self.better[o], self.better[o]
            else:
                is_max = self.better[o] & ~taken
                taken = taken | self.better[o]
            dx_o = dx[:, :, u:u + s * (Ho - 1) + 1:s, v:v + s * (Wo - 1) + 1:s]
            if s >= k:                                     # windows do not overlap: write in place
                if is_max is None:
                    dx_o[...] = dout
                else:
                    xp.multiply(dout, is_max, out=dx_o)
            else:
                dx_o += dout if is_max is None else dout * is_max
        return dx
