"""2-D convolution (as a matrix product over image patches) and max-pooling.

Shapes: images x (N, C, H, W); filters W (F, C, HH, WW); output (N, F, Ho, Wo)
with Ho = 1 + (H + 2 pad - HH) // stride and Wo likewise.

The textbook code: ``conv2d_reference`` / ``conv2d_backward_reference`` and
``maxpool_reference`` / ``maxpool_backward_reference``. ``MINIGRAD_KERNELS=reference``
(or ``--reference``) makes ``Conv2d`` and ``MaxPool2d`` train through them (see Kernels).

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

Kernels (``MINIGRAD_KERNELS``, ``backend.set_kernels``, a lesson's ``--reference``):

- ``reference``: ``Conv2d`` trains through ``conv2d_reference`` and
  ``conv2d_backward_reference`` (the textbook im2col / matrix product /
  col2im above, images in (N, C, H, W) memory), ``MaxPool2d`` through
  ``maxpool_reference`` and ``maxpool_backward_reference`` (gather every
  window, argmax). Edit those to change what trains under the switch.
- ``fast`` (default): the same sums rearranged for speed, below;
  tests/test_speed_paths.py and tests/test_kernels.py prove both agree.

Fast path. The layer keeps its images *channels-last in memory*: the padded
input is stored as (N, Hp, Wp, C), a patch row is ordered (u, v, c), so each
of its HH*WW pieces is one contiguous run of C numbers, and the output rows
(N*Ho*Wo, F) are returned as an (N, F, Ho, Wo) *view* (a transpose, no copy).
Elementwise layers (ReLU) and ``MaxPool2d`` keep that memory order, so the
gradient comes back channels-last too and ``dout.transpose(0, 2, 3, 1).reshape(-1, F)``
is free. Shapes seen by the user stay (N, C, H, W) throughout. The input
gradient fuses col2im with the product, one kernel offset (u, v) at a time:
dx_pad[:, u+i*s, v+j*s, :] += (dout_rows @ B[:, :, u, v]) for every window (i, j).

``MaxPool2d``'s fast path takes the maximum over its k*k strided slices (one
elementwise maximum per window offset) instead of gathering every window.

One convolution machinery for every convolutional layer (``Conv2d``'s fast
path, ``DANNConv2d``, and the ones to come): ``conv_patches`` turns images into
patch rows and returns the geometry ``geom`` (a dict) that the other helpers
read; ``filter_rows`` / ``rows_to_filters`` lay filters out in the order of
those rows; ``rows_to_image`` / ``image_to_rows`` turn output rows into
(N, F, Ho, Wo) images and back; ``conv_input_grad`` is the transposed
convolution that carries row gradients back to the image; ``conv_rows`` /
``conv_rows_backward`` chain them for a bias-free convolution and its
gradients (``ConvCWA``, ``LateralConv2d``, ``LateralEIConv2d``). Under the
reference kernels they use ``im2col``/``col2im`` (rows (c, u, v)), under the
fast ones the channels-last layout with the fused input gradient.
"""
import numpy as np

from ..backend import kernels, make_rng, xp
from .base import Layer, check_arg


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
    """The textbook convolution (what ``Conv2d`` runs under the reference kernels).

    x (N, C, H, W), W (F, C, HH, WW), b (F,) -> out (N, F, Ho, Wo), and the cache
    ``conv2d_backward_reference`` reads: cols (N*Ho*Wo, C*HH*WW), x_pad_shape, stride, pad.
    """
    N, C, H, W_ = x.shape
    F, _, HH, WW = W.shape
    x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x   # (N, C, Hp, Wp)
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W_, WW, stride, pad)
    cols = im2col(x_pad, HH, WW, stride)                         # (N*Ho*Wo, C*HH*WW)
    out = cols @ W.reshape(F, -1).T + b                          # (N*Ho*Wo, F): every patch times every filter
    cache = dict(cols=cols, x_pad_shape=x_pad.shape, stride=stride, pad=pad)
    return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), cache


def conv2d_backward_reference(dout, cache, W, feedback_weights=None):
    """The textbook gradients of ``conv2d_reference``, through ``col2im``.

    dout (N, F, Ho, Wo), W (F, C, HH, WW) -> dx (N, C, H, W), dW (F, C, HH, WW), db (F,).
    ``feedback_weights`` (F, C, HH, WW) replaces W in dx (feedback alignment).
    """
    F, C, HH, WW = W.shape
    cols, stride, pad = cache["cols"], cache["stride"], cache["pad"]
    _, _, Hp, Wp = cache["x_pad_shape"]
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, F)       # (N*Ho*Wo, F), one row per output pixel
    dW = (dout_rows.T @ cols).reshape(W.shape)                   # out_rows = cols @ W_rows.T
    db = dout_rows.sum(axis=0)
    back = W if feedback_weights is None else feedback_weights
    dcols = dout_rows @ back.reshape(F, -1)                      # (N*Ho*Wo, C*HH*WW) patch gradients
    dx_pad = col2im(dcols, cache["x_pad_shape"], HH, WW, stride)   # back to the pixels they were read from
    dx = dx_pad[:, :, pad:Hp - pad, pad:Wp - pad]
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


# --- the machinery every convolutional layer calls ----------------------------
def check_image_size(layer, x, kernel, pad):
    """Raise a clear error when the padded (N, C, H, W) images are smaller than the kernel."""
    (HH, WW), (H, W_) = kernel, x.shape[2:]
    if H + 2 * pad < HH or W_ + 2 * pad < WW:
        raise ValueError(f"{layer}: input {H}x{W_} with padding {pad} is smaller than the {HH}x{WW} kernel")


def conv_patches(x, kernel, stride, pad, layer="Conv2d", fast=None):
    """Patch rows of an image batch, in the layout of the active kernels.

    Args:
        x: (N, C, H, W) images.
        kernel: (HH, WW); stride, pad: ints.
        layer: the calling layer's name, for the error message.
        fast: True (channels-last rows, (u, v, c) order), False (``im2col``, (c, u, v)
            order) or None: ``kernels() == "fast"``.
    Returns:
        cols (N*Ho*Wo, d) with d = C*HH*WW, and ``geom``: dict with layout
        ("channels_last" or "nchw"), x_pad_shape, out_shape (N, Ho, Wo), kernel,
        stride, pad, channels C, which the other helpers read.
    """
    check_image_size(layer, x, kernel, pad)
    HH, WW = kernel
    N, C, H, W_ = x.shape
    fast = kernels() == "fast" if fast is None else fast
    Ho, Wo = conv_output_size(H, HH, stride, pad), conv_output_size(W_, WW, stride, pad)
    if fast:
        x_pad = pad_channels_last(x, pad)                        # (N, Hp, Wp, C)
        cols = im2col_channels_last(x_pad, HH, WW, stride)      # (N*Ho*Wo, HH*WW*C), rows (u, v, c)
    else:
        x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
        cols = im2col(x_pad, HH, WW, stride)                     # (N*Ho*Wo, C*HH*WW), rows (c, u, v)
    geom = dict(layout="channels_last" if fast else "nchw", x_pad_shape=x_pad.shape, out_shape=(N, Ho, Wo),
                kernel=(HH, WW), stride=stride, pad=pad, channels=C)
    return cols, geom


def filter_rows(W, geom):
    """Filters (F, C, HH, WW) -> rows (F, d) in the order of ``conv_patches``' rows."""
    if geom["layout"] == "nchw":
        return W.reshape(W.shape[0], -1)
    return W.transpose(0, 2, 3, 1).reshape(W.shape[0], -1)


def rows_to_filters(w_rows, geom):
    """Inverse of ``filter_rows``: (F, d) -> contiguous filters (F, C, HH, WW)."""
    (HH, WW), C, F = geom["kernel"], geom["channels"], w_rows.shape[0]
    if geom["layout"] == "nchw":
        return w_rows.reshape(F, C, HH, WW)
    return xp.ascontiguousarray(w_rows.reshape(F, HH, WW, C).transpose(0, 3, 1, 2))


def rows_to_image(rows, geom):
    """Output rows (N*Ho*Wo, F) -> (N, F, Ho, Wo) (a transposed view: channels-last memory)."""
    N, Ho, Wo = geom["out_shape"]
    return rows.reshape(N, Ho, Wo, rows.shape[1]).transpose(0, 3, 1, 2)


def image_to_rows(dout):
    """(N, F, Ho, Wo) -> rows (N*Ho*Wo, F) (free when dout is channels-last in memory)."""
    return dout.transpose(0, 2, 3, 1).reshape(-1, dout.shape[1])


def conv_input_grad(drows, filters, geom):
    """The transposed convolution: output-row gradients back to the input image.

    Args:
        drows: (N*Ho*Wo, F) gradient of the rows ``cols @ filter_rows(filters).T``.
        filters: (F, C, HH, WW) (the weights, or the fixed feedback of FA).
    Returns:
        dx: (N, C, H, W) = col2im(drows @ filter_rows(filters)), cropped; under the fast
        layout a channels-last view, computed one kernel offset at a time.
    """
    (HH, WW), s, p = geom["kernel"], geom["stride"], geom["pad"]
    if geom["layout"] == "nchw":
        _, _, Hp, Wp = geom["x_pad_shape"]
        dx_pad = col2im(drows @ filter_rows(filters, geom), geom["x_pad_shape"], HH, WW, s)
        return dx_pad[:, :, p:Hp - p, p:Wp - p]
    # col2im(drows @ B_rows) fused, one kernel offset at a time: the patch pixels
    # at offset (u, v) get drows @ B[:, :, u, v], an (N*Ho*Wo, C) block added to the
    # pixels they were read from. Same sums as the textbook col2im, without the
    # (N*Ho*Wo, HH*WW*C) patch-gradient matrix; every add runs over contiguous
    # blocks of C numbers.
    N, Hp, Wp, C = geom["x_pad_shape"]
    _, Ho, Wo = geom["out_shape"]
    fb = xp.ascontiguousarray(filters.transpose(2, 3, 0, 1))        # (HH, WW, F, C)
    dx_pad = xp.zeros(geom["x_pad_shape"], dtype=drows.dtype)       # (N, Hp, Wp, C)
    g = xp.empty((drows.shape[0], C), dtype=drows.dtype)            # one buffer for all offsets
    for u in range(HH):
        for v in range(WW):
            xp.matmul(drows, fb[u, v], out=g)                         # (N*Ho*Wo, C)
            dx_pad[:, u:u + s * Ho:s, v:v + s * Wo:s, :] += g.reshape(N, Ho, Wo, C)
    return dx_pad[:, p:Hp - p, p:Wp - p, :].transpose(0, 3, 1, 2)   # (N, C, H, W) view


def conv_rows(x, W, stride, pad, layer="Conv2d"):
    """One convolution without bias, as rows: the machinery above in the active layout.

    Args:
        x: (N, C, H, W) images; W: (F, C, HH, WW) filters; stride, pad: ints.
        layer: the calling layer's name, for error messages.
    Returns:
        rows (N*Ho*Wo, F) = cols @ filter_rows(W).T (``rows_to_image(rows, geom)`` is the image),
        and cols, geom for ``conv_rows_backward``.
    """
    cols, geom = conv_patches(x, W.shape[2:], stride, pad, layer=layer)
    return cols @ filter_rows(W, geom).T, cols, geom


def conv_rows_backward(drows, cols, geom, back=None):
    """Gradients of ``rows = cols @ filter_rows(W).T`` given drows (N*Ho*Wo, F).

    Returns dW (F, C, HH, WW) = rows_to_filters(drows^T @ cols), and dx (N, C, H, W), the
    transposed convolution of drows with ``back`` (W for backprop, a feedback B for FA),
    or None when ``back`` is None (nothing needs dx).
    """
    dW = rows_to_filters((cols.T @ drows).T, geom)   # (d, F) product, then transposed (see Conv2d.backward)
    return dW, (None if back is None else conv_input_grad(drows, back, geom))


def maxpool_reference(x, k, s):
    """The textbook max-pool (what ``MaxPool2d`` runs under the reference kernels):
    gather every k x k window, take the argmax.

    x (N, C, H, W) -> out (N, C, Ho, Wo), and the cache ``maxpool_backward_reference``
    reads: argmax (N, C, Ho, Wo) in [0, k*k) (row-major over the window, the first
    maximum on ties), x_shape.
    """
    N, C, H, W = x.shape
    Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
    sN, sC, sH, sW = x.strides
    windows = xp.lib.stride_tricks.as_strided(
        x, shape=(N, C, Ho, Wo, k, k), strides=(sN, sC, sH * s, sW * s, sH, sW)
    ).reshape(N, C, Ho, Wo, k * k)                 # only read, never written
    argmax = windows.argmax(axis=-1)
    out = xp.take_along_axis(windows, argmax[..., None], axis=-1)[..., 0]
    return out, dict(argmax=argmax, x_shape=x.shape)


def maxpool_backward_reference(dout, cache, k, s):
    """The textbook max-pool gradient: dout goes to each window's argmax. Returns dx (N, C, H, W)."""
    N, C, Ho, Wo = dout.shape
    offsets = xp.arange(k * k).reshape(1, 1, 1, 1, k * k)
    dwin = ((cache["argmax"][..., None] == offsets) * dout[..., None]).reshape(N, C, Ho, Wo, k, k)
    dx = xp.zeros(cache["x_shape"], dtype=dout.dtype)
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
        bias: False leaves out ``b`` (e.g. the second convolution of the F-CNN baseline,
            which matches the bias-free lateral convolution of ``LateralConv2d``).

    Params: ``W`` (F, C, HH, WW), ``b`` (F,) (unless bias=False). Buffers: ``B`` when feedback="fa".
    ``needs_input_grad`` (default True): set False to skip dx (``Trainer`` does
    so for the first layer while it trains).

    Under ``MINIGRAD_KERNELS=reference`` forward and backward are
    ``conv2d_reference`` and ``conv2d_backward_reference``.
    """
    needs_input_grad = True
    feedback_of = {"W": "B"}

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 rng=None, weight_scale=None, feedback="bp", dtype=None, bias=True):
        super().__init__()
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
        self.stride, self.padding = int(stride), int(padding)
        fan_in = in_channels * HH * WW
        scale = np.sqrt(2.0 / fan_in) if weight_scale is None else weight_scale
        shape = (out_channels, in_channels, HH, WW)
        self._init_param("W", scale * rng.standard_normal(shape), dtype)
        if bias:
            self._init_param("b", np.zeros(out_channels), dtype)
        self._init_feedback(feedback, rng, lambda fb_rng: {"W": scale * fb_rng.standard_normal(shape)})

    def forward(self, x):
        """x: (N, C, H, W) -> out: (N, F, Ho, Wo)."""
        self._check_input(x, 4, f"(N, C, H, W) with C={self.in_channels}", sizes={1: self.in_channels})
        s, p = self.stride, self.padding
        self.cols = self.ref_cache = None                          # free the last batch's patches first
        if kernels() == "reference":
            check_image_size("Conv2d", x, self.kernel, p)
            out, self.ref_cache = conv2d_reference(x, self.params["W"], self.params.get("b", 0.0), s, p)
            return out
        self.cols, self.geom = conv_patches(x, self.kernel, s, p, layer="Conv2d", fast=True)  # rows (u, v, c)
        out = self.cols @ filter_rows(self.params["W"], self.geom).T   # (N*Ho*Wo, F)
        if "b" in self.params:
            out += self.params["b"]
        return rows_to_image(out, self.geom)                       # (N, F, Ho, Wo) view, channels-last memory

    def backward(self, dout):
        """dout: (N, F, Ho, Wo) -> dx: (N, C, H, W); fills grads W, b.

        Returns None when ``needs_input_grad`` is False (the first layer of a
        network being trained: nothing uses dx there, as in PyTorch).
        """
        if self.ref_cache is not None:                             # the forward ran the reference kernels
            dx, self.grads["W"], db = conv2d_backward_reference(
                dout, self.ref_cache, self.params["W"], self.dx_weight("W"))
            if "b" in self.params:
                self.grads["b"] = db
            return dx if self.needs_input_grad else None
        dout_rows = image_to_rows(dout)                            # (N*Ho*Wo, F); free if channels-last
        # dW rows = dout_rows.T @ cols, computed as its transpose: OpenBLAS splits the long
        # N*Ho*Wo sum badly over threads when the result has only F rows (4x slower here)
        dw_cols = self.cols.T @ dout_rows                          # (HH*WW*C, F)
        self.grads["W"] = rows_to_filters(dw_cols.T, self.geom)
        # db = dout_rows.sum(axis=0), written as ones @ dout_rows: the same sum, as one BLAS
        # matrix-vector product; NumPy's sum over the N*Ho*Wo rows of this tall, narrow
        # array goes row by row (about 6x slower for the first layer of the CNN benchmark)
        if "b" in self.params:
            self.grads["b"] = xp.ones(dout_rows.shape[0], dtype=dout_rows.dtype) @ dout_rows
        if not self.needs_input_grad:
            return None
        return conv_input_grad(dout_rows, self.dx_weight("W"), self.geom)   # W for backprop, B for FA


class MaxPool2d(Layer):
    """Max over k x k windows moved by ``stride`` (default k).

    out[n, c, i, j] = max_{u,v} x[n, c, i*s+u, j*s+v]. The gradient flows only to
    the (first) position of the maximum in each window, as in PyTorch.

    Args:
        kernel_size: k.
        stride: s (default k: non-overlapping windows).

    Under ``MINIGRAD_KERNELS=reference`` forward and backward are
    ``maxpool_reference`` and ``maxpool_backward_reference``.
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
        self.ref_cache = None
        if kernels() == "reference":
            out, self.ref_cache = maxpool_reference(x, k, s)
            return out
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
        if self.ref_cache is not None:                    # the forward ran the reference kernels
            return maxpool_backward_reference(dout, self.ref_cache, k, s)
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


class GlobalAvgPool2d(Layer):
    """Mean over the spatial positions of every channel: (N, C, H, W) -> (N, C).

    out[n, c] = (1 / (H W)) sum_{i,j} x[n, c, i, j]; backward spreads dout[n, c] / (H W)
    evenly over the H x W positions (as ResNet's average pooling before its classifier).
    """

    def forward(self, x):
        """x: (N, C, H, W) -> out: (N, C)."""
        self._check_input(x, 4, "(N, C, H, W)")
        self.x_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dout):
        """dout: (N, C) -> dx: (N, C, H, W)."""
        N, C, H, W = self.x_shape
        return xp.broadcast_to((dout / (H * W))[:, :, None, None], self.x_shape).copy()
