"""Fully connected (affine) layer, trained by backprop or by feedback alignment.

Forward, for a batch of N rows::

    out = x @ W + b                      x: (N, D), W: (D, M), b: (M,), out: (N, M)

Backward, given dout = dL/dout of shape (N, M)::

    dW = x.T @ dout                      (D, M)   sum over the batch of outer products
    db = dout.sum(axis=0)                (M,)
    dx = dout @ W.T                      (N, D)   backprop: the transpose of the forward weights

Feedback alignment (Lillicrap et al. 2014; Khandwala & Bedi, section 2.2)
replaces W.T in the last line by the transpose of a fixed random matrix B of
the same shape as W, drawn once at the weight-init scale and never trained::

    dx = dout @ B.T                      feedback="fa"

dW and db stay the local gradients. ``dx`` is then exactly the gradient of the
surrogate ``x @ B + b`` that the gradient checks test against.

Kernels: this file has one version of each pass; ``forward`` and ``backward``
below are the textbook code under both ``MINIGRAD_KERNELS`` settings.

How feedback alignment is added to a layer (the mechanism is in ``nn/base.py``)
-- one declaration on the class, one call in ``__init__``, one line in ``backward``::

    class Linear(Layer):
        feedback_of = {"W": "B"}                          # weight W is fed back through buffer B
        def __init__(self, ..., feedback="bp"):
            ...
            self._init_feedback(feedback, rng, lambda fb_rng: {"W": scale * fb_rng.standard_normal(W_shape)})
        def backward(self, dout):
            ...
            return dout @ self.dx_weight("W").T           # W for "bp", B for "fa"

The alignment angles (``minigrad.feedback``) and the checkpoints then know B too.
"""
import numpy as np

from ..backend import make_rng, xp
from .base import FEEDBACK_MODES, Layer, check_arg  # noqa: F401  (FEEDBACK_MODES: the valid feedback settings)


class Linear(Layer):
    """Affine layer ``out = x @ W + b``.

    Args:
        in_features: D.
        out_features: M.
        rng: numpy Generator or int seed for the initial weights (and B).
        weight_scale: standard deviation of W; default He, sqrt(2 / D).
        feedback: "bp" (backprop) or "fa" (fixed random feedback B, same shape as W).
        bias: add b (default True).
        dtype: parameter dtype (default the backend's float32).

    Params: ``W`` (D, M), ``b`` (M,). Buffers: ``B`` (D, M) when feedback="fa".
    ``needs_input_grad`` (default True): set False to skip dx, ``backward`` then
    returns None (``Trainer`` does so for the first layer while it trains).
    """
    needs_input_grad = True
    feedback_of = {"W": "B"}

    def __init__(self, in_features, out_features, rng=None, weight_scale=None,
                 feedback="bp", bias=True, dtype=None):
        super().__init__()
        in_features = check_arg(self, "in_features", in_features, 1, integer=True)
        out_features = check_arg(self, "out_features", out_features, 1, integer=True)
        if weight_scale is not None:
            weight_scale = check_arg(self, "weight_scale", weight_scale, 0)
        rng = make_rng(rng)
        self.in_features, self.out_features = in_features, out_features
        scale = np.sqrt(2.0 / in_features) if weight_scale is None else weight_scale
        shape = (in_features, out_features)
        self._init_param("W", scale * rng.standard_normal(shape), dtype)
        if bias:
            self._init_param("b", np.zeros(out_features), dtype)
        self._init_feedback(feedback, rng, lambda fb_rng: {"W": scale * fb_rng.standard_normal(shape)})

    def forward(self, x):
        """x: (N, D) -> out: (N, M)."""
        self._check_input(x, 2, f"(N, D) with D={self.in_features}", sizes={1: self.in_features})
        self.x = x
        out = x @ self.params["W"]
        if "b" in self.params:
            out += self.params["b"]
        return out

    def backward(self, dout):
        """dout: (N, M) -> dx: (N, D); fills grads W (D, M), b (M,)."""
        x = self.x
        self.grads["W"] = x.T @ dout
        if "b" in self.params:
            self.grads["b"] = dout.sum(axis=0)
        if not self.needs_input_grad:
            return None
        return dout @ self.dx_weight("W").T                    # W.T for backprop, B.T for FA


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...); backward restores the shape."""

    def forward(self, x):
        """x: (N, d1, d2, ...), at least 2 dimensions -> (N, d1*d2*...)."""
        self._check_input(x, None, "(N, d1, ...)")
        if x.ndim < 2:
            raise ValueError(f"Flatten: expected input of shape (N, d1, ...) with at least 2 dimensions, "
                             f"got {tuple(x.shape)}")
        self.x_shape = x.shape
        # x's axes from the slowest to the fastest in memory ((0, 2, 3, 1) after a Conv2d)
        self.x_order = sorted(range(x.ndim), key=lambda a: -x.strides[a])
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        dx = dout.reshape(self.x_shape)
        order = self.x_order
        if order != sorted(order):
            # give dx the memory order x had, so the layers below (pooling) work on one layout
            dx_like_x = xp.empty([self.x_shape[a] for a in order], dtype=dout.dtype).transpose(
                [order.index(a) for a in range(len(order))])
            dx_like_x[...] = dx
            dx = dx_like_x
        return dx
