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
"""
import numpy as np

from ..backend import feedback_rng, make_rng, to_device, xp
from .base import Layer, check_arg

FEEDBACK_MODES = ("bp", "fa")


def check_feedback(name, feedback):
    if feedback not in FEEDBACK_MODES:
        raise ValueError(f"{name}: feedback must be one of {FEEDBACK_MODES}, got {feedback!r}")


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

    def __init__(self, in_features, out_features, rng=None, weight_scale=None,
                 feedback="bp", bias=True, dtype=None):
        super().__init__()
        check_feedback("Linear", feedback)
        in_features = check_arg(self, "in_features", in_features, 1, integer=True)
        out_features = check_arg(self, "out_features", out_features, 1, integer=True)
        if weight_scale is not None:
            weight_scale = check_arg(self, "weight_scale", weight_scale, 0)
        rng = make_rng(rng)
        self.in_features, self.out_features, self.feedback = in_features, out_features, feedback
        scale = np.sqrt(2.0 / in_features) if weight_scale is None else weight_scale
        self._init_param("W", scale * rng.standard_normal((in_features, out_features)), dtype)
        if bias:
            self._init_param("b", np.zeros(out_features), dtype)
        if feedback == "fa":
            # B is drawn from its own stream so that W is the same with and without FA.
            fb_rng = feedback_rng(rng)
            self.buffers["B"] = to_device(scale * fb_rng.standard_normal((in_features, out_features)),
                                          dtype=self.params["W"].dtype)

    def forward(self, x):
        """x: (N, D) -> out: (N, M)."""
        self._check_input(x, 2, f"(N, D) with D={self.in_features}", axis1=self.in_features)
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
        feedback_weights = self.buffers["B"] if self.feedback == "fa" else self.params["W"]
        return dout @ feedback_weights.T


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
