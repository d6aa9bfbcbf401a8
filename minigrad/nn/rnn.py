"""Vanilla recurrent layer trained with backpropagation through time (BPTT).

Forward, for t = 1..T (h_0 given or zero)::

    a_t = x_t @ Wx + h_{t-1} @ Wh + b          x_t: (N, D), h: (N, H)
    h_t = f(a_t)                               f = tanh or sigmoid

The input projection x_t @ Wx + b does not depend on the recurrence, so it is
computed for all steps at once as one (N*T, D) @ (D, H) product.

Backward (BPTT). The gradient reaching h_t is the upstream gradient dout_t
plus what flows back from step t+1. Walking t = T..1::

    dh_t   = dout_t + dh_next
    da_t   = dh_t * f'(a_t)                    f' = 1 - h^2 (tanh), h (1 - h) (sigmoid)
    dh_next = da_t @ Wh.T                      backprop to h_{t-1}

and, once the loop has collected every da_t, the parameter gradients are sums
over time, again single matrix products over all N*T rows::

    dWx = sum_t x_t.T @ da_t,   dWh = sum_t h_{t-1}.T @ da_t,   db = sum_t da_t
    dx_t = da_t @ Wx.T

Feedback alignment (Khandwala & Bedi, section 2.5): with feedback="fa", fixed
random matrices replace the weights in the two backward products that carry
error to earlier units: ``Wh.T -> Bh.T`` in the recurrence (the paper's
H_back) and ``Wx.T -> Bx.T`` for dx (the paper's RNN adds x(t) without an
input matrix, so ``Bx`` has no name there; it matters when this layer sits
above another). The paper's U is the readout y(t) = softmax(U h(t)): a
``TemporalLinear`` at every step (or ``LastStep`` + ``Linear``) after this
layer, whose own feedback matrix ``B`` is the paper's U_back.

Kernels: ``rnn_reference`` and ``rnn_backward_reference`` (after the class)
are the plain per-step textbook loops; ``MINIGRAD_KERNELS=reference`` (or
``--reference``) makes ``RNN`` train through them. The default fast kernels
are the class's own forward and backward.

Speed notes (tests/test_speed_paths.py checks them against ``rnn_reference``): the layer keeps
its states time-major, (T, N, H) in memory, so every step reads and writes one
contiguous (N, H) block (the (N, T, H) result is a transposed view); f'(a) is
computed for all steps at once before the backward loop; the loops update
their (N, H) blocks in place instead of allocating new arrays each step.
"""
import numpy as np

from ..backend import kernels, make_rng, xp
from .activations import sigmoid
from .base import Layer, check_arg

ACTIVATIONS = ("tanh", "sigmoid")


def check_h0(layer, h0, N, H):
    """Raise a clear error unless the initial state ``h0`` is a floating (N, H) array."""
    if not hasattr(h0, "shape") or not hasattr(h0, "dtype") or h0.dtype.kind != "f":
        got = f"dtype {h0.dtype}" if hasattr(h0, "dtype") else type(h0).__name__
        raise TypeError(f"{layer}: expected h0 as a floating-point array of shape ({N}, {H}), got {got}")
    if h0.shape != (N, H):
        raise ValueError(f"{layer}: expected h0 of shape ({N}, {H}), got {tuple(h0.shape)}")


class RNN(Layer):
    """Elman RNN over whole sequences.

    Args:
        input_size: D.
        hidden_size: H.
        activation: "tanh" or "sigmoid".
        rng: numpy Generator or int seed.
        feedback: "bp" or "fa" (fixed Bx (D, H), Bh (H, H) buffers).
        dtype: parameter dtype (default the backend's float32).

    Params: ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,). After ``backward``,
    ``dh0`` (N, H) holds the gradient of the initial state.
    ``needs_input_grad`` (default True): set False to skip dx (``Trainer`` does
    so for the first layer while it trains).
    """
    needs_input_grad = True
    feedback_of = {"Wx": "Bx", "Wh": "Bh"}    # Bh: H_back of Khandwala & Bedi, section 2.5 (U_back: the readout's B)

    def __init__(self, input_size, hidden_size, activation="tanh", rng=None, feedback="bp", dtype=None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"RNN: activation must be one of {ACTIVATIONS}, got {activation!r}")
        input_size = check_arg(self, "input_size", input_size, 1, integer=True)
        hidden_size = check_arg(self, "hidden_size", hidden_size, 1, integer=True)
        rng = make_rng(rng)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.activation = activation
        sx, sh = 1 / np.sqrt(input_size), 1 / np.sqrt(hidden_size)
        self._init_param("Wx", sx * rng.standard_normal((input_size, hidden_size)), dtype)
        self._init_param("Wh", sh * rng.standard_normal((hidden_size, hidden_size)), dtype)
        self._init_param("b", np.zeros(hidden_size), dtype)

        def draw(fb_rng):                       # Bx first, then Bh, from the feedback stream
            Bx = sx * fb_rng.standard_normal((input_size, hidden_size))
            return {"Wx": Bx, "Wh": sh * fb_rng.standard_normal((hidden_size, hidden_size))}
        self._init_feedback(feedback, rng, draw)

    def _f(self, a):
        return xp.tanh(a) if self.activation == "tanh" else sigmoid(a)

    def _df(self, h):
        """f'(a) written in terms of h = f(a)."""
        return 1 - h * h if self.activation == "tanh" else h * (1 - h)

    def forward(self, x, h0=None):
        """x: (N, T, D), h0: (N, H) or None (zeros) -> h: (N, T, H), every hidden state."""
        self._check_input(x, 3, f"(N, T, D) with D={self.input_size}", sizes={2: self.input_size})
        N, T, D = x.shape
        H = self.hidden_size
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        if h0 is None:
            h0 = xp.zeros((N, H), dtype=x.dtype)
        else:
            check_h0("RNN", h0, N, H)
        self.ref_cache = None
        if kernels() == "reference":
            self.h, self.ref_cache = rnn_reference(x, h0, Wx, Wh, b, self.activation)
            return self.h
        # all input projections at once, time-major: xw[t] = x_t @ Wx + b, (T, N, H)
        x_tm = x.transpose(1, 0, 2).reshape(T * N, D)
        xw = (x_tm @ Wx + b).reshape(T, N, H)
        h = xp.empty((T, N, H), dtype=xw.dtype)
        prev = h0
        for t in range(T):
            a = prev @ Wh                                         # (N, H)
            a += xw[t]                                            # a_t = x_t Wx + h_{t-1} Wh + b
            h[t] = self._f(a)                                     # h_t = f(a_t)
            prev = h[t]
        self.x_tm, self.h0, self.h_tm = x_tm, h0, h
        self.h = h.transpose(1, 0, 2)                             # (N, T, H) view: the states
        return self.h

    def backward(self, dout):
        """dout: (N, T, H) -> dx: (N, T, D); fills grads Wx, Wh, b and sets ``self.dh0``.

        Returns None (but still sets ``dh0``) when ``needs_input_grad`` is False.
        """
        back_h, back_x = self.dx_weight("Wh"), self.dx_weight("Wx")   # Wh, Wx for backprop; Bh, Bx for FA
        if self.ref_cache is not None:                            # the forward ran the reference kernels
            dx, self.grads["Wx"], self.grads["Wh"], self.grads["b"], self.dh0 = rnn_backward_reference(
                dout, self.ref_cache, back_x, back_h)
            return dx if self.needs_input_grad else None
        h = self.h_tm                                             # (T, N, H)
        T, N, H = h.shape
        D = self.input_size
        dout = dout.transpose(1, 0, 2)                            # (T, N, H) view
        da = self._df(h)                                          # f'(a_t) for every t, then da in place
        dh_next = xp.zeros((N, H), dtype=h.dtype)
        for t in reversed(range(T)):
            da[t] *= dout[t] + dh_next                            # da_t = (dout_t + dh_next) * f'(a_t)
            dh_next = da[t] @ back_h.T                            # to h_{t-1}
        self.dh0 = dh_next
        h_prev = xp.concatenate([self.h0[None], h[:-1]], axis=0)  # (T, N, H): h_{t-1}
        da_rows = da.reshape(T * N, H)
        self.grads["Wx"] = self.x_tm.T @ da_rows
        self.grads["Wh"] = h_prev.reshape(T * N, H).T @ da_rows
        self.grads["b"] = da_rows.sum(axis=0)
        if not self.needs_input_grad:
            return None
        return (da_rows @ back_x.T).reshape(T, N, D).transpose(1, 0, 2)


def rnn_reference(x, h0, Wx, Wh, b, activation="tanh"):
    """Textbook forward, one step at a time (what ``RNN`` runs under the reference kernels).

    x (N, T, D), h0 (N, H) -> h (N, T, H), and the cache ``rnn_backward_reference`` reads:
    x, hs (the list h_0, h_1, ..., h_T of (N, H) states), activation.
    """
    f = xp.tanh if activation == "tanh" else sigmoid
    hs = [h0]
    for t in range(x.shape[1]):
        hs.append(f(x[:, t] @ Wx + hs[-1] @ Wh + b))               # h_t = f(x_t Wx + h_{t-1} Wh + b)
    return xp.stack(hs[1:], axis=1), dict(x=x, hs=hs, activation=activation)


def rnn_backward_reference(dout, cache, back_x, back_h):
    """Textbook BPTT, one step at a time: dout (N, T, H) -> (dx (N, T, D), dWx, dWh, db, dh0).

    ``back_x``/``back_h`` carry the error to x_t and h_{t-1}: Wx and Wh for backprop,
    the fixed feedback Bx and Bh for feedback alignment.
    """
    x, hs = cache["x"], cache["hs"]
    N, T, D = x.shape
    H = hs[0].shape[1]
    dWx = xp.zeros((D, H), dtype=dout.dtype)
    dWh = xp.zeros((H, H), dtype=dout.dtype)
    db = xp.zeros(H, dtype=dout.dtype)
    dx = xp.zeros(x.shape, dtype=dout.dtype)
    dh_next = xp.zeros_like(hs[0])
    for t in reversed(range(T)):
        h_t = hs[t + 1]
        df = 1 - h_t * h_t if cache["activation"] == "tanh" else h_t * (1 - h_t)   # f'(a_t)
        da = (dout[:, t] + dh_next) * df                        # da_t = (dout_t + dh_next) * f'(a_t)
        dWx += x[:, t].T @ da
        dWh += hs[t].T @ da
        db += da.sum(axis=0)
        dx[:, t] = da @ back_x.T
        dh_next = da @ back_h.T                                 # to h_{t-1}
    return dx, dWx, dWh, db, dh_next


class TemporalLinear(Layer):
    """A ``Linear`` applied at every time step: (N, T, D) -> (N, T, M).

    Used as the readout of an RNN when every step has a target: the paper's
    y(t) = softmax(U h(t)) (Khandwala & Bedi, section 2.5) is this layer (U = ``W``)
    followed by ``nn.sequence_cross_entropy``. Params ``W`` (D, M), ``b`` (M,) as in
    ``Linear``; ``feedback="fa"`` likewise (its ``B`` is the paper's U_back).
    """

    def __init__(self, in_features, out_features, rng=None, feedback="bp", dtype=None):
        super().__init__()
        from .linear import Linear
        in_features = check_arg(self, "in_features", in_features, 1, integer=True)
        check_arg(self, "out_features", out_features, 1, integer=True)
        self.inner = Linear(in_features, out_features, rng=rng, feedback=feedback,
                            weight_scale=1 / np.sqrt(in_features), dtype=dtype)
        self.params, self.grads, self.buffers = self.inner.params, self.inner.grads, self.inner.buffers

    def forward(self, x):
        """x: (N, T, D) -> (N, T, M)."""
        self._check_input(x, 3, f"(N, T, D) with D={self.inner.in_features}", sizes={2: self.inner.in_features})
        N, T, D = x.shape
        return self.inner.forward(x.reshape(N * T, D)).reshape(N, T, -1)

    def backward(self, dout):
        """dout: (N, T, M) -> dx: (N, T, D); fills grads W (D, M), b (M,)."""
        N, T, M = dout.shape
        return self.inner.backward(dout.reshape(N * T, M)).reshape(N, T, -1)


class LastStep(Layer):
    """(N, T, H) -> (N, H): keep the last time step (sequence classification)."""

    def forward(self, x):
        """x: (N, T, H) -> (N, H)."""
        self._check_input(x, 3, "(N, T, H)")
        self.x_shape = x.shape
        return x[:, -1]

    def backward(self, dout):
        """dout: (N, H) -> dx: (N, T, H), zero except at the last step."""
        dx = xp.zeros(self.x_shape, dtype=dout.dtype)
        dx[:, -1] = dout
        return dx
